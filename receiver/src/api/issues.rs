//! Issues: lists with filters, sort and cursors; detail with tags and
//! grouping; events; workflow updates (single and bulk); deletion.

use std::collections::{BTreeMap, HashMap};

use hyper::header::HeaderName;
use hyper::StatusCode;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::{json, Map, Value};

use super::events::{self, EventRecord, EVENT_COLS};
use super::params::{iso, like_pattern, Cursor, Page, Query, Range, Sql};
use super::projects::{self, ProjectRow};
use super::tag_cache::{Stamp, TagCache};
use super::types::{
    Activity, Assignee, Grouping, GroupingHash, Issue, IssueDetail, ReleaseRef, TagSummary,
    TagValue,
};
use super::{ApiError, Ctx, Reply};
use crate::store::issue_removal::delete_issues;
use crate::store::{now_secs, queries};

/// Most events a tag breakdown reads (the newest ones).
const TAG_SCAN_LIMIT: i64 = 5000;
/// Most issues one bulk request changes (as Sentry).
const BULK_LIMIT: i64 = 1000;
/// Levels the filters accept.
const LEVELS: &[&str] = &["fatal", "error", "warning", "info", "debug"];

const ISSUE_COLS: &str = "i.id, i.project_id, i.title, i.culprit, i.level, i.first_seen, \
     i.last_seen, i.times_seen, i.user_count, i.status, i.substatus, i.resolved_release, \
     i.assigned_to, i.resolved_in_next, i.kind, i.first_release, i.last_release, \
     (SELECT e.platform FROM events e WHERE e.issue_id = i.id ORDER BY e.timestamp DESC LIMIT 1), \
     COALESCE(i.short_seq, i.id), i.metadata, i.events_pruned";

/// An issue row.
#[derive(Debug, Clone)]
pub(crate) struct IssueRecord {
    pub id: i64,
    pub project_id: i64,
    pub title: String,
    pub culprit: Option<String>,
    pub level: String,
    pub first_seen: f64,
    pub last_seen: f64,
    pub times_seen: i64,
    pub user_count: i64,
    pub status: String,
    pub substatus: Option<String>,
    pub resolved_release: Option<String>,
    pub assigned_to: Option<String>,
    pub resolved_in_next: bool,
    pub kind: Option<String>,
    pub first_release: Option<String>,
    pub last_release: Option<String>,
    pub platform: Option<String>,
    /// Its number among its project's issues (the short id's number).
    pub short_seq: i64,
    /// Its `metadata` (JSON) where its title does not give it.
    pub metadata: Option<String>,
    /// How many times retention deleted some of its events.
    pub events_pruned: i64,
}

fn issue_from_row(r: &Row<'_>) -> rusqlite::Result<IssueRecord> {
    Ok(IssueRecord {
        id: r.get(0)?,
        project_id: r.get(1)?,
        title: r.get(2)?,
        culprit: r.get(3)?,
        level: r.get(4)?,
        first_seen: r.get(5)?,
        last_seen: r.get(6)?,
        times_seen: r.get(7)?,
        user_count: r.get(8)?,
        status: r.get(9)?,
        substatus: r.get(10)?,
        resolved_release: r.get(11)?,
        assigned_to: r.get(12)?,
        resolved_in_next: r.get(13)?,
        kind: r.get(14)?,
        first_release: r.get(15)?,
        last_release: r.get(16)?,
        platform: r.get(17)?,
        short_seq: r.get(18)?,
        metadata: r.get(19)?,
        events_pruned: r.get(20)?,
    })
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Sentry's short id: `PROJECT-1A` (slug upper-cased, the issue's number
/// in its project in Crockford base 32).
pub(crate) fn short_id(slug: &str, seq: i64) -> String {
    let mut n = seq.max(0) as u64;
    let mut digits = Vec::new();
    loop {
        digits.push(CROCKFORD[(n % 32) as usize]);
        n /= 32;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    format!(
        "{}-{}",
        slug.to_ascii_uppercase(),
        String::from_utf8_lossy(&digits)
    )
}

/// Parses `PROJECT-1A` into `(slug, number)`.
fn parse_short_id(s: &str) -> Option<(String, i64)> {
    let (slug, code) = s.trim().rsplit_once('-')?;
    let mut n: i64 = 0;
    for c in code.chars() {
        let c = match c.to_ascii_uppercase() {
            'I' | 'L' => '1',
            'O' => '0',
            c => c,
        };
        let d = CROCKFORD.iter().position(|&x| x as char == c)? as i64;
        n = n.checked_mul(32)?.checked_add(d)?;
    }
    (!slug.is_empty() && !code.is_empty()).then(|| (slug.to_ascii_lowercase(), n))
}

fn status_details(r: &IssueRecord) -> Map<String, Value> {
    let mut m = Map::new();
    if r.status == "resolved_in_release" {
        if r.resolved_in_next {
            m.insert("inNextRelease".into(), json!(true));
        }
        if let Some(rel) = &r.resolved_release {
            m.insert("inRelease".into(), json!(rel));
        }
    }
    m
}

fn assignee(value: &str) -> Assignee {
    let (kind, id) = match value.split_once(':') {
        Some(("team", t)) => ("team", t),
        Some(("user", u)) => ("user", u),
        _ => ("user", value),
    };
    Assignee {
        kind: kind.to_owned(),
        id: id.to_owned(),
        name: id.to_owned(),
        email: id.contains('@').then(|| id.to_owned()),
    }
}

/// The API shape of an issue.
pub(crate) fn to_issue(ctx_base: &str, r: &IssueRecord, projects: &[ProjectRow]) -> Issue {
    let project = projects
        .iter()
        .find(|p| p.id == r.project_id)
        .cloned()
        .unwrap_or_else(|| ProjectRow {
            id: r.project_id,
            name: format!("project-{}", r.project_id),
            slug: format!("project-{}", r.project_id),
            enabled: true,
            created: 0.0,
        });
    let kind = r.kind.clone().unwrap_or_else(|| "error".to_owned());
    Issue {
        id: r.id.to_string(),
        short_id: short_id(&project.slug, r.short_seq),
        title: r.title.clone(),
        culprit: r.culprit.clone(),
        permalink: format!("{ctx_base}/api/0/issues/{}/", r.id),
        level: r.level.clone(),
        status: match r.status.as_str() {
            "resolved_in_release" => "resolved".to_owned(),
            s => s.to_owned(),
        },
        status_details: status_details(r),
        substatus: r.substatus.clone(),
        platform: r.platform.clone(),
        project: project.to_ref(),
        metadata: r
            .metadata
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or_else(|| events::metadata(&kind, &r.title)),
        issue_type: issue_type(&kind).to_owned(),
        issue_category: issue_category(&kind).to_owned(),
        kind,
        assigned_to: r.assigned_to.as_deref().map(assignee),
        count: r.times_seen.to_string(),
        user_count: r.user_count,
        first_seen: iso(r.first_seen),
        last_seen: iso(r.last_seen),
        is_public: false,
        is_bookmarked: false,
        has_seen: true,
        num_comments: 0,
    }
}

/// Whether an `issue.category:` or `issue.type:` term (`key`) with value
/// `v` asks for failing cron monitors' issues (or errors).
fn monitor_issue(key: &str, v: &str) -> Result<bool, ApiError> {
    let v = v.to_ascii_lowercase();
    for kind in ["generic", "error"] {
        if v == issue_category(kind) || v == issue_type(kind) {
            return Ok(kind == crate::store::MONITOR_FAILURE_EVENT_TYPE);
        }
    }
    Err(ApiError::BadRequest(format!(
        "invalid search {key}:{v}: expected error, cron or monitor_check_in_failure"
    )))
}

/// Sentry's issue type of an issue whose events are of type `kind`: the
/// only `generic` events are failing cron monitors' occurrences.
fn issue_type(kind: &str) -> &'static str {
    if kind == crate::store::MONITOR_FAILURE_EVENT_TYPE {
        "monitor_check_in_failure"
    } else {
        "error"
    }
}

/// Sentry's issue category of an issue whose events are of type `kind`.
fn issue_category(kind: &str) -> &'static str {
    if kind == crate::store::MONITOR_FAILURE_EVENT_TYPE {
        "cron"
    } else {
        "error"
    }
}

