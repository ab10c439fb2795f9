//! Walking a bounded list (spans, transactions) over a series of rows
//! larger than one request reads: the rows a filter keeps, their lengths,
//! one answer with its scan headers, and a walk along `next` or
//! `previous` (`#[path = "support/walked.rs"] mod walked;`).

#![allow(dead_code)]

use receiver::TestServer;

/// The rows a filter keeps in a series of `count` read `budget` at a
/// time: at both ends, at both sides of each place where a walk from the
/// newest stops (`count - budget`, `count - 2 * budget`), and a few
/// between.
pub fn needles(count: u32, budget: u32) -> Vec<u32> {
    let mut n = vec![
        0,
        7,
        count - 2 * budget - 1,
        count - 2 * budget,
        count - budget - 1,
        count - budget,
        count - budget + 1,
        count - 1,
    ];
    n.extend((1..=5).map(|k| count - 2 * budget + k * 7_919));
    n.sort_unstable();
    n
}

/// How long row `i` is: needles a second and up (the later, the longer
/// within each thousand), the rest a millisecond, but for row 3, the
/// longest of all.
pub fn length(i: u32, needles: &[u32]) -> f64 {
    match i {
        3 => 500.0,
        i if needles.contains(&i) => 1.0 + f64::from(i % 1_000),
        _ => 0.001,
    }
}

/// One answer of a list.
#[derive(Debug)]
pub struct Answer {
    /// The series index of each row listed.
    pub listed: Vec<u32>,
    /// `X-Scanned`, `X-Scan-Stopped` (absent for a read through an index).
    pub scan: Option<(u32, bool)>,
    /// The `next` and `previous` cursors, when they have results.
    pub next: Option<String>,
    pub previous: Option<String>,
}

impl Answer {
    pub fn scanned(&self) -> u32 {
        self.scan
            .unwrap_or_else(|| panic!("no X-Scanned: {self:?}"))
            .0
    }

    pub fn stopped(&self) -> bool {
        self.scan
            .unwrap_or_else(|| panic!("no X-Scanned: {self:?}"))
            .1
    }
}

/// A list: its path (`/api/0/local/spans/`) and the series index of each
/// row of an answer's body.
#[derive(Clone, Copy)]
pub struct List {
    pub path: &'static str,
    pub rows: fn(&[u8]) -> Vec<u32>,
}

impl List {
    /// The answer to `query`.
    pub fn answer(&self, server: &TestServer, query: &str) -> Answer {
        let r = server
            .api_get(&format!("{}?{query}", self.path))
            .expect("list");
        assert_eq!(
            r.status,
            200,
            "{query}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let scan = r.header("x-scanned").map(|scanned| {
            let stopped = match r.header("x-scan-stopped") {
                Some("true") => true,
                Some("false") => false,
                other => panic!("{query}: X-Scan-Stopped: {other:?}"),
            };
            assert_eq!(r.header("x-scanned-to").is_some(), stopped, "{query}");
            (scanned.parse().expect("X-Scanned"), stopped)
        });
        Answer {
            listed: (self.rows)(&r.body),
            scan,
            next: crate::api_support::link_cursor(&r, "next"),
            previous: crate::api_support::link_cursor(&r, "previous"),
        }
    }

    /// Follows `rel` links from `query`'s first answer; every answer.
    pub fn follow(
        &self,
        server: &TestServer,
        query: &str,
        rel: fn(&Answer) -> &Option<String>,
    ) -> Vec<Answer> {
        let mut answers = vec![self.answer(server, query)];
        while let Some(cursor) = rel(answers.last().expect("an answer")) {
            assert!(answers.len() < 50, "{query}: no end to the pages");
            answers.push(self.answer(server, &format!("{query}&cursor={cursor}")));
        }
        answers
    }
}

/// The rows of every answer, in order.
pub fn listed(answers: &[Answer]) -> Vec<u32> {
    answers.iter().flat_map(|a| a.listed.clone()).collect()
}
