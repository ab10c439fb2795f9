//! Releases and deploys in the shapes `sentry-cli releases` uses.
//!
//! A release is stored per project (`releases` rows keyed by project and
//! version, also created by ingestion when an event, a transaction or a
//! session names a release, as Sentry creates them). The organisation-level
//! release groups the rows of one version.

use hyper::StatusCode;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use super::events::short_version;
use super::params::{iso, offset_from_query, offset_link, parse_time};
use super::projects::{self, ProjectRow};
use super::types::{Deploy, Release, ReleaseProject};
use super::{ApiError, Ctx, Reply};
use crate::ingest::normalize::{valid_environment, valid_release};
use crate::store::now_secs;

fn deploy_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Deploy> {
    let id: i64 = r.get(0)?;
    let started: Option<f64> = r.get(4)?;
    let finished: f64 = r.get(5)?;
    Ok(Deploy {
        id: id.to_string(),
        environment: r.get(1)?,
        name: r.get(2)?,
        url: r.get(3)?,
        date_started: started.map(iso),
        date_finished: iso(finished),
    })
}

const DEPLOY_COLS: &str = "id, environment, name, url, date_started, date_finished";

/// Every (project, release) known: created, or named by events or
/// sessions (the writer adds a row for each; schema migration 10 added
/// those of sessions stored before).
const ALL_RELEASES: &str = "(SELECT project_id, version, first_seen, date_released, ref, url
        FROM releases)";

/// `(project, first seen, released, ref, url)` of one project's release.
type ReleaseRow = (i64, f64, Option<f64>, Option<String>, Option<String>);

/// The release `version`, over all its projects; `None` if unknown.
fn load(conn: &Connection, version: &str, all: &[ProjectRow]) -> Result<Option<Release>, ApiError> {
    let rows: Vec<ReleaseRow> = conn
        .prepare_cached(&format!(
            "SELECT project_id, MIN(first_seen), MAX(date_released), MAX(ref), MAX(url)
             FROM {ALL_RELEASES} WHERE version = ?1 GROUP BY project_id ORDER BY project_id"
        ))?
        .query_map([version], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut projects_out = Vec::new();
    let mut new_groups_total = 0;
    for (pid, ..) in &rows {
        let new_groups: i64 = conn
            .prepare_cached(
                "SELECT COUNT(*) FROM issues WHERE project_id = ?1 AND first_release = ?2",
            )?
            .query_row(params![pid, version], |r| r.get(0))?;
        new_groups_total += new_groups;
        let has_health: bool = conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM sessions WHERE project_id = ?1 AND release = ?2)
                     OR EXISTS (SELECT 1 FROM session_aggregates
                                WHERE project_id = ?1 AND release = ?2)",
            )?
            .query_row(params![pid, version], |r| r.get(0))?;
        let p = all.iter().find(|p| p.id == *pid);
        projects_out.push(ReleaseProject {
            id: *pid,
            slug: p.map_or_else(|| format!("project-{pid}"), |p| p.slug.clone()),
            name: p.map_or_else(|| format!("project-{pid}"), |p| p.name.clone()),
            new_groups,
            has_health_data: has_health,
        });
    }
    let created = rows.iter().map(|r| r.1).fold(f64::INFINITY, f64::min);
    let released = rows
        .iter()
        .filter_map(|r| r.2)
        .fold(None, |acc: Option<f64>, v| {
            Some(acc.map_or(v, |a| a.max(v)))
        });
    let reference = rows.iter().find_map(|r| r.3.clone());
    let url = rows.iter().find_map(|r| r.4.clone());
    let deploy_count: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM deploys WHERE version = ?1")?
        .query_row([version], |r| r.get(0))?;
    let last_deploy = conn
        .prepare_cached(&format!(
            "SELECT {DEPLOY_COLS} FROM deploys WHERE version = ?1
             ORDER BY date_finished DESC, id DESC LIMIT 1"
        ))?
        .query_row([version], deploy_from_row)
        .optional()?;
    Ok(Some(Release {
        version: version.to_owned(),
        short_version: short_version(version),
        reference,
        url,
        date_created: iso(created),
        date_released: released.map(iso),
        new_groups: new_groups_total,
        projects: projects_out,
        deploy_count,
        last_deploy,
        status: "open".to_owned(),
        commit_count: 0,
    }))
}