/// The scheme and host of the request, for permalinks.
fn origin(ctx: &Ctx) -> String {
    ctx.absolute("")
}

/// Loads one issue by numeric id or short id; 404 if missing.
pub(crate) fn load(conn: &Connection, key: &str) -> Result<IssueRecord, ApiError> {
    load_with(conn, key, true)
}

/// [`load`] for a change (`PUT`, `DELETE` of one issue): an issue merged
/// into another is a 404 that names it, instead of leading to it, so that
/// a stale id (a retried cleanup) cannot delete or change the issue that
/// took it in.
pub(crate) fn load_own(conn: &Connection, key: &str) -> Result<IssueRecord, ApiError> {
    let issue = load_with(conn, key, true)?;
    let own = load_with(conn, key, false).map_err(|_| {
        ApiError::not_found(format!(
            "issue {key:?} was merged into issue {}: change or delete that one",
            issue.id
        ))
    })?;
    Ok(own)
}

fn load_with(conn: &Connection, key: &str, follow: bool) -> Result<IssueRecord, ApiError> {
    let missing = || ApiError::not_found(format!("issue {key:?}"));
    // An issue merged into another leads to it (`issue_redirects`), when
    // `follow`.
    let id: i64 = match key.trim().parse::<i64>() {
        Ok(id) => conn
            .prepare_cached(
                "SELECT id FROM issues WHERE id = ?1
                 UNION ALL SELECT parent_id FROM issue_redirects WHERE id = ?1 AND ?2 LIMIT 1",
            )?
            .query_row(params![id, follow], |r| r.get(0))
            .optional()?
            .ok_or_else(missing)?,
        Err(_) => {
            let (slug, seq) = parse_short_id(key).ok_or_else(missing)?;
            let project = projects::all(conn)?
                .into_iter()
                .find(|p| p.slug == slug)
                .ok_or_else(missing)?;
            conn.prepare_cached(
                "SELECT id FROM issues WHERE project_id = ?1 AND short_seq = ?2
                 UNION ALL SELECT parent_id FROM issue_redirects
                     WHERE project_id = ?1 AND short_seq = ?2 AND ?3
                 LIMIT 1",
            )?
            .query_row(params![project.id, seq, follow], |r| r.get(0))
            .optional()?
            .ok_or_else(missing)?
        }
    };
    conn.prepare_cached(&format!(
        "SELECT {ISSUE_COLS} FROM issues i WHERE i.id = ?1"
    ))?
    .query_row([id], issue_from_row)
    .optional()?
    .ok_or_else(missing)
}

/// Filters of the issue list and of bulk changes.
#[derive(Debug, Clone, Default)]
pub(crate) struct IssueFilter {
    project_ids: Vec<i64>,
    /// The search's terms (`is:resolved`, `level:error`, …).
    query: Terms,
    /// The request's own parameters (`status=`, `level=`, …): each narrows
    /// the search's result, as Sentry combines them.
    params: Terms,
    substatuses: Vec<&'static str>,
    assigned: Option<bool>,
    assigned_to: Vec<String>,
    /// Matched against title or culprit.
    texts: Vec<String>,
    /// Matched against the title only (`title:` terms, `title=`).
    titles: Vec<String>,
    /// `issue.category:`/`issue.type:` terms, as whether each asks for
    /// failing cron monitors' issues (`true`) or errors (`false`).
    monitor_issues: Vec<bool>,
    ids: Vec<i64>,
    range: Range,
}

/// One source's values per field: an issue matches a field when it has
/// one of its values (none: any).
#[derive(Debug, Clone, Default)]
struct Terms {
    statuses: Vec<&'static str>,
    levels: Vec<String>,
    environments: Vec<String>,
    releases: Vec<String>,
}

/// Most values one request's filters may list (search values, ids and
/// parameters together): each becomes an SQL variable, and SQLite refuses
/// a statement with more than 32 766 (which was a 500).
const MAX_FILTER_VALUES: usize = 1_000;

enum Token {
    Text(String),
    Pair(String, Vec<String>),
    /// A bare `OR` or `AND`, which Sentry's issue search refuses.
    Boolean(String),
}

/// Splits a Sentry search string into free text and `key:value` pairs
/// (`"quoted text"`, `key:"quoted value"`, `key:[a,b]`).
/// Terms a search may have: each becomes a condition of the SQL, and
/// SQLite refuses an expression deeper than 1000 (which was a 500).
const MAX_SEARCH_TERMS: usize = 100;

/// Whether an issue search has an `is:` term (`is:resolved`, `!is:ignored`;
/// not inside quotes): the CLI then leaves the statuses to it instead of
/// adding its default `unresolved`.
pub(crate) fn search_names_status(search: &str) -> bool {
    tokenize(search)
        .iter()
        .any(|t| matches!(t, Token::Pair(key, _) if key.trim_start_matches('!') == "is"))
}

fn tokenize(s: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            break;
        };
        let quoted_start = first == '"';
        let mut word = String::new();
        let mut in_quote = false;
        // Inside a `key:[a, b]` list, where Sentry allows spaces.
        let mut in_list = false;
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() && !in_quote && !in_list {
                break;
            }
            chars.next();
            match c {
                '[' if !in_quote && word.ends_with(':') => {
                    in_list = true;
                    word.push(c);
                }
                ']' if !in_quote && in_list => {
                    in_list = false;
                    word.push(c);
                }
                '"' => in_quote = !in_quote,
                '\\' if in_quote => {
                    if let Some(n) = chars.next() {
                        word.push(n);
                    }
                }
                c => word.push(c),
            }
        }
        if quoted_start {
            tokens.push(Token::Text(word));
            continue;
        }
        if word == "OR" || word == "AND" {
            tokens.push(Token::Boolean(word));
            continue;
        }
        match word.split_once(':') {
            Some((k, v))
                if !k.is_empty()
                    && !v.is_empty()
                    && !v.starts_with(':')
                    && !v.starts_with('/')
                    && k.trim_start_matches('!')
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) =>
            {
                let values = match v.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
                    Some(list) => list
                        .split(',')
                        .map(str::trim)
                        .filter(|x| !x.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    None => vec![v.to_owned()],
                };
                tokens.push(Token::Pair(k.to_owned(), values));
            }
            _ => tokens.push(Token::Text(word)),
        }
    }
    tokens
}

fn check_level(l: &str) -> Result<String, ApiError> {
    let l = l.trim().to_ascii_lowercase();
    let l = if l == "warn" { "warning".to_owned() } else { l };
    if LEVELS.contains(&l.as_str()) {
        Ok(l)
    } else {
        Err(ApiError::BadRequest(format!(
            "invalid level {l:?}: expected one of {}",
            LEVELS.join(", ")
        )))
    }
}

