//! Projects, the organisation and client keys.

use rusqlite::Connection;

use super::params::iso;
use super::types::{KeyDsn, Organization, Project, ProjectKey, ProjectRef};
use super::{ApiError, Ctx, Reply};
use crate::store::queries;

/// A project row.
#[derive(Debug, Clone)]
pub(crate) struct ProjectRow {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub enabled: bool,
    pub created: f64,
}

impl ProjectRow {
    pub(crate) fn to_ref(&self) -> ProjectRef {
        ProjectRef {
            id: self.id.to_string(),
            slug: self.slug.clone(),
            name: self.name.clone(),
        }
    }

    fn to_project(&self) -> Project {
        Project {
            id: self.id.to_string(),
            slug: self.slug.clone(),
            name: self.name.clone(),
            platform: None,
            date_created: Some(iso(self.created)),
            status: if self.enabled { "active" } else { "disabled" }.to_owned(),
            is_member: true,
            has_access: true,
            features: Vec::new(),
            organization: Some(organization_info()),
        }
    }
}

/// `web app!` → `web-app`; empty → `project-{id}`.
pub(crate) fn slugify(name: &str, id: i64) -> String {
    let mut out = String::new();
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_owned();
    if out.is_empty() {
        format!("project-{id}")
    } else {
        out
    }
}

/// Every project, by id.
pub(crate) fn all(conn: &Connection) -> Result<Vec<ProjectRow>, ApiError> {
    let mut stmt =
        conn.prepare_cached("SELECT id, name, enabled, created FROM projects ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        let id: i64 = r.get(0)?;
        let name: String = r.get(1)?;
        Ok(ProjectRow {
            id,
            slug: String::new(),
            name,
            enabled: r.get(2)?,
            created: r.get(3)?,
        })
    })?;
    let mut projects: Vec<ProjectRow> = rows.collect::<Result<_, _>>()?;
    let slugs = unique_slugs(projects.iter().map(|p| (p.id, p.name.as_str())));
    for (p, slug) in projects.iter_mut().zip(slugs) {
        p.slug = slug;
    }
    Ok(projects)
}

/// The slugs of projects given as `(id, name)` in id order: [`slugify`]
/// of the name, and for a project whose slug a lower id already has,
/// `{slug}-{id}` (again, until it is free). Slugs name projects in URLs
/// and start short ids (`WEB-1`), which count each project's issues, so two
/// projects must never share one (Sentry keeps them unique too). A slug
/// depends on the projects with lower ids: creating one with a lower id
/// and the same name renames the other (documented).
pub(crate) fn unique_slugs<'a>(projects: impl Iterator<Item = (i64, &'a str)>) -> Vec<String> {
    let mut taken = std::collections::HashSet::new();
    projects
        .map(|(id, name)| {
            let natural = slugify(name, id);
            let mut slug = natural.clone();
            // `web-3` may itself be a project's name: add until free.
            while taken.contains(&slug) {
                slug = format!("{slug}-{id}");
            }
            taken.insert(slug.clone());
            slug
        })
        .collect()
}

/// The project with this id (digits) or slug; 404 otherwise.
pub(crate) fn resolve(conn: &Connection, key: &str) -> Result<ProjectRow, ApiError> {
    find(&all(conn)?, key).ok_or_else(|| ApiError::not_found(format!("project {key:?}")))
}

/// [`resolve`] on a loaded list.
pub(crate) fn find(projects: &[ProjectRow], key: &str) -> Option<ProjectRow> {
    let key = key.trim();
    if let Ok(id) = key.parse::<i64>() {
        if let Some(p) = projects.iter().find(|p| p.id == id) {
            return Some(p.clone());
        }
    }
    projects
        .iter()
        .find(|p| p.slug.eq_ignore_ascii_case(key))
        .cloned()
}

/// Resolves `?project=` values (ids or slugs; `-1` or none = all).
pub(crate) fn resolve_filter(
    conn: &Connection,
    keys: &[String],
) -> Result<Vec<ProjectRow>, ApiError> {
    let projects = all(conn)?;
    if keys.is_empty() || keys.iter().any(|k| k == "-1") {
        return Ok(projects);
    }
    keys.iter()
        .map(|k| find(&projects, k).ok_or_else(|| ApiError::not_found(format!("project {k:?}"))))
        .collect()
}

/// The ids of the `?project=` values, or `None` when there are none (no
/// project condition at all).
pub(crate) fn filter_ids(conn: &Connection, keys: &[String]) -> Result<Option<Vec<i64>>, ApiError> {
    if keys.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        resolve_filter(conn, keys)?.iter().map(|p| p.id).collect(),
    ))
}

fn organization_info() -> Organization {
    Organization {
        id: "1".to_owned(),
        slug: "local".to_owned(),
        name: "local".to_owned(),
    }
}

fn organization_json() -> serde_json::Value {
    serde_json::json!({
        "id": "1", "slug": "local", "name": "local", "status": {"id": "active", "name": "active"},
        "dateCreated": iso(0.0), "isEarlyAdopter": false, "require2FA": false,
        "requireEmailVerification": false, "features": [],
    })
}

/// `GET /api/0/organizations/`
pub(crate) fn organizations(_ctx: &Ctx) -> Result<Reply, ApiError> {
    Reply::json(&vec![organization_json()])
}

