//! Events: summaries, the stored event with Sentry's API fields, project
//! event lists, attachments.

use std::collections::BTreeMap;

use hyper::StatusCode;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::{json, Map, Value};

use super::params::{hex_id, iso, Cursor, Page, Range, Sql};
use super::projects::{self, ProjectRow};
use super::types::{Attachment, EventSummary, Tag};
use super::{ApiError, Ctx, Reply};
use crate::store::decompress;

/// The columns [`EventRecord::from_row`] reads, from `events e`.
pub(crate) const EVENT_COLS: &str = "e.id, e.event_id, e.project_id, e.issue_id, e.kind, \
     e.timestamp, e.received, e.release, e.environment, e.level, e.title, e.platform, e.payload";

/// A stored event with its payload.
#[derive(Debug, Clone)]
pub(crate) struct EventRecord {
    pub seq: i64,
    pub event_id: String,
    pub project_id: i64,
    pub issue_id: Option<i64>,
    pub kind: String,
    pub timestamp: f64,
    pub received: f64,
    pub release: Option<String>,
    pub environment: Option<String>,
    pub level: String,
    pub title: String,
    pub platform: Option<String>,
    pub payload: Value,
    pub size: usize,
}

impl EventRecord {
    /// Reads the [`EVENT_COLS`] of a row and decodes the payload (an
    /// undecodable payload becomes `{}` so one bad row cannot break a list).
    pub(crate) fn from_row(r: &Row<'_>) -> rusqlite::Result<EventRecord> {
        let blob: Vec<u8> = r.get(12)?;
        let (payload, size) = decode_payload(&blob);
        Ok(EventRecord {
            seq: r.get(0)?,
            event_id: r.get(1)?,
            project_id: r.get(2)?,
            issue_id: r.get(3)?,
            kind: r.get(4)?,
            timestamp: r.get(5)?,
            received: r.get(6)?,
            release: r.get(7)?,
            environment: r.get(8)?,
            level: r.get(9)?,
            title: r.get(10)?,
            platform: r.get(11)?,
            payload,
            size,
        })
    }
}

/// What a payload that cannot be read shows instead.
fn unreadable(reason: String) -> Value {
    json!({"errors": [{"type": "stored_payload_unreadable", "reason": reason}]})
}

/// Decompresses and parses a stored payload. One that cannot be read
/// becomes an object whose `errors` says why (`stored_payload_unreadable`),
/// so one bad row cannot break a list and a reader sees that something is
/// missing instead of an empty event.
pub(crate) fn decode_payload(blob: &[u8]) -> (Value, usize) {
    match decompress(blob) {
        Ok(bytes) => {
            let size = bytes.len();
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(v @ Value::Object(_)) => (v, size),
                Ok(_) => (unreadable("not a JSON object".to_owned()), size),
                Err(e) => (unreadable(format!("invalid JSON: {e}")), size),
            }
        }
        Err(e) => (unreadable(e.to_string()), 0),
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str().filter(|s| !s.is_empty())
}

/// The `values` of an interface stored either as `{values: […]}` or `[…]`.
fn values_of(v: Option<&Value>) -> Option<&Vec<Value>> {
    match v? {
        Value::Array(a) => Some(a),
        Value::Object(o) => o.get("values").and_then(Value::as_array),
        _ => None,
    }
}

/// The formatted message of an event, if it has one.
pub(crate) fn message_of(payload: &Value) -> Option<String> {
    str_at(payload, &["logentry", "formatted"])
        .or_else(|| str_at(payload, &["logentry", "message"]))
        .or_else(|| str_at(payload, &["message", "formatted"]))
        .or_else(|| str_at(payload, &["message", "message"]))
        .or_else(|| str_at(payload, &["message"]))
        .map(str::to_owned)
}

/// Sentry's `user` tag value: `id:…`, `email:…`, `username:…` or `ip:…`.
fn user_tag(payload: &Value) -> Option<String> {
    let user = payload.get("user")?;
    let field = |k: &str| match user.get(k)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    field("id")
        .map(|v| format!("id:{v}"))
        .or_else(|| field("email").map(|v| format!("email:{v}")))
        .or_else(|| field("username").map(|v| format!("username:{v}")))
        .or_else(|| field("ip_address").map(|v| format!("ip:{v}")))
}