/// The stored statuses a status name covers; `all` covers every status
/// (no condition).
fn status_filter(value: &str) -> Result<Vec<&'static str>, ApiError> {
    Ok(match value.trim().to_ascii_lowercase().as_str() {
        "all" => Vec::new(),
        "unresolved" => vec!["unresolved"],
        "resolved" => vec!["resolved", "resolved_in_release"],
        "ignored" | "muted" | "archived" => vec!["ignored"],
        other => {
            return Err(ApiError::BadRequest(format!(
                "invalid status {other:?}: expected unresolved, resolved, ignored or all"
            )))
        }
    })
}

impl IssueFilter {
    /// Builds the filter from the request: `query` (Sentry search syntax;
    /// absent = `is:unresolved`, unless `id`s are given), `status`, `level`,
    /// `environment`, `release`, `id`, `statsPeriod`/`start`/`end`.
    pub(crate) fn from_query(q: &Query, now: f64) -> Result<IssueFilter, ApiError> {
        let mut f = IssueFilter {
            range: Range::from_query(q, now)?,
            ..IssueFilter::default()
        };
        for id in q.all("id") {
            f.ids.push(
                id.parse()
                    .map_err(|_| ApiError::BadRequest(format!("invalid issue id {id:?}")))?,
            );
        }
        // `?id=` with nothing in it must not fall back to the default
        // filter: a bulk change or delete would then reach every
        // unresolved issue.
        if q.get("id").is_some() && f.ids.is_empty() {
            return Err(ApiError::BadRequest(
                "empty issue id: name the issues (id=1&id=2) or leave id out".to_owned(),
            ));
        }
        let search = match q.get("query") {
            Some(s) => s.to_owned(),
            // `status=` chooses the statuses itself.
            None if f.ids.is_empty() && q.get("status").is_none() => "is:unresolved".to_owned(),
            None => String::new(),
        };
        let tokens = tokenize(&search);
        if tokens.len() > MAX_SEARCH_TERMS {
            return Err(ApiError::BadRequest(format!(
                "the search has {} terms; at most {MAX_SEARCH_TERMS} are allowed",
                tokens.len()
            )));
        }
        let values = tokens
            .iter()
            .map(|t| match t {
                Token::Text(_) | Token::Boolean(_) => 1,
                Token::Pair(_, v) => v.len(),
            })
            .sum::<usize>()
            + f.ids.len()
            + ["status", "level", "environment", "release"]
                .iter()
                .map(|k| q.all(k).len())
                .sum::<usize>();
        if values > MAX_FILTER_VALUES {
            return Err(ApiError::BadRequest(format!(
                "the filters list {values} values; at most {MAX_FILTER_VALUES} are allowed"
            )));
        }
        for token in tokens {
            match token {
                Token::Text(t) => {
                    if !t.is_empty() {
                        f.texts.push(t);
                    }
                }
                Token::Pair(k, values) => f.apply_pair(&k, &values)?,
                // As Sentry: terms are always all required. Taken as text,
                // `is:unresolved OR is:resolved` would quietly list the
                // issues whose title holds "or".
                Token::Boolean(word) => {
                    return Err(ApiError::BadRequest(format!(
                        "boolean statements containing \"OR\" or \"AND\" are not supported in \
                         this search (found {word}); terms are all required, and a key takes \
                         a list: is:[unresolved, resolved]"
                    )))
                }
            }
        }
        for s in q.all("status") {
            f.params.statuses.extend(status_filter(&s)?);
        }
        f.params.levels = levels_param(q)?;
        f.params.environments.extend(q.values("environment"));
        f.params.releases.extend(q.values("release"));
        Ok(f)
    }

    fn apply_pair(&mut self, key: &str, values: &[String]) -> Result<(), ApiError> {
        if key.starts_with('!') {
            return Err(ApiError::BadRequest(format!(
                "negated search terms are not supported ({key})"
            )));
        }
        // `level:[]` lists nothing: read as "any level" it would quietly
        // widen the search.
        if values.is_empty() {
            return Err(ApiError::BadRequest(format!(
                "the search term {key}:[] lists no value: name at least one, or leave the \
                 term out"
            )));
        }
        for v in values {
            match key {
                "is" => match v.to_ascii_lowercase().as_str() {
                    "assigned" => self.assigned = Some(true),
                    "unassigned" => self.assigned = Some(false),
                    "regressed" => self.substatuses.push("regressed"),
                    "new" => self.substatuses.push("new"),
                    "ongoing" => self.substatuses.push("ongoing"),
                    "all" => {}
                    other => self
                        .query
                        .statuses
                        .extend(status_filter(other).map_err(|_| {
                            ApiError::BadRequest(format!(
                                "invalid search is:{other}: expected unresolved, resolved, \
                             ignored, assigned, unassigned, new, ongoing or regressed"
                            ))
                        })?),
                },
                "level" => self.query.levels.push(check_level(v)?),
                "environment" => self.query.environments.push(v.clone()),
                "release" => self.query.releases.push(v.clone()),
                "assigned" | "assigned_to" => match v.as_str() {
                    "none" | "[]" => self.assigned = Some(false),
                    _ => self.assigned_to.push(v.clone()),
                },
                "message" => self.texts.push(v.clone()),
                "title" => self.titles.push(v.clone()),
                "issue.category" | "issue.type" => self.monitor_issues.push(monitor_issue(key, v)?),
                "issue" | "issue.id" | "id" => self.ids.push(
                    v.parse()
                        .map_err(|_| ApiError::BadRequest(format!("invalid issue id {v:?}")))?,
                ),
                other => {
                    return Err(ApiError::BadRequest(format!(
                        "unsupported search key {other:?}: supported are is, level, \
                         environment, release, assigned, message, title, issue, \
                         issue.category, issue.type (or quote the text)"
                    )))
                }
            }
        }
        Ok(())
    }

    /// Restricts to these projects.
    pub(crate) fn with_projects(mut self, ids: Vec<i64>) -> Self {
        self.project_ids = ids;
        self
    }

    /// Adds the conditions on `issues i` to `sql`.
    pub(crate) fn apply(&self, sql: &mut Sql) {
        if !self.project_ids.is_empty() {
            let c = sql.in_list("i.project_id", self.project_ids.iter().copied());
            sql.cond(c);
        }
        if !self.ids.is_empty() {
            let c = sql.in_list("i.id", self.ids.iter().copied());
            sql.cond(c);
        }
        for terms in [&self.query, &self.params] {
            terms.apply(sql);
        }
        if !self.substatuses.is_empty() {
            let c = sql.in_list(
                "i.substatus",
                self.substatuses.iter().map(|s| s.to_string()),
            );
            sql.cond(c);
        }
        match self.assigned {
            Some(true) => sql.cond("i.assigned_to IS NOT NULL"),
            Some(false) => sql.cond("i.assigned_to IS NULL"),
            None => {}
        }
        if !self.assigned_to.is_empty() {
            let mut values = Vec::new();
            for a in &self.assigned_to {
                values.push(a.clone());
                if !a.contains(':') {
                    values.push(format!("user:{a}"));
                }
            }
            let c = sql.in_list("i.assigned_to", values);
            sql.cond(c);
        }
        for t in &self.texts {
            let p = sql.bind(like_pattern(t));
            let p2 = sql.bind(like_pattern(t));
            sql.cond(format!(
                "(i.title LIKE {p} ESCAPE '\\' OR i.culprit LIKE {p2} ESCAPE '\\')"
            ));
        }
        for t in &self.titles {
            let p = sql.bind(like_pattern(t));
            sql.cond(format!("i.title LIKE {p} ESCAPE '\\'"));
        }
        let monitor = self.monitor_issues.contains(&true);
        if monitor != self.monitor_issues.contains(&false) {
            let kind = sql.bind(crate::store::MONITOR_FAILURE_EVENT_TYPE.to_owned());
            sql.cond(if monitor {
                format!("i.kind = {kind}")
            } else {
                format!("i.kind IS NOT {kind}")
            });
        }
        if let Some(s) = self.range.start {
            let p = sql.bind(s);
            sql.cond(format!("i.last_seen >= {p}"));
        }
        if let Some(e) = self.range.end {
            let p = sql.bind(e);
            sql.cond(format!("i.first_seen <= {p}"));
        }
    }
}

