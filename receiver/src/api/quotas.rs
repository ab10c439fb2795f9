//! Rate-limit quotas of a project (a local extension; `receiver quotas` on
//! the command line does the same on the database file):
//!
//! * `GET /api/0/projects/{org}/{project}/quotas/`: the list;
//! * `POST` there with `{limit, window?, categories?, publicKey?, reason?}`:
//!   adds one (201), in force for the next request;
//! * `DELETE /api/0/projects/{org}/{project}/quotas/{id}/`: removes one.

use std::time::Duration;

use hyper::StatusCode;
use serde_json::{json, Value};

use super::projects;
use super::{ApiError, Ctx, Reply};
use crate::store::quotas::{self, NewQuota, Quota};
use crate::store::{StoreError, WriteOp, WriteResult};

/// How long a quota change may wait for the writer's queue.
const QUEUE_WAIT: Duration = Duration::from_secs(5);

/// A quota as the API shows it; `receiver quotas … --json` prints the same
/// object (with the project's id added where quotas of every project are
/// listed).
pub(crate) fn quota_json(q: &Quota) -> Value {
    json!({
        "id": q.id.to_string(),
        "publicKey": q.public_key,
        "categories": q.categories,
        "limit": q.max_items,
        "window": q.window_secs,
        "reason": q.reason,
        "scope": q.scope(),
    })
}

/// `GET …/quotas/`
pub(crate) async fn list(ctx: &Ctx, project: &str) -> Result<Reply, ApiError> {
    let project = project.to_owned();
    let list = ctx
        .read(move |c| {
            let p = projects::resolve(c, &project)?;
            Ok(quotas::list(c, Some(p.id))?)
        })
        .await?;
    Reply::json(&list.iter().map(quota_json).collect::<Vec<_>>())
}

/// `POST …/quotas/`
pub(crate) async fn create(ctx: &Ctx, project: &str) -> Result<Reply, ApiError> {
    let body = &ctx.body;
    let number = |key: &str| -> Result<Option<u64>, ApiError> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                ApiError::BadRequest(format!("{key} must be a whole number of 0 or more"))
            }),
        }
    };
    let text = |key: &str| -> Result<Option<String>, ApiError> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::BadRequest(format!("{key} must be a string"))),
        }
    };
    let max_items =
        number("limit")?.ok_or_else(|| ApiError::BadRequest("limit is required".to_owned()))?;
    let window_secs = number("window")?.unwrap_or(60);
    let categories = match body.get("categories") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|c| {
                c.as_str().map(str::to_owned).ok_or_else(|| {
                    ApiError::BadRequest("categories must be a list of strings".to_owned())
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(ApiError::BadRequest(
                "categories must be a list of strings".to_owned(),
            ))
        }
    };
    let public_key = text("publicKey")?;
    let reason = text("reason")?;
    let project = project.to_owned();
    let project_id = ctx
        .read(move |c| Ok(projects::resolve(c, &project)?.id))
        .await?;
    let op = WriteOp::AddQuota(NewQuota {
        project_id,
        public_key,
        categories,
        max_items,
        window_secs,
        reason,
    });
    match ctx.store().write(op, QUEUE_WAIT).await? {
        WriteResult::Quota(q) => Reply::json_status(StatusCode::CREATED, &quota_json(&q)),
        other => Err(ApiError::Store(StoreError::Task(format!(
            "unexpected writer result {other:?}"
        )))),
    }
}

/// `DELETE …/quotas/{id}/`
pub(crate) async fn delete(ctx: &Ctx, project: &str, id: &str) -> Result<Reply, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::not_found(format!("quota {id:?}")))?;
    let project = project.to_owned();
    let owned = ctx
        .read(move |c| {
            let p = projects::resolve(c, &project)?;
            Ok(quotas::list(c, Some(p.id))?.iter().any(|q| q.id == id))
        })
        .await?;
    if !owned {
        return Err(ApiError::not_found(format!("quota {id}")));
    }
    ctx.store()
        .write(WriteOp::RemoveQuota { id }, QUEUE_WAIT)
        .await?;
    Ok(Reply::Empty(StatusCode::NO_CONTENT))
}
