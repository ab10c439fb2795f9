//! Query-string parsing, time ranges, cursors and `Link` headers.

use percent_encoding::percent_decode_str;
use sentry_core::protocol::Timestamp;

use super::ApiError;

/// A parsed query string (keys may repeat).
#[derive(Debug, Clone, Default)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

/// Decodes `%XX` and `+` (as space) in a query component.
pub(crate) fn decode_component(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_decode_str(&s).decode_utf8_lossy().into_owned()
}

impl Query {
    /// Parses `a=1&b=2&a=3`.
    pub(crate) fn parse(query: Option<&str>) -> Query {
        let pairs = query
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (decode_component(k), decode_component(v)),
                None => (decode_component(p), String::new()),
            })
            .collect();
        Query { pairs }
    }

    /// The last value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The last non-empty value of `key`.
    pub(crate) fn get_nonempty(&self, key: &str) -> Option<&str> {
        self.get(key).map(str::trim).filter(|v| !v.is_empty())
    }

    /// All non-empty values of `key`, each whole: for releases and
    /// environments, whose names may hold a comma (repeat the parameter for
    /// several).
    pub(crate) fn values(&self, key: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// How many times `key` is given, empty values included.
    pub(crate) fn count(&self, key: &str) -> usize {
        self.pairs.iter().filter(|(k, _)| k == key).count()
    }

    /// All non-empty values of `key`; comma-separated values are split too.
    pub(crate) fn all(&self, key: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The query string without `cursor`, re-encoded, for `Link` URLs.
    pub(crate) fn without_cursor(&self) -> String {
        self.pairs
            .iter()
            .filter(|(k, _)| k != "cursor")
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// A boolean flag: present with an empty value, `1`, `true` or `yes`.
    pub(crate) fn flag(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "" | "1" | "true" | "yes"
            )
        })
    }

    /// An integer parameter within `min..=max`.
    pub(crate) fn int(&self, key: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.get_nonempty(key) else {
            return Ok(None);
        };
        match v.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::BadRequest(format!(
                "{key} must be an integer between {min} and {max}, got {v:?}"
            ))),
        }
    }

    /// A number parameter.
    pub(crate) fn number(&self, key: &str) -> Result<Option<f64>, ApiError> {
        let Some(v) = self.get_nonempty(key) else {
            return Ok(None);
        };
        match v.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Some(n)),
            _ => Err(ApiError::BadRequest(format!(
                "{key} must be a number, got {v:?}"
            ))),
        }
    }

    /// The page size: `limit` or `per_page`, 1 to `max`, default `default`.
    pub(crate) fn limit(&self, default: i64, max: i64) -> Result<i64, ApiError> {
        Ok(self
            .int("limit", 1, max)?
            .or(self.int("per_page", 1, max)?)
            .unwrap_or(default))
    }
}

/// Percent-encodes a query component.
pub(crate) fn encode(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b':');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// Parses a time: RFC 3339 (`2024-05-01T12:00:00Z`, zone optional) or Unix
/// seconds.
pub(crate) fn parse_time(key: &str, s: &str) -> Result<f64, ApiError> {
    let s = s.trim();
    if let Ok(n) = s.parse::<f64>() {
        if n.is_finite() {
            return Ok(n);
        }
    }
    Timestamp::parse_rfc3339(s)
        .map(Timestamp::as_secs_f64)
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "{key} must be an ISO 8601 time or Unix seconds, got {s:?}"
            ))
        })
}

/// Parses a period like `14d`, `24h`, `30m`, `90s`, `2w` into seconds; a
/// bare number is seconds, as Sentry reads `statsPeriod=3600`.
pub(crate) fn parse_period(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: f64 = num.parse().ok()?;
    let mult = match unit {
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        "w" => 604_800.0,
        _ => return None,
    };
    Some(n * mult)
}

/// A time window (Unix seconds, both ends inclusive).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Range {
    /// Not before.
    pub start: Option<f64>,
    /// Not after.
    pub end: Option<f64>,
}

