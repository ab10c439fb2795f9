//! The scenarios that `sentry-compare` times on our `sentry-core` and on the
//! official `sentry` crate, shared by the median-of-batches program
//! (`src/main.rs`, which writes results.md) and the criterion benchmark
//! (`benches/criterion.rs`).
//!
//! Both crates keep process-global state (the bound client, the main hub's
//! scope) and ours remembers for good that a client was ever bound, so the
//! order is fixed: every "no client" scenario runs first for both crates, then
//! both crates are initialised, then the "client bound" scenarios run, each
//! after putting both scopes into the same state with `prepare`.

#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

pub const DSN: &str = "https://0123456789abcdef0123456789abcdef@127.0.0.1:8000/1";
pub const RELEASE: &str = "bench@1.0.0";
pub const ENVIRONMENT: &str = "production";
/// The default `max_breadcrumbs` of both crates.
pub const MAX_BREADCRUMBS: usize = 100;

/// The operation a scenario repeats.
#[derive(Clone, Copy)]
pub enum Op {
    CaptureMessage,
    AddBreadcrumb,
    SetTagSame,
    /// `set_tag` with a value from a rotating set of 8 prebuilt strings.
    SetTagChanging,
    /// start_transaction + 10 child spans (start, finish) + finish.
    Transaction {
        sampled: bool,
    },
}

/// The state both scopes are put into before a bound scenario.
#[derive(Clone, Copy)]
pub enum Setup {
    /// Nothing (no client scenarios: there is no scope to speak of).
    Nothing,
    EmptyScope,
    /// 100 breadcrumbs and 2 tags.
    FullScope,
}

pub struct Scenario {
    /// What is measured, as printed.
    pub name: &'static str,
    /// Whether both crates have a client bound.
    pub bound: bool,
    /// The scope state before measuring.
    pub setup: Setup,
    /// The operation repeated.
    pub op: Op,
}

/// Every scenario, the no-client ones first (see the crate docs).
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "capture_message, no client",
        bound: false,
        setup: Setup::Nothing,
        op: Op::CaptureMessage,
    },
    Scenario {
        name: "add_breadcrumb, no client",
        bound: false,
        setup: Setup::Nothing,
        op: Op::AddBreadcrumb,
    },
    Scenario {
        name: "configure_scope + set_tag (same value), no client",
        bound: false,
        setup: Setup::Nothing,
        op: Op::SetTagSame,
    },
    Scenario {
        name: "configure_scope + set_tag (changing value), no client",
        bound: false,
        setup: Setup::Nothing,
        op: Op::SetTagChanging,
    },
    Scenario {
        name: "capture_message, empty scope",
        bound: true,
        setup: Setup::EmptyScope,
        op: Op::CaptureMessage,
    },
    Scenario {
        name: "add_breadcrumb (message + category)",
        bound: true,
        setup: Setup::EmptyScope,
        op: Op::AddBreadcrumb,
    },
    Scenario {
        name: "configure_scope + set_tag (same value)",
        bound: true,
        setup: Setup::EmptyScope,
        op: Op::SetTagSame,
    },
    Scenario {
        name: "configure_scope + set_tag (changing value)",
        bound: true,
        setup: Setup::EmptyScope,
        op: Op::SetTagChanging,
    },
    Scenario {
        name: "capture_message, 100 breadcrumbs + 2 tags",
        bound: true,
        setup: Setup::FullScope,
        op: Op::CaptureMessage,
    },
    Scenario {
        name: "transaction + 10 child spans, sampled",
        bound: true,
        setup: Setup::EmptyScope,
        op: Op::Transaction { sampled: true },
    },
    Scenario {
        name: "transaction + 10 child spans, unsampled",
        bound: true,
        setup: Setup::EmptyScope,
        op: Op::Transaction { sampled: false },
    },
];

/// Values for the "changing value" tag scenario, built once up front.
pub fn rotating_values() -> Vec<String> {
    (0..8).map(|i| format!("value-{i}")).collect()
}