/// `GET /api/0/organizations/{org}/releases/` and
/// `GET /api/0/projects/{org}/{project}/releases/`: newest first
/// (`query` = version substring, `project` filter on the org route).
pub(crate) async fn list(ctx: &Ctx, project: Option<&str>) -> Result<Reply, ApiError> {
    let limit = ctx.query.limit(100, 100)?;
    let offset = offset_from_query(&ctx.query)?;
    let project = project.map(str::to_owned);
    let keys = ctx.query.all("project");
    let search = ctx.query.get_nonempty("query").map(str::to_owned);
    let base = ctx.link_base();
    let (releases, more) = ctx
        .read(move |c| {
            let all = projects::all(c)?;
            let scoped = match &project {
                Some(p) => vec![projects::resolve(c, p)?],
                None => projects::resolve_filter(c, &keys)?,
            };
            let ids: Vec<String> = scoped.iter().map(|p| p.id.to_string()).collect();
            let pattern = search.as_deref().map(super::params::like_pattern);
            let sql = format!(
                "SELECT version, MIN(first_seen) AS created FROM {ALL_RELEASES}
                 WHERE project_id IN ({}) AND (?1 IS NULL OR version LIKE ?1 ESCAPE '\\')
                 GROUP BY version ORDER BY created DESC, version DESC LIMIT ?2 OFFSET ?3",
                if ids.is_empty() {
                    "NULL".to_owned()
                } else {
                    ids.join(", ")
                }
            );
            let versions: Vec<String> = c
                .prepare(&sql)?
                .query_map(params![pattern, limit + 1, offset], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let more = versions.len() as i64 > limit;
            let mut out = Vec::new();
            for v in versions.iter().take(limit as usize) {
                if let Some(r) = load(c, v, &all)? {
                    out.push(r);
                }
            }
            Ok((out, more))
        })
        .await?;
    Ok(Reply::json(&releases)?
        .with_header(hyper::header::LINK, offset_link(&base, offset, limit, more)))
}

/// `GET /api/0/organizations/{org}/releases/{version}/`
pub(crate) async fn detail(
    ctx: &Ctx,
    version: &str,
    project: Option<&str>,
) -> Result<Reply, ApiError> {
    let version = version.to_owned();
    let project = project.map(str::to_owned);
    let release = ctx
        .read(move |c| {
            let all = projects::all(c)?;
            let release = load(c, &version, &all)?
                .ok_or_else(|| ApiError::not_found(format!("release {version:?}")))?;
            if let Some(p) = project {
                let p = projects::resolve(c, &p)?;
                if !release.projects.iter().any(|rp| rp.id == p.id) {
                    return Err(ApiError::not_found(format!(
                        "release {version:?} in project {}",
                        p.slug
                    )));
                }
            }
            Ok(release)
        })
        .await?;
    Reply::json(&release)
}

fn opt_string(body: &Value, key: &str) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
        Some(_) => Err(ApiError::BadRequest(format!("{key} must be a string"))),
    }
}

fn opt_time(body: &Value, key: &str) -> Result<Option<f64>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_time(key, s).map(Some),
        Some(Value::Number(n)) => n
            .as_f64()
            .map(Some)
            .ok_or_else(|| ApiError::BadRequest(format!("{key} must be a time"))),
        Some(_) => Err(ApiError::BadRequest(format!(
            "{key} must be an ISO 8601 time"
        ))),
    }
}

/// `projects` of a body: slugs or ids.
fn project_keys(body: &Value) -> Result<Option<Vec<String>>, ApiError> {
    match body.get("projects") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(ApiError::BadRequest(
                    "projects must be a list of project slugs or ids".to_owned(),
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(ApiError::BadRequest(
            "projects must be a list of project slugs or ids".to_owned(),
        )),
    }
}

fn resolve_projects(conn: &Connection, keys: &[String]) -> Result<Vec<ProjectRow>, ApiError> {
    let all = projects::all(conn)?;
    keys.iter()
        .map(|k| {
            projects::find(&all, k)
                .ok_or_else(|| ApiError::BadRequest(format!("Invalid project slug or id {k:?}")))
        })
        .collect()
}

/// Upserts the release rows of `version` in `projects`; returns how many
/// were new.
fn upsert(
    conn: &Connection,
    version: &str,
    projects: &[ProjectRow],
    reference: Option<&str>,
    url: Option<&str>,
    released: Option<f64>,
    created: f64,
) -> Result<usize, ApiError> {
    let mut new = 0;
    for p in projects {
        new += conn.execute(
            "INSERT OR IGNORE INTO releases (project_id, version, first_seen) VALUES (?1, ?2, ?3)",
            params![p.id, version, created],
        )?;
        conn.execute(
            "UPDATE releases SET ref = COALESCE(?3, ref), url = COALESCE(?4, url),
                 date_released = COALESCE(?5, date_released)
             WHERE project_id = ?1 AND version = ?2",
            params![p.id, version, reference, url, released],
        )?;
    }
    Ok(new)
}

/// `POST /api/0/organizations/{org}/releases/` with `{version, projects,
/// ref?, url?, dateReleased?, dateStarted?}`: 201 when created, 208 when it
/// already existed in every project.
pub(crate) async fn create(ctx: &Ctx) -> Result<Reply, ApiError> {
    let body = ctx.body.clone();
    let version = opt_string(&body, "version")?
        .ok_or_else(|| ApiError::BadRequest("version is required".to_owned()))?;
    if !valid_release(&version) {
        return Err(ApiError::BadRequest(format!(
            "invalid release version {version:?}"
        )));
    }
    let keys = project_keys(&body)?
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::BadRequest("projects is required".to_owned()))?;
    let reference = opt_string(&body, "ref")?;
    let url = opt_string(&body, "url")?;
    let released = opt_time(&body, "dateReleased")?;
    let started = opt_time(&body, "dateStarted")?;
    let v = version.clone();
    let new = ctx
        .write(move |c| {
            let projects = resolve_projects(c, &keys)?;
            upsert(
                c,
                &v,
                &projects,
                reference.as_deref(),
                url.as_deref(),
                released,
                started.unwrap_or_else(now_secs),
            )
        })
        .await?;
    let release = ctx
        .read(move |c| {
            load(c, &version, &projects::all(c)?)?
                .ok_or_else(|| ApiError::not_found(format!("release {version:?}")))
        })
        .await?;
    let status = if new > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::ALREADY_REPORTED
    };
    Reply::json_status(status, &release)
}

