//! The database schema and its versioned migrations.
//!
//! `PRAGMA user_version` records how many entries of [`MIGRATIONS`] have been
//! applied. Opening a database applies the missing ones, each in its own
//! transaction, so a database written by an older receiver is upgraded in
//! place and one written by a newer receiver is refused instead of damaged.
//!
//! Conventions: times are `REAL` seconds since the Unix epoch (UTC); event
//! and item ids are 32 lowercase hex digits; every `payload` column holds
//! zstd-compressed bytes (JSON for typed items, the raw item otherwise);
//! attachment `data` is stored as sent.

use rusqlite::Connection;

use super::StoreError;

/// Migrations in order; entry `i` upgrades from `user_version = i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    r#"
CREATE TABLE projects (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL,
    enabled         INTEGER NOT NULL DEFAULT 1,
    allowed_origins TEXT NOT NULL DEFAULT '*',
    created         REAL NOT NULL
);

CREATE TABLE keys (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects(id),
    public_key  TEXT NOT NULL UNIQUE,
    label       TEXT,
    enabled     INTEGER NOT NULL DEFAULT 1,
    created     REAL NOT NULL
);
CREATE INDEX keys_project ON keys(project_id);

CREATE TABLE releases (
    project_id  INTEGER NOT NULL,
    version     TEXT NOT NULL,
    first_seen  REAL NOT NULL,
    PRIMARY KEY (project_id, version)
) WITHOUT ROWID;

CREATE TABLE issues (
    id                   INTEGER PRIMARY KEY,
    project_id           INTEGER NOT NULL REFERENCES projects(id),
    title                TEXT NOT NULL,
    culprit              TEXT,
    level                TEXT NOT NULL,
    first_seen           REAL NOT NULL,
    last_seen            REAL NOT NULL,
    times_seen           INTEGER NOT NULL DEFAULT 0,
    user_count           INTEGER NOT NULL DEFAULT 0,
    status               TEXT NOT NULL DEFAULT 'unresolved'
        CHECK (status IN ('unresolved', 'resolved', 'resolved_in_release', 'ignored')),
    substatus            TEXT,
    resolved_release     TEXT,
    resolved_at          REAL,
    first_release        TEXT,
    last_release         TEXT,
    grouping_explanation TEXT
);
CREATE INDEX issues_list ON issues(project_id, status, last_seen DESC);

CREATE TABLE group_hashes (
    project_id  INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    issue_id    INTEGER NOT NULL REFERENCES issues(id),
    variant     TEXT NOT NULL,
    component   TEXT NOT NULL,
    inputs      TEXT NOT NULL,
    UNIQUE (project_id, hash)
);
CREATE INDEX group_hashes_issue ON group_hashes(issue_id);

CREATE TABLE issue_users (
    issue_id  INTEGER NOT NULL,
    user_key  TEXT NOT NULL,
    PRIMARY KEY (issue_id, user_key)
) WITHOUT ROWID;

CREATE TABLE issue_activity (
    id        INTEGER PRIMARY KEY,
    issue_id  INTEGER NOT NULL REFERENCES issues(id),
    kind      TEXT NOT NULL,
    data      TEXT,
    created   REAL NOT NULL
);
CREATE INDEX issue_activity_issue ON issue_activity(issue_id);

CREATE TABLE events (
    id           INTEGER PRIMARY KEY,
    project_id   INTEGER NOT NULL,
    event_id     TEXT NOT NULL,
    issue_id     INTEGER REFERENCES issues(id),
    kind         TEXT NOT NULL,
    timestamp    REAL NOT NULL,
    received     REAL NOT NULL,
    release      TEXT,
    environment  TEXT,
    level        TEXT NOT NULL,
    title        TEXT NOT NULL,
    platform     TEXT,
    trace_id     TEXT,
    user_key     TEXT,
    payload      BLOB NOT NULL,
    UNIQUE (project_id, event_id)
);
CREATE INDEX events_issue ON events(issue_id, timestamp DESC);
CREATE INDEX events_time ON events(project_id, timestamp DESC);

CREATE TABLE attachments (
    id               INTEGER PRIMARY KEY,
    project_id       INTEGER NOT NULL,
    event_id         TEXT,
    filename         TEXT NOT NULL,
    content_type     TEXT,
    attachment_type  TEXT,
    size             INTEGER NOT NULL,
    data             BLOB NOT NULL,
    received         REAL NOT NULL
);
CREATE INDEX attachments_event ON attachments(project_id, event_id);

CREATE TABLE transactions (
    id              INTEGER PRIMARY KEY,
    project_id      INTEGER NOT NULL,
    event_id        TEXT NOT NULL,
    trace_id        TEXT,
    span_id         TEXT,
    parent_span_id  TEXT,
    name            TEXT,
    op              TEXT,
    status          TEXT,
    start_ts        REAL NOT NULL,
    end_ts          REAL NOT NULL,
    release         TEXT,
    environment     TEXT,
    received        REAL NOT NULL,
    payload         BLOB NOT NULL,
    UNIQUE (project_id, event_id)
);
CREATE INDEX transactions_time ON transactions(project_id, start_ts DESC);
CREATE INDEX transactions_trace ON transactions(trace_id);

CREATE TABLE spans (
    id              INTEGER PRIMARY KEY,
    project_id      INTEGER NOT NULL,
    transaction_id  INTEGER REFERENCES transactions(id),
    trace_id        TEXT NOT NULL,
    span_id         TEXT NOT NULL,
    parent_span_id  TEXT,
    op              TEXT,
    description     TEXT,
    status          TEXT,
    start_ts        REAL NOT NULL,
    end_ts          REAL,
    is_segment      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX spans_trace ON spans(trace_id);
CREATE INDEX spans_transaction ON spans(transaction_id);

CREATE TABLE span_items (
    id            INTEGER PRIMARY KEY,
    project_id    INTEGER NOT NULL,
    content_type  TEXT,
    item_count    INTEGER,
    received      REAL NOT NULL,
    payload       BLOB NOT NULL
);

CREATE TABLE sessions (
    id                  INTEGER PRIMARY KEY,
    project_id          INTEGER NOT NULL,
    sid                 TEXT NOT NULL,
    did                 TEXT,
    seq                 INTEGER NOT NULL,
    init                INTEGER NOT NULL,
    status              TEXT NOT NULL,
    errors              INTEGER NOT NULL,
    started             REAL NOT NULL,
    timestamp           REAL NOT NULL,
    duration            REAL,
    release             TEXT NOT NULL,
    environment         TEXT,
    abnormal_mechanism  TEXT,
    received            REAL NOT NULL,
    UNIQUE (project_id, sid, seq)
);
CREATE INDEX sessions_release ON sessions(project_id, release, started);

CREATE TABLE session_aggregates (
    id           INTEGER PRIMARY KEY,
    project_id   INTEGER NOT NULL,
    started      REAL NOT NULL,
    did          TEXT,
    exited       INTEGER NOT NULL,
    errored      INTEGER NOT NULL,
    abnormal     INTEGER NOT NULL,
    crashed      INTEGER NOT NULL,
    unhandled    INTEGER NOT NULL,
    release      TEXT NOT NULL,
    environment  TEXT,
    received     REAL NOT NULL
);
CREATE INDEX session_aggregates_release ON session_aggregates(project_id, release, started);

CREATE TABLE client_reports (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL,
    timestamp   REAL NOT NULL,
    outcome     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    category    TEXT NOT NULL,
    quantity    INTEGER NOT NULL,
    received    REAL NOT NULL
);

CREATE TABLE feedback (
    id                   INTEGER PRIMARY KEY,
    project_id           INTEGER NOT NULL,
    kind                 TEXT NOT NULL CHECK (kind IN ('feedback', 'user_report')),
    event_id             TEXT NOT NULL,
    associated_event_id  TEXT,
    name                 TEXT,
    email                TEXT,
    message              TEXT NOT NULL,
    received             REAL NOT NULL,
    payload              BLOB NOT NULL,
    UNIQUE (project_id, kind, event_id)
);

CREATE TABLE logs (
    id            INTEGER PRIMARY KEY,
    project_id    INTEGER NOT NULL,
    item_count    INTEGER,
    content_type  TEXT,
    received      REAL NOT NULL,
    payload       BLOB NOT NULL
);

CREATE TABLE check_ins (
    id            INTEGER PRIMARY KEY,
    project_id    INTEGER NOT NULL,
    check_in_id   TEXT NOT NULL,
    monitor_slug  TEXT NOT NULL,
    status        TEXT NOT NULL,
    duration      REAL,
    release       TEXT,
    environment   TEXT,
    received      REAL NOT NULL,
    payload       BLOB NOT NULL
);
CREATE INDEX check_ins_monitor ON check_ins(project_id, monitor_slug, received);

CREATE TABLE raw_items (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL,
    item_type   TEXT NOT NULL,
    event_id    TEXT,
    headers     TEXT NOT NULL,
    error       TEXT,
    received    REAL NOT NULL,
    payload     BLOB NOT NULL
);
CREATE INDEX raw_items_type ON raw_items(project_id, item_type);

CREATE TABLE item_counts (
    project_id  INTEGER NOT NULL,
    item_type   TEXT NOT NULL,
    count       INTEGER NOT NULL,
    PRIMARY KEY (project_id, item_type)
) WITHOUT ROWID;
"#,
    // 2: the JSON API — tokens, issue workflow fields, releases and deploys,
    // per-issue environment/release facets (kept by a trigger on `events`, so
    // ingestion needs no change), and the indices the API's filters use.
    r#"
CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    scope       TEXT NOT NULL CHECK (scope IN ('read', 'admin')),
    label       TEXT,
    created     REAL NOT NULL
);

