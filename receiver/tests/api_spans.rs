//! The spans list (`GET /api/0/local/spans/`) on more spans than one
//! request reads: a filter that keeps few of them, followed page by page,
//! finds each once and in order, and no request reads more than its budget.
//! (Its filters and sorts on a small trace: `api_local.rs`.)

mod api_support;
#[path = "support/spans.rs"]
mod spans_support;
#[path = "support/walked.rs"]
mod walked;

use receiver::api::types::SpanRow;
use receiver::api::SPANS_MAX_READ;
use receiver::TestServer;
use spans_support::{series_index, write_span_series};
use walked::{listed, Answer, List};

/// Spans read per request (at most).
const BUDGET: u32 = SPANS_MAX_READ as u32;

/// Spans written: two budgets and a bit, so that a walk over all of them
/// takes three requests.
const COUNT: u32 = 2 * BUDGET + 1_000;

/// The spans of op `needle` (`walked::needles`).
fn needles() -> Vec<u32> {
    walked::needles(COUNT, BUDGET)
}

/// How long span `i` is (`walked::length`).
fn length(i: u32) -> f64 {
    walked::length(i, &needles())
}

/// A server holding the series.
fn server() -> TestServer {
    let server = TestServer::start();
    let needles = needles();
    write_span_series(server.db_path(), &"ab".repeat(16), COUNT, |i| {
        let op = if needles.contains(&i) { "needle" } else { "db" };
        (op, length(i))
    });
    server
}

/// The spans list, each row by its series index.
const SPANS: List = List {
    path: "/api/0/local/spans/",
    rows: |body| {
        let rows: Vec<SpanRow> = serde_json::from_slice(body).expect("spans JSON");
        rows.iter()
            .map(|s| series_index(s.description.as_deref()))
            .collect()
    },
};

fn answer(server: &TestServer, query: &str) -> Answer {
    SPANS.answer(server, query)
}

fn follow(server: &TestServer, query: &str, rel: fn(&Answer) -> &Option<String>) -> Vec<Answer> {
    SPANS.follow(server, query, rel)
}

#[test]
fn a_filter_keeping_few_spans_pages_through_all_of_them_in_bounded_reads() {
    let server = server();
    let newest_first: Vec<u32> = needles().into_iter().rev().collect();

    let pages = follow(&server, "op=needle", |a| &a.next);
    assert_eq!(listed(&pages), newest_first, "each once, newest first");
    // The first request stops after a budget: the needles past it are left
    // to the next one, which goes on from the last span read.
    assert_eq!(
        pages[0].listed,
        [COUNT - 1, COUNT - BUDGET + 1, COUNT - BUDGET]
    );
    assert!(pages[0].stopped());
    for page in &pages {
        assert!(page.scanned() <= BUDGET, "{page:?}");
    }
    assert_eq!(
        pages.iter().map(|p| p.scanned()).sum::<u32>(),
        COUNT,
        "every span read once: {pages:?}"
    );
    let last = pages.last().expect("pages");
    assert!(!last.stopped() && last.next.is_none(), "{last:?}");

    // Oldest first, and a page size that ends pages inside a budget too.
    let pages = follow(&server, "op=needle&sort=timestamp&limit=2", |a| &a.next);
    assert_eq!(listed(&pages), needles(), "each once, oldest first");
    assert!(pages.iter().all(|p| p.scanned() <= BUDGET));

    // Back from the end: `previous` walks the other way, also in budgets,
    // with pages that stop short and pages that fill.
    for limit in [100, 4] {
        let query = format!("op=needle&limit={limit}");
        let forward = follow(&server, &query, |a| &a.next);
        let end = forward.last().and_then(|a| a.previous.clone());
        let back = follow(
            &server,
            &format!("{query}&cursor={}", end.expect("back")),
            |a| &a.previous,
        );
        let mut seen: Vec<u32> = back.iter().rev().flat_map(|a| a.listed.clone()).collect();
        seen.extend(forward.last().map_or(vec![], |a| a.listed.clone()));
        assert_eq!(seen, newest_first, "limit {limit}: {back:?}");
        assert!(back.iter().all(|p| p.scanned() <= BUDGET), "{back:?}");
        if limit == 100 {
            assert!(back.iter().any(|p| p.stopped()), "{back:?}");
        }
    }
}