/// `PUT /api/0/organizations/{org}/releases/{version}/` with
/// `{dateReleased?, ref?, url?, projects?}` (`releases finalize`).
pub(crate) async fn update(ctx: &Ctx, version: &str) -> Result<Reply, ApiError> {
    let body = ctx.body.clone();
    let reference = opt_string(&body, "ref")?;
    let url = opt_string(&body, "url")?;
    let released = opt_time(&body, "dateReleased")?;
    let keys = project_keys(&body)?;
    let v = version.to_owned();
    ctx.write(move |c| {
        let existing: Vec<i64> = c
            .prepare_cached(&format!(
                "SELECT DISTINCT project_id FROM {ALL_RELEASES} WHERE version = ?1"
            ))?
            .query_map([&v], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if existing.is_empty() {
            return Err(ApiError::not_found(format!("release {v:?}")));
        }
        let mut projects: Vec<ProjectRow> = projects::all(c)?
            .into_iter()
            .filter(|p| existing.contains(&p.id))
            .collect();
        if let Some(keys) = keys {
            for p in resolve_projects(c, &keys)? {
                if !projects.iter().any(|x| x.id == p.id) {
                    projects.push(p);
                }
            }
        }
        upsert(
            c,
            &v,
            &projects,
            reference.as_deref(),
            url.as_deref(),
            released,
            now_secs(),
        )
    })
    .await?;
    detail(ctx, version, None).await
}

/// `DELETE /api/0/organizations/{org}/releases/{version}/`: 204.
pub(crate) async fn delete(ctx: &Ctx, version: &str) -> Result<Reply, ApiError> {
    // What no index answers is looked up on a reader first, so that the
    // write lock (and with it ingestion) never waits for a table scan. A
    // transaction naming the release that is stored in between is missed:
    // its release row goes, and comes back with the next transaction the
    // writer stores after it notices the deletion (its cache of known
    // releases is dropped when another connection commits).
    let v = version.to_owned();
    if let Some(what) = ctx.read(move |c| release_in_unindexed_use(c, &v)).await? {
        return Err(ApiError::BadRequest(format!(
            "release {version:?} is named by {what} and cannot be deleted"
        )));
    }
    let v = version.to_owned();
    ctx.write(move |c| {
        if !release_exists(c, &v)? {
            return Err(ApiError::not_found(format!("release {v:?}")));
        }
        // As Sentry: a release that stored data names stays, so that the
        // list keeps showing what issues and release health refer to
        // (the writer would not add its row again for data already seen).
        if let Some(what) = release_in_use(c, &v)? {
            return Err(ApiError::BadRequest(format!(
                "release {v:?} is named by {what} and cannot be deleted"
            )));
        }
        c.execute("DELETE FROM releases WHERE version = ?1", [&v])?;
        c.execute("DELETE FROM deploys WHERE version = ?1", [&v])?;
        Ok(())
    })
    .await?;
    Ok(Reply::Empty(StatusCode::NO_CONTENT))
}

/// What stored data names `version`, if any: the events of issues, or
/// sessions. Every lookup is by index.
fn release_in_use(conn: &Connection, version: &str) -> Result<Option<&'static str>, ApiError> {
    let checks = [
        (
            "SELECT 1 FROM issue_facets WHERE kind = 'release' AND value = ?1 LIMIT 1",
            "the events of stored issues",
        ),
        (
            "SELECT 1 FROM releases r JOIN issues i ON i.project_id = r.project_id
             AND i.first_release = r.version WHERE r.version = ?1 LIMIT 1",
            "the events of stored issues",
        ),
        (
            "SELECT 1 FROM releases r JOIN sessions s ON s.project_id = r.project_id
             AND s.release = r.version WHERE r.version = ?1 LIMIT 1",
            "stored sessions",
        ),
        (
            "SELECT 1 FROM releases r JOIN session_aggregates s
             ON s.project_id = r.project_id AND s.release = r.version
             WHERE r.version = ?1 LIMIT 1",
            "stored sessions",
        ),
    ];
    first_use(conn, version, &checks)
}

