// Example: the `tracing` bridge: events, and spans inside a transaction.
//
// Start the receiver (it prints the DSN of its default project), then run
// the example against it:
//
//     cargo run -p receiver
//     SENTRY_DSN=<the printed DSN> cargo run -p sentry-integrations --example tracing_to_sentry --features tracing
//
// What happens: the subscriber has two layers, the console (`fmt`) and
// Sentry. The program starts a transaction `process order` (sampled: the
// example sets `traces_sample_rate` to 1.0) and makes it the active span.
// Inside, the instrumented functions open `tracing` spans, which become
// child spans: `process_order` (data `order_id = 991`) with the children
// `load_items` and `charge_card` (data `amount_cents = 1999`, and
// `provider = "acme"`, recorded later). `info!`/`warn!` events become
// breadcrumbs; the `error!` inside `charge_card` becomes an event with the
// exception chain of the `error` field, linked to the trace of the
// `charge_card` span. Finishing the transaction sends it with its three
// spans. Without SENTRY_DSN only the console output remains.

use sentry_core::performance::{start_transaction, TransactionContext};
use sentry_core::{ClientOptions, Hub};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

#[derive(Debug)]
struct Declined;

impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card declined by the issuer")
    }
}

impl std::error::Error for Declined {}

#[tracing::instrument]
fn load_items(order_id: u64) -> Vec<&'static str> {
    tracing::info!(count = 2, "items loaded");
    vec!["book", "lamp"]
}

#[tracing::instrument(fields(provider = tracing::field::Empty))]
fn charge_card(amount_cents: u64) -> Result<(), Declined> {
    tracing::Span::current().record("provider", "acme");
    tracing::warn!(attempt = 1, "payment provider slow");
    let err = Declined;
    tracing::error!(
        error = &err as &dyn std::error::Error,
        "charging the card failed"
    );
    Err(err)
}

#[tracing::instrument]
fn process_order(order_id: u64) {
    let items = load_items(order_id);
    tracing::info!(items = items.len(), "charging");
    let _ = charge_card(1999);
}

fn main() {
    let _guard = sentry_integrations::init((
        std::env::var("SENTRY_DSN").unwrap_or_default(),
        ClientOptions {
            traces_sample_rate: 1.0,
            ..Default::default()
        },
    ));
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_filter(LevelFilter::INFO))
        .with(sentry_integrations::tracing::layer())
        .init();

    let transaction = start_transaction(TransactionContext::new("process order", "task"));
    Hub::current().configure_scope(|s| s.set_span(Some(transaction.clone().into())));
    process_order(991);
    Hub::current().configure_scope(|s| s.set_span(None));
    transaction.finish();
}
