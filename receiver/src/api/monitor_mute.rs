//! Muting a cron monitor, as Sentry's API does: `PUT
//! /api/0/projects/{org}/{project}/monitors/{slug}/` (or the organization
//! route) with `{"isMuted": true}` or `false`, answered with the monitor
//! as the monitors list shows it.
//!
//! A muted monitor keeps recording its runs, and its failures still open
//! and end incidents, but no incident adds an event to an issue
//! (`store::monitor_incidents`), as a muted monitor in Sentry creates no
//! issue occurrences. A job known to be broken (or being rewritten) then
//! does not open or regress its issue every run; unmuting it counts its
//! next failure again.

use rusqlite::params;
use serde_json::Value;

use super::monitor_delete::find;
use super::monitors::one_monitor;
use super::{ApiError, Ctx, Reply};

/// `PUT …/monitors/{slug}/`: `project` as for `DELETE` (the project route's,
/// else the `project` query parameter).
pub(crate) async fn update(
    ctx: &Ctx,
    project: Option<&str>,
    slug: &str,
) -> Result<Reply, ApiError> {
    let muted = muted_of(&ctx.body)?;
    let project = project
        .map(str::to_owned)
        .or_else(|| ctx.query.get_nonempty("project").map(str::to_owned));
    let target = {
        let slug = slug.to_owned();
        ctx.read(move |c| find(c, project.as_deref(), &slug))
            .await?
    };
    let Some((project_id, forms)) = target else {
        return Err(ApiError::not_found(format!("monitor {slug:?}")));
    };
    ctx.write(move |c| {
        let mut upsert = c.prepare_cached(
            "INSERT INTO monitors (project_id, monitor_slug, muted) VALUES (?1, ?2, ?3)
             ON CONFLICT (project_id, monitor_slug) DO UPDATE SET muted = excluded.muted",
        )?;
        for form in &forms {
            upsert.execute(params![project_id, form, muted])?;
        }
        Ok(())
    })
    .await?;
    let now = ctx.now();
    let monitor = {
        let slug = slug.to_owned();
        ctx.read(move |c| one_monitor(c, project_id, &slug, now))
            .await?
    };
    match monitor {
        Some(monitor) => Reply::json(&monitor),
        // A monitor with a config and no run left: there is no row to show.
        None => Reply::json(&serde_json::json!({"monitorSlug": slug, "isMuted": muted})),
    }
}

/// The body's `isMuted`: the only field that can be changed here.
fn muted_of(body: &Value) -> Result<bool, ApiError> {
    let Some(fields) = body.as_object() else {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object".to_owned(),
        ));
    };
    if let Some(other) = fields.keys().find(|k| *k != "isMuted") {
        return Err(ApiError::BadRequest(format!(
            "{other:?} cannot be changed here: only isMuted (a check-in's monitor_config \
             changes the config)"
        )));
    }
    match fields.get("isMuted") {
        Some(Value::Bool(muted)) => Ok(*muted),
        Some(other) => Err(ApiError::BadRequest(format!(
            "isMuted must be true or false, not {other}"
        ))),
        None => Err(ApiError::BadRequest(
            "send {\"isMuted\": true} or {\"isMuted\": false}".to_owned(),
        )),
    }
}
