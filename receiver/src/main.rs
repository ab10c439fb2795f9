//! The `receiver` binary: parses the command line and hands over to the
//! library (see `receiver::cli`).

use clap::Parser;

/// The binary's allocator: ingestion allocates and frees a great deal per
/// event (JSON trees, strings, buffers), and mimalloc does that with about
/// 10 % less CPU than glibc's malloc here (`benches/load.rs`). It is
/// declared in the binary, not the library, so crates that embed
/// `receiver::TestServer` keep their own allocator. Building without the
/// default `mimalloc` feature keeps the system allocator.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = receiver::cli::Cli::parse();
    if let Err(e) = receiver::cli::run(cli) {
        eprintln!("receiver: {e}");
        std::process::exit(e.exit_code());
    }
}