/// The same functions for each crate. The operations are not inlined into the
/// measuring loop, as in an application where each call site runs once.
macro_rules! side {
    ($krate:ident) => {
        use super::*;
        use $krate::protocol::{Breadcrumb, Level};

        /// A transport that drops every envelope.
        pub struct DiscardTransport;

        #[inline(never)]
        fn capture_message() {
            black_box($krate::capture_message(
                black_box("something happened"),
                Level::Info,
            ));
        }

        fn breadcrumb() -> Breadcrumb {
            Breadcrumb {
                category: Some("bench".into()),
                message: Some("a breadcrumb message".into()),
                ..Default::default()
            }
        }

        #[inline(never)]
        fn add_breadcrumb() {
            $krate::add_breadcrumb(breadcrumb);
        }

        #[inline(never)]
        fn set_tag_same() {
            $krate::configure_scope(|s| s.set_tag("key", "value"));
        }

        #[inline(never)]
        fn set_tag_changing(value: &str) {
            $krate::configure_scope(|s| s.set_tag("rotating", value));
        }

        #[inline(never)]
        fn transaction(sampled: bool) {
            let mut ctx = $krate::TransactionContext::new("GET /users", "http.server");
            ctx.set_sampled(Some(sampled));
            let tx = $krate::start_transaction(ctx);
            for _ in 0..10 {
                let span = tx.start_child("db.query", "SELECT * FROM users WHERE id = ?");
                span.finish();
            }
            tx.finish();
        }

        pub fn run(op: Op, values: &[String], i: u64) {
            match op {
                Op::Transaction { sampled } => transaction(sampled),
                Op::CaptureMessage => capture_message(),
                Op::AddBreadcrumb => add_breadcrumb(),
                Op::SetTagSame => set_tag_same(),
                Op::SetTagChanging => set_tag_changing(&values[(i & 7) as usize]),
            }
        }

        pub fn prepare(setup: Setup) {
            match setup {
                Setup::Nothing => {}
                Setup::EmptyScope => $krate::configure_scope(|s| s.clear()),
                Setup::FullScope => {
                    $krate::configure_scope(|s| s.clear());
                    for _ in 0..MAX_BREADCRUMBS {
                        $krate::add_breadcrumb(breadcrumb());
                    }
                    $krate::configure_scope(|s| {
                        s.set_tag("key", "value");
                        s.set_tag("rotating", "value-0");
                    });
                }
            }
        }

        /// Whether a capture produces an event (sanity check after init).
        pub fn capture_sends() -> bool {
            !$krate::capture_message("check", Level::Info).is_nil()
        }
    };
}

/// Our crate.
pub mod ours_side {
    side!(ours);

    impl ours::transport::Transport for DiscardTransport {
        fn send_envelope(&self, envelope: ours::envelope::Envelope) {
            black_box(envelope);
        }
    }

    pub fn init() -> ours::ClientInitGuard {
        let guard = ours::init(ours::ClientOptions {
            dsn: Some(DSN.parse().expect("valid DSN")),
            release: Some(RELEASE.into()),
            environment: Some(ENVIRONMENT.into()),
            transport: Some(Arc::new(Arc::new(DiscardTransport))),
            traces_sample_rate: 1.0,
            ..Default::default()
        });
        assert!(guard.is_enabled(), "our client must be enabled");
        guard
    }
}

/// The official crate.
pub mod official_side {
    side!(sentry);

    impl sentry::Transport for DiscardTransport {
        fn send_envelope(&self, envelope: sentry::Envelope) {
            black_box(envelope);
        }
    }

    pub fn init() -> sentry::ClientInitGuard {
        // `sentry::ClientOptions` is non-exhaustive: set the fields one by one.
        let mut options = sentry::ClientOptions::new();
        options.dsn = Some(DSN.parse().expect("valid DSN"));
        options.release = Some(RELEASE.into());
        options.environment = Some(ENVIRONMENT.into());
        options.transport = Some(Arc::new(Arc::new(DiscardTransport)));
        // Tracing on for both; each transaction forces its own decision.
        let options = options.traces_sample_rate(1.0);
        let guard = sentry::init(options);
        assert!(guard.is_enabled(), "official client must be enabled");
        guard
    }
}
