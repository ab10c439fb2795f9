//! The transactions list (`GET /api/0/local/transactions/`) on more
//! transactions than one request reads: a filter that keeps few of them,
//! followed page by page, finds each once and in order, and no request
//! reads more than its budget; a trace or a rare name is read whole.
//! (Its filters and sorts on a few transactions: `api_local.rs`.)

mod api_support;
#[path = "support/transactions.rs"]
mod transactions_support;
#[path = "support/walked.rs"]
mod walked;

use receiver::api::types::Transaction;
use receiver::api::TRANSACTIONS_MAX_READ;
use receiver::TestServer;
use transactions_support::{series_index, write_transaction_series, Shape};
use walked::{listed, Answer, List};

/// Transactions read per request (at most).
const BUDGET: u32 = TRANSACTIONS_MAX_READ as u32;

/// Transactions written: two budgets and a bit, so that a walk over all of
/// them takes three requests.
const COUNT: u32 = 2 * BUDGET + 1_000;

/// The trace of the needles (the rest have another).
const NEEDLE_TRACE: &str = "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";

/// The transactions named `GET /needle` (`walked::needles`).
fn needles() -> Vec<u32> {
    walked::needles(COUNT, BUDGET)
}

/// How long transaction `i` is (`walked::length`).
fn length(i: u32) -> f64 {
    walked::length(i, &needles())
}

/// A server holding the series.
fn server() -> TestServer {
    let server = TestServer::start();
    let needles = needles();
    // Written one trace after the other, all in one series.
    let path = server.db_path().to_owned();
    write_transaction_series(&path, &"ab".repeat(16), COUNT, |i| {
        let needle = needles.contains(&i);
        Shape {
            name: if needle { "GET /needle" } else { "GET /other" }.to_owned(),
            op: if needle { "needle" } else { "http.server" },
            length: length(i),
        }
    });
    let c = rusqlite::Connection::open(&path).expect("open");
    let placeholders = needles
        .iter()
        .map(|i| format!("'{i:032x}'"))
        .collect::<Vec<_>>()
        .join(", ");
    c.execute(
        &format!("UPDATE transactions SET trace_id = ?1 WHERE event_id IN ({placeholders})"),
        [NEEDLE_TRACE],
    )
    .expect("needle trace");
    server
}

/// The transactions list, each row by its series index.
const TRANSACTIONS: List = List {
    path: "/api/0/local/transactions/",
    rows: |body| {
        let rows: Vec<Transaction> = serde_json::from_slice(body).expect("transactions JSON");
        rows.iter().map(|t| series_index(&t.event_id)).collect()
    },
};

fn answer(server: &TestServer, query: &str) -> Answer {
    TRANSACTIONS.answer(server, query)
}

fn follow(server: &TestServer, query: &str, rel: fn(&Answer) -> &Option<String>) -> Vec<Answer> {
    TRANSACTIONS.follow(server, query, rel)
}

/// `receiver transactions --sort -duration --json` with `args`: the series
/// index of each row, and what it wrote on stderr.
fn cli_transactions(server: &TestServer, args: &[&str]) -> (Vec<u32>, String) {
    let out = api_support::receiver_command(server)
        .args(["transactions", "--sort", "-duration", "--json"])
        .args(args)
        .output()
        .expect("run receiver");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let rows: Vec<Transaction> = serde_json::from_slice(&out.stdout).expect("JSON");
    (
        rows.iter().map(|t| series_index(&t.event_id)).collect(),
        stderr,
    )
}

#[test]
fn a_filter_keeping_few_transactions_pages_through_all_of_them_in_bounded_reads() {
    let server = server();
    let newest_first: Vec<u32> = needles().into_iter().rev().collect();

    // (Transaction 3, the slowest, is no needle but lasts over a second.)
    let slow: Vec<u32> = newest_first
        .iter()
        .copied()
        .filter(|i| *i != 0)
        .chain([3, 0])
        .collect();
    for (filter, expected) in [
        ("query=needle", &newest_first),
        ("op=needle", &newest_first),
        ("min_duration=1000", &slow),
    ] {
        let pages = follow(&server, filter, |a| &a.next);
        assert_eq!(
            &listed(&pages),
            expected,
            "{filter}: each once, newest first"
        );
        // The first request stops after a budget: the needles past it are
        // left to the next one, which goes on from the last one read.
        assert_eq!(
            pages[0].listed,
            [COUNT - 1, COUNT - BUDGET + 1, COUNT - BUDGET],
            "{filter}"
        );
        assert!(pages[0].stopped(), "{filter}");
        for page in &pages {
            assert!(page.scanned() <= BUDGET, "{filter}: {page:?}");
        }
        assert_eq!(
            pages.iter().map(Answer::scanned).sum::<u32>(),
            COUNT,
            "{filter}: every transaction read once: {pages:?}"
        );
        let last = pages.last().expect("pages");
        assert!(!last.stopped() && last.next.is_none(), "{filter}: {last:?}");
    }

    // Oldest first, and a page size that ends pages inside a budget too.
    let pages = follow(&server, "query=needle&sort=timestamp&limit=2", |a| &a.next);
    assert_eq!(listed(&pages), needles(), "each once, oldest first");
    assert!(pages.iter().all(|p| p.scanned() <= BUDGET));

    // Back from the end: `previous` walks the other way, also in budgets.
    for limit in [100, 4] {
        let query = format!("query=needle&limit={limit}");
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
            assert!(back.iter().any(Answer::stopped), "{back:?}");
        }
    }

    // A filter that keeps nothing still reads a budget at a time.
    let none = answer(&server, "query=nothing-has-this");
    assert_eq!(none.listed, [] as [u32; 0]);
    assert_eq!((none.scanned(), none.stopped()), (BUDGET, true));
    assert!(none.next.is_some());
}