impl Terms {
    /// Adds a condition on `issues i` per field that lists values.
    fn apply(&self, sql: &mut Sql) {
        if !self.statuses.is_empty() {
            let c = sql.in_list("i.status", self.statuses.iter().map(|s| s.to_string()));
            sql.cond(c);
        }
        if !self.levels.is_empty() {
            let c = sql.in_list("i.level", self.levels.iter().cloned());
            sql.cond(c);
        }
        for (kind, values) in [
            ("environment", &self.environments),
            ("release", &self.releases),
        ] {
            if values.is_empty() {
                continue;
            }
            let k = sql.bind(kind.to_owned());
            let list = sql.in_list("f.value", values.iter().cloned());
            sql.cond(format!(
                "i.id IN (SELECT f.issue_id FROM issue_facets f WHERE f.kind = {k} AND {list})"
            ));
        }
    }
}

/// The `level` parameters of a request, checked and in their canonical
/// form (`Error` and `warn` read as `error` and `warning`), for filters on
/// issues and on events alike.
pub(crate) fn levels_param(q: &Query) -> Result<Vec<String>, ApiError> {
    q.all("level").iter().map(|l| check_level(l)).collect()
}

/// The projects a list or bulk request is about: the path's, or `?project=`
/// (org-level routes; none or `-1` = all).
fn scope_projects(
    conn: &Connection,
    path_project: Option<&str>,
    q: &Query,
) -> Result<Vec<ProjectRow>, ApiError> {
    match path_project {
        Some(p) => Ok(vec![projects::resolve(conn, p)?]),
        None => projects::resolve_filter(conn, &q.all("project")),
    }
}

fn sort_expr(q: &Query) -> Result<&'static str, ApiError> {
    Ok(match q.get_nonempty("sort").unwrap_or("date") {
        "date" | "last_seen" => "i.last_seen",
        "new" | "first_seen" => "i.first_seen",
        "freq" | "count" => "i.times_seen",
        "user" | "users" => "i.user_count",
        other => {
            return Err(ApiError::BadRequest(format!(
                "invalid sort {other:?}: expected date, new, freq or user"
            )))
        }
    })
}

fn sort_value(expr: &str, r: &IssueRecord) -> f64 {
    match expr {
        "i.first_seen" => r.first_seen,
        "i.times_seen" => r.times_seen as f64,
        "i.user_count" => r.user_count as f64,
        _ => r.last_seen,
    }
}

/// `GET /api/0/projects/{org}/{project}/issues/` and
/// `GET /api/0/organizations/{org}/issues/?project=…`.
pub(crate) async fn list(ctx: &Ctx, project: Option<&str>) -> Result<Reply, ApiError> {
    let filter = IssueFilter::from_query(&ctx.query, ctx.now())?;
    let expr = sort_expr(&ctx.query)?;
    let limit = ctx.query.limit(100, 100)?;
    let cursor = Cursor::from_query(&ctx.query)?;
    let project = project.map(str::to_owned);
    let q = ctx.query.clone();
    let base = ctx.link_base();
    let origin = origin(ctx);
    let (issues, link, hits) = ctx
        .read(move |c| {
            let scoped = scope_projects(c, project.as_deref(), &q)?;
            let filter = filter.with_projects(scoped.iter().map(|p| p.id).collect());
            let mut count_sql = Sql::default();
            filter.apply(&mut count_sql);
            let hits: i64 = c.query_row(
                &format!(
                    "SELECT COUNT(*) FROM issues i WHERE {}",
                    count_sql.where_clause()
                ),
                rusqlite::params_from_iter(count_sql.params.iter()),
                |r| r.get(0),
            )?;
            let mut sql = Sql::default();
            filter.apply(&mut sql);
            let order = sql.keyset(expr, "i.id", false, cursor);
            let query = format!(
                "SELECT {ISSUE_COLS} FROM issues i WHERE {} ORDER BY {order} LIMIT {}",
                sql.where_clause(),
                limit + 1
            );
            let rows: Vec<IssueRecord> = c
                .prepare(&query)?
                .query_map(
                    rusqlite::params_from_iter(sql.params.iter()),
                    issue_from_row,
                )?
                .collect::<Result<_, _>>()?;
            let page = Page::build(rows, limit as usize, cursor, |r| {
                (sort_value(expr, r), r.id)
            });
            let all = projects::all(c)?;
            let issues: Vec<Issue> = page
                .rows
                .iter()
                .map(|r| to_issue(&origin, r, &all))
                .collect();
            Ok((issues, page.link(&base), hits))
        })
        .await?;
    Ok(Reply::json(&issues)?
        .with_header(hyper::header::LINK, link)
        .with_header(HeaderName::from_static("x-hits"), hits.to_string())
        .with_header(HeaderName::from_static("x-max-hits"), hits.to_string()))
}

/// [`tag_breakdown`] of issue `r`, reused from `cache` while the issue's
/// count, first and last seen and retention's deletions are as they were
/// (`api::tag_cache`).
fn cached_tag_breakdown(
    conn: &Connection,
    r: &IssueRecord,
    only: Option<&str>,
    cache: &TagCache,
) -> Result<Vec<TagSummary>, ApiError> {
    let stamp = Stamp {
        times_seen: r.times_seen,
        first_seen: r.first_seen,
        last_seen: r.last_seen,
        events_pruned: r.events_pruned,
    };
    cache.get_or_compute(r.id, only, stamp, || tag_breakdown(conn, r.id, only))
}