impl Range {
    /// Restricts `sql` to rows whose `column` (Unix seconds) is within the
    /// range.
    pub(crate) fn restrict(&self, sql: &mut Sql, column: &str) {
        if let Some(start) = self.start {
            let p = sql.bind(start);
            sql.cond(format!("{column} >= {p}"));
        }
        if let Some(end) = self.end {
            let p = sql.bind(end);
            sql.cond(format!("{column} <= {p}"));
        }
    }

    /// From `statsPeriod` (relative to `now`) or `start` / `end`.
    pub(crate) fn from_query(q: &Query, now: f64) -> Result<Range, ApiError> {
        let mut range = Range::default();
        if let Some(p) = q.get_nonempty("statsPeriod") {
            let secs = parse_period(p).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "statsPeriod must look like 30m, 24h, 14d or 2w, got {p:?}"
                ))
            })?;
            range.start = Some(now - secs);
        }
        if let Some(s) = q.get_nonempty("start") {
            range.start = Some(parse_time("start", s)?);
        }
        if let Some(s) = q.get_nonempty("end") {
            range.end = Some(parse_time("end", s)?);
        }
        if let (Some(a), Some(b)) = (range.start, range.end) {
            if a > b {
                return Err(ApiError::BadRequest("start is after end".to_owned()));
            }
        }
        Ok(range)
    }
}

/// A keyset cursor: the sort value and id of the row a page starts after
/// (`is_prev = false`) or before (`is_prev = true`). Written
/// `value:id:0|1`, the shape of Sentry's cursors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Cursor {
    /// Sort value of the boundary row.
    pub value: f64,
    /// Id of the boundary row.
    pub id: i64,
    /// Whether the page lies before the boundary.
    pub is_prev: bool,
}

impl Cursor {
    /// Parses `cursor` (absent or empty = first page).
    pub(crate) fn from_query(q: &Query) -> Result<Option<Cursor>, ApiError> {
        q.get_nonempty("cursor").map(Cursor::parse).transpose()
    }

    /// Parses `value:id:0|1` (`:0` may be left out).
    pub(crate) fn parse(s: &str) -> Result<Cursor, ApiError> {
        let bad = || ApiError::BadRequest(format!("invalid cursor {s:?}"));
        let mut parts = s.split(':');
        let value: f64 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let id: i64 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let is_prev = match parts.next() {
            Some("0") | None => false,
            Some("1") => true,
            Some(_) => return Err(bad()),
        };
        if parts.next().is_some() || !value.is_finite() {
            return Err(bad());
        }
        Ok(Cursor { value, id, is_prev })
    }

    /// `value:id:0|1`, as [`Cursor::parse`] reads it.
    pub(crate) fn render(value: f64, id: i64, is_prev: bool) -> String {
        format!("{value}:{id}:{}", u8::from(is_prev))
    }
}

/// The result of a keyset page: rows plus the cursors around them.
#[derive(Debug)]
pub(crate) struct Page<T> {
    /// The rows, in display order.
    pub rows: Vec<T>,
    /// `(cursor, has results)` for the previous page.
    pub prev: (String, bool),
    /// `(cursor, has results)` for the next page.
    pub next: (String, bool),
}

impl<T> Page<T> {
    /// Builds a page from `fetched` rows (up to `limit + 1`, in query
    /// order: reversed for a `prev` cursor) and the key of each row.
    pub(crate) fn build(
        mut fetched: Vec<T>,
        limit: usize,
        cursor: Option<Cursor>,
        key: impl Fn(&T) -> (f64, i64),
    ) -> Page<T> {
        let more = fetched.len() > limit;
        fetched.truncate(limit);
        let backwards = cursor.is_some_and(|c| c.is_prev);
        if backwards {
            fetched.reverse();
        }
        let (first, last) = (fetched.first().map(&key), fetched.last().map(&key));
        let (has_prev, has_next) = if backwards {
            (more, true)
        } else {
            (cursor.is_some(), more)
        };
        let fallback = cursor.map_or((0.0, 0), |c| (c.value, c.id));
        let (pv, pid) = first.unwrap_or(fallback);
        let (nv, nid) = last.unwrap_or(fallback);
        Page {
            rows: fetched,
            prev: (Cursor::render(pv, pid, true), has_prev && first.is_some()),
            next: (Cursor::render(nv, nid, false), has_next && last.is_some()),
        }
    }

