// Example: an axum server traced by the Sentry HTTP middleware, calling
// itself over reqwest with trace propagation.
//
// Start the receiver (its first line on stdout is the DSN of its default
// project), then run the example against it:
//
//     cargo run --release -p receiver
//     SENTRY_DSN=<the printed DSN> cargo run -p sentry-integrations --example http_server --features tower,axum,reqwest
//
// and send it requests (it listens on 127.0.0.1:3000; HTTP_SERVER_ADDR
// changes that):
//
//     curl http://127.0.0.1:3000/            # a transaction `GET /`
//     curl http://127.0.0.1:3000/users/42    # named by the route: `GET /users/{id}`
//     curl http://127.0.0.1:3000/error       # an error event, 500, status internal_error
//     curl http://127.0.0.1:3000/panic       # a panic event (handled: false), 500
//     curl http://127.0.0.1:3000/chain       # one trace over two transactions
//
// What happens: `sentry_integrations::init` sets up the client (DSN from
// SENTRY_DSN, `traces_sample_rate` 1.0, request-mode sessions) with the
// panic hook. `SentryHttpLayer` gives every request its own hub and a
// transaction (op `http.server`) named by axum's matched route, with the
// request's URL, method, query and headers (credentials left out) on the
// transaction and on events captured while handling it, and its status from
// the response code. `/error` captures the error itself and answers 500 (the
// layer does not report that 500 a second time). `/panic` panics: the panic
// hook reports it, with its stack trace, on the request's hub; the layer
// ends the transaction as `internal_error` and resumes the panic, which
// `CatchPanicLayer` (outside the Sentry layer) turns into a 500. `/chain`
// calls `/users/7` on CHAIN_TARGET (default: this server) with
// `send_traced`: an `http.client` span with `sentry-trace` and `baggage`
// headers, so the second transaction continues the first one's trace as a
// child of that span, and both envelopes carry the same dynamic sampling
// context. Ctrl-C stops the server; the init guard then flushes what is
// queued, including the per-minute session counts. Without SENTRY_DSN the
// server runs and reports nothing.

use std::net::SocketAddr;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use sentry_core::session::SessionMode;
use sentry_core::ClientOptions;
use sentry_integrations::http_client::RequestBuilderExt;
use sentry_integrations::http_server::SentryHttpLayer;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;

#[derive(Clone)]
struct App {
    http: reqwest::Client,
    chain_target: String,
}

#[derive(Debug)]
struct PaymentDeclined;

impl std::fmt::Display for PaymentDeclined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("payment declined by the issuer")
    }
}

impl std::error::Error for PaymentDeclined {}

async fn index() -> &'static str {
    sentry_core::configure_scope(|scope| scope.set_tag("page", "index"));
    "hello\n"
}

async fn user(Path(id): Path<u64>) -> String {
    format!("user {id}\n")
}

async fn error() -> (StatusCode, &'static str) {
    sentry_core::capture_error(&PaymentDeclined);
    (StatusCode::INTERNAL_SERVER_ERROR, "payment failed\n")
}

async fn panic() -> &'static str {
    panic!("the handler panicked on purpose")
}

async fn chain(State(app): State<App>) -> (StatusCode, String) {
    let url = format!("{}/users/7", app.chain_target);
    match app.http.get(&url).send_traced().await {
        Ok(response) => {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            (StatusCode::OK, format!("{url} answered {status}: {body}"))
        }
        Err(e) => (StatusCode::BAD_GATEWAY, format!("{url} failed: {e}\n")),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _guard = sentry_integrations::init(ClientOptions {
        traces_sample_rate: 1.0,
        release: Some(concat!("http-server-example@", env!("CARGO_PKG_VERSION")).into()),
        session_mode: SessionMode::Request,
        ..Default::default()
    });

    let addr: SocketAddr = std::env::var("HTTP_SERVER_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3000".to_owned())
        .parse()?;
    let chain_target = std::env::var("CHAIN_TARGET").unwrap_or_else(|_| format!("http://{addr}"));
    let app = App {
        http: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()?,
        chain_target,
    };

    let router = Router::new()
        .route("/", get(index))
        .route("/users/{id}", get(user))
        .route("/error", get(error))
        .route("/panic", get(panic))
        .route("/chain", get(chain))
        .with_state(app)
        // Outermost first: CatchPanicLayer answers 500 for the panic the
        // Sentry layer resumes.
        .layer(
            ServiceBuilder::new()
                .layer(CatchPanicLayer::new())
                .layer(SentryHttpLayer::new()),
        );

    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!("listening on http://{addr}");
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