/// Aggregates the tags of an issue's newest events.
pub(crate) fn tag_breakdown(
    conn: &Connection,
    issue_id: i64,
    only: Option<&str>,
) -> Result<Vec<TagSummary>, ApiError> {
    #[derive(Default)]
    struct Acc {
        count: i64,
        first: f64,
        last: f64,
    }
    // Only the columns and payload fields the tags come from: decoding
    // whole events (stack traces, breadcrumbs) was most of the cost.
    let mut stmt = conn.prepare_cached(
        "SELECT e.timestamp, e.level, e.environment, e.release, e.payload FROM events e
         WHERE e.issue_id = ?1 ORDER BY e.timestamp DESC LIMIT ?2",
    )?;
    let mut keys: BTreeMap<String, (i64, HashMap<String, Acc>)> = BTreeMap::new();
    let mut scanned = 0;
    let mut rows = stmt.query(params![issue_id, TAG_SCAN_LIMIT])?;
    while let Some(row) = rows.next()? {
        let timestamp: f64 = row.get(0)?;
        let level: String = row.get(1)?;
        let environment: Option<String> = row.get(2)?;
        let release: Option<String> = row.get(3)?;
        let blob: Vec<u8> = row.get(4)?;
        let payload = events::tag_payload(&blob);
        scanned += 1;
        for tag in events::tags_of(&level, environment.as_deref(), release.as_deref(), &payload) {
            if only.is_some_and(|k| k != tag.key) {
                continue;
            }
            let (total, values) = keys.entry(tag.key).or_default();
            *total += 1;
            let acc = values.entry(tag.value).or_insert(Acc {
                count: 0,
                first: timestamp,
                last: timestamp,
            });
            acc.count += 1;
            acc.first = acc.first.min(timestamp);
            acc.last = acc.last.max(timestamp);
        }
    }
    let sampled = scanned >= TAG_SCAN_LIMIT;
    Ok(keys
        .into_iter()
        .map(|(key, (total, values))| {
            let unique = values.len() as i64;
            let mut top: Vec<(String, Acc)> = values.into_iter().collect();
            top.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(&b.0)));
            top.truncate(10);
            TagSummary {
                name: key.clone(),
                total_values: total,
                unique_values: unique,
                top_values: top
                    .into_iter()
                    .map(|(value, acc)| TagValue {
                        key: key.clone(),
                        name: value.clone(),
                        value,
                        count: acc.count,
                        first_seen: iso(acc.first),
                        last_seen: iso(acc.last),
                    })
                    .collect(),
                key,
                sampled,
            }
        })
        .collect())
}

fn release_ref(v: &Option<String>) -> Option<ReleaseRef> {
    v.as_ref().map(|v| ReleaseRef {
        version: v.clone(),
        short_version: events::short_version(v),
    })
}

fn detail_of(
    conn: &Connection,
    origin: &str,
    r: &IssueRecord,
    cache: &TagCache,
) -> Result<IssueDetail, ApiError> {
    let all = projects::all(conn)?;
    let explanation: Option<String> = conn
        .query_row(
            "SELECT COALESCE((SELECT g.explanation FROM issue_grouping g WHERE g.issue_id = i.id),
                 i.grouping_explanation)
             FROM issues i WHERE i.id = ?1",
            [r.id],
            |row| Ok(queries::explanation_text(row.get_ref(0)?)),
        )
        .optional()?
        .flatten();
    let hashes = queries::issue_hashes(conn, r.id)?
        .into_iter()
        .map(|h| GroupingHash {
            hash: h.hash,
            variant: h.variant,
            component: h.component,
            inputs: h.inputs,
        })
        .collect();
    let activity = conn
        .prepare_cached(
            "SELECT id, kind, data, created FROM issue_activity WHERE issue_id = ?1
             ORDER BY id DESC LIMIT 100",
        )?
        .query_map([r.id], |row| {
            let id: i64 = row.get(0)?;
            let data: Option<String> = row.get(2)?;
            let created: f64 = row.get(3)?;
            Ok(Activity {
                id: id.to_string(),
                kind: row.get(1)?,
                data: data
                    .map(|d| serde_json::from_str(&d).unwrap_or(Value::String(d)))
                    .unwrap_or(Value::Null),
                date_created: iso(created),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let environments = conn
        .prepare_cached(
            "SELECT value FROM issue_facets WHERE kind = 'environment' AND issue_id = ?1
             ORDER BY value",
        )?
        .query_map([r.id], |row| row.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(IssueDetail {
        issue: to_issue(origin, r, &all),
        tags: cached_tag_breakdown(conn, r, None, cache)?,
        grouping: Grouping {
            hashes,
            explanation: explanation
                .and_then(|e| serde_json::from_str(&e).ok())
                .unwrap_or(Value::Null),
        },
        first_release: release_ref(&r.first_release),
        last_release: release_ref(&r.last_release),
        activity,
        environments,
    })
}

/// `GET /api/0/issues/{id}/` (numeric id or short id).
pub(crate) async fn detail(ctx: &Ctx, id: &str) -> Result<Reply, ApiError> {
    let id = id.to_owned();
    let origin = origin(ctx);
    let cache = ctx.tag_cache();
    let detail = ctx
        .read(move |c| {
            let r = load(c, &id)?;
            detail_of(c, &origin, &r, &cache)
        })
        .await?;
    Reply::json(&detail)
}

/// `GET /api/0/organizations/{org}/shortids/{short_id}/`
pub(crate) async fn by_short_id(ctx: &Ctx, sid: &str) -> Result<Reply, ApiError> {
    let sid = sid.to_owned();
    let origin = origin(ctx);
    let issue = ctx
        .read(move |c| {
            if sid.parse::<i64>().is_ok() {
                return Err(ApiError::not_found(format!("short id {sid:?}")));
            }
            let r = load(c, &sid)?;
            Ok(to_issue(&origin, &r, &projects::all(c)?))
        })
        .await?;
    Reply::json(&json!({
        "organizationSlug": "local",
        "projectSlug": issue.project.slug,
        "groupId": issue.id,
        "shortId": issue.short_id,
        "group": issue,
    }))
}

/// `GET /api/0/issues/{id}/tags/` and `…/tags/{key}/`.
pub(crate) async fn tags(ctx: &Ctx, id: &str, key: Option<&str>) -> Result<Reply, ApiError> {
    let id = id.to_owned();
    let key = key.map(str::to_owned);
    let only = key.clone();
    let cache = ctx.tag_cache();
    let tags = ctx
        .read(move |c| {
            let r = load(c, &id)?;
            cached_tag_breakdown(c, &r, only.as_deref(), &cache)
        })
        .await?;
    match key {
        None => Reply::json(&tags),
        Some(k) => match tags.into_iter().next() {
            Some(t) => Reply::json(&t),
            None => Err(ApiError::not_found(format!("tag {k:?}"))),
        },
    }
}

/// `GET /api/0/issues/{id}/hashes/`
pub(crate) async fn hashes(ctx: &Ctx, id: &str) -> Result<Reply, ApiError> {
    let id = id.to_owned();
    let hashes = ctx
        .read(move |c| {
            let r = load(c, &id)?;
            Ok(queries::issue_hashes(c, r.id)?)
        })
        .await?;
    let out: Vec<Value> = hashes
        .into_iter()
        .map(|h| {
            json!({"id": h.hash, "variant": h.variant, "component": h.component,
                   "inputs": h.inputs, "latestEvent": null})
        })
        .collect();
    Reply::json(&out)
}

/// `GET /api/0/issues/{id}/events/`: newest first, cursor-paginated
/// (`full=1` for whole events; `environment`, `level`, time range filter).
pub(crate) async fn events(ctx: &Ctx, id: &str) -> Result<Reply, ApiError> {
    let id = id.to_owned();
    let page = events::EventPage::from_ctx(ctx)?;
    let (link, json) = ctx
        .read(move |c| {
            let issue = load(c, &id)?;
            let project = if page.wants_full() {
                projects::all(c)?
                    .into_iter()
                    .find(|p| p.id == issue.project_id)
            } else {
                None
            };
            page.fetch(c, "e.issue_id", issue.id, project.as_ref())
        })
        .await?;
    Ok(Reply::json(&json)?.with_header(hyper::header::LINK, link))
}

/// `GET /api/0/issues/{id}/events/{latest|oldest|recommended|event_id}/`
pub(crate) async fn event(ctx: &Ctx, id: &str, which: &str) -> Result<Reply, ApiError> {
    let id = id.to_owned();
    let which = which.to_owned();
    let value = ctx
        .read(move |c| {
            let issue = load(c, &id)?;
            let order = match which.as_str() {
                "latest" | "recommended" | "helpful" => Some("DESC"),
                "oldest" => Some("ASC"),
                _ => None,
            };
            let e = match order {
                Some(dir) => c
                    .prepare_cached(&format!(
                        "SELECT {EVENT_COLS} FROM events e WHERE e.issue_id = ?1
                         ORDER BY e.timestamp {dir}, e.id {dir} LIMIT 1"
                    ))?
                    .query_row([issue.id], EventRecord::from_row)
                    .optional()?,
                None => {
                    let event_id = super::params::hex_id(&which, 32).ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "invalid event id {which:?}: expected 32 hex digits, latest, \
                             oldest or recommended"
                        ))
                    })?;
                    events::load(c, issue.project_id, &event_id)?
                        .filter(|e| e.issue_id == Some(issue.id))
                }
            };
            let e =
                e.ok_or_else(|| ApiError::not_found(format!("event {which:?} of issue {id}")))?;
            let project = projects::all(c)?
                .into_iter()
                .find(|p| p.id == issue.project_id);
            events::full_json(c, &e, project.as_ref())
        })
        .await?;
    Reply::json(&value)
}