ALTER TABLE issues ADD COLUMN assigned_to TEXT;
ALTER TABLE issues ADD COLUMN resolved_in_next INTEGER NOT NULL DEFAULT 0;
ALTER TABLE issues ADD COLUMN kind TEXT;

ALTER TABLE releases ADD COLUMN date_released REAL;
ALTER TABLE releases ADD COLUMN ref TEXT;
ALTER TABLE releases ADD COLUMN url TEXT;

CREATE TABLE deploys (
    id             INTEGER PRIMARY KEY,
    version        TEXT NOT NULL,
    environment    TEXT NOT NULL,
    name           TEXT,
    url            TEXT,
    date_started   REAL,
    date_finished  REAL NOT NULL,
    projects       TEXT NOT NULL
);
CREATE INDEX deploys_version ON deploys(version, date_finished);

CREATE TABLE issue_facets (
    issue_id  INTEGER NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('environment', 'release')),
    value     TEXT NOT NULL,
    PRIMARY KEY (kind, value, issue_id)
) WITHOUT ROWID;

INSERT OR IGNORE INTO issue_facets (issue_id, kind, value)
    SELECT DISTINCT issue_id, 'environment', environment FROM events
    WHERE issue_id IS NOT NULL AND environment IS NOT NULL;
INSERT OR IGNORE INTO issue_facets (issue_id, kind, value)
    SELECT DISTINCT issue_id, 'release', release FROM events
    WHERE issue_id IS NOT NULL AND release IS NOT NULL;
UPDATE issues SET kind = (
    SELECT e.kind FROM events e WHERE e.issue_id = issues.id ORDER BY e.id DESC LIMIT 1
);

CREATE TRIGGER events_issue_facets AFTER INSERT ON events
WHEN NEW.issue_id IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO issue_facets (issue_id, kind, value)
        SELECT NEW.issue_id, 'environment', NEW.environment WHERE NEW.environment IS NOT NULL;
    INSERT OR IGNORE INTO issue_facets (issue_id, kind, value)
        SELECT NEW.issue_id, 'release', NEW.release WHERE NEW.release IS NOT NULL;
    UPDATE issues SET kind = NEW.kind WHERE id = NEW.issue_id AND kind IS NOT NEW.kind;
END;