/// The tags of an event as Sentry shows them: the event's own `tags` plus
/// `level`, `environment`, `release`, `dist`, `server_name`, `transaction`,
/// `user`, `handled`, `mechanism`, `os`/`os.name`, `client_os`/
/// `client_os.name`, `browser`/`browser.name`, `runtime`/`runtime.name`,
/// `url` when present. The event's own tags win on a clash. Sorted by key.
pub(crate) fn event_tags(e: &EventRecord) -> Vec<Tag> {
    tags_of(
        &e.level,
        e.environment.as_deref(),
        e.release.as_deref(),
        &e.payload,
    )
}

/// [`event_tags`] of an event whose `level`, `environment` and `release`
/// columns are given and whose payload (or [`tag_payload`]) is `p`.
pub(crate) fn tags_of(
    level: &str,
    environment: Option<&str>,
    release: Option<&str>,
    p: &Value,
) -> Vec<Tag> {
    let mut tags: BTreeMap<String, String> = BTreeMap::new();
    let mut add = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            tags.entry(k.to_owned()).or_insert(v);
        }
    };
    match p.get("tags") {
        Some(Value::Object(o)) => {
            for (k, v) in o {
                add(k, scalar_string(v));
            }
        }
        Some(Value::Array(a)) => {
            for pair in a {
                if let Some([k, v]) = pair.as_array().map(Vec::as_slice) {
                    if let Some(k) = k.as_str() {
                        add(k, scalar_string(v));
                    }
                }
            }
        }
        _ => {}
    }
    add("level", Some(level.to_owned()));
    // As Sentry's event manager tags an event with its logger.
    add("logger", str_at(p, &["logger"]).map(str::to_owned));
    add("environment", environment.map(str::to_owned));
    add("release", release.map(str::to_owned));
    add("dist", str_at(p, &["dist"]).map(str::to_owned));
    add(
        "server_name",
        str_at(p, &["server_name"]).map(str::to_owned),
    );
    add(
        "transaction",
        str_at(p, &["transaction"]).map(str::to_owned),
    );
    add("user", user_tag(p));
    if let Some(mechanism) = values_of(p.get("exception"))
        .and_then(|v| v.last())
        .and_then(|x| x.get("mechanism"))
    {
        add(
            "handled",
            mechanism
                .get("handled")
                .and_then(Value::as_bool)
                .map(|h| if h { "yes" } else { "no" }.to_owned()),
        );
        add("mechanism", str_at(mechanism, &["type"]).map(str::to_owned));
    }
    // As Sentry tags an event from its contexts: `os` is the name and
    // version, `os.name` the name; the same for the client's OS (from
    // the request's User-Agent, `ingest::user_agent`), the browser and the
    // runtime.
    for ctx in ["os", "client_os", "browser", "runtime"] {
        let Some(name) = str_at(p, &["contexts", ctx, "name"]) else {
            continue;
        };
        let versioned = match str_at(p, &["contexts", ctx, "version"]) {
            Some(v) => format!("{name} {v}"),
            None => name.to_owned(),
        };
        add(ctx, Some(versioned));
        add(&format!("{ctx}.name"), Some(name.to_owned()));
    }
    add("url", str_at(p, &["request", "url"]).map(str::to_owned));
    tags.into_iter()
        .map(|(key, value)| Tag { key, value })
        .collect()
}