#[test]
fn a_duration_sort_is_exact_within_windows_of_the_newest_spans() {
    let server = server();
    // The slowest first, within the newest budget of spans: span 3, the
    // slowest of all, is older than that.
    let first = answer(&server, "sort=-duration&limit=3");
    assert_eq!(first.scanned(), BUDGET);
    assert!(first.stopped());
    let window: Vec<u32> = needles()
        .into_iter()
        .filter(|i| *i >= COUNT - BUDGET)
        .collect();
    let mut slowest = window.clone();
    slowest.sort_by(|a, b| length(*b).total_cmp(&length(*a)));
    assert_eq!(first.listed, slowest);

    // Followed to the end: each needle once, sorted within each window.
    let pages = follow(&server, "op=needle&sort=-duration&limit=2", |a| &a.next);
    let windows: [Vec<u32>; 3] = [
        window,
        needles()
            .into_iter()
            .filter(|i| (COUNT - 2 * BUDGET..COUNT - BUDGET).contains(i))
            .collect(),
        needles()
            .into_iter()
            .filter(|i| *i < COUNT - 2 * BUDGET)
            .collect(),
    ];
    let expected: Vec<u32> = windows
        .iter()
        .flat_map(|w| {
            let mut w = w.clone();
            w.sort_by(|a, b| length(*b).total_cmp(&length(*a)).then(b.cmp(a)));
            w
        })
        .collect();
    assert_eq!(listed(&pages), expected, "{pages:?}");
    assert!(pages.iter().all(|p| p.scanned() <= BUDGET), "{pages:?}");
    let last = pages.last().expect("pages");
    assert!(!last.stopped() && last.next.is_none(), "{last:?}");
    // And back from the last page, window by window, to the first: each
    // needle once, in the same order.
    let mut back = vec![pages.last().expect("pages").listed.clone()];
    let mut cursor = pages.last().and_then(|p| p.previous.clone());
    while let Some(c) = cursor {
        assert!(back.len() < 50, "no end going back");
        let a = answer(
            &server,
            &format!("op=needle&sort=-duration&limit=2&cursor={c}"),
        );
        assert!(a.scanned() <= BUDGET, "{a:?}");
        back.insert(0, a.listed.clone());
        cursor = a.previous;
    }
    assert_eq!(back.concat(), expected, "going back");

    // Fastest first, back and forth within a window.
    let fast = answer(&server, "op=needle&sort=duration&limit=2");
    assert_eq!(fast.listed, [COUNT - BUDGET, COUNT - BUDGET + 1]);
    let cursor = fast.next.expect("next");
    let second = answer(
        &server,
        &format!("op=needle&sort=duration&limit=2&cursor={cursor}"),
    );
    assert_eq!(second.listed, [COUNT - 1]);
    let back = second.previous.expect("previous");
    let again = answer(
        &server,
        &format!("op=needle&sort=duration&limit=2&cursor={back}"),
    );
    assert_eq!(again.listed, fast.listed);

    // A hand-written cursor whose window is wider than the budget is
    // refused, not sorted whole.
    for cursor in ["1000:1:0:-:-:-:-", "1000:1:0:0:0:-:-"] {
        let r = server
            .api_get(&format!(
                "/api/0/local/spans/?sort=-duration&cursor={cursor}"
            ))
            .expect("answer");
        assert_eq!(
            r.status,
            400,
            "{cursor}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }

    // A range of fewer spans than the budget is sorted whole.
    let few = answer(&server, "sort=-duration&start=0&end=10");
    assert_eq!((few.scanned(), few.stopped()), (11, false));
    assert_eq!(few.listed[..2], [3, 7]);
    assert_eq!(few.listed.len(), 11);
}

#[test]
fn a_trace_is_read_whole_without_a_budget() {
    let server = server();
    let r = server
        .api_get(&format!(
            "/api/0/local/spans/?trace={}&op=needle",
            "ab".repeat(16)
        ))
        .expect("spans");
    let rows: Vec<SpanRow> = serde_json::from_slice(&r.body).expect("spans JSON");
    assert_eq!(rows.len(), needles().len());
    assert_eq!(r.header("x-scanned"), None);
    for q in ["cursor=1:2:0:3", "sort=-duration&cursor=1:2:0:3:4:5:x"] {
        let r = server
            .api_get(&format!("/api/0/local/spans/?{q}"))
            .expect("spans");
        assert_eq!(r.status, 400, "{q}");
    }
}