CREATE INDEX events_trace ON events(trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX client_reports_time ON client_reports(project_id, timestamp);
CREATE INDEX transactions_name ON transactions(project_id, name);
CREATE INDEX releases_version ON releases(version);
"#,
    // 3: the grouping explanation (~20 KB of JSON for a 20-frame trace)
    // moves out of `issues` into a table of its own. It is written once,
    // when the issue is created, and read only by the issue detail, but as
    // a column it made every `UPDATE issues` of ingestion rewrite the row's
    // overflow pages (WAL frames, checksums, copying). The old column stays
    // (always NULL from now on) so that databases and tools that still name
    // it keep working; readers prefer the new table.
    r#"
CREATE TABLE issue_grouping (
    issue_id     INTEGER PRIMARY KEY REFERENCES issues(id) ON DELETE CASCADE,
    explanation  TEXT NOT NULL
);
INSERT INTO issue_grouping (issue_id, explanation)
    SELECT id, grouping_explanation FROM issues WHERE grouping_explanation IS NOT NULL;
UPDATE issues SET grouping_explanation = NULL WHERE grouping_explanation IS NOT NULL;
"#,
    // 4: no table changes. From here on an event's or transaction's
    // `payload` may be stored as received (`ingest::as_received`: a header
    // and the item's own bytes, normalised on read), which a receiver of
    // version 3 cannot read: it would show such events as empty. Raising the
    // version makes it refuse the database instead.
    r#"
CREATE TABLE IF NOT EXISTS payload_formats (
    name         TEXT PRIMARY KEY,
    description  TEXT NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO payload_formats (name, description) VALUES
    ('zstd', 'zstd-compressed JSON (or raw item bytes)'),
    ('as_received', 'SAR1 magic, u32 LE header length, JSON header, zstd item as sent');
"#,
    // 5: zstd dictionaries trained on the database's own events
    // (`store::dictionary`). A payload stored as received may name one in
    // its header (`dict`, the first 64 bits of the MD5 of `dict`); a
    // receiver of version 4 would read such payloads as damaged, so the
    // version goes up.
    r#"
CREATE TABLE compression_dicts (
    id       INTEGER PRIMARY KEY,
    digest   TEXT NOT NULL UNIQUE,
    created  REAL NOT NULL,
    samples  INTEGER NOT NULL,
    dict     BLOB NOT NULL
);
INSERT OR IGNORE INTO payload_formats (name, description) VALUES
    ('as_received_dict', 'as_received whose header names a compression_dicts digest (16 hex digits) in dict');
"#,
    // 6: the writer keeps `issue_facets` and `issues.kind` itself
    // (`store::apply`), skipping facets it knows are stored
    // (`store::known_rows`): the trigger probed both facets and the issue
    // for every event, ~3 µs of the writer's ~26. A receiver of version 5
    // would insert events without facets into a database without the
    // trigger, so the version goes up.
    r#"
DROP TRIGGER IF EXISTS events_issue_facets;
"#,
    // 7: rate-limit quotas (PROTOCOL.md §4.2, §11), per project or per key
    // (`store::quotas`); the counting is in memory (`ingest::rate_limits`),
    // by quota id: ids are never reused (AUTOINCREMENT), so a quota added
    // after another was removed does not inherit its count.
    r#"
CREATE TABLE quotas (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id   INTEGER NOT NULL REFERENCES projects(id),
    public_key   TEXT,
    categories   TEXT NOT NULL,
    max_items    INTEGER NOT NULL CHECK (max_items >= 0),
    window_secs  INTEGER NOT NULL CHECK (window_secs > 0),
    reason       TEXT NOT NULL,
    created      REAL NOT NULL
);
CREATE INDEX quotas_project ON quotas(project_id);
"#,
    // 8: no index on a random key for the trace view's errors. Every event
    // with a trace dirtied a page of `events_trace` somewhere in the index,
    // in nearly every commit: about a third of the WAL written under load,
    // and without it the writer needs 10-20 % and the checkpointer 25-30 %
    // less CPU per event. `events_time`, which grows at one end, carries
    // `trace_id` instead, and the trace view scans it (~50 bytes per
    // event, never the table). A receiver of version 7 would look a trace's
    // errors up by scanning the table, so the version goes up.
    r#"
DROP INDEX IF EXISTS events_trace;
DROP INDEX IF EXISTS events_time;
CREATE INDEX events_time ON events(project_id, timestamp DESC, trace_id);
"#,
    // 9: the largest issue and event ids when rows were deleted, so that
    // deleting the newest issue does not let the next one take its id
    // (`store::id_floors`).
    r#"
CREATE TABLE id_floors (
    name   TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
) WITHOUT ROWID;
"#,
    // 10: releases named only by sessions get their `releases` row, as
    // those named by events do, so the releases list reads that table
    // instead of grouping every session row (4.8 s at 400 000 sessions).
    r#"
INSERT OR IGNORE INTO releases (project_id, version, first_seen)
    SELECT project_id, release, MIN(received) FROM sessions GROUP BY project_id, release;
INSERT OR IGNORE INTO releases (project_id, version, first_seen)
    SELECT project_id, release, MIN(received) FROM session_aggregates
    GROUP BY project_id, release;
"#,
    // 11: spans that arrive on their own (`span` items: v2 containers,
    // legacy single spans) get rows in `spans` without a transaction, so
    // the trace view shows them (`ingest::streamed_spans`). A retried
    // envelope must not show a span twice: such rows are unique by trace
    // and span id. (Spans stored whole in `span_items` before this version
    // get no rows.) A receiver of version 10 would store such spans without
    // rows, so the version goes up.
    r#"
DELETE FROM spans WHERE transaction_id IS NULL AND id NOT IN (
    SELECT MIN(id) FROM spans WHERE transaction_id IS NULL
    GROUP BY project_id, trace_id, span_id);
CREATE UNIQUE INDEX spans_streamed ON spans(project_id, trace_id, span_id)
    WHERE transaction_id IS NULL;
"#,
    // 12: user feedback is read through the API (`api::feedback`): a
    // project's newest first, and an issue's by scanning its project's
    // feedback in that order and looking each event up. Feedback ids name
    // events in the stored form (32 lowercase hex) so that they join; rows
    // stored before in another UUID form (hyphens, braces, `urn:uuid:`,
    // upper case, spaces) are brought to it, and what is no UUID (or the
    // nil one) names no event, as ingestion now stores them.
    r#"
UPDATE feedback SET associated_event_id = replace(replace(replace(replace(
        lower(trim(associated_event_id)), 'urn:uuid:', ''), '{', ''), '}', ''), '-', '')
    WHERE associated_event_id IS NOT NULL;
UPDATE feedback SET associated_event_id = NULL
    WHERE length(associated_event_id) != 32
       OR associated_event_id GLOB '*[^0-9a-f]*'
       OR associated_event_id = '00000000000000000000000000000000';
CREATE INDEX feedback_time ON feedback(project_id, received, id);
"#,
    // 13: spans are listed newest first (`api::spans`), and a span that
    // came both in a transaction and on its own is found by trace and span
    // id (the list shows it once); the trace index gains the span id.
    r#"
CREATE INDEX spans_time ON spans(start_ts);
DROP INDEX spans_trace;
CREATE INDEX spans_trace ON spans(trace_id, span_id);
"#,
    // 14: each release in the release list counts the issues it introduced
    // (`first_release`): without an index that read every issue of the
    // project per release shown (1.9 s a page at 100 000 issues).
    r#"
CREATE INDEX issues_first_release ON issues(project_id, first_release);
"#,
    // 15: check-ins are listed newest first (`api::monitors`): without an
    // index in that order every page sorted all of them.
    r#"
CREATE INDEX check_ins_time ON check_ins(received);
"#,
    // 16: a check-in id names one run of a monitor, as in Sentry: its
    // `in_progress` and its final update are one row (`store::check_ins`),
    // `received` its first arrival and `updated` its latest update. Rows
    // stored before, one per update, are merged as they would have been on
    // arrival: the first final status (with its duration, or the time since
    // the run's first row) wins, else the latest `in_progress` is the last
    // update; runs stored under the nil id (which now means "the latest run
    // in progress") get ids of their own, so that none is lost. A
    // temporary index on the run key keeps this linear (without it, a
    // monitor of 20 000 runs took 41 s, found by a review).
    r#"
ALTER TABLE check_ins ADD COLUMN updated REAL NOT NULL DEFAULT 0;
UPDATE check_ins SET updated = received;
UPDATE check_ins SET check_in_id = lower(hex(randomblob(16)))
    WHERE check_in_id = '00000000000000000000000000000000';
CREATE INDEX check_ins_m16 ON check_ins(project_id, monitor_slug, check_in_id);
CREATE TEMP TABLE check_in_runs AS
    SELECT MIN(k.id) AS keep,
        (SELECT w.id FROM check_ins w
         WHERE w.project_id = k.project_id AND w.monitor_slug = k.monitor_slug
             AND w.check_in_id = k.check_in_id
         ORDER BY w.status = 'in_progress',
             CASE WHEN w.status = 'in_progress' THEN -w.id ELSE w.id END
         LIMIT 1) AS last
    FROM check_ins k
    GROUP BY k.project_id, k.monitor_slug, k.check_in_id
    HAVING COUNT(*) > 1;
UPDATE check_ins SET
    status = w.status,
    duration = CASE WHEN w.status = 'in_progress' OR w.id = check_ins.id
        THEN check_ins.duration
        ELSE COALESCE(w.duration, abs(w.received - check_ins.received)) END,
    release = COALESCE(check_ins.release, w.release),
    environment = COALESCE(check_ins.environment, w.environment),
    updated = w.received,
    payload = CASE WHEN w.status = 'in_progress' THEN check_ins.payload ELSE w.payload END
FROM check_in_runs r JOIN check_ins w ON w.id = r.last
WHERE check_ins.id = r.keep;
DELETE FROM check_ins WHERE id NOT IN (
    SELECT MIN(id) FROM check_ins GROUP BY project_id, monitor_slug, check_in_id);
DROP TABLE check_in_runs;
DROP INDEX check_ins_m16;
CREATE UNIQUE INDEX check_ins_run ON check_ins(project_id, monitor_slug, check_in_id);
"#,
    // 17: the `monitor_config` of check-ins (`ingest::monitor_config`), one
    // row per project and monitor slug (`store::monitors`): the latest
    // config whose schedule could be read (`schedule_type` NULL: none yet),
    // when it arrived, and what was wrong with the latest config sent (a
    // JSON array of strings; NULL when nothing was).
    r#"
CREATE TABLE monitors (
    project_id              INTEGER NOT NULL,
    monitor_slug            TEXT NOT NULL,
    schedule_type           TEXT CHECK (schedule_type IN ('crontab', 'interval')),
    crontab                 TEXT,
    interval_value          INTEGER,
    interval_unit           TEXT,
    checkin_margin          INTEGER,
    max_runtime             INTEGER,
    timezone                TEXT,
    failure_issue_threshold INTEGER,
    recovery_threshold      INTEGER,
    owner                   TEXT,
    config_received         REAL,
    config_problems         TEXT,
    PRIMARY KEY (project_id, monitor_slug)
) WITHOUT ROWID;
"#,
    // 18: the transactions list of all projects (the web page's
    // Transactions view) is newest first: with only `transactions_time`
    // (per project) it sorted every transaction on each page (44 ms at
    // 50 000, growing). The index grows at its end, like `spans_time`.
    r#"
CREATE INDEX transactions_start ON transactions(start_ts);
"#,
    // 19: segments (a transaction's root span, or a streamed span marked
    // `is_segment`) are what `receiver wait --segments` counts: an SDK
    // that streams its spans (`@sentry/node` 11 by default) sends no
    // transactions. Segment rows keep the release and environment to
    // filter by (a transaction's root takes them from the transaction,
    // here too for rows stored before; streamed segments stored before
    // have none), and a partial index lists segments by start.
    r#"
ALTER TABLE spans ADD COLUMN release TEXT;
ALTER TABLE spans ADD COLUMN environment TEXT;
UPDATE spans SET (release, environment) = (
        SELECT t.release, t.environment FROM transactions t WHERE t.id = spans.transaction_id)
    WHERE is_segment = 1 AND transaction_id IS NOT NULL;
CREATE INDEX spans_segments ON spans(start_ts) WHERE is_segment = 1;
"#,
    // 20: `trace_metric` containers (the metrics SDKs send with
    // `sentry_sdk.metrics` / `Sentry.metrics`) are kept whole like `log`
    // containers and listed by `/api/0/local/metrics/` (`api::metrics`);
    // those stored before as raw items move here (their count is the
    // header's, as sent). A receiver of version 19 would keep them raw, so
    // the version goes up.
    r#"
CREATE TABLE trace_metrics (
    id            INTEGER PRIMARY KEY,
    project_id    INTEGER NOT NULL,
    item_count    INTEGER,
    content_type  TEXT,
    received      REAL NOT NULL,
    payload       BLOB NOT NULL
);
INSERT INTO trace_metrics (project_id, item_count, content_type, received, payload)
    SELECT project_id,
        CASE WHEN json_valid(headers) THEN json_extract(headers, '$.item_count') END,
        CASE WHEN json_valid(headers) THEN json_extract(headers, '$.content_type') END,
        received, payload
    FROM raw_items WHERE item_type = 'trace_metric' AND error IS NULL ORDER BY id;
DELETE FROM raw_items WHERE item_type = 'trace_metric' AND error IS NULL;
"#,
    // 21: a check-in id names one run in every project and monitor, as in
    // Sentry, which looks a check-in up by its id alone: an update that
    // names a run of another monitor or project is refused
    // (`store::check_ins`), found through this index.
    r#"
CREATE INDEX check_ins_id ON check_ins(check_in_id);
"#,
    // 22: a run merged by migration 16 whose final update arrived after the
    // run's deadline is `timeout`, as ingestion stores it now (and Sentry
    // keeps it): migration 16 kept the final status. Which runs those are
    // depends on heartbeats and configs that migration 16 drops, so the
    // runner notes them in its transaction, just before it runs
    // (`store::late_runs`, `check_in_late_runs`). A database that passed
    // migration 16 before this version has no such notes: there only the
    // runs that finished over 28 days after they started (a deadline no
    // heartbeat or config moves) are marked.
    r#"
CREATE TABLE IF NOT EXISTS check_in_late_runs (id INTEGER PRIMARY KEY);
UPDATE check_ins SET status = 'timeout'
    WHERE status NOT IN ('in_progress', 'timeout')
        AND (id IN (SELECT id FROM check_in_late_runs)
            OR updated >= received + 40320 * 60.0);
DROP TABLE check_in_late_runs;
"#,
    // 23: monitor slugs as Sentry files check-ins under them
    // (`ingest::monitor_slug`): the runs and configs stored under the slugs
    // check-ins sent are moved, in Rust, just before this entry runs
    // (`store::monitor_slugs`, `SLUG_MONITORS`).
    r#"
SELECT 1;
"#,
    // 24: missed runs are worked out per monitor environment, as Sentry
    // expects a schedule's runs in each (`api::missed_runs`): a monitor's
    // runs in one environment, in time order, and its environments
    // (no environment is `production`'s, the expression the readers use).
    r#"
CREATE INDEX check_ins_environment
    ON check_ins(project_id, monitor_slug, COALESCE(environment, 'production'), received);
"#,
    // 25: what a container's entries hold (`store::container_entries`):
    // the earliest and latest entry timestamp and a Bloom filter of the
    // entries' trace ids (a BLOB, empty for none), so that the logs and
    // metrics lists pass over rows none of whose entries a time range or
    // trace filter keeps without decompressing them. Rows stored before
    // have none (`entry_traces` NULL) and are read as before.
    r#"
ALTER TABLE logs ADD COLUMN entries_from REAL;
ALTER TABLE logs ADD COLUMN entries_to REAL;
ALTER TABLE logs ADD COLUMN entry_traces BLOB;
ALTER TABLE trace_metrics ADD COLUMN entries_from REAL;
ALTER TABLE trace_metrics ADD COLUMN entries_to REAL;
ALTER TABLE trace_metrics ADD COLUMN entry_traces BLOB;
"#,
    // 26: the summaries move to tables of their own, keyed by the row's
    // id: a column added by `ALTER TABLE` sits after `payload`, and SQLite
    // reads every overflow page of the payload to reach it, so passing over
    // a row cost a read of its payload after all (found by a review). The
    // columns of migration 25 stay, unused (what one session's builds
    // stored there is not copied: that would read every payload once; those
    // rows are read as rows without a summary are).
    r#"
CREATE TABLE log_summaries (
    id            INTEGER PRIMARY KEY,
    entries_from  REAL,
    entries_to    REAL,
    entry_traces  BLOB NOT NULL
);
CREATE TABLE trace_metric_summaries (
    id            INTEGER PRIMARY KEY,
    entries_from  REAL,
    entries_to    REAL,
    entry_traces  BLOB NOT NULL
);
"#,
    // 27: which way a summary was made (`container_entries::SUMMARY_FORMAT`):
    // readers use only summaries of the format they know, and read other
    // rows whole, so that a later change to the filter's hashing or to
    // what counts as an entry's time cannot make a list miss entries. The
    // summaries stored so far are format 1.
    r#"
ALTER TABLE log_summaries ADD COLUMN format INTEGER NOT NULL DEFAULT 1;
ALTER TABLE trace_metric_summaries ADD COLUMN format INTEGER NOT NULL DEFAULT 1;
"#,
    // 28: no table changes. From here on `issue_grouping.explanation` is
    // the JSON zstd-compressed, a BLOB (`store::compress_explanation`; 18 KB
    // of JSON for a 20-frame trace becomes ~1 KB, and explanations were
    // four fifths of a database whose events made many issues). Rows
    // stored before stay text, and readers take both
    // (`queries::explanation_text`); a receiver of version 27 would fail
    // to show an issue with a compressed one, so the version goes up and
    // it refuses the database instead.
    r#"
SELECT 1;
"#,
    // 29: no table changes. From here on `group_hashes.inputs` is the JSON
    // list zstd-compressed, a BLOB (`store::compress_inputs`): ~1 KB per
    // hash of a 20-frame trace, two hashes per issue, became ~0.3 KB. Rows
    // stored before stay text, and readers take both
    // (`queries::hash_inputs`); a receiver of version 28 would fail to show
    // such an issue's hashes, so the version goes up.
    r#"
SELECT 1;
"#,
    // 30: where `receiver serve` last listened (`store::serving`), so that
    // the management commands print DSNs with the port the receiver uses.
    r#"
CREATE TABLE serving (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    host     TEXT NOT NULL,
    prefix   TEXT NOT NULL,
    started  REAL NOT NULL
);
"#,
    // 31: the clock-drift correction of a `log` or `trace_metric` item's
    // entry times (`container_entries::corrected_timestamp`; NULL: none),
    // as Relay corrects them. The payload stays as sent.
    r#"
ALTER TABLE logs ADD COLUMN clock_shift REAL;
ALTER TABLE trace_metrics ADD COLUMN clock_shift REAL;
"#,
    // 32: short ids count each project's issues (`WEB-1` is the first issue
    // of `web`, as in Sentry), from `projects.issue_counter`; they counted
    // the global issue id. Issues stored before keep their short id (their
    // id), and a project that has issues counts on from the largest issue
    // id ever given, so that no short id names two issues.
    r#"
ALTER TABLE projects ADD COLUMN issue_counter INTEGER NOT NULL DEFAULT 0;
ALTER TABLE issues ADD COLUMN short_seq INTEGER;
UPDATE issues SET short_seq = id;
UPDATE projects SET issue_counter = max(
        (SELECT COALESCE(MAX(id), 0) FROM issues),
        (SELECT COALESCE(MAX(value), 0) FROM id_floors WHERE name = 'issues'))
    WHERE EXISTS (SELECT 1 FROM issues WHERE project_id = projects.id);
CREATE UNIQUE INDEX issues_short_seq ON issues(project_id, short_seq);
"#,
    // 33: releases named only by transactions get their `releases` row
    // (the writer adds one for each from now on), as Sentry creates a
    // release from a transaction too.
    r#"
INSERT OR IGNORE INTO releases (project_id, version, first_seen)
    SELECT project_id, release, MIN(received) FROM transactions
    WHERE release IS NOT NULL GROUP BY project_id, release;
"#,
    // 34: and so do releases named only by streamed segments (`span`
    // items of SDKs that send no transactions, as @sentry/node 11 by
    // default). Spans keep no receive time: the segment's start stands in.
    r#"
INSERT OR IGNORE INTO releases (project_id, version, first_seen)
    SELECT project_id, release, MIN(start_ts) FROM spans
    WHERE is_segment = 1 AND transaction_id IS NULL AND release IS NOT NULL
    GROUP BY project_id, release;
"#,
    // 35: segments' releases were stored as sent, so migration 34 could
    // make releases no event could have (` app@1`, `latest`, `a/b`, which
    // the releases API cannot even address). As ingestion now does, a
    // release is trimmed (its trimmed form is added) and an invalid one is
    // removed (`ingest::normalize::valid_release`, with ASCII white space).
    r#"
INSERT OR IGNORE INTO releases (project_id, version, first_seen)
    SELECT project_id, trim(version, char(32, 9, 10, 11, 12, 13)), first_seen FROM releases
    WHERE version <> trim(version, char(32, 9, 10, 11, 12, 13));
DELETE FROM releases
    WHERE version <> trim(version, char(32, 9, 10, 11, 12, 13))
       OR version = '' OR length(version) > 200
       OR version IN ('.', '..', 'latest')
       OR instr(version, '/') > 0 OR instr(version, char(13)) > 0
       OR instr(version, char(10)) > 0 OR instr(version, char(9)) > 0
       OR instr(version, char(12)) > 0;
"#,
    // 36: cron monitor incidents (`store::monitor_incidents`): at most one
    // open per monitor environment; `issue_id` is the issue its
    // occurrences joined.
    r#"
CREATE TABLE monitor_incidents (
    id           INTEGER PRIMARY KEY,
    project_id   INTEGER NOT NULL,
    monitor_slug TEXT NOT NULL,
    environment  TEXT NOT NULL,
    started      REAL NOT NULL,
    resolved     REAL,
    issue_id     INTEGER
);
CREATE UNIQUE INDEX monitor_incidents_open
    ON monitor_incidents(project_id, monitor_slug, environment) WHERE resolved IS NULL;
CREATE INDEX monitor_incidents_monitor
    ON monitor_incidents(project_id, monitor_slug, environment, started);
"#,
    // 37: the monitor clock (`store::monitor_incidents::clock`) counts a
    // run that stays in progress past its deadline as a failure once
    // (`timeout_noted`), and finds such runs among the few in progress.
    // Incident ids are never handed out twice (they tag occurrences as
    // `monitor.incident`, and deleting a monitor deletes its incidents).
    r#"
ALTER TABLE check_ins ADD COLUMN timeout_noted INTEGER NOT NULL DEFAULT 0;
CREATE INDEX check_ins_in_progress ON check_ins(received) WHERE status = 'in_progress';
CREATE TABLE monitor_incidents_37 (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id   INTEGER NOT NULL,
    monitor_slug TEXT NOT NULL,
    environment  TEXT NOT NULL,
    started      REAL NOT NULL,
    resolved     REAL,
    issue_id     INTEGER
);
INSERT INTO monitor_incidents_37 SELECT * FROM monitor_incidents;
DROP TABLE monitor_incidents;
ALTER TABLE monitor_incidents_37 RENAME TO monitor_incidents;
CREATE UNIQUE INDEX monitor_incidents_open
    ON monitor_incidents(project_id, monitor_slug, environment) WHERE resolved IS NULL;
CREATE INDEX monitor_incidents_monitor
    ON monitor_incidents(project_id, monitor_slug, environment, started);
"#,
    // 38: muted monitors (`api::monitor_mute`): their failures open no
    // issue.
    r#"
ALTER TABLE monitors ADD COLUMN muted INTEGER NOT NULL DEFAULT 0;
"#,
    // 39: an issue's `metadata` where its title does not give it (its
    // latest event's; `grouping::metadata::issue_metadata`). Issues stored
    // before keep deriving it from the title.
    r#"
ALTER TABLE issues ADD COLUMN metadata TEXT;
"#,
    // 40: the missed runs of each monitor environment counted as failures
    // (up to a due time), so that none is counted twice: by two ticks, by
    // two processes on one file, or by a tick after an incident opened on
    // it (`store::monitor_incidents`).
    r#"
CREATE TABLE monitor_missed_marks (
    project_id      INTEGER NOT NULL,
    monitor_slug    TEXT NOT NULL,
    environment     TEXT NOT NULL,
    counted_through REAL NOT NULL,
    PRIMARY KEY (project_id, monitor_slug, environment)
);
"#,
    // 41: how many times retention deleted some of an issue's events
    // (`store::retention`), which changes what its tag breakdown counts
    // without changing its count or times (`api::tag_cache`).
    r#"
ALTER TABLE issues ADD COLUMN events_pruned INTEGER NOT NULL DEFAULT 0;
"#,
    // 42: a failing cron monitor's issue groups on hashes of its own
    // (`store::occurrence_hash`), apart from client events that send the
    // same fingerprint; the hashes stored for monitor issues before are
    // rewritten, in Rust, just before this entry runs
    // (`store::monitor_incidents`, `NAMESPACE_MONITOR_HASHES`).
    r#"
SELECT 1;
"#,
    // 43: spans that came on their own (no transaction) by start time, for
    // retention (`store::retention`): the index of all spans by start
    // time made each step read every old span of transactions not yet
    // deleted to find the streamed ones.
    r#"
CREATE INDEX spans_streamed_time ON spans(start_ts) WHERE transaction_id IS NULL;
"#,
    // 44: a project's fingerprint rules (`grouping::fingerprint_rules`), as
    // the text the user wrote; NULL: none.
    r#"
ALTER TABLE projects ADD COLUMN fingerprinting_rules TEXT;
"#,
    // 45: issues merged into another (`store::issue_merge`): their ids and
    // short ids keep leading to the issue that took them in, as Sentry's
    // group redirects do.
    r#"
CREATE TABLE issue_redirects (
    id         INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL,
    short_seq  INTEGER,
    parent_id  INTEGER NOT NULL
);
CREATE INDEX issue_redirects_short ON issue_redirects(project_id, short_seq);
CREATE INDEX issue_redirects_parent ON issue_redirects(parent_id);
"#,
    // 46: the segment (the transaction, in SDKs that stream spans) a span
    // that came on its own belongs to, from its `sentry.segment.name`
    // attribute (a segment's own name for a segment), so that span lists
    // name it and `transaction=` finds its spans. Spans of transactions
    // have it through their transaction and leave it NULL.
    r#"
ALTER TABLE spans ADD COLUMN segment_name TEXT;
CREATE INDEX spans_segment_name ON spans(segment_name) WHERE segment_name IS NOT NULL;
"#,
    // 47: the `span_items` row a span that came on its own was read from,
    // so that the span can be shown whole (its attributes) as a
    // transaction's span is from its transaction.
    r#"
ALTER TABLE spans ADD COLUMN item_id INTEGER;
"#,
    // 48: profiles (`api::profiles`): kept items listed by type newest
    // first, and a transaction's profile found by its event id.
    r#"
CREATE INDEX raw_items_type_id ON raw_items(item_type, id);
CREATE INDEX raw_items_profile_event ON raw_items(event_id) WHERE item_type = 'profile';
"#,
    // 49: what the profiles list shows of a profile, read when it arrives
    // (`ingest::profile_head`, JSON): the list no longer parses whole
    // profiles to name them. Profiles stored before have none and are
    // still read whole.
    r#"
ALTER TABLE raw_items ADD COLUMN summary TEXT;
"#,
    // 50: continuous profilers' chunks (`profile_chunk`, kept in
    // `raw_items`): their session and time span, by which a transaction
    // finds the chunks that sampled it (`api::profilers`); a chunk id is
    // stored once per project. Chunks kept before are read when this
    // migration runs (`store::profile_chunks`).
    r#"
CREATE TABLE profile_chunks (
    item_id     INTEGER PRIMARY KEY REFERENCES raw_items(id) ON DELETE CASCADE,
    project_id  INTEGER NOT NULL,
    profiler_id TEXT NOT NULL,
    chunk_id    TEXT NOT NULL,
    start_ts    REAL NOT NULL,
    end_ts      REAL NOT NULL,
    UNIQUE (project_id, chunk_id)
);
CREATE INDEX profile_chunks_profiler ON profile_chunks(profiler_id, start_ts);
"#,
    // 51: what the profilers list shows of a chunk, kept beside its place
    // (reading `raw_items.summary`, stored after the payload, walked each
    // chunk's payload pages: a second a page for a long session), and an
    // index that lists sessions without sorting every chunk. Migration 50
    // noted chunks' heads in `raw_items.summary`; they are copied, then
    // the chunks kept before 50 are read (`store::profile_chunks`).
    r#"
ALTER TABLE profile_chunks ADD COLUMN samples INTEGER NOT NULL DEFAULT 0;
ALTER TABLE profile_chunks ADD COLUMN platform TEXT;
ALTER TABLE profile_chunks ADD COLUMN release TEXT;
ALTER TABLE profile_chunks ADD COLUMN environment TEXT;
UPDATE profile_chunks SET
    samples = COALESCE((SELECT json_extract(summary, '$.samples') FROM raw_items
                        WHERE raw_items.id = item_id AND json_valid(summary)), 0),
    platform = (SELECT json_extract(summary, '$.platform') FROM raw_items
                WHERE raw_items.id = item_id AND json_valid(summary)),
    release = (SELECT json_extract(summary, '$.release') FROM raw_items
               WHERE raw_items.id = item_id AND json_valid(summary)),
    environment = (SELECT json_extract(summary, '$.environment') FROM raw_items
                   WHERE raw_items.id = item_id AND json_valid(summary));
CREATE INDEX profile_chunks_session ON profile_chunks(project_id, profiler_id, end_ts);
"#,
];

/// Where migration 16 (which merges check-in runs) is in [`MIGRATIONS`]:
/// `store::late_runs` notes what migration 22 needs just before it.
const MERGE_CHECK_IN_RUNS: usize = 15;

/// Where migration 23 (monitor slugs as Sentry makes them) is in
/// [`MIGRATIONS`]: its work is `store::monitor_slugs`.
const SLUG_MONITORS: usize = 22;

/// Where migration 42 (monitor issues' own grouping hashes) is in
/// [`MIGRATIONS`].
const NAMESPACE_MONITOR_HASHES: usize = 41;

/// Where migration 51 (what the profilers list shows of a chunk) is in
/// [`MIGRATIONS`]: chunks kept before migration 50 are read after it runs.
const PROFILE_CHUNKS: usize = 50;

/// The schema version this build writes.
pub fn current_version() -> u32 {
    MIGRATIONS.len() as u32
}

/// Sets the connection pragmas every connection uses.
pub fn configure(conn: &Connection, fsync_every_commit: bool) -> Result<(), StoreError> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(
        None,
        "synchronous",
        if fsync_every_commit { "FULL" } else { "NORMAL" },
    )?;
    Ok(())
}