/// The parts of a stored event's payload that [`tags_of`] reads (`tags`,
/// `dist`, `logger`, `server_name`, `transaction`, `user`, the last exception's
/// `mechanism`, the `os`, `client_os`, `browser` and `runtime` contexts, the request's
/// `url`), as they appear in the payload's
/// JSON. A payload stored as received is normalised and only those fields
/// are serialised (not the whole event, then parsed back: most of the cost
/// of reading an event is its stack traces and breadcrumbs); any other
/// payload is decoded whole, as [`decode_payload`] does.
pub(crate) fn tag_payload(blob: &[u8]) -> Value {
    let Some(event) = crate::ingest::as_received::render_event(blob) else {
        return decode_payload(blob).0;
    };
    let mut p = Map::new();
    let mut put = |k: &str, v: Result<Value, serde_json::Error>| {
        // These fields serialise to JSON as part of the whole event does;
        // a field that could not would have made the event unreadable.
        if let Ok(v) = v {
            p.insert(k.to_owned(), v);
        }
    };
    if !event.tags.is_empty() {
        put("tags", serde_json::to_value(&event.tags));
    }
    for (k, v) in [
        ("dist", &event.dist),
        ("logger", &event.logger),
        ("server_name", &event.server_name),
        ("transaction", &event.transaction),
    ] {
        if let Some(v) = v {
            put(k, Ok(Value::String(v.clone())));
        }
    }
    if let Some(user) = &event.user {
        put("user", serde_json::to_value(user));
    }
    if let Some(last) = event.exception.values.last() {
        let mut exc = Map::new();
        if let Some(m) = &last.mechanism {
            if let Ok(m) = serde_json::to_value(m) {
                exc.insert("mechanism".to_owned(), m);
            }
        }
        put("exception", Ok(json!({"values": [exc]})));
    }
    let contexts: BTreeMap<_, _> = ["os", "client_os", "browser", "runtime"]
        .into_iter()
        .filter_map(|k| Some((k, event.contexts.get(k)?)))
        .collect();
    if !contexts.is_empty() {
        put("contexts", serde_json::to_value(contexts));
    }
    if let Some(url) = event.request.as_ref().and_then(|r| r.url.as_ref()) {
        put("request", Ok(json!({ "url": url })));
    }
    Value::Object(p)
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An event's `metadata` as Sentry's error events give it, from its main
/// exception (`grouping::metadata::exception_metadata`: the one its title
/// is of, which exception-group handling picks); `{title}` for other
/// events, and [`metadata`] when the payload has no exception.
pub(crate) fn event_metadata(kind: &str, title: &str, payload: &Value) -> Value {
    if kind != "error" {
        return metadata(kind, title);
    }
    let Ok(event) = serde_json::from_value::<sentry_core::protocol::Event>(payload.clone()) else {
        return metadata(kind, title);
    };
    let main =
        crate::grouping::group_event_with(&event, crate::grouping::GroupingOptions::HASHES_ONLY)
            .main_exception_id;
    crate::grouping::metadata::exception_metadata(&event, title, main)
        .unwrap_or_else(|| metadata(kind, title))
}

/// `{type, value}` for errors (from `Type: value` titles), `{title}` else.
/// An issue's metadata: its title is all it keeps of its latest event.
pub(crate) fn metadata(kind: &str, title: &str) -> Value {
    if kind == "error" {
        match title.split_once(": ") {
            Some((ty, value)) => json!({"type": ty, "value": value}),
            None => json!({"type": title, "value": ""}),
        }
    } else {
        json!({"title": title})
    }
}

fn culprit_of(payload: &Value) -> Option<String> {
    str_at(payload, &["culprit"])
        .or_else(|| str_at(payload, &["transaction"]))
        .map(str::to_owned)
}

/// The list shape of an event.
pub(crate) fn summary(e: &EventRecord) -> EventSummary {
    EventSummary {
        id: e.event_id.clone(),
        event_id: e.event_id.clone(),
        group_id: e.issue_id.map(|i| i.to_string()),
        project_id: e.project_id.to_string(),
        event_type: e.kind.clone(),
        title: e.title.clone(),
        message: message_of(&e.payload).unwrap_or_else(|| e.title.clone()),
        culprit: culprit_of(&e.payload),
        platform: e.platform.clone(),
        level: e.level.clone(),
        date_created: iso(e.timestamp),
        date_received: Some(iso(e.received)),
        tags: event_tags(e),
        user: e.payload.get("user").filter(|u| !u.is_null()).cloned(),
        release: e.release.clone(),
        environment: e.environment.clone(),
    }
}

/// Sentry's `entries` built from the stored interfaces.
fn entries(p: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(values) = values_of(p.get("exception")) {
        if !values.is_empty() {
            out.push(json!({"type": "exception", "data": {"values": values, "excOmitted": null}}));
        }
    }
    if let Some(message) = message_of(p) {
        let params = p
            .get("logentry")
            .and_then(|l| l.get("params"))
            .cloned()
            .unwrap_or(Value::Array(Vec::new()));
        let raw = str_at(p, &["logentry", "message"])
            .unwrap_or(&message)
            .to_owned();
        out.push(json!({"type": "message", "data": {"formatted": message, "message": raw, "params": params}}));
    }
    if let Some(values) = values_of(p.get("threads")) {
        if !values.is_empty() {
            out.push(json!({"type": "threads", "data": {"values": values}}));
        }
    }
    if let Some(st) = p.get("stacktrace").filter(|v| v.is_object()) {
        out.push(json!({"type": "stacktrace", "data": st}));
    }
    if let Some(values) = values_of(p.get("breadcrumbs")) {
        if !values.is_empty() {
            out.push(json!({"type": "breadcrumbs", "data": {"values": values}}));
        }
    }
    if let Some(request) = p.get("request").filter(|v| v.is_object()) {
        out.push(json!({"type": "request", "data": request}));
    }
    if let Some(spans) = p.get("spans").and_then(Value::as_array) {
        out.push(json!({"type": "spans", "data": spans}));
    }
    if let Some(debug) = p.get("debug_meta").filter(|v| v.is_object()) {
        out.push(json!({"type": "debugmeta", "data": debug}));
    }
    out
}

/// `package@1.2.3` → `1.2.3`.
pub(crate) fn short_version(version: &str) -> String {
    version
        .rsplit_once('@')
        .map_or(version, |(_, v)| v)
        .to_owned()
}

/// The stored event with Sentry's API fields added or converted: `id`,
/// `eventID`, `groupID`, `projectID`, `title`, `message`, `dateCreated`,
/// `dateReceived`, `type`, `culprit`, `metadata`, `tags` as `[{key, value}]`,
/// `entries`, `release` as an object, `size`.
pub(crate) fn detail_json(e: &EventRecord, project: Option<&ProjectRow>) -> Value {
    let mut obj = match &e.payload {
        Value::Object(o) => o.clone(),
        _ => Map::new(),
    };
    let tags: Vec<Value> = event_tags(e)
        .into_iter()
        .map(|t| json!({"key": t.key, "value": t.value}))
        .collect();
    let set = |obj: &mut Map<String, Value>, k: &str, v: Value| {
        obj.insert(k.to_owned(), v);
    };
    set(&mut obj, "entries", Value::Array(entries(&e.payload)));
    set(&mut obj, "id", json!(e.event_id));
    set(&mut obj, "eventID", json!(e.event_id));
    set(
        &mut obj,
        "groupID",
        json!(e.issue_id.map(|i| i.to_string())),
    );
    set(&mut obj, "projectID", json!(e.project_id.to_string()));
    if let Some(p) = project {
        set(&mut obj, "projectSlug", json!(p.slug));
    }
    set(&mut obj, "title", json!(e.title));
    set(
        &mut obj,
        "message",
        json!(message_of(&e.payload).unwrap_or_default()),
    );
    set(&mut obj, "dateCreated", json!(iso(e.timestamp)));
    set(&mut obj, "dateReceived", json!(iso(e.received)));
    set(&mut obj, "type", json!(e.kind));
    set(&mut obj, "culprit", json!(culprit_of(&e.payload)));
    set(
        &mut obj,
        "metadata",
        event_metadata(&e.kind, &e.title, &e.payload),
    );
    set(&mut obj, "tags", Value::Array(tags));
    set(&mut obj, "level", json!(e.level));
    set(&mut obj, "platform", json!(e.platform));
    set(&mut obj, "environment", json!(e.environment));
    set(
        &mut obj,
        "release",
        match &e.release {
            Some(r) => json!({"version": r, "shortVersion": short_version(r)}),
            None => Value::Null,
        },
    );
    set(&mut obj, "size", json!(e.size));
    for k in ["contexts", "sdk", "user"] {
        obj.entry(k.to_owned()).or_insert(Value::Null);
    }
    obj.entry("errors".to_owned())
        .or_insert(Value::Array(Vec::new()));
    Value::Object(obj)
}

/// An event of a project by id, or a transaction with that id, or a user
/// feedback (`feedback` item) with that id: Sentry stores feedback as an
/// event too, and its screenshot is an attachment of that id.
pub(crate) fn load(
    conn: &Connection,
    project_id: i64,
    event_id: &str,
) -> Result<Option<EventRecord>, ApiError> {
    let sql =
        format!("SELECT {EVENT_COLS} FROM events e WHERE e.project_id = ?1 AND e.event_id = ?2");
    if let Some(e) = conn
        .prepare_cached(&sql)?
        .query_row(params![project_id, event_id], EventRecord::from_row)
        .optional()?
    {
        return Ok(Some(e));
    }
    let transaction = conn
        .prepare_cached(
            "SELECT id, event_id, project_id, name, start_ts, end_ts, received, release,
                 environment, payload
             FROM transactions WHERE project_id = ?1 AND event_id = ?2",
        )?
        .query_row(params![project_id, event_id], |r| {
            let blob: Vec<u8> = r.get(9)?;
            let (payload, size) = decode_payload(&blob);
            let name: Option<String> = r.get(3)?;
            Ok(EventRecord {
                seq: r.get(0)?,
                event_id: r.get(1)?,
                project_id: r.get(2)?,
                issue_id: None,
                kind: "transaction".to_owned(),
                timestamp: r.get(5)?,
                received: r.get(6)?,
                release: r.get(7)?,
                environment: r.get(8)?,
                level: "info".to_owned(),
                title: name.unwrap_or_else(|| "<unlabeled transaction>".to_owned()),
                platform: payload
                    .get("platform")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                payload,
                size,
            })
        })
        .optional()?;
    match transaction {
        Some(t) => Ok(Some(t)),
        None => load_feedback(conn, project_id, event_id),
    }
}

/// A `feedback` item by its id, in the shape of an event (type
/// `feedback`, titled `User Feedback` as Sentry titles feedback issues).
fn load_feedback(
    conn: &Connection,
    project_id: i64,
    event_id: &str,
) -> Result<Option<EventRecord>, ApiError> {
    Ok(conn
        .prepare_cached(
            "SELECT id, event_id, project_id, received, payload FROM feedback
             WHERE project_id = ?1 AND kind = 'feedback' AND event_id = ?2",
        )?
        .query_row(params![project_id, event_id], |r| {
            let blob: Vec<u8> = r.get(4)?;
            let (payload, size) = decode_payload(&blob);
            let received: f64 = r.get(3)?;
            let text = |k: &str| payload.get(k).and_then(Value::as_str).map(str::to_owned);
            let timestamp = match payload.get("timestamp") {
                Some(Value::String(t)) => sentry_core::protocol::Timestamp::parse_rfc3339(t)
                    .map(sentry_core::protocol::Timestamp::as_secs_f64),
                Some(v) => v.as_f64(),
                None => None,
            };
            Ok(EventRecord {
                seq: r.get(0)?,
                event_id: r.get(1)?,
                project_id: r.get(2)?,
                issue_id: None,
                kind: "feedback".to_owned(),
                timestamp: timestamp.unwrap_or(received),
                received,
                release: text("release"),
                environment: text("environment"),
                level: text("level").unwrap_or_else(|| "info".to_owned()),
                title: "User Feedback".to_owned(),
                platform: text("platform"),
                payload,
                size,
            })
        })
        .optional()?)
}

/// Previous and next event ids of the same issue (by time).
pub(crate) fn neighbours(
    conn: &Connection,
    e: &EventRecord,
) -> Result<(Option<String>, Option<String>), ApiError> {
    let Some(issue) = e.issue_id else {
        return Ok((None, None));
    };
    let prev = conn
        .prepare_cached(
            "SELECT event_id FROM events WHERE issue_id = ?1
                 AND (timestamp < ?2 OR (timestamp = ?2 AND id < ?3))
             ORDER BY timestamp DESC, id DESC LIMIT 1",
        )?
        .query_row(params![issue, e.timestamp, e.seq], |r| r.get(0))
        .optional()?;
    let next = conn
        .prepare_cached(
            "SELECT event_id FROM events WHERE issue_id = ?1
                 AND (timestamp > ?2 OR (timestamp = ?2 AND id > ?3))
             ORDER BY timestamp ASC, id ASC LIMIT 1",
        )?
        .query_row(params![issue, e.timestamp, e.seq], |r| r.get(0))
        .optional()?;
    Ok((prev, next))
}

/// The full event JSON with `previousEventID` / `nextEventID`.
pub(crate) fn full_json(
    conn: &Connection,
    e: &EventRecord,
    project: Option<&ProjectRow>,
) -> Result<Value, ApiError> {
    let mut v = detail_json(e, project);
    let (prev, next) = neighbours(conn, e)?;
    if let Value::Object(o) = &mut v {
        o.insert("previousEventID".into(), json!(prev));
        o.insert("nextEventID".into(), json!(next));
    }
    Ok(v)
}

fn parse_event_id(id: &str) -> Result<String, ApiError> {
    hex_id(id, 32).ok_or_else(|| {
        ApiError::BadRequest(format!("invalid event id {id:?}: expected 32 hex digits"))
    })
}

/// `GET /api/0/projects/{org}/{project}/events/{event_id}/` (`?raw=1`: the
/// stored JSON unchanged; `?sent=1`: the item as the SDK sent it, before
/// normalisation cut or rewrote anything).
///
/// `event_id` may be the id's first digits (at least eight, as the CLI's
/// tables show ids): the one event, transaction or feedback of the
/// project whose id starts with them.
pub(crate) async fn detail(ctx: &Ctx, project: &str, id: &str) -> Result<Reply, ApiError> {
    let prefix = super::id_prefix::parse(id, "event")?;
    let project = project.to_owned();
    let raw = ctx.query.flag("raw");
    let sent = ctx.query.flag("sent");
    let value = ctx
        .read(move |c| {
            let p = projects::resolve(c, &project)?;
            let event_id = super::id_prefix::resolve(
                c,
                &prefix,
                "event",
                &[
                    "SELECT event_id FROM events
                     WHERE project_id = ?3 AND event_id >= ?1 AND event_id < ?2 LIMIT 4",
                    "SELECT event_id FROM transactions
                     WHERE project_id = ?3 AND event_id >= ?1 AND event_id < ?2 LIMIT 4",
                    "SELECT event_id FROM feedback
                     WHERE project_id = ?3 AND kind = 'feedback'
                         AND event_id >= ?1 AND event_id < ?2 LIMIT 4",
                ],
                &[&p.id],
            )?;
            if sent {
                return as_sent(c, p.id, &event_id)?
                    .ok_or_else(|| ApiError::not_found(format!("event {event_id}")));
            }
            let e = load(c, p.id, &event_id)?
                .ok_or_else(|| ApiError::not_found(format!("event {event_id}")))?;
            if raw {
                Ok(e.payload)
            } else {
                full_json(c, &e, Some(&p))
            }
        })
        .await?;
    Reply::json(&value)
}

/// The payload of event (or transaction) `event_id` as the SDK sent it.
fn as_sent(c: &Connection, project_id: i64, event_id: &str) -> Result<Option<Value>, ApiError> {
    for sql in [
        "SELECT payload FROM events WHERE project_id = ?1 AND event_id = ?2",
        "SELECT payload FROM transactions WHERE project_id = ?1 AND event_id = ?2",
    ] {
        let blob: Option<Vec<u8>> = c
            .prepare_cached(sql)?
            .query_row(params![project_id, event_id], |r| r.get(0))
            .optional()?;
        if let Some(blob) = blob {
            return Ok(Some(match crate::store::decompress_as_sent(&blob) {
                Ok(bytes) => serde_json::from_slice(&bytes)
                    .unwrap_or_else(|e| unreadable(format!("invalid JSON: {e}"))),
                Err(e) => unreadable(e.to_string()),
            }));
        }
    }
    Ok(None)
}

/// `GET /api/0/projects/{org}/{project}/events/`: the project's error
/// events, newest first (`full=1` for whole events; `environment`, `level`,
/// `statsPeriod`/`start`/`end` filter).
pub(crate) async fn project_events(ctx: &Ctx, project: &str) -> Result<Reply, ApiError> {
    let project = project.to_owned();
    let page = EventPage::from_ctx(ctx)?;
    let (link, json) = ctx
        .read(move |c| {
            let p = projects::resolve(c, &project)?;
            page.fetch(c, "e.project_id", p.id, Some(&p))
        })
        .await?;
    Ok(Reply::json(&json)?.with_header(hyper::header::LINK, link))
}

/// One cursor-paginated page of events, newest first, as both event lists
/// (a project's, an issue's) serve it: `limit`, `cursor`, time range,
/// `environment`, `level`, and `full=1` for whole events.
pub(crate) struct EventPage {
    limit: i64,
    cursor: Option<Cursor>,
    range: Range,
    environments: Vec<String>,
    levels: Vec<String>,
    full: bool,
    base: String,
}

impl EventPage {
    /// Reads the page's parameters from the request.
    pub(crate) fn from_ctx(ctx: &Ctx) -> Result<EventPage, ApiError> {
        Ok(EventPage {
            limit: ctx.query.limit(100, 100)?,
            cursor: Cursor::from_query(&ctx.query)?,
            range: Range::from_query(&ctx.query, ctx.now())?,
            environments: ctx.query.values("environment"),
            levels: super::issues::levels_param(&ctx.query)?,
            full: ctx.query.flag("full"),
            base: ctx.link_base(),
        })
    }

    /// Whether whole events were asked for (`full=1`).
    pub(crate) fn wants_full(&self) -> bool {
        self.full
    }

    /// The events whose `column` (of `events e`) is `id`: the `Link` header
    /// and the JSON list (summaries, or whole events with `full=1`).
    pub(crate) fn fetch(
        &self,
        c: &Connection,
        column: &str,
        id: i64,
        project: Option<&ProjectRow>,
    ) -> Result<(String, Vec<Value>), ApiError> {
        let mut sql = Sql::default();
        let p = sql.bind(id);
        sql.cond(format!("{column} = {p}"));
        add_event_filters(&mut sql, &self.range, &self.environments, &self.levels);
        let order = sql.keyset("e.timestamp", "e.id", false, self.cursor);
        let q = format!(
            "SELECT {EVENT_COLS} FROM events e WHERE {} ORDER BY {order} LIMIT {}",
            sql.where_clause(),
            self.limit + 1
        );
        let rows: Vec<EventRecord> = c
            .prepare_cached(&q)?
            .query_map(
                rusqlite::params_from_iter(sql.params.iter()),
                EventRecord::from_row,
            )?
            .collect::<Result<_, _>>()?;
        let page = Page::build(rows, self.limit as usize, self.cursor, |e| {
            (e.timestamp, e.seq)
        });
        let json: Vec<Value> = if self.full {
            page.rows
                .iter()
                .map(|e| full_json(c, e, project))
                .collect::<Result<_, _>>()?
        } else {
            page.rows
                .iter()
                .map(|e| serde_json::to_value(summary(e)).unwrap_or(Value::Null))
                .collect()
        };
        Ok((page.link(&self.base), json))
    }
}

/// Time, environment and level conditions on `events e`.
pub(crate) fn add_event_filters(
    sql: &mut Sql,
    range: &Range,
    environments: &[String],
    levels: &[String],
) {
    range.restrict(sql, "e.timestamp");
    if !environments.is_empty() {
        let c = sql.in_list("e.environment", environments.iter().cloned());
        sql.cond(c);
    }
    if !levels.is_empty() {
        let c = sql.in_list("e.level", levels.iter().cloned());
        sql.cond(c);
    }
}

fn attachment_from_row(r: &Row<'_>) -> rusqlite::Result<Attachment> {
    let id: i64 = r.get(0)?;
    let content_type: Option<String> = r.get(2)?;
    let kind: Option<String> = r.get(3)?;
    let received: f64 = r.get(5)?;
    let mut headers = BTreeMap::new();
    headers.insert(
        "Content-Type".to_owned(),
        content_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".to_owned()),
    );
    Ok(Attachment {
        id: id.to_string(),
        name: r.get(1)?,
        kind: kind.unwrap_or_else(|| "event.attachment".to_owned()),
        mimetype: content_type,
        size: r.get(4)?,
        date_created: iso(received),
        event_id: r.get(6)?,
        headers,
    })
}

const ATTACHMENT_COLS: &str =
    "id, filename, content_type, attachment_type, size, received, event_id";

/// `GET /api/0/projects/{org}/{project}/events/{event_id}/attachments/`
pub(crate) async fn attachments(ctx: &Ctx, project: &str, id: &str) -> Result<Reply, ApiError> {
    let event_id = parse_event_id(id)?;
    let project = project.to_owned();
    let list = ctx
        .read(move |c| {
            let p = projects::resolve(c, &project)?;
            // A feedback is an event too (the widget's screenshot comes as
            // an attachment of the feedback's id).
            if load(c, p.id, &event_id)?.is_none() && !is_feedback(c, p.id, &event_id)? {
                return Err(ApiError::not_found(format!("event {event_id}")));
            }
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {ATTACHMENT_COLS} FROM attachments
                 WHERE project_id = ?1 AND event_id = ?2 ORDER BY id"
            ))?;
            let rows = stmt.query_map(params![p.id, event_id], attachment_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    Reply::json(&list)
}

/// Whether `event_id` names a stored feedback or user report of project `p`.
fn is_feedback(c: &Connection, p: i64, event_id: &str) -> Result<bool, ApiError> {
    Ok(c.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM feedback WHERE project_id = ?1
             AND kind IN ('feedback', 'user_report') AND event_id = ?2)",
    )?
    .query_row(params![p, event_id], |r| r.get(0))?)
}

