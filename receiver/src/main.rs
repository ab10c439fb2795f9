//! The `receiver` binary: parses the command line and hands over to the
//! library (see `receiver::cli`).

use clap::Parser;

fn main() {
    let cli = receiver::cli::Cli::parse();
    if let Err(e) = receiver::cli::run(cli) {
        eprintln!("receiver: {e}");
        std::process::exit(1);
    }
}