/// What the first of `checks` (`(query, what it names)`, each query taking
/// the version) that finds a row names, if any.
fn first_use(
    conn: &Connection,
    version: &str,
    checks: &[(&str, &'static str)],
) -> Result<Option<&'static str>, ApiError> {
    for (sql, what) in checks {
        if conn.prepare_cached(sql)?.exists([version])? {
            return Ok(Some(what));
        }
    }
    Ok(None)
}

/// [`release_in_use`] for what no index answers: transactions, streamed
/// segments and issues resolved in the release. Each is a scan of its
/// table that stops at the first match.
fn release_in_unindexed_use(
    conn: &Connection,
    version: &str,
) -> Result<Option<&'static str>, ApiError> {
    let checks = [
        (
            "SELECT 1 FROM transactions WHERE release = ?1 LIMIT 1",
            "stored transactions",
        ),
        (
            "SELECT 1 FROM spans WHERE is_segment = 1 AND release = ?1 LIMIT 1",
            "stored spans",
        ),
        (
            "SELECT 1 FROM issues WHERE resolved_release = ?1 LIMIT 1",
            "issues resolved in it",
        ),
    ];
    first_use(conn, version, &checks)
}

fn release_exists(conn: &Connection, version: &str) -> Result<bool, ApiError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT 1 FROM {ALL_RELEASES} WHERE version = ?1 LIMIT 1"
        ))?
        .exists([version])?)
}

/// `GET /api/0/organizations/{org}/releases/{version}/deploys/`: newest first.
pub(crate) async fn deploys(ctx: &Ctx, version: &str) -> Result<Reply, ApiError> {
    let v = version.to_owned();
    let list = ctx
        .read(move |c| {
            if !release_exists(c, &v)? {
                return Err(ApiError::not_found(format!("release {v:?}")));
            }
            let rows = c
                .prepare_cached(&format!(
                    "SELECT {DEPLOY_COLS} FROM deploys WHERE version = ?1
                     ORDER BY date_finished DESC, id DESC"
                ))?
                .query_map([&v], deploy_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await?;
    Reply::json(&list)
}

/// `POST /api/0/organizations/{org}/releases/{version}/deploys/` with
/// `{environment, name?, url?, dateStarted?, dateFinished?, projects?}`: 201.
pub(crate) async fn create_deploy(ctx: &Ctx, version: &str) -> Result<Reply, ApiError> {
    let body = ctx.body.clone();
    let environment = opt_string(&body, "environment")?
        .ok_or_else(|| ApiError::BadRequest("environment is required".to_owned()))?;
    if !valid_environment(&environment) {
        return Err(ApiError::BadRequest(format!(
            "invalid environment {environment:?}"
        )));
    }
    let name = opt_string(&body, "name")?;
    let url = opt_string(&body, "url")?;
    let started = opt_time(&body, "dateStarted")?;
    let finished = opt_time(&body, "dateFinished")?;
    let keys = project_keys(&body)?;
    let v = version.to_owned();
    let deploy = ctx
        .write(move |c| {
            let projects: Vec<i64> = match keys {
                Some(keys) => resolve_projects(c, &keys)?.iter().map(|p| p.id).collect(),
                None => c
                    .prepare_cached(&format!(
                        "SELECT DISTINCT project_id FROM {ALL_RELEASES} WHERE version = ?1"
                    ))?
                    .query_map([&v], |r| r.get(0))?
                    .collect::<Result<_, _>>()?,
            };
            if !release_exists(c, &v)? {
                return Err(ApiError::not_found(format!("release {v:?}")));
            }
            let finished = finished.unwrap_or_else(now_secs);
            c.execute(
                "INSERT INTO deploys (version, environment, name, url, date_started,
                     date_finished, projects)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    v,
                    environment,
                    name,
                    url,
                    started,
                    finished,
                    serde_json::to_string(&projects).unwrap_or_else(|_| "[]".to_owned())
                ],
            )?;
            let id = c.last_insert_rowid();
            Ok(c.query_row(
                &format!("SELECT {DEPLOY_COLS} FROM deploys WHERE id = ?1"),
                [id],
                deploy_from_row,
            )?)
        })
        .await?;
    Reply::json_status(StatusCode::CREATED, &deploy)
}