/// `GET …/events/{event_id}/attachments/{id}/`: metadata, or the bytes with
/// `?download=1`.
pub(crate) async fn attachment(
    ctx: &Ctx,
    project: &str,
    id: &str,
    attachment: &str,
) -> Result<Reply, ApiError> {
    let event_id = parse_event_id(id)?;
    let attachment_id: i64 = attachment
        .parse()
        .map_err(|_| ApiError::not_found(format!("attachment {attachment:?}")))?;
    let project = project.to_owned();
    let download = ctx.query.flag("download");
    let (info, data) = ctx
        .read(move |c| {
            let p = projects::resolve(c, &project)?;
            let found = c
                .prepare_cached(&format!(
                    "SELECT {ATTACHMENT_COLS}, CASE WHEN ?4 THEN data END FROM attachments
                     WHERE id = ?1 AND project_id = ?2 AND event_id = ?3"
                ))?
                .query_row(params![attachment_id, p.id, event_id, download], |r| {
                    Ok((attachment_from_row(r)?, r.get::<_, Option<Vec<u8>>>(7)?))
                })
                .optional()?;
            found.ok_or_else(|| ApiError::not_found(format!("attachment {attachment_id}")))
        })
        .await?;
    match data {
        Some(data) if download => Ok(Reply::File {
            content_type: info
                .mimetype
                .clone()
                .unwrap_or_else(|| "application/octet-stream".to_owned()),
            filename: info.name.clone(),
            data,
        }),
        _ => Reply::json_status(StatusCode::OK, &info),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(payload: Value) -> EventRecord {
        EventRecord {
            seq: 1,
            event_id: "a".repeat(32),
            project_id: 1,
            issue_id: Some(2),
            kind: "error".into(),
            timestamp: 1.0,
            received: 2.0,
            release: Some("app@1.0".into()),
            environment: None,
            level: "error".into(),
            title: "KeyError: x".into(),
            platform: None,
            payload,
            size: 0,
        }
    }

    #[test]
    fn tags_merge_builtins_and_own_tags() {
        let e = record(json!({
            "tags": {"level": "custom", "a": "1"},
            "user": {"id": 42},
            "exception": {"values": [{"type": "E", "mechanism": {"type": "panic", "handled": false}}]},
            "contexts": {"runtime": {"name": "rustc", "version": "1.80"}}
        }));
        let tags: Vec<(String, String)> = event_tags(&e)
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect();
        let get = |k: &str| {
            tags.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("level"), Some("custom"));
        assert_eq!(get("a"), Some("1"));
        assert_eq!(get("user"), Some("id:42"));
        assert_eq!(get("handled"), Some("no"));
        assert_eq!(get("mechanism"), Some("panic"));
        assert_eq!(get("runtime"), Some("rustc 1.80"));
        assert_eq!(get("release"), Some("app@1.0"));
    }

    #[test]
    fn detail_converts_tags_and_release() {
        let e = record(json!({"tags": [["k", "v"]], "message": "hi", "release": "app@1.0"}));
        let v = detail_json(&e, None);
        assert_eq!(v["release"]["shortVersion"], "1.0");
        assert_eq!(v["groupID"], "2");
        assert!(v["tags"]
            .as_array()
            .is_some_and(|t| t.contains(&json!({"key": "k", "value": "v"}))));
        assert_eq!(v["entries"][0]["type"], "message");
        assert_eq!(
            metadata("error", "A: b"),
            json!({"type": "A", "value": "b"})
        );
    }

    #[test]
    fn event_metadata_keeps_the_whole_value_and_no_synthetic_type() {
        let long = "ü".repeat(150);
        let thrown = json!({"exception": {"values": [{"type": "Error", "value": long}]}});
        assert_eq!(
            event_metadata("error", "Error: üüü…", &thrown),
            json!({"type": "Error", "value": long})
        );
        let synthetic = json!({"exception": {"values": [{"type": "Error",
            "value": "a string was thrown", "mechanism": {"synthetic": true}}]}});
        assert_eq!(
            event_metadata("error", "Object.?", &synthetic),
            json!({"value": "a string was thrown", "function": "Object.?"})
        );
        let huge = json!({"exception": {"values": [{"type": "E", "value": "x".repeat(5000)}]}});
        assert_eq!(
            event_metadata("error", "E: x", &huge)["value"]
                .as_str()
                .map(str::len),
            Some(1024)
        );
        assert_eq!(
            event_metadata("default", "hello", &json!({"message": "hello"})),
            json!({"title": "hello"})
        );
        let untyped = json!({"exception": {"values": [{"value": "no type"}]}});
        assert_eq!(
            event_metadata("error", "Error: no type", &untyped),
            json!({"type": "Error", "value": "no type"})
        );
        assert_eq!(
            event_metadata("error", "<unknown>", &synthetic),
            json!({"value": "a string was thrown"})
        );
    }
}