/// A requested status change.
#[derive(Debug, Clone, PartialEq)]
enum StatusChange {
    Resolved,
    InRelease(String),
    InNextRelease,
    Unresolved,
    Ignored,
}

/// A parsed `PUT` body.
#[derive(Debug, Clone, Default)]
struct Change {
    status: Option<StatusChange>,
    /// `Some(None)` unassigns.
    assign: Option<Option<String>>,
}

fn parse_change(body: &Value) -> Result<Change, ApiError> {
    let Value::Object(obj) = body else {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object".to_owned(),
        ));
    };
    // Changes this request cannot make: answering 200 would let a script
    // believe they were made. (A bulk request with a merge goes to
    // `merge` before it gets here.)
    for (key, refusal) in [
        (
            "discard",
            "discarding an issue's future events is not supported (\"discard\"); \
             delete the issues instead",
        ),
        (
            "merge",
            "a merge takes the issues to merge in a bulk PUT (…/issues/?id=1&id=2), \
             not one issue",
        ),
    ] {
        let asked = obj.get(key).is_some_and(|v| {
            !matches!(v, Value::Null | Value::Bool(false)) && v.as_i64() != Some(0)
        });
        if asked {
            return Err(ApiError::BadRequest(refusal.to_owned()));
        }
    }
    let details = match obj.get("statusDetails") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(d)) => d.clone(),
        Some(_) => {
            return Err(ApiError::BadRequest(
                "statusDetails must be an object".to_owned(),
            ))
        }
    };
    let in_release = match details.get("inRelease") {
        None | Some(Value::Null) => None,
        Some(Value::String(s))
            if s.trim() == "latest" || crate::ingest::normalize::valid_release(s) =>
        {
            Some(s.trim().to_owned())
        }
        Some(_) => {
            return Err(ApiError::BadRequest(
                "statusDetails.inRelease must be a valid release version".to_owned(),
            ))
        }
    };
    let in_next = details
        .get("inNextRelease")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let status = match obj.get("status") {
        None | Some(Value::Null) if in_release.is_some() || in_next => {
            return Err(ApiError::BadRequest(
                "statusDetails needs \"status\": \"resolved\"".to_owned(),
            ))
        }
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(match s.as_str() {
            "resolved" => match (in_release, in_next) {
                (Some(r), _) => StatusChange::InRelease(r),
                (None, true) => StatusChange::InNextRelease,
                (None, false) => StatusChange::Resolved,
            },
            "resolvedInNextRelease" => StatusChange::InNextRelease,
            "unresolved" => StatusChange::Unresolved,
            "ignored" | "muted" | "archived" => StatusChange::Ignored,
            other => {
                return Err(ApiError::BadRequest(format!(
                    "invalid status {other:?}: expected resolved, resolvedInNextRelease, \
                     unresolved or ignored"
                )))
            }
        }),
        Some(_) => return Err(ApiError::BadRequest("status must be a string".to_owned())),
    };
    let assign = match obj.get("assignedTo") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) if s.trim().is_empty() => Some(None),
        Some(Value::String(s)) => Some(Some(s.trim().to_owned())),
        Some(Value::Number(n)) => Some(Some(format!("user:{n}"))),
        Some(_) => {
            return Err(ApiError::BadRequest(
                "assignedTo must be a string (user, email or team:NAME) or null".to_owned(),
            ))
        }
    };
    Ok(Change { status, assign })
}

/// Release version order key: `package@X.Y.Z` as semver when it parses.
fn semver_of(release: &str) -> Option<semver::Version> {
    let v = release.rsplit_once('@').map_or(release, |(_, v)| v);
    let v = v.strip_prefix('v').unwrap_or(v);
    if let Ok(v) = semver::Version::parse(v) {
        return Some(v);
    }
    let parts: Vec<&str> = v.split('.').collect();
    if parts.is_empty() || parts.len() > 3 || parts.iter().any(|p| p.parse::<u64>().is_err()) {
        return None;
    }
    let padded: Vec<&str> = parts.iter().copied().chain(["0", "0"]).take(3).collect();
    semver::Version::parse(&padded.join(".")).ok()
}

/// The latest release of a project: the greatest semver when every release
/// parses as one, else the most recently created (PROTOCOL.md §10.6).
fn latest_release(conn: &Connection, project_id: i64) -> Result<Option<String>, ApiError> {
    let rows: Vec<(String, f64)> = conn
        .prepare_cached("SELECT version, first_seen FROM releases WHERE project_id = ?1")?
        .query_map([project_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let parsed: Option<Vec<(semver::Version, &String)>> = rows
        .iter()
        .map(|(v, _)| semver_of(v).map(|s| (s, v)))
        .collect();
    Ok(match parsed {
        Some(mut p) if !p.is_empty() => {
            p.sort_by(|a, b| a.0.cmp(&b.0));
            p.last().map(|(_, v)| (*v).clone())
        }
        _ => rows
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(v, _)| v.clone()),
    })
}

/// Whether `version` is one of the project's releases (seen in its data
/// or created through the releases API).
fn known_release(conn: &Connection, project_id: i64, version: &str) -> Result<bool, ApiError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM releases WHERE project_id = ?1 AND version = ?2")?
        .exists(params![project_id, version])?)
}

