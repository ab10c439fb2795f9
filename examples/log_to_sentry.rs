// Example: the `log` bridge beside env_logger.
//
// Start the receiver (it prints the DSN of its default project), then run
// the example against it:
//
//     cargo run -p receiver
//     SENTRY_DSN=<the printed DSN> cargo run -p sentry-integrations --example log_to_sentry --features log
//
// What happens: `SentryLogger` wraps env_logger, so every record is still
// printed on the console (filtered by RUST_LOG, default `info`) and also
// goes to Sentry: `info` and `warn` records become breadcrumbs (category =
// the target), the `error` record becomes an event of level `error` with
// logger `shop::payment` and the message `payment declined for order 991`,
// carrying the two breadcrumbs before it. The `debug` record goes nowhere
// by default. Without SENTRY_DSN only the console output remains.

use log::LevelFilter;
use sentry_integrations::log::SentryLogger;

fn main() {
    let _guard = sentry_integrations::init(std::env::var("SENTRY_DSN").unwrap_or_default());

    let console =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).build();
    // Breadcrumbs need `info` records even when the console shows less.
    let max_level = console.filter().max(LevelFilter::Info);
    log::set_boxed_logger(Box::new(SentryLogger::with_dest(console)))
        .expect("no other logger is installed");
    log::set_max_level(max_level);

    log::debug!(target: "shop::cart", "cart 42 has 3 items");
    log::info!(target: "shop::cart", "checkout started for cart {}", 42);
    log::warn!(target: "shop::inventory", "inventory service slow: {} ms", 850);
    log::error!(target: "shop::payment", "payment declined for order {}", 991);
}
