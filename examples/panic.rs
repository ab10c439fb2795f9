// Example: a panic reported as a fatal event, with its stack trace.
//
// Start the receiver (it prints the DSN of its default project), then run
// the example against it:
//
//     cargo run -p receiver
//     SENTRY_DSN=<the printed DSN> cargo run -p sentry-integrations --example panic
//
// What happens: `sentry_integrations::init` installs the panic hook, the
// contexts and the HTTP transport; the program leaves a breadcrumb and
// panics in `parse_port`. The hook captures an event of level `fatal` with
// one exception (type `panic`, value `invalid port "80a": invalid digit
// found in string`, mechanism `panic`, handled: false), the stack trace with
// the in-app frames `main` → `parse_port` (file `examples/panic.rs`, the line
// of the `panic!`), and the thread `main`; it flushes before the default
// hook prints the panic message, so the event arrives although the process
// exits with status 101 right after.
//
// Pass another port as the first argument to see no panic; without
// SENTRY_DSN the SDK stays disabled and only the message is printed.
//
// (The integration test `tests/panic_child.rs` runs this program as a child
// process against a local HTTP server; it finds the panic line by the
// marker comment below.)

use sentry_core::protocol::{Breadcrumb, Level};

fn parse_port(raw: &str) -> u16 {
    match raw.parse() {
        Ok(port) => port,
        Err(e) => panic!("invalid port {raw:?}: {e}"), // PANIC-LINE
    }
}

fn main() {
    let _guard = sentry_integrations::init(std::env::var("SENTRY_DSN").unwrap_or_default());
    sentry_core::add_breadcrumb(Breadcrumb {
        category: Some("config".into()),
        message: Some("reading the port from the command line".into()),
        level: Level::Info,
        ..Default::default()
    });
    let raw = std::env::args().nth(1).unwrap_or_else(|| "80a".to_owned());
    let port = parse_port(&raw);
    println!("listening on port {port}");
}