/// Switches to WAL and applies missing migrations.
pub fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Setup(format!(
            "could not switch the database to WAL mode (journal_mode is {mode}); is it on a \
             network file system?"
        )));
    }
    let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > current_version() {
        return Err(StoreError::Setup(format!(
            "the database has schema version {version}, newer than this receiver's {}; \
             upgrade the receiver",
            current_version()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        if i == MERGE_CHECK_IN_RUNS {
            super::late_runs::note(&tx)?;
        }
        if i == SLUG_MONITORS {
            super::monitor_slugs::rewrite(&tx)?;
        }
        if i == NAMESPACE_MONITOR_HASHES {
            super::monitor_incidents::namespace_stored_hashes(&tx)?;
        }
        tx.execute_batch(sql)?;
        if i == PROFILE_CHUNKS {
            super::profile_chunks::backfill(&tx)?;
        }
        tx.pragma_update(None, "user_version", i as u32 + 1)?;
        tx.commit()?;
    }
    Ok(current_version())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// A database file whose schema is at `version` (the first `version`
    /// migrations applied), as an older receiver left it.
    /// The two columns of every row `sql` selects.
    fn pairs<A: rusqlite::types::FromSql, B: rusqlite::types::FromSql>(
        conn: &Connection,
        sql: &str,
    ) -> Vec<(A, B)> {
        conn.prepare(sql)
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    /// Every release row's version and first-seen time, by version.
    fn releases(conn: &Connection) -> Vec<(String, f64)> {
        pairs(
            conn,
            "SELECT version, first_seen FROM releases ORDER BY version",
        )
    }

    fn database_at(version: usize) -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = Connection::open(dir.path().join("db.sqlite")).expect("open");
        for sql in &MIGRATIONS[..version] {
            conn.execute_batch(sql).expect("old migration");
        }
        conn.pragma_update(None, "user_version", version as u32)
            .expect("version");
        (dir, conn)
    }

    #[test]
    fn migrations_apply_once_and_are_idempotent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        let mut conn = Connection::open(&path).expect("open");
        assert_eq!(migrate(&mut conn).expect("migrate"), current_version());
        assert_eq!(migrate(&mut conn).expect("again"), current_version());
        let v: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(v, current_version());
        // Migrations 4 and 5 name the payload formats a reader must
        // understand.
        let formats: i64 = conn
            .query_row("SELECT COUNT(*) FROM payload_formats", [], |r| r.get(0))
            .expect("formats");
        assert_eq!(formats, 3);
    }

    #[test]
    fn the_transactions_of_all_projects_are_listed_from_an_index() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = Connection::open(dir.path().join("db.sqlite")).expect("open");
        migrate(&mut conn).expect("migrate");
        // The shape `api::local::transactions` builds without filters, on a
        // first page and on a later one.
        for filter in ["1", "(t.start_ts < 5 OR (t.start_ts = 5 AND t.id < 9))"] {
            let plan: Vec<String> = conn
                .prepare(&format!(
                    "EXPLAIN QUERY PLAN SELECT t.id FROM transactions t WHERE {filter}
                     ORDER BY t.start_ts DESC, t.id DESC LIMIT 101"
                ))
                .expect("prepare")
                .query_map([], |r| r.get::<_, String>(3))
                .expect("plan")
                .collect::<Result<_, _>>()
                .expect("rows");
            let plan = plan.join("; ");
            assert!(plan.contains("transactions_start"), "{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
    }

    #[test]
    fn migration_3_moves_grouping_explanations_out_of_issues() {
        let (_dir, mut conn) = database_at(2);
        conn.execute_batch(
            "INSERT INTO projects (id, name, created) VALUES (1, 'p', 0);
             INSERT INTO issues (id, project_id, title, level, first_seen, last_seen,
                 grouping_explanation)
             VALUES (1, 1, 'a', 'error', 0, 0, '{\"config\":\"x\"}'),
                    (2, 1, 'b', 'error', 0, 0, NULL);",
        )
        .expect("rows");
        migrate(&mut conn).expect("migrate");
        let moved: Vec<(i64, String)> = pairs(
            &conn,
            "SELECT issue_id, explanation FROM issue_grouping ORDER BY issue_id",
        );
        assert_eq!(moved, [(1, r#"{"config":"x"}"#.to_owned())]);
        let left: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM issues WHERE grouping_explanation IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(left, 0);
        // Deleting an issue deletes its explanation.
        configure(&conn, false).expect("configure");
        conn.execute("DELETE FROM issues WHERE id = 1", [])
            .expect("delete");
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM issue_grouping", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 0);
    }

    /// Explanations stored as text before migration 28 (in
    /// `issue_grouping`, or still in the old `issues` column) read as
    /// before beside compressed ones.
    #[test]
    fn migration_28_keeps_text_explanations_readable() {
        let (_dir, mut conn) = database_at(27);
        conn.execute_batch(
            r#"INSERT INTO projects (id, name, created) VALUES (1, 'p', 0);
             INSERT INTO issues (id, project_id, title, level, first_seen, last_seen,
                 grouping_explanation)
             VALUES (1, 1, 'a', 'error', 0, 0, NULL),
                    (2, 1, 'b', 'error', 0, 0, '{"config":"old column"}'),
                    (3, 1, 'c', 'error', 0, 0, NULL);
             INSERT INTO issue_grouping (issue_id, explanation)
             VALUES (1, '{"config":"text"}');"#,
        )
        .expect("rows");
        assert_eq!(migrate(&mut conn).expect("migrate"), current_version());
        let compressed =
            crate::store::compress_explanation(r#"{"config":"blob"}"#).expect("compress");
        conn.execute(
            "INSERT INTO issue_grouping (issue_id, explanation) VALUES (3, ?1)",
            [&compressed],
        )
        .expect("blob");
        for (id, config) in [(1, "text"), (2, "old column"), (3, "blob")] {
            let issue = crate::store::queries::issue(&conn, id)
                .expect("read")
                .expect("issue");
            assert_eq!(
                issue.explanation,
                Some(serde_json::json!({ "config": config })),
                "issue {id}"
            );
        }
    }

    #[test]
    fn migration_29_keeps_text_hash_inputs_readable() {
        let (_dir, mut conn) = database_at(28);
        conn.execute_batch(
            r#"INSERT INTO projects (id, name, created) VALUES (1, 'p', 0);
             INSERT INTO issues (id, project_id, title, level, first_seen, last_seen)
             VALUES (1, 1, 'a', 'error', 0, 0);
             INSERT INTO group_hashes (project_id, hash, issue_id, variant, component, inputs)
             VALUES (1, 'aa', 1, 'app', 'exception', '["text"]');"#,
        )
        .expect("rows");
        assert_eq!(migrate(&mut conn).expect("migrate"), current_version());
        let compressed = crate::store::compress_inputs(&["blob".to_owned()]).expect("compress");
        conn.execute(
            "INSERT INTO group_hashes (project_id, hash, issue_id, variant, component, inputs)
             VALUES (1, 'bb', 1, 'system', 'exception', ?1), (1, 'cc', 1, 'x', 'y', X'')",
            [&compressed],
        )
        .expect("blob");
        let hashes = crate::store::queries::issue_hashes(&conn, 1).expect("read");
        let inputs: Vec<(&str, Vec<String>)> = hashes
            .iter()
            .map(|h| (h.hash.as_str(), h.inputs.clone()))
            .collect();
        assert_eq!(
            inputs,
            [
                ("aa", vec!["text".to_owned()]),
                ("bb", vec!["blob".to_owned()]),
                ("cc", vec![])
            ]
        );
    }

    #[test]
    fn migration_32_keeps_short_ids_and_counts_on_without_reusing_one() {
        let (_dir, mut conn) = database_at(31);
        conn.execute_batch(
            "INSERT INTO projects (id, name, created) VALUES (1, 'a', 0), (2, 'b', 0), (3, 'c', 0);
             INSERT INTO issues (id, project_id, title, level, first_seen, last_seen)
             VALUES (4, 1, 'x', 'error', 0, 0), (6, 2, 'y', 'error', 0, 0);
             -- Issue 9 (of project 2) was deleted.
             INSERT INTO id_floors (name, value) VALUES ('issues', 9);",
        )
        .expect("rows");
        migrate(&mut conn).expect("migrate");
        let seqs: Vec<(i64, i64)> = pairs(&conn, "SELECT id, short_seq FROM issues ORDER BY id");
        assert_eq!(seqs, [(4, 4), (6, 6)], "stored issues keep their short id");
        let counters: Vec<(i64, i64)> =
            pairs(&conn, "SELECT id, issue_counter FROM projects ORDER BY id");
        // Projects with issues count on above every id given; one without
        // starts at 1.
        assert_eq!(counters, [(1, 9), (2, 9), (3, 0)]);
    }

    #[test]
    fn migration_33_gives_releases_named_by_transactions_their_rows() {
        let (_dir, mut conn) = database_at(32);
        conn.execute_batch(
            "INSERT INTO projects (id, name, created) VALUES (1, 'p', 0);
             INSERT INTO releases (project_id, version, first_seen) VALUES (1, 'both@1', 5);
             INSERT INTO transactions (project_id, event_id, name, start_ts, end_ts, release,
                 received, payload)
             VALUES (1, 'a', 't', 0, 1, 'tx@1', 20, X''), (1, 'b', 't', 0, 1, 'tx@1', 10, X''),
                    (1, 'c', 't', 0, 1, 'both@1', 1, X''), (1, 'd', 't', 0, 1, NULL, 1, X'');",
        )
        .expect("rows");
        migrate(&mut conn).expect("migrate");
        let rows = releases(&conn);
        assert_eq!(
            rows,
            [("both@1".to_owned(), 5.0), ("tx@1".to_owned(), 10.0)]
        );
    }

    #[test]
    fn migration_34_gives_releases_named_by_streamed_segments_their_rows() {
        let (_dir, mut conn) = database_at(33);
        conn.execute_batch(
            "INSERT INTO projects (id, name, created) VALUES (1, 'p', 0);
             INSERT INTO spans (project_id, trace_id, span_id, start_ts, is_segment, release)
             VALUES (1, 't', 'a', 30, 1, 'seg@1'), (1, 't', 'b', 20, 1, 'seg@1'),
                    (1, 't', 'c', 5, 0, 'child@1'), (1, 't', 'd', 5, 1, NULL);",
        )
        .expect("rows");
        migrate(&mut conn).expect("migrate");
        let rows = releases(&conn);
        assert_eq!(rows, [("seg@1".to_owned(), 20.0)]);
    }

    #[test]
    fn migration_35_trims_releases_and_removes_invalid_ones() {
        let (_dir, mut conn) = database_at(34);
        conn.execute_batch(
            "INSERT INTO projects (id, name, created) VALUES (1, 'p', 0);
             INSERT INTO releases (project_id, version, first_seen)
             VALUES (1, 'ok@1', 1), (1, ' app@1 ', 2), (1, 'latest', 3), (1, 'a/b', 4),
                    (1, 'x' || char(10) || 'y', 5), (1, '', 6);",
        )
        .expect("rows");
        migrate(&mut conn).expect("migrate");
        let rows = releases(&conn);
        assert_eq!(rows, [("app@1".to_owned(), 2.0), ("ok@1".to_owned(), 1.0)]);
    }

    #[test]
    fn migration_42_gives_monitor_issues_their_own_hashes() {
        let (_dir, mut conn) = database_at(41);
        let error_hash = "0".repeat(32);
        let monitor_hash = "1".repeat(32);
        conn.execute_batch(&format!(
            "INSERT INTO projects (id, name, created) VALUES (1, 'p', 0);
             INSERT INTO issues (id, project_id, title, level, first_seen, last_seen, kind)
             VALUES (1, 1, 'boom', 'error', 0, 0, 'error'),
                    (2, 1, 'Monitor failure: nightly', 'error', 0, 0, 'generic');
             INSERT INTO group_hashes (project_id, hash, issue_id, variant, component, inputs)
             VALUES (1, '{error_hash}', 1, 'default', 'message', '[]'),
                    (1, '{monitor_hash}', 2, 'custom-fingerprint', 'fingerprint', '[]');"
        ))
        .expect("rows");
        migrate(&mut conn).expect("migrate");
        let hashes: Vec<(i64, String)> = pairs(
            &conn,
            "SELECT issue_id, hash FROM group_hashes ORDER BY issue_id",
        );
        assert_eq!(
            hashes,
            [
                (1, error_hash),
                (2, crate::store::occurrence_hash(&monitor_hash))
            ]
        );
    }

    #[test]
    fn migration_10_gives_releases_named_by_sessions_their_rows() {
        let (_dir, mut conn) = database_at(9);
        conn.execute_batch(
            "INSERT INTO projects (id, name, created) VALUES (1, 'p', 0);
             INSERT INTO releases (project_id, version, first_seen) VALUES (1, 'both@1', 5);
             INSERT INTO sessions (project_id, sid, seq, init, status, errors, started,
                 timestamp, release, received)
             VALUES (1, 'a', 0, 1, 'ok', 0, 0, 0, 'sessions@1', 20),
                    (1, 'b', 0, 1, 'ok', 0, 0, 0, 'sessions@1', 10),
                    (1, 'c', 0, 1, 'ok', 0, 0, 0, 'both@1', 1);
             INSERT INTO session_aggregates (project_id, started, exited, errored, abnormal,
                 crashed, unhandled, release, received)
             VALUES (1, 0, 1, 0, 0, 0, 0, 'aggregates@1', 30);",
        )
        .expect("rows");
        migrate(&mut conn).expect("migrate");
        let rows = releases(&conn);
        assert_eq!(
            rows,
            [
                ("aggregates@1".to_owned(), 30.0),
                ("both@1".to_owned(), 5.0),
                ("sessions@1".to_owned(), 10.0)
            ]
        );
    }

    #[test]
    fn migration_11_keeps_one_row_per_streamed_span() {
        let (_dir, mut conn) = database_at(10);
        conn.execute_batch(
            "INSERT INTO projects (id, name, created) VALUES (1, 'p', 0);
             INSERT INTO spans (project_id, trace_id, span_id, start_ts)
             VALUES (1, 't', 'a', 1), (1, 't', 'a', 2), (1, 't', 'b', 3);",
        )
        .expect("rows");
        migrate(&mut conn).expect("migrate");
        let starts: Vec<f64> = conn
            .prepare("SELECT start_ts FROM spans ORDER BY id")
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(starts, [1.0, 3.0], "the first row of each span stays");
        let again = conn.execute(
            "INSERT OR IGNORE INTO spans (project_id, trace_id, span_id, start_ts)
             VALUES (1, 't', 'b', 4)",
            [],
        );
        assert_eq!(again.ok(), Some(0), "a streamed span is stored once");
    }

    #[test]
    fn migration_19_gives_transaction_roots_their_release_and_environment() {
        let (_dir, mut conn) = database_at(18);
        conn.execute_batch(
            "INSERT INTO projects (id, name, created) VALUES (1, 'p', 0);
             INSERT INTO transactions (id, project_id, event_id, start_ts, end_ts, release,
                 environment, received, payload)
             VALUES (7, 1, 'e', 1, 2, 'app@1', 'prod', 2, x'00');
             INSERT INTO spans (project_id, transaction_id, trace_id, span_id, start_ts,
                 is_segment)
             VALUES (1, 7, 't', 'root', 1, 1), (1, 7, 't', 'child', 1, 0),
                 (1, NULL, 'u', 'streamed', 1, 1);",
        )
        .expect("rows");
        migrate(&mut conn).expect("migrate");
        let rows: Vec<(String, Option<String>, Option<String>)> = conn
            .prepare("SELECT span_id, release, environment FROM spans ORDER BY id")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        let owned = |s: &str| Some(s.to_owned());
        assert_eq!(
            rows,
            [
                ("root".to_owned(), owned("app@1"), owned("prod")),
                ("child".to_owned(), None, None),
                ("streamed".to_owned(), None, None),
            ]
        );
        let plan: String = conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM spans WHERE is_segment = 1
                 AND start_ts > 0",
                [],
                |r| r.get(3),
            )
            .expect("plan");
        assert!(plan.contains("spans_segments"), "{plan}");
    }

    #[test]
    fn migration_20_moves_raw_trace_metric_containers_to_their_table() {
        let (_dir, mut conn) = database_at(19);
        conn.execute_batch(
            r#"INSERT INTO projects (id, name, created) VALUES (1, 'p', 0);
             INSERT INTO raw_items (project_id, item_type, headers, error, received, payload)
             VALUES (1, 'trace_metric',
                     '{"type":"trace_metric","item_count":2,"content_type":"m+json"}',
                     NULL, 5, x'01'),
                 (1, 'trace_metric', '{"type":"trace_metric"}', 'payload too large', 6, x'02'),
                 (1, 'replay_event', '{"type":"replay_event"}', NULL, 7, x'03'),
                 (1, 'trace_metric', 'not json', NULL, 8, x'04');"#,
        )
        .expect("rows");
        migrate(&mut conn).expect("migrate");
        type Moved = (Option<i64>, Option<String>, f64, Vec<u8>);
        let moved: Vec<Moved> = conn
            .prepare(
                "SELECT item_count, content_type, received, payload FROM trace_metrics
                 ORDER BY id",
            )
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(
            moved,
            [
                (Some(2), Some("m+json".to_owned()), 5.0, vec![1]),
                (None, None, 8.0, vec![4]),
            ]
        );
        let raw: Vec<Vec<u8>> = conn
            .prepare("SELECT payload FROM raw_items ORDER BY id")
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(raw, [vec![2], vec![3]], "refused and other items stay");
    }

    #[test]
    fn migration_12_writes_feedback_event_ids_as_events_are_stored() {
        let (_dir, mut conn) = database_at(11);
        conn.execute_batch(
            "INSERT INTO projects (id, name, created) VALUES (1, 'p', 0);
             INSERT INTO feedback (project_id, kind, event_id, associated_event_id, message,
                 received, payload)
             VALUES (1, 'feedback', 'a', '86BA3ECB-B79B-4F6A-9A0D-1234567890AB', 'm', 0, x''),
                    (1, 'feedback', 'b', NULL, 'm', 0, x''),
                    (1, 'feedback', 'c', '{86ba3ecb-b79b-4f6a-9a0d-1234567890ab}', 'm', 0, x''),
                    (1, 'feedback', 'd', 'urn:uuid:86ba3ecb-b79b-4f6a-9a0d-1234567890ab', 'm', 0, x''),
                    (1, 'feedback', 'e', ' 86ba3ecbb79b4f6a9a0d1234567890ab ', 'm', 0, x''),
                    (1, 'feedback', 'f', 'not-a-uuid', 'm', 0, x''),
                    (1, 'feedback', 'g', '00000000-0000-0000-0000-000000000000', 'm', 0, x''),
                    (1, 'feedback', 'h', '', 'm', 0, x'');",
        )
        .expect("rows");
        migrate(&mut conn).expect("migrate");
        let ids: Vec<Option<String>> = conn
            .prepare("SELECT associated_event_id FROM feedback ORDER BY event_id")
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        let id = Some("86ba3ecbb79b4f6a9a0d1234567890ab".to_owned());
        assert_eq!(
            ids,
            [
                id.clone(),
                None,
                id.clone(),
                id.clone(),
                id,
                None,
                None,
                None
            ],
            "as ingestion stores them: a UUID in any form, else nothing"
        );
    }

    #[test]
    fn migration_16_merges_each_runs_updates_into_one_check_in() {
        let (_dir, mut conn) = database_at(15);
        // Runs as receivers before version 16 stored them: one row per
        // update, in arrival order (`id`).
        conn.execute_batch(
            "INSERT INTO check_ins (id, project_id, check_in_id, monitor_slug, status,
                 duration, release, environment, received, payload)
             VALUES
                 -- in progress, a heartbeat, then ok without a duration
                 (1, 1, 'a', 'm', 'in_progress', NULL, 'r@1', 'prod', 100, x'01'),
                 (2, 1, 'a', 'm', 'in_progress', NULL, NULL, 'prod', 110, x'02'),
                 (3, 1, 'a', 'm', 'ok', NULL, NULL, 'prod', 130, x'03'),
                 -- error, retried, then a late in_progress and an ok
                 (4, 1, 'b', 'm', 'in_progress', NULL, NULL, NULL, 200, x'04'),
                 (5, 1, 'b', 'm', 'error', 7.5, NULL, 'prod', 210, x'05'),
                 (6, 1, 'b', 'm', 'error', 7.5, NULL, 'prod', 211, x'06'),
                 (7, 1, 'b', 'm', 'in_progress', NULL, NULL, 'prod', 212, x'07'),
                 (8, 1, 'b', 'm', 'ok', 1.0, NULL, 'prod', 213, x'08'),
                 -- a final update that arrived before its in_progress
                 (9, 1, 'c', 'm', 'ok', 2.0, NULL, NULL, 300, x'09'),
                 (10, 1, 'c', 'm', 'in_progress', NULL, NULL, NULL, 301, x'0a'),
                 -- still running after a heartbeat
                 (11, 1, 'd', 'm', 'in_progress', NULL, NULL, NULL, 400, x'0b'),
                 (12, 1, 'd', 'm', 'in_progress', NULL, NULL, NULL, 420, x'0c'),
                 -- one id, another monitor and another project: runs of their own
                 (13, 1, 'a', 'other', 'error', NULL, NULL, NULL, 500, x'0d'),
                 (14, 2, 'a', 'm', 'ok', NULL, NULL, NULL, 501, x'0e'),
                 -- two runs under the nil id
                 (15, 1, '00000000000000000000000000000000', 'm', 'ok', 1.0, NULL, NULL, 600, x'0f'),
                 (16, 1, '00000000000000000000000000000000', 'm', 'ok', 1.0, NULL, NULL, 601, x'10');",
        )
        .expect("rows");
        migrate(&mut conn).expect("migrate");
        type Row = (
            i64,
            String,
            Option<f64>,
            Option<String>,
            Option<String>,
            f64,
            f64,
            Vec<u8>,
        );
        let rows: Vec<Row> = conn
            .prepare(
                "SELECT id, status, duration, release, environment, received, updated, payload
                 FROM check_ins ORDER BY id",
            )
            .expect("prepare")
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(
            rows,
            [
                (
                    1,
                    "ok".into(),
                    Some(30.0),
                    s("r@1"),
                    s("prod"),
                    100.0,
                    130.0,
                    vec![3]
                ),
                (
                    4,
                    "error".into(),
                    Some(7.5),
                    None,
                    s("prod"),
                    200.0,
                    210.0,
                    vec![5]
                ),
                (9, "ok".into(), Some(2.0), None, None, 300.0, 300.0, vec![9]),
                (
                    11,
                    "in_progress".into(),
                    None,
                    None,
                    None,
                    400.0,
                    420.0,
                    vec![11]
                ),
                (13, "error".into(), None, None, None, 500.0, 500.0, vec![13]),
                (14, "ok".into(), None, None, None, 501.0, 501.0, vec![14]),
                (
                    15,
                    "ok".into(),
                    Some(1.0),
                    None,
                    None,
                    600.0,
                    600.0,
                    vec![15]
                ),
                (
                    16,
                    "ok".into(),
                    Some(1.0),
                    None,
                    None,
                    601.0,
                    601.0,
                    vec![16]
                ),
            ]
        );
        let nil_runs: Vec<String> = conn
            .prepare("SELECT check_in_id FROM check_ins WHERE id >= 15")
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert!(
            nil_runs
                .iter()
                .all(|id| id.len() == 32 && id != &"0".repeat(32))
                && nil_runs[0] != nil_runs[1],
            "{nil_runs:?}"
        );
        let again = conn.execute(
            "INSERT INTO check_ins (project_id, check_in_id, monitor_slug, status, received,
                 payload)
             VALUES (1, 'a', 'm', 'ok', 700, x'')",
            [],
        );
        assert!(again.is_err(), "one row per run from now on");
    }

    /// A check-in row as a receiver of version 15 stored it.
    fn old_check_in(
        conn: &Connection,
        (id, run, status, at): (i64, &str, &str, f64),
        payload: &Value,
    ) {
        let bytes = crate::store::dictionary::compress(payload.to_string().as_bytes(), 1, None)
            .expect("compress");
        conn.execute(
            "INSERT INTO check_ins (id, project_id, check_in_id, monitor_slug, status, received,
                 payload)
             VALUES (?1, 1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![id, run, payload["monitor_slug"].as_str(), status, at, bytes],
        )
        .expect("row");
    }

    /// `id → status` of the check-ins.
    fn check_in_statuses(conn: &Connection) -> Vec<(i64, String)> {
        conn.prepare("SELECT id, status FROM check_ins ORDER BY id")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    #[test]
    fn runs_merged_from_an_older_database_time_out_as_ingestion_times_them_out() {
        let (_dir, mut conn) = database_at(15);
        let hour = 3600.0;
        let plain = serde_json::json!({"monitor_slug": "m"});
        let long = serde_json::json!({"monitor_slug": "long",
            "monitor_config": {"schedule": "@daily", "max_runtime": 240}});
        for (row, payload) in [
            // Finished three hours after it started (30 minutes allowed).
            ((1, "a", "in_progress", 0.0), &plain),
            ((2, "a", "ok", 3.0 * hour), &plain),
            // The same, with a heartbeat every 20 minutes: on time.
            ((3, "b", "in_progress", 0.0), &plain),
            ((4, "b", "in_progress", 1200.0), &plain),
            ((5, "b", "in_progress", 2400.0), &plain),
            ((6, "b", "in_progress", 3600.0), &plain),
            ((7, "b", "in_progress", 4800.0), &plain),
            ((8, "b", "in_progress", 6000.0), &plain),
            ((9, "b", "in_progress", 7200.0), &plain),
            ((10, "b", "in_progress", 8400.0), &plain),
            ((11, "b", "in_progress", 9600.0), &plain),
            ((12, "b", "error", 3.0 * hour), &plain),
            // Its monitor allows four hours.
            ((13, "c", "in_progress", 0.0), &long),
            ((14, "c", "ok", 3.0 * hour), &long),
            // Within 30 minutes; a lone final update.
            ((15, "d", "in_progress", 0.0), &plain),
            ((16, "d", "ok", 600.0), &plain),
            ((17, "e", "ok", 0.0), &plain),
            // Late, then a heartbeat after the final update: still late.
            ((18, "f", "in_progress", 0.0), &plain),
            ((19, "f", "error", hour), &plain),
            ((20, "f", "in_progress", hour + 1.0), &plain),
        ] {
            old_check_in(&conn, row, payload);
        }
        migrate(&mut conn).expect("migrate");
        let s = |id: i64, status: &str| (id, status.to_owned());
        assert_eq!(
            check_in_statuses(&conn),
            [
                s(1, "timeout"),
                s(3, "error"),
                s(13, "ok"),
                s(15, "ok"),
                s(17, "ok"),
                s(18, "timeout")
            ]
        );
        let durations: Vec<Option<f64>> = conn
            .prepare("SELECT duration FROM check_ins WHERE id IN (1, 18) ORDER BY id")
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(
            durations,
            [Some(3.0 * hour), Some(hour)],
            "as ingestion keeps it"
        );
        let left: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'check_in_late_runs'",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(left, 0);
    }

    #[test]
    fn runs_merged_before_migration_22_time_out_where_no_heartbeat_could_save_them() {
        let (_dir, mut conn) = database_at(19);
        // Merged runs: finished 29 days, 3 hours and 10 minutes after they
        // started. Only the first cannot have been kept alive by heartbeats
        // migration 16 dropped.
        let day = 86_400.0;
        conn.execute_batch(&format!(
            "INSERT INTO check_ins (id, project_id, check_in_id, monitor_slug, status, received,
                 updated, payload)
             VALUES (1, 1, 'a', 'm', 'ok', 0, {}, x''), (2, 1, 'b', 'm', 'ok', 0, 10800, x''),
                    (3, 1, 'c', 'm', 'error', 0, 600, x''),
                    (4, 1, 'd', 'm', 'in_progress', 0, {}, x'')",
            29.0 * day,
            29.0 * day
        ))
        .expect("rows");
        migrate(&mut conn).expect("migrate");
        let s = |id: i64, status: &str| (id, status.to_owned());
        assert_eq!(
            check_in_statuses(&conn),
            [
                s(1, "timeout"),
                s(2, "ok"),
                s(3, "error"),
                s(4, "in_progress")
            ]
        );
    }

    #[test]
    fn migration_23_files_runs_and_configs_under_sentrys_slugs() {
        let (_dir, mut conn) = database_at(22);
        conn.execute_batch(
            "INSERT INTO check_ins (id, project_id, check_in_id, monitor_slug, status, received,
                 updated, payload)
             VALUES (1, 1, 'a', 'Nightly Job', 'ok', 0, 0, x''),
                    (2, 1, 'b', 'nightly-job', 'ok', 10, 10, x''),
                    (3, 1, 'b', 'nightly job!', 'ok', 20, 20, x''),
                    (4, 1, 'c', '!!!', 'ok', 30, 30, x''),
                    (5, 2, 'd', 'Other', 'ok', 40, 40, x'');
             INSERT INTO monitors (project_id, monitor_slug, schedule_type, crontab,
                 config_received)
             VALUES (1, 'Nightly Job', 'crontab', '0 1 * * *', 50),
                    (1, 'nightly-job', 'crontab', '0 2 * * *', 40),
                    (1, 'nightly job!', NULL, NULL, NULL),
                    (2, 'Other', 'crontab', '0 3 * * *', 5);",
        )
        .expect("rows");
        migrate(&mut conn).expect("migrate");
        let runs: Vec<(i64, String)> =
            pairs(&conn, "SELECT id, monitor_slug FROM check_ins ORDER BY id");
        let run = |id: i64, slug: &str| (id, slug.to_owned());
        assert_eq!(
            runs,
            [
                run(1, "nightly-job"),
                run(2, "nightly-job"),
                // Run `b` of `nightly-job` is stored already: kept apart.
                run(3, "nightly job!"),
                run(4, "!!!"),
                run(5, "other"),
            ]
        );
        let monitors: Vec<(i64, String, Option<String>)> = conn
            .prepare("SELECT project_id, monitor_slug, crontab FROM monitors ORDER BY 1, 2")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        let m = |p: i64, slug: &str, crontab: &str| (p, slug.to_owned(), Some(crontab.to_owned()));
        assert_eq!(
            monitors,
            [m(1, "nightly-job", "0 1 * * *"), m(2, "other", "0 3 * * *")],
            "the config received last is kept"
        );
    }

    #[test]
    fn migrations_50_and_51_place_the_chunks_kept_before_them() {
        let (_dir, mut conn) = database_at(49);
        conn.pragma_update(None, "foreign_keys", "ON").expect("fk");
        let chunk = |chunk_id: &str, t: f64| {
            let payload = format!(
                r#"{{"profiler_id": "{}", "chunk_id": "{chunk_id}", "platform": "python",
                    "profile": {{"samples": [{{"timestamp": {t}}}, {{"timestamp": {}}}]}}}}"#,
                "a".repeat(32),
                t + 1.0
            );
            crate::store::compress(payload.as_bytes(), 3).expect("compress")
        };
        let insert = |id: i64, ty: &str, payload: Vec<u8>| {
            conn.execute(
                "INSERT INTO raw_items (id, project_id, item_type, headers, received, payload)
                 VALUES (?1, 1, ?2, '{}', 0, ?3)",
                rusqlite::params![id, ty, payload],
            )
            .expect("raw item");
        };
        let t = 1_800_000_000.0;
        insert(1, "profile_chunk", chunk(&"b".repeat(32), t));
        // The same chunk sent again, one that cannot be read, another type.
        insert(2, "profile_chunk", chunk(&"b".repeat(32), t));
        insert(3, "profile_chunk", b"not zstd".to_vec());
        insert(4, "profile", chunk(&"c".repeat(32), t + 100.0));
        insert(5, "profile_chunk", chunk(&"d".repeat(32), t + 200.0));
        migrate(&mut conn).expect("migrate");
        let rows: Vec<(i64, f64)> = pairs(
            &conn,
            "SELECT item_id, start_ts FROM profile_chunks ORDER BY item_id",
        );
        assert_eq!(rows, [(1, t), (5, t + 200.0)]);
        let shown: Vec<(i64, String)> = pairs(
            &conn,
            "SELECT samples, platform FROM profile_chunks WHERE item_id = 5",
        );
        assert_eq!(shown, [(2, "python".to_owned())]);
        let summaries: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM raw_items WHERE summary IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(summaries, 0, "kept items are read, not rewritten");
        // A kept chunk that goes takes its place with it.
        conn.execute("DELETE FROM raw_items WHERE id = 1", [])
            .expect("delete");
        let left: i64 = conn
            .query_row("SELECT COUNT(*) FROM profile_chunks", [], |r| r.get(0))
            .expect("count");
        assert_eq!(left, 1);
    }

    /// A database migration 50 placed chunks in (with their heads in
    /// `raw_items.summary`) gets them copied by migration 51.
    #[test]
    fn migration_51_copies_the_heads_migration_50_kept() {
        let (_dir, mut conn) = database_at(50);
        conn.execute_batch(
            r#"INSERT INTO raw_items (id, project_id, item_type, headers, received, payload, summary)
               VALUES (7, 1, 'profile_chunk', '{}', 0, x'',
                       '{"samples": 12, "platform": "node", "release": "a@1", "environment": null}');
               INSERT INTO profile_chunks (item_id, project_id, profiler_id, chunk_id, start_ts, end_ts)
               VALUES (7, 1, 'p', 'c', 1.0, 2.0);"#,
        )
        .expect("rows");
        migrate(&mut conn).expect("migrate");
        let shown: Vec<(i64, String)> = pairs(
            &conn,
            "SELECT samples, platform || ' ' || release FROM profile_chunks",
        );
        assert_eq!(shown, [(12, "node a@1".to_owned())]);
    }

    #[test]
    fn newer_databases_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = Connection::open(dir.path().join("db.sqlite")).expect("open");
        conn.pragma_update(None, "user_version", 999).expect("set");
        assert!(matches!(migrate(&mut conn), Err(StoreError::Setup(_))));
    }
}
