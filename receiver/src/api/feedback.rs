//! User feedback (`feedback` and legacy `user_report` items) in Sentry's
//! shapes: `GET /api/0/projects/{org}/{project}/user-feedback/` (a
//! project's) and `GET /api/0/issues/{id}/user-reports/` (about the events
//! of one issue), newest first, in cursor pages (`limit` up to 100).
//! `GET /api/0/local/feedback/` lists every project's (`project` filters)
//! with each one's project and page (`url`), for the web page.

use rusqlite::Connection;

use super::issues;
use super::params::{iso, Cursor, Page, Sql};
use super::projects;
use super::types::{FeedbackIssue, UserFeedback};
use super::{ApiError, Ctx, Reply};

/// Which feedback a request lists.
#[derive(Debug, Clone)]
enum Scope {
    Project(i64),
    /// An issue and its project.
    Issue(i64, i64),
    /// Every project's, or those listed.
    Projects(Option<Vec<i64>>),
}

/// `GET /api/0/local/feedback/`
pub(crate) async fn local(ctx: &Ctx) -> Result<Reply, ApiError> {
    let wanted = ctx.query.values("project");
    list(ctx, move |c| {
        Ok(Scope::Projects(projects::filter_ids(c, &wanted)?))
    })
    .await
}

/// `GET /api/0/projects/{org}/{project}/user-feedback/`
pub(crate) async fn project(ctx: &Ctx, project: &str) -> Result<Reply, ApiError> {
    let project = project.to_owned();
    list(ctx, move |c| {
        Ok(Scope::Project(projects::resolve(c, &project)?.id))
    })
    .await
}

/// `GET /api/0/issues/{id}/user-reports/`
pub(crate) async fn issue(ctx: &Ctx, id: &str) -> Result<Reply, ApiError> {
    let id = id.to_owned();
    list(ctx, move |c| {
        let issue = issues::load(c, &id)?;
        Ok(Scope::Issue(issue.id, issue.project_id))
    })
    .await
}

async fn list(
    ctx: &Ctx,
    scope: impl FnOnce(&Connection) -> Result<Scope, ApiError> + Send + 'static,
) -> Result<Reply, ApiError> {
    let limit = ctx.query.limit(100, 100)?;
    let cursor = Cursor::from_query(&ctx.query)?;
    let base = ctx.link_base();
    let (rows, link) = ctx
        .read(move |c| {
            let scope = scope(c)?;
            let slugs = projects::all(c)?;
            let mut sql = Sql::default();
            match &scope {
                Scope::Project(p) | Scope::Issue(_, p) => {
                    let cond = format!("f.project_id = {}", sql.bind(*p));
                    sql.cond(cond);
                }
                Scope::Projects(Some(ids)) => {
                    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
                    sql.cond(format!("f.project_id IN ({})", list.join(",")));
                }
                Scope::Projects(None) => {}
            }
            let local = matches!(scope, Scope::Projects(_));
            if let Scope::Issue(i, _) = scope {
                let cond = format!("e.issue_id = {}", sql.bind(i));
                sql.cond(cond);
            }
            let order = sql.keyset("f.received", "f.id", false, cursor);
            // For an issue, CROSS JOIN keeps feedback the outer loop (SQLite
            // never reorders it): an issue may have a million events.
            let join = match scope {
                Scope::Project(_) | Scope::Projects(_) => "LEFT JOIN",
                Scope::Issue(..) => "CROSS JOIN",
            };
            let query = format!(
                "SELECT f.id, f.kind, f.event_id, f.associated_event_id, f.name, f.email,
                     f.message, f.received, i.id, i.project_id, i.title,
                     COALESCE(i.short_seq, i.id), f.project_id,
                     CASE WHEN {local} THEN f.payload END
                 FROM feedback f
                 -- The project's feedback in time order (feedback_time),
                 -- each looked up among the events by id: the work grows
                 -- with the feedback, never with the issue's events.
                 {join} events e
                     ON e.project_id = f.project_id AND e.event_id = f.associated_event_id
                 LEFT JOIN issues i ON i.id = e.issue_id
                 WHERE {} ORDER BY {order} LIMIT {}",
                sql.where_clause(),
                limit + 1
            );
            let rows: Vec<(UserFeedback, f64, i64)> = c
                .prepare(&query)?
                .query_map(rusqlite::params_from_iter(sql.params.iter()), |r| {
                    let id: i64 = r.get(0)?;
                    let received: f64 = r.get(7)?;
                    let issue_id: Option<i64> = r.get(8)?;
                    let issue_project: Option<i64> = r.get(9)?;
                    let title: Option<String> = r.get(10)?;
                    let short_seq: Option<i64> = r.get(11)?;
                    let issue = match (issue_id, issue_project, short_seq) {
                        (Some(issue_id), Some(project), Some(seq)) => {
                            let slug = slugs
                                .iter()
                                .find(|p| p.id == project)
                                .map_or("project", |p| p.slug.as_str());
                            Some(FeedbackIssue {
                                id: issue_id.to_string(),
                                short_id: issues::short_id(slug, seq),
                                title: title.unwrap_or_default(),
                            })
                        }
                        _ => None,
                    };
                    Ok((
                        UserFeedback {
                            id: id.to_string(),
                            kind: r.get(1)?,
                            feedback_id: r.get(2)?,
                            event_id: r.get(3)?,
                            name: r.get(4)?,
                            email: r.get(5)?,
                            comments: r.get(6)?,
                            date_created: iso(received),
                            issue,
                            project_id: local
                                .then(|| r.get::<_, i64>(12).map(|p| p.to_string()))
                                .transpose()?,
                            url: r
                                .get::<_, Option<Vec<u8>>>(13)?
                                .and_then(|blob| page_of(&blob)),
                        },
                        received,
                        id,
                    ))
                })?
                .collect::<Result<_, _>>()?;
            let page = Page::build(rows, limit as usize, cursor, |(_, received, id)| {
                (*received, *id)
            });
            let link = page.link(&base);
            Ok((
                page.rows.into_iter().map(|(f, _, _)| f).collect::<Vec<_>>(),
                link,
            ))
        })
        .await?;
    Ok(Reply::json(&rows)?.with_header(hyper::header::LINK, link))
}

/// The page a stored feedback was sent from (`contexts.feedback.url`).
fn page_of(blob: &[u8]) -> Option<String> {
    let (payload, _) = super::events::decode_payload(blob);
    payload
        .pointer("/contexts/feedback/url")
        .and_then(serde_json::Value::as_str)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
}