#[test]
fn a_duration_sort_is_exact_within_windows_of_the_newest_transactions() {
    let server = server();
    // The slowest first, within the newest budget: transaction 3, the
    // slowest of all, is older than that.
    let first = answer(&server, "sort=-duration&limit=3");
    assert_eq!((first.scanned(), first.stopped()), (BUDGET, true));
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
    let window_len = windows[0].len();
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
    let mut back = vec![last.listed.clone()];
    let mut cursor = last.previous.clone();
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
                "/api/0/local/transactions/?sort=-duration&cursor={cursor}"
            ))
            .expect("answer");
        assert_eq!(r.status, 400, "{cursor}");
    }

    // A range of fewer transactions than the budget is sorted whole.
    let few = answer(&server, "sort=-duration&start=0&end=10");
    assert_eq!(few.scan, Some((11, false)));
    assert_eq!(few.listed[..2], [3, 7]);
    assert_eq!(few.listed.len(), 11);

    // `receiver transactions` sorted by duration lists the first window,
    // sorted, rather than windows one after the other, and says where it
    // stopped.
    let (listed, stderr) = cli_transactions(&server, &["--op", "needle", "--limit", "50"]);
    assert_eq!(listed, expected[..window_len], "{stderr}");
    assert!(
        stderr.contains("sorted by duration only among the transactions started since"),
        "{stderr}"
    );
    // Over more than one page of the first window, it goes on within the
    // window.
    let (listed, stderr) = cli_transactions(&server, &["--limit", "150"]);
    let mut slowest: Vec<u32> = (COUNT - BUDGET..COUNT).collect();
    slowest.sort_by(|a, b| length(*b).total_cmp(&length(*a)).then(b.cmp(a)));
    assert_eq!(listed, slowest[..150], "{stderr}");

    // A transaction that arrives while the newest window is paged joins
    // it; the next page is still served.
    let first = answer(&server, "sort=-duration&limit=2");
    let next = first.next.expect("next");
    api_support::item(
        &server,
        "transaction",
        serde_json::json!({
            "event_id": format!("{:032x}", COUNT + 5),
            "type": "transaction",
            "transaction": "GET /late",
            "start_timestamp": api_support::now_iso(-1.5),
            "timestamp": api_support::now_iso(0.0),
            "contexts": {"trace": {"trace_id": "ef".repeat(16), "span_id": "ef".repeat(8),
                                   "op": "http.server"}},
        }),
    );
    let second = answer(&server, &format!("sort=-duration&limit=2&cursor={next}"));
    // 1.5 s: slower than the third of the window, faster than the second.
    assert_eq!(second.listed, [COUNT + 5, slowest[2]], "{second:?}");
}

#[test]
fn a_trace_or_a_rare_name_is_read_whole_without_a_budget() {
    let server = server();
    let newest_first: Vec<u32> = needles().into_iter().rev().collect();
    for query in [
        format!("trace={NEEDLE_TRACE}"),
        "transaction=GET%20/needle".to_owned(),
        "transaction=GET%20/needle&project=1".to_owned(),
    ] {
        let whole = answer(&server, &query);
        assert_eq!(whole.listed, newest_first, "{query}");
        assert_eq!(whole.scan, None, "{query}");
        assert_eq!(whole.next, None, "{query}");
        // By duration too: one sort over all of them.
        let slowest = answer(&server, &format!("{query}&sort=-duration"));
        let mut expected = needles();
        expected.sort_by(|a, b| length(*b).total_cmp(&length(*a)).then(b.cmp(a)));
        assert_eq!(slowest.listed, expected, "{query}");
        assert_eq!(slowest.scan, None, "{query}");
    }
    // A name many transactions have is walked, a budget at a time.
    let many = answer(&server, "transaction=GET%20/other&limit=5");
    assert_eq!(many.listed.len(), 5);
    // Transaction `COUNT - 1` (a needle) was read too.
    assert_eq!(many.scan, Some((6, false)));
    for q in [
        "cursor=1:2:0:3",
        "sort=-duration&cursor=1:2:0:3:4:5:x",
        "trace=xyz",
    ] {
        let r = server
            .api_get(&format!("/api/0/local/transactions/?{q}"))
            .expect("transactions");
        assert_eq!(r.status, 400, "{q}");
    }
}