/// Applies `change` to the issues `ids` inside the caller's transaction.
fn apply_change(conn: &Connection, ids: &[i64], change: &Change) -> Result<(), ApiError> {
    let now = now_secs();
    let mut activity = conn.prepare_cached(
        "INSERT INTO issue_activity (issue_id, kind, data, created) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for &id in ids {
        let project_id: i64 = conn
            .query_row("SELECT project_id FROM issues WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| ApiError::not_found(format!("issue {id}")))?;
        if let Some(status) = &change.status {
            let (db_status, release, next, kind) = match status {
                StatusChange::Resolved => ("resolved", None, false, "set_resolved"),
                StatusChange::InRelease(r) => {
                    // `latest`: the project's latest release now.
                    let release = if r == "latest" {
                        latest_release(conn, project_id)?.ok_or_else(|| {
                            ApiError::BadRequest(
                                "the project has no release to resolve in".to_owned(),
                            )
                        })?
                    } else if known_release(conn, project_id, r)? {
                        r.clone()
                    } else {
                        // As Sentry: a mistyped version would otherwise
                        // leave the issue resolved "in" a release that
                        // never comes, so no event would ever reopen it
                        // by release order.
                        return Err(ApiError::BadRequest(format!(
                            "release {r:?} is not a release of the issue's project: \
                             create it first (POST …/releases/) or use one it has"
                        )));
                    };
                    (
                        "resolved_in_release",
                        Some(release),
                        false,
                        "set_resolved_in_release",
                    )
                }
                StatusChange::InNextRelease => {
                    let latest = latest_release(conn, project_id)?.ok_or_else(|| {
                        ApiError::BadRequest(
                            "No release data present in the system to form a basis for \
                             'Next Release'"
                                .to_owned(),
                        )
                    })?;
                    (
                        "resolved_in_release",
                        Some(latest),
                        true,
                        "set_resolved_in_next_release",
                    )
                }
                StatusChange::Unresolved => ("unresolved", None, false, "set_unresolved"),
                StatusChange::Ignored => ("ignored", None, false, "set_ignored"),
            };
            let resolved = db_status != "unresolved" && db_status != "ignored";
            conn.prepare_cached(
                "UPDATE issues SET status = ?2, resolved_release = ?3, resolved_in_next = ?4,
                     resolved_at = ?5,
                     substatus = CASE WHEN ?2 <> 'unresolved' THEN NULL
                                      WHEN status = 'unresolved' THEN substatus
                                      ELSE 'ongoing' END
                 WHERE id = ?1",
            )?
            .execute(params![
                id,
                db_status,
                release,
                next,
                if resolved { Some(now) } else { None }
            ])?;
            let data = release.map(|r| json!({"version": r}).to_string());
            activity.execute(params![id, kind, data, now])?;
        }
        if let Some(assign) = &change.assign {
            conn.prepare_cached("UPDATE issues SET assigned_to = ?2 WHERE id = ?1")?
                .execute(params![id, assign])?;
            let (kind, data) = match assign {
                Some(a) => ("assigned", Some(json!({"assignee": a}).to_string())),
                None => ("unassigned", None),
            };
            activity.execute(params![id, kind, data, now])?;
        }
    }
    Ok(())
}

/// The change as Sentry's bulk endpoint echoes it.
fn change_json(change: &Change) -> Value {
    let mut m = Map::new();
    if let Some(s) = &change.status {
        let (status, details) = match s {
            StatusChange::Resolved => ("resolved", json!({})),
            StatusChange::InRelease(r) => ("resolved", json!({"inRelease": r})),
            StatusChange::InNextRelease => ("resolved", json!({"inNextRelease": true})),
            StatusChange::Unresolved => ("unresolved", json!({})),
            StatusChange::Ignored => ("ignored", json!({})),
        };
        m.insert("status".into(), json!(status));
        m.insert("statusDetails".into(), details);
        m.insert("inbox".into(), Value::Null);
    }
    if let Some(a) = &change.assign {
        m.insert(
            "assignedTo".into(),
            a.as_deref()
                .map(|a| serde_json::to_value(assignee(a)).unwrap_or(Value::Null))
                .unwrap_or(Value::Null),
        );
    }
    Value::Object(m)
}

/// `PUT /api/0/issues/{id}/`: answers the updated issue.
pub(crate) async fn update(ctx: &Ctx, id: &str) -> Result<Reply, ApiError> {
    let change = parse_change(&ctx.body)?;
    let id = id.to_owned();
    let key = id.clone();
    let issue_id = ctx.read(move |c| Ok(load_own(c, &key)?.id)).await?;
    ctx.write(move |c| apply_change(c, &[issue_id], &change))
        .await?;
    let origin = origin(ctx);
    let issue = ctx
        .read(move |c| {
            let r = load(c, &id)?;
            Ok(to_issue(&origin, &r, &projects::all(c)?))
        })
        .await?;
    Reply::json(&issue)
}

/// The ids a bulk request selects (explicit `id`s, else the filters; at
/// most [`BULK_LIMIT`]).
async fn bulk_ids(ctx: &Ctx, project: Option<&str>) -> Result<Vec<i64>, ApiError> {
    let filter = IssueFilter::from_query(&ctx.query, ctx.now())?;
    let project = project.map(str::to_owned);
    let q = ctx.query.clone();
    ctx.read(move |c| {
        let scoped = scope_projects(c, project.as_deref(), &q)?;
        let filter = filter.with_projects(scoped.iter().map(|p| p.id).collect());
        let mut sql = Sql::default();
        filter.apply(&mut sql);
        let query = format!(
            "SELECT i.id FROM issues i WHERE {} ORDER BY i.last_seen DESC LIMIT {BULK_LIMIT}",
            sql.where_clause()
        );
        let ids = c
            .prepare(&query)?
            .query_map(rusqlite::params_from_iter(sql.params.iter()), |r| r.get(0))?
            .collect::<Result<Vec<i64>, _>>()?;
        Ok(ids)
    })
    .await
}

/// `PUT /api/0/projects/{org}/{project}/issues/?id=1&id=2` (or filters):
/// answers the applied change, or 204 when nothing matched.
pub(crate) async fn bulk_update(ctx: &Ctx, project: Option<&str>) -> Result<Reply, ApiError> {
    if wants_merge(&ctx.body)? {
        return merge(ctx, project).await;
    }
    let change = parse_change(&ctx.body)?;
    let ids = bulk_ids(ctx, project).await?;
    if ids.is_empty() {
        return Ok(Reply::Empty(StatusCode::NO_CONTENT));
    }
    let applied = change.clone();
    ctx.write(move |c| apply_change(c, &ids, &applied)).await?;
    Reply::json(&change_json(&change))
}

/// Whether a `PUT` body asks for a merge (`"merge": true` or `1`, as
/// Sentry's web page sends it); a merge takes no other change.
fn wants_merge(body: &Value) -> Result<bool, ApiError> {
    let Some(merge) = body.get("merge") else {
        return Ok(false);
    };
    let wanted = match merge {
        Value::Null | Value::Bool(false) => false,
        Value::Bool(true) => true,
        Value::Number(n) if n.as_i64() == Some(1) => true,
        Value::Number(n) if n.as_i64() == Some(0) => false,
        _ => return Err(ApiError::BadRequest("merge must be true (or 1)".to_owned())),
    };
    let others = body
        .as_object()
        .is_some_and(|o| o.keys().any(|k| k != "merge"));
    if wanted && others {
        return Err(ApiError::BadRequest(
            "a merge takes no other change in the same request".to_owned(),
        ));
    }
    Ok(wanted)
}

/// `PUT …/issues/?id=1&id=2` with `{"merge": true}`: the selected issues
/// become one (`store::issue_merge`); answers
/// `{"merge": {"parent": id, "children": [ids]}}` as Sentry.
async fn merge(ctx: &Ctx, project: Option<&str>) -> Result<Reply, ApiError> {
    let ids = bulk_ids(ctx, project).await?;
    let now = now_secs();
    let merged = ctx
        .write(move |c| Ok(crate::store::issue_merge::merge_issues(c, &ids, now)?))
        .await?;
    Reply::json(&json!({"merge": {
        "parent": merged.parent.to_string(),
        "children": merged.children.iter().map(i64::to_string).collect::<Vec<_>>(),
    }}))
}

/// `DELETE /api/0/issues/{id}/`: 202 as Sentry (done at once here).
pub(crate) async fn delete(ctx: &Ctx, id: &str) -> Result<Reply, ApiError> {
    let key = id.to_owned();
    let issue_id = ctx.read(move |c| Ok(load_own(c, &key)?.id)).await?;
    let n = ctx
        .write(move |c| Ok(delete_issues(c, &[issue_id])?))
        .await?;
    if n == 0 {
        return Err(ApiError::not_found(format!("issue {id:?}")));
    }
    Ok(Reply::Empty(StatusCode::ACCEPTED))
}

/// `DELETE /api/0/projects/{org}/{project}/issues/?id=…`: 204.
pub(crate) async fn bulk_delete(ctx: &Ctx, project: Option<&str>) -> Result<Reply, ApiError> {
    let ids = bulk_ids(ctx, project).await?;
    if !ids.is_empty() {
        ctx.write(move |c| Ok(delete_issues(c, &ids)?)).await?;
    }
    Ok(Reply::Empty(StatusCode::NO_CONTENT))
}

/// Counts issues matching a filter (for `/api/0/local/stats/`).
pub(crate) fn count(conn: &Connection, filter: &IssueFilter) -> Result<i64, ApiError> {
    let mut sql = Sql::default();
    filter.apply(&mut sql);
    Ok(conn.query_row(
        &format!("SELECT COUNT(*) FROM issues i WHERE {}", sql.where_clause()),
        rusqlite::params_from_iter(sql.params.iter()),
        |r| r.get(0),
    )?)
}

/// A filter for counting: everything, narrowed by these.
pub(crate) fn count_filter(
    projects: Vec<i64>,
    statuses: &[String],
    levels: &[String],
    environments: &[String],
    releases: &[String],
    title: Option<&str>,
    range: Range,
) -> Result<IssueFilter, ApiError> {
    let mut f = IssueFilter {
        project_ids: projects,
        range,
        ..IssueFilter::default()
    };
    f.params.environments = environments.to_vec();
    f.params.releases = releases.to_vec();
    for s in statuses {
        f.params.statuses.extend(status_filter(s)?);
    }
    for l in levels {
        f.params.levels.push(check_level(l)?);
    }
    if let Some(t) = title.filter(|t| !t.is_empty()) {
        f.titles.push(t.to_owned());
    }
    Ok(f)
}

/// The `issueCategory` values of a stats request (`error`, `cron`, and the
/// issue types `issue.type:` takes), as whether each asks for failing cron
/// monitors' issues; empty: any.
pub(crate) fn categories_param(values: &[String]) -> Result<Vec<bool>, ApiError> {
    values
        .iter()
        .map(|v| monitor_issue("issueCategory", v.trim()))
        .collect()
}

impl IssueFilter {
    /// Narrows the filter to the issue categories `monitor` names
    /// ([`categories_param`]).
    pub(crate) fn with_categories(mut self, monitor: &[bool]) -> Self {
        self.monitor_issues.extend_from_slice(monitor);
        self
    }
}

/// The condition on an event's `kind` (column `e.kind`) that keeps the
/// events of the categories `monitor` names; `None`: all of them.
pub(crate) fn event_category_condition(monitor: &[bool]) -> Option<String> {
    let cron = monitor.contains(&true);
    if monitor.is_empty() || cron == monitor.contains(&false) {
        return None;
    }
    let kind = crate::store::MONITOR_FAILURE_EVENT_TYPE;
    Some(if cron {
        format!("e.kind = '{kind}'")
    } else {
        format!("e.kind <> '{kind}'")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_round_trip() {
        assert_eq!(short_id("default", 1), "DEFAULT-1");
        assert_eq!(short_id("web-app", 33), "WEB-APP-11");
        assert_eq!(
            parse_short_id("WEB-APP-11"),
            Some(("web-app".to_owned(), 33))
        );
        assert_eq!(
            parse_short_id("default-1A"),
            Some(("default".to_owned(), 42))
        );
        assert_eq!(parse_short_id("nodash"), None);
    }

    #[test]
    fn search_strings_tokenize() {
        let q = Query::parse(Some(
            "query=is:unresolved+level:[error,fatal]+%22Key+Error%22+std::io+environment:prod",
        ));
        let f = IssueFilter::from_query(&q, 0.0).expect("filter");
        assert_eq!(f.query.statuses, ["unresolved"]);
        assert_eq!(f.query.levels, ["error", "fatal"]);
        assert_eq!(f.query.environments, ["prod"]);
        assert_eq!(f.texts, ["Key Error", "std::io"]);
        // Spaces inside a list, as Sentry allows them.
        let q = Query::parse(Some("query=level:[error,+fatal]+boom"));
        let f = IssueFilter::from_query(&q, 0.0).expect("spaced list");
        assert_eq!(f.query.levels, ["error", "fatal"]);
        assert_eq!(f.texts, ["boom"]);
        // `OR`/`AND` are refused, as Sentry does; quoted or in lower case
        // they are words to look for.
        for query in ["query=is:unresolved+OR+is:resolved", "query=a+AND+b"] {
            let bad = Query::parse(Some(query));
            assert!(
                matches!(IssueFilter::from_query(&bad, 0.0), Err(ApiError::BadRequest(m)) if m.contains("OR")),
                "{query}"
            );
        }
        let q = Query::parse(Some("query=%22OR%22+or"));
        let f = IssueFilter::from_query(&q, 0.0).expect("words");
        assert_eq!(f.texts, ["OR", "or"]);
        let q = Query::parse(Some("query=is:[unresolved,+resolved]"));
        let f = IssueFilter::from_query(&q, 0.0).expect("a list of statuses");
        let statuses = &f.query.statuses;
        assert!(
            statuses.contains(&"unresolved") && statuses.contains(&"resolved"),
            "{statuses:?}"
        );
        let bad = Query::parse(Some("query=colour:red"));
        assert!(matches!(
            IssueFilter::from_query(&bad, 0.0),
            Err(ApiError::BadRequest(_))
        ));
        let bad = Query::parse(Some("query=level:loud"));
        assert!(IssueFilter::from_query(&bad, 0.0).is_err());
        // No query: unresolved by default; explicit ids lift the default.
        let f = IssueFilter::from_query(&Query::parse(None), 0.0).expect("default");
        assert_eq!(f.query.statuses, ["unresolved"]);
        let f = IssueFilter::from_query(&Query::parse(Some("id=3&id=4")), 0.0).expect("ids");
        assert!(f.query.statuses.is_empty());
        assert_eq!(f.ids, [3, 4]);
    }

    #[test]
    fn change_bodies() {
        let c = parse_change(&json!({"status": "resolved", "statusDetails": {"inRelease": "a@1"}}))
            .expect("parse");
        assert_eq!(c.status, Some(StatusChange::InRelease("a@1".into())));
        let c = parse_change(&json!({"status": "resolvedInNextRelease"})).expect("parse");
        assert_eq!(c.status, Some(StatusChange::InNextRelease));
        let c = parse_change(&json!({"assignedTo": ""})).expect("parse");
        assert_eq!(c.assign, Some(None));
        assert!(parse_change(&json!({"status": "closed"})).is_err());
        assert!(parse_change(&json!([1])).is_err());
    }
}
