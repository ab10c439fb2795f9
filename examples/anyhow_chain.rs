// Example: an error chain built with anyhow, captured with its backtrace.
//
// Start the receiver (it prints the DSN of its default project), then run
// the example against it:
//
//     cargo run -p receiver
//     RUST_LIB_BACKTRACE=1 SENTRY_DSN=<the printed DSN> \
//         cargo run -p sentry-integrations --example anyhow_chain --features anyhow
//
// What happens: `load_settings` fails three layers deep (the file is
// missing, so reading it fails, so loading the settings fails). The error
// is captured with `capture_anyhow`: one event of level `error` whose
// exceptions are the chain, root cause first:
//
//     Os                 No such file or directory (os error 2)
//     Error              cannot read settings.toml
//     Error              loading the settings        <- the issue title
//
// With RUST_LIB_BACKTRACE=1 (or RUST_BACKTRACE=1) anyhow records where the
// error was created, and the outermost exception carries that stack trace
// (in-app frames `main` → `load_settings` → `read_file`). Without it the
// event has the chain only. The program prints the event id and exits 0.
// Without SENTRY_DSN the SDK stays disabled and the id is nil.

use anyhow::{Context, Result};

fn read_file(path: &str) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))
}

fn load_settings() -> Result<String> {
    let text = read_file("settings.toml").context("loading the settings")?;
    Ok(text)
}

fn main() {
    let _guard = sentry_integrations::init(std::env::var("SENTRY_DSN").unwrap_or_default());
    match load_settings() {
        Ok(text) => println!("settings: {} bytes", text.len()),
        Err(err) => {
            eprintln!("error: {err:#}");
            let id = sentry_integrations::anyhow::capture_anyhow(&err);
            eprintln!("reported as event {}", id.simple());
        }
    }
}