    /// Makes the link in the direction the rows were read (`next`, or
    /// `previous` for a page read backwards from `cursor`) go on from
    /// `(value, id)`: where a read that ended before the page was full
    /// stopped. An empty page keeps the way back to `cursor` open too.
    pub(crate) fn resume_at(&mut self, value: f64, id: i64, cursor: Option<Cursor>) {
        let backwards = cursor.is_some_and(|c| c.is_prev);
        let resume = (Cursor::render(value, id, backwards), true);
        if backwards {
            self.prev = resume;
        } else {
            self.next = resume;
        }
        if self.rows.is_empty() && cursor.is_some() {
            if backwards {
                self.next.1 = true;
            } else {
                self.prev.1 = true;
            }
        }
    }

    /// The `Link` header for this page at `url` (`scheme://host/path?query`
    /// without `cursor`).
    pub(crate) fn link(&self, url: &str) -> String {
        let sep = if url.contains('?') { "&" } else { "?" };
        let item = |(cursor, results): &(String, bool), rel: &str| {
            format!("<{url}{sep}cursor={cursor}>; rel=\"{rel}\"; results=\"{results}\"; cursor=\"{cursor}\"")
        };
        format!(
            "{}, {}",
            item(&self.prev, "previous"),
            item(&self.next, "next")
        )
    }
}

/// A WHERE clause under construction with numbered parameters.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    conds: Vec<String>,
    /// The parameters, in `?N` order.
    pub params: Vec<rusqlite::types::Value>,
}

impl Sql {
    /// Adds a parameter; returns its placeholder (`?N`).
    pub(crate) fn bind(&mut self, v: impl Into<rusqlite::types::Value>) -> String {
        self.params.push(v.into());
        format!("?{}", self.params.len())
    }

    /// Adds a condition (joined with `AND`).
    pub(crate) fn cond(&mut self, c: impl Into<String>) {
        self.conds.push(c.into());
    }

    /// `expr IN (?a, ?b, …)` for the values.
    pub(crate) fn in_list<V: Into<rusqlite::types::Value>>(
        &mut self,
        expr: &str,
        values: impl IntoIterator<Item = V>,
    ) -> String {
        let placeholders: Vec<String> = values.into_iter().map(|v| self.bind(v)).collect();
        if placeholders.is_empty() {
            "0".to_owned()
        } else {
            format!("{expr} IN ({})", placeholders.join(", "))
        }
    }

    /// The conditions joined with `AND` (`1` when there are none).
    pub(crate) fn where_clause(&self) -> String {
        if self.conds.is_empty() {
            "1".to_owned()
        } else {
            self.conds.join(" AND ")
        }
    }

    /// Adds the keyset condition for `cursor` over `expr` (descending unless
    /// `ascending`, ties broken by `id_col` in the same direction) and
    /// returns the `ORDER BY` clause to walk in (reversed for a `prev`
    /// cursor).
    pub(crate) fn keyset(
        &mut self,
        expr: &str,
        id_col: &str,
        ascending: bool,
        cursor: Option<Cursor>,
    ) -> String {
        let reverse = cursor.is_some_and(|c| c.is_prev);
        let asc = ascending != reverse;
        let (cmp, dir) = if asc { (">", "ASC") } else { ("<", "DESC") };
        if let Some(c) = cursor {
            let v = self.bind(c.value);
            let v2 = self.bind(c.value);
            let id = self.bind(c.id);
            self.cond(format!(
                "({expr} {cmp} {v} OR ({expr} = {v2} AND {id_col} {cmp} {id}))"
            ));
        }
        format!("{expr} {dir}, {id_col} {dir}")
    }
}

