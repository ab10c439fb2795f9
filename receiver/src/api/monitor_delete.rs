//! Deleting a cron monitor, or some of its environments, as Sentry's API
//! does: `DELETE /api/0/projects/{org}/{project}/monitors/{slug}/` and
//! `DELETE /api/0/organizations/{org}/monitors/{slug}/` (the slug, or the
//! `monitor_slug` as sent), answered 202.
//!
//! A job renamed or retired leaves its monitor behind, and with a schedule
//! that monitor counts a missed run every period from then on. Deleting it
//! removes its runs (check-ins) and its config; with `environment`
//! (repeatable; `production` also names the runs sent without one) only
//! those environments' runs go, and the config goes with the last of them.
//! A later check-in under the slug starts a new monitor.
//!
//! The organization route finds the slug in any project: when more than
//! one project has such a monitor, `project` must say which (a 400 names
//! them), as Sentry's organization-wide slugs are unique.

use hyper::StatusCode;
use rusqlite::Connection;

use super::monitors::monitor_forms;
use super::projects;
use super::{ApiError, Ctx, Reply};

/// `DELETE …/monitors/{slug}/`: `project` is the project the route names
/// (the project route), else the `project` query parameter, if any.
pub(crate) async fn delete(
    ctx: &Ctx,
    project: Option<&str>,
    slug: &str,
) -> Result<Reply, ApiError> {
    let project = project
        .map(str::to_owned)
        .or_else(|| ctx.query.get_nonempty("project").map(str::to_owned));
    // `environment=` with nothing in it (an unset variable in a script)
    // must not read as "every environment".
    let environments = ctx.query.values("environment");
    if environments.len() != ctx.query.count("environment") {
        return Err(ApiError::BadRequest(
            "environment is empty: name the environment to delete, or leave the parameter \
             out to delete the whole monitor"
                .to_owned(),
        ));
    }
    let slug = slug.to_owned();
    let target = {
        let slug = slug.clone();
        ctx.read(move |c| find(c, project.as_deref(), &slug))
            .await?
    };
    let Some((project_id, forms)) = target else {
        return Err(ApiError::not_found(format!("monitor {slug:?}")));
    };
    let deleted = ctx
        .write(move |c| remove(c, project_id, &forms, &environments))
        .await?;
    if deleted == 0 {
        return Err(ApiError::not_found(format!(
            "monitor {slug:?} in the environments asked for"
        )));
    }
    Ok(Reply::Empty(StatusCode::ACCEPTED))
}

/// The project of the monitor `slug` names and the slugs its rows are
/// stored under; `None` when no project has it.
pub(crate) fn find(
    c: &Connection,
    project: Option<&str>,
    slug: &str,
) -> Result<Option<(i64, Vec<String>)>, ApiError> {
    let forms = monitor_forms(c, &[slug.to_owned()])?;
    let candidates: Vec<i64> = match project {
        Some(key) => vec![projects::resolve(c, key)?.id],
        None => projects::all(c)?.iter().map(|p| p.id).collect(),
    };
    let mut found = Vec::new();
    for &p in &candidates {
        let has = |table: &str| -> Result<bool, ApiError> {
            let sql = format!(
                "SELECT EXISTS (SELECT 1 FROM {table} WHERE project_id = ?1 AND monitor_slug = ?2)"
            );
            let mut stmt = c.prepare_cached(&sql)?;
            for form in &forms {
                if stmt.query_row(rusqlite::params![p, form], |r| r.get::<_, bool>(0))? {
                    return Ok(true);
                }
            }
            Ok(false)
        };
        if has("check_ins")? || has("monitors")? {
            found.push(p);
        }
    }
    match found.as_slice() {
        [] => Ok(None),
        [p] => Ok(Some((*p, forms))),
        several => Err(ApiError::BadRequest(format!(
            "monitor {slug:?} is in projects {}: name one with ?project=",
            several
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Deletes the monitor's runs (of `environments`, all when empty) under
/// each slug it is stored under and, when none is left under any of them,
/// its config. How many rows went.
fn remove(
    c: &Connection,
    project: i64,
    forms: &[String],
    environments: &[String],
) -> Result<usize, ApiError> {
    let mut deleted = 0;
    for form in forms {
        if environments.is_empty() {
            deleted += c.execute(
                "DELETE FROM check_ins WHERE project_id = ?1 AND monitor_slug = ?2",
                rusqlite::params![project, form],
            )?;
            // Its incidents go with its runs; their issues stay.
            for table in ["monitor_incidents", "monitor_missed_marks"] {
                c.execute(
                    &format!("DELETE FROM {table} WHERE project_id = ?1 AND monitor_slug = ?2"),
                    rusqlite::params![project, form],
                )?;
            }
        } else {
            for env in environments {
                for table in ["monitor_incidents", "monitor_missed_marks"] {
                    c.execute(
                        &format!(
                            "DELETE FROM {table} WHERE project_id = ?1 AND monitor_slug = ?2
                                 AND environment = ?3"
                        ),
                        rusqlite::params![project, form, env],
                    )?;
                }
                deleted += c.execute(
                    "DELETE FROM check_ins WHERE project_id = ?1 AND monitor_slug = ?2
                         AND COALESCE(environment, 'production') = ?3",
                    rusqlite::params![project, form, env],
                )?;
            }
        }
    }
    let mut runs_left = false;
    for form in forms {
        runs_left |= c.query_row(
            "SELECT EXISTS (SELECT 1 FROM check_ins WHERE project_id = ?1 AND monitor_slug = ?2)",
            rusqlite::params![project, form],
            |r| r.get::<_, bool>(0),
        )?;
    }
    if !runs_left {
        for form in forms {
            deleted += c.execute(
                "DELETE FROM monitors WHERE project_id = ?1 AND monitor_slug = ?2",
                rusqlite::params![project, form],
            )?;
        }
    }
    Ok(deleted)
}