/// `GET /api/0/organizations/{org}/`
pub(crate) fn organization(_ctx: &Ctx) -> Result<Reply, ApiError> {
    Reply::json(&organization_json())
}

/// `GET /api/0/projects/`
pub(crate) async fn list(ctx: &Ctx) -> Result<Reply, ApiError> {
    let projects = ctx.read(all).await?;
    let out: Vec<Project> = projects.iter().map(ProjectRow::to_project).collect();
    Reply::json(&out)
}

/// `GET /api/0/projects/{org}/{project}/`: the project, with its
/// `fingerprintingRules` (empty when it has none), as Sentry's details.
pub(crate) async fn detail(ctx: &Ctx, key: &str) -> Result<Reply, ApiError> {
    let key = key.to_owned();
    let (project, rules) = ctx
        .read(move |c| {
            let project = resolve(c, &key)?;
            let rules = fingerprinting_rules(c, project.id)?;
            Ok((project, rules))
        })
        .await?;
    detail_json(&project, rules)
}

fn fingerprinting_rules(conn: &Connection, project: i64) -> Result<String, ApiError> {
    Ok(conn
        .prepare_cached("SELECT fingerprinting_rules FROM projects WHERE id = ?1")?
        .query_row([project], |r| r.get::<_, Option<String>>(0))?
        .unwrap_or_default())
}

fn detail_json(project: &ProjectRow, rules: String) -> Result<Reply, ApiError> {
    let mut json = serde_json::to_value(project.to_project()).map_err(|e| {
        ApiError::Store(crate::store::StoreError::Invalid(format!(
            "cannot encode: {e}"
        )))
    })?;
    if let Some(object) = json.as_object_mut() {
        object.insert("fingerprintingRules".to_owned(), rules.into());
    }
    Reply::json(&json)
}

/// `PUT /api/0/projects/{org}/{project}/` with `{"fingerprintingRules":
/// "…"}`: sets the project's fingerprint rules (checked first: a rule that
/// does not parse is a 400 naming its line; `""` removes them), which
/// apply to the next event. Answers the project as `GET` does. Other
/// fields of Sentry's project settings are refused: a 200 would let a
/// script believe they were set.
pub(crate) async fn update(ctx: &Ctx, key: &str) -> Result<Reply, ApiError> {
    let Some(body) = ctx.body.as_object() else {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object".to_owned(),
        ));
    };
    if let Some(other) = body.keys().find(|k| *k != "fingerprintingRules") {
        return Err(ApiError::BadRequest(format!(
            "{other:?} cannot be changed here; only fingerprintingRules can"
        )));
    }
    let rules = match body.get("fingerprintingRules") {
        None => None,
        Some(serde_json::Value::Null) => Some(String::new()),
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(ApiError::BadRequest(
                "fingerprintingRules must be a string".to_owned(),
            ))
        }
    };
    if let Some(text) = &rules {
        crate::grouping::fingerprint_rules::FingerprintRules::parse(text)
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    }
    let key = key.to_owned();
    let project = ctx.read(move |c| resolve(c, &key)).await?;
    let id = project.id;
    if let Some(text) = rules {
        let stored = (!text.trim().is_empty()).then_some(text);
        ctx.write(move |c| {
            c.prepare_cached("UPDATE projects SET fingerprinting_rules = ?2 WHERE id = ?1")?
                .execute(rusqlite::params![id, stored])?;
            Ok(())
        })
        .await?;
        ctx.store().note_projects_changed();
    }
    let rules = ctx.read(move |c| fingerprinting_rules(c, id)).await?;
    detail_json(&project, rules)
}

/// `GET /api/0/projects/{org}/{project}/keys/`
pub(crate) async fn keys(ctx: &Ctx, key: &str) -> Result<Reply, ApiError> {
    let key = key.to_owned();
    let (project, keys) = ctx
        .read(move |c| {
            let project = resolve(c, &key)?;
            let keys = queries::list_keys(c, Some(project.id))?;
            Ok((project, keys))
        })
        .await?;
    let (host, prefix) = ctx.dsn_parts();
    let out: Vec<ProjectKey> = keys
        .iter()
        .map(|k| {
            let dsn = k.dsn(host, prefix);
            ProjectKey {
                id: k.public_key.clone(),
                name: k.label.clone().unwrap_or_else(|| "Default".to_owned()),
                public: k.public_key.clone(),
                secret: None,
                project_id: project.id,
                is_active: k.enabled,
                dsn: KeyDsn {
                    public: dsn.clone(),
                    secret: dsn,
                },
            }
        })
        .collect();
    Reply::json(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slugify("Web App!", 3), "web-app");
        assert_eq!(slugify("default", 1), "default");
        assert_eq!(slugify("  ", 7), "project-7");
        assert_eq!(slugify("a__b--c", 1), "a__b-c");
        let slugs = unique_slugs([(1, "web"), (2, "Web"), (3, "api"), (4, "web-2")].into_iter());
        assert_eq!(slugs, ["web", "web-2", "api", "web-2-4"]);
        let slugs = unique_slugs([(1, "web"), (2, "web-3"), (3, "web")].into_iter());
        assert_eq!(slugs, ["web", "web-3", "web-3-3"]);
    }
}