/// An offset cursor `0:offset:0` (for small lists such as releases).
pub(crate) fn offset_from_query(q: &Query) -> Result<i64, ApiError> {
    match Cursor::from_query(q)? {
        None => Ok(0),
        Some(c) => Ok(c.id.max(0)),
    }
}

/// `(prev, next)` links for an offset page.
pub(crate) fn offset_link(url: &str, offset: i64, limit: i64, more: bool) -> String {
    let sep = if url.contains('?') { "&" } else { "?" };
    let prev = offset.saturating_sub(limit).max(0);
    let next = offset.saturating_add(limit);
    format!(
        "<{url}{sep}cursor=0:{prev}:1>; rel=\"previous\"; results=\"{}\"; cursor=\"0:{prev}:1\", \
         <{url}{sep}cursor=0:{next}:0>; rel=\"next\"; results=\"{more}\"; cursor=\"0:{next}:0\"",
        offset > 0
    )
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern and wraps it
/// in `%…%`.
pub(crate) fn like_pattern(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// ISO 8601 (UTC, microseconds) for Unix seconds.
pub(crate) fn iso(secs: f64) -> String {
    Timestamp::from_secs_f64(secs).to_rfc3339()
}

pub(crate) use crate::ids::hex_id;

/// Filter values that must each name one of `known` (trimmed, in any case;
/// `aliases` maps the other names taken for one), as lower-case names, or
/// a 400 that lists them: a filter that cannot match anything is a mistake
/// to report, not an empty list.
///
/// ```text
/// known_values(["WARNING"], "level", ["warn", ...], [("warning", "warn")]) -> ["warn"]
/// ```
pub(crate) fn known_values(
    values: Vec<String>,
    name: &str,
    known: &[&str],
    aliases: &[(&str, &str)],
) -> Result<Vec<String>, ApiError> {
    values
        .into_iter()
        .map(|v| {
            let lower = v.trim().to_ascii_lowercase();
            let value = aliases
                .iter()
                .find(|(alias, _)| *alias == lower)
                .map_or(lower.as_str(), |(_, to)| to);
            if known.contains(&value) {
                Ok(value.to_owned())
            } else {
                Err(ApiError::BadRequest(format!(
                    "invalid {name} {v:?}: expected one of {}",
                    known.join(", ")
                )))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode() {
        let q = Query::parse(Some("a=1&b=x+y%21&a=2&flag&environment=a,b&cursor=1:2:0"));
        assert_eq!(q.get("a"), Some("2"));
        assert_eq!(q.get("b"), Some("x y!"));
        assert!(q.flag("flag"));
        assert_eq!(q.all("environment"), ["a", "b"]);
        assert_eq!(q.values("environment"), ["a,b"]);
        assert_eq!(
            q.without_cursor(),
            "a=1&b=x%20y%21&a=2&flag=&environment=a%2Cb"
        );
    }

    #[test]
    fn periods_times_and_cursors() {
        assert_eq!(parse_period("24h"), Some(86_400.0));
        assert_eq!(parse_period("2w"), Some(1_209_600.0));
        assert_eq!(parse_period("h"), None);
        assert_eq!(parse_period("3600"), Some(3600.0));
        assert_eq!(parse_period(""), None);
        assert_eq!(parse_time("t", "1700000000.5").ok(), Some(1_700_000_000.5));
        assert!(parse_time("t", "2023-11-14T22:13:20Z").is_ok());
        assert!(parse_time("t", "yesterday").is_err());
        let q = Query::parse(Some("cursor=1700000000.25:42:1"));
        let c = Cursor::from_query(&q).ok().flatten();
        assert_eq!(
            c,
            Some(Cursor {
                value: 1_700_000_000.25,
                id: 42,
                is_prev: true
            })
        );
        assert!(Cursor::from_query(&Query::parse(Some("cursor=abc"))).is_err());
        assert_eq!(
            Cursor::from_query(&Query::parse(Some("cursor="))).ok(),
            Some(None)
        );
    }

    #[test]
    fn pages_link_both_ways() {
        let rows: Vec<(f64, i64)> = vec![(5.0, 5), (4.0, 4), (3.0, 3)];
        let page = Page::build(rows, 2, None, |r| *r);
        assert_eq!(page.rows.len(), 2);
        assert_eq!(page.next, ("4:4:0".to_owned(), true));
        assert!(!page.prev.1);
        let link = page.link("http://h/api/0/x/?query=");
        assert!(
            link.contains("rel=\"next\"; results=\"true\"; cursor=\"4:4:0\""),
            "{link}"
        );
        // Walking back from (3, 3): the query returns ascending rows.
        let back = Page::build(
            vec![(4.0, 4), (5.0, 5)],
            2,
            Some(Cursor {
                value: 3.0,
                id: 3,
                is_prev: true,
            }),
            |r| *r,
        );
        assert_eq!(back.rows, [(5.0, 5), (4.0, 4)]);
        assert!(!back.prev.1 && back.next.1);
    }

    #[test]
    fn a_stopped_read_resumes_where_it_stopped() {
        // Read forward from (6, 6): one row found, then the read stopped at
        // (2, 2).
        let from = Cursor {
            value: 6.0,
            id: 6,
            is_prev: false,
        };
        let mut page = Page::build(vec![(5.0, 5)], 2, Some(from), |r| *r);
        page.resume_at(2.0, 2, Some(from));
        assert_eq!(page.next, ("2:2:0".to_owned(), true));
        assert_eq!(page.prev, ("5:5:1".to_owned(), true));
        // Read backwards from (1, 1), nothing found before the stop at (4, 4):
        // back on from there, and forward to (1, 1) again.
        let back = Cursor {
            value: 1.0,
            id: 1,
            is_prev: true,
        };
        let mut empty: Page<(f64, i64)> = Page::build(Vec::new(), 2, Some(back), |r| *r);
        empty.resume_at(4.0, 4, Some(back));
        assert_eq!(empty.prev, ("4:4:1".to_owned(), true));
        assert_eq!(empty.next, ("1:1:0".to_owned(), true));
    }

    #[test]
    fn like_patterns_escape() {
        assert_eq!(like_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
        assert_eq!(
            hex_id("ABCDEF00-0000-0000-0000-000000000000", 32).as_deref(),
            Some("abcdef00000000000000000000000000")
        );
        assert_eq!(hex_id("xyz", 32), None);
        assert_eq!(
            hex_id("0123456789ABCDEF", 16).as_deref(),
            Some("0123456789abcdef")
        );
        // Dashes only where a UUID has them, and only in 32-digit ids.
        for bad in [
            "abcdef0-00000000-0000-0000-00000000000",
            "abcdef00-0000-0000-0000-00000000000-0",
            "-abcdef000000000000000000000000000",
            "abcdef00000000000000000000000000-",
            "abcdef00-0000-0000-0000-0000000000g0",
        ] {
            assert_eq!(hex_id(bad, 32), None, "{bad}");
        }
        assert_eq!(hex_id("01234567-89ab-cdef", 16), None);
    }

    #[test]
    fn known_values_are_named_in_any_case_and_others_refused() {
        let known = ["trace", "debug", "info", "warn", "error", "fatal"];
        let values = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            known_values(
                values(&[" WARNING", "Error"]),
                "level",
                &known,
                &[("warning", "warn")]
            )
            .ok(),
            Some(values(&["warn", "error"]))
        );
        let refused = known_values(values(&["bogus"]), "level", &known, &[]);
        assert!(
            matches!(&refused, Err(ApiError::BadRequest(m)) if m.contains("\"bogus\"") && m.contains("fatal")),
            "{refused:?}"
        );
    }
}
