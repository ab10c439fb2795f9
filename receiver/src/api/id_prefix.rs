//! Ids given by their first digits, as the CLI's tables print them: a
//! lookup by `0af76519` finds the one stored id that starts so, or says
//! that none or several do.
//!
//! Ids are stored as lower-case hex text, so the ids starting with a
//! prefix are those between the prefix and the prefix followed by `g`
//! (past every hex digit): one range over an index that starts with the
//! id.

use std::collections::BTreeSet;

use rusqlite::{Connection, ToSql};

use super::ApiError;

/// How many candidates an ambiguous prefix's error names.
const SHOWN: usize = 3;

/// `id` as given in a path, as a lower-case prefix (see
/// [`crate::ids::hex_prefix`]); a 400 naming the `what` id otherwise.
pub(crate) fn parse(id: &str, what: &str) -> Result<String, ApiError> {
    crate::ids::hex_prefix(id).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "invalid {what} id {id:?}: expected 32 hex digits, or at least the first {}",
            crate::ids::MIN_PREFIX_LEN
        ))
    })
}

/// The one stored id that `prefix` (lower-case hex, see
/// [`crate::ids::hex_prefix`]) starts, found by `queries`; a 32-digit
/// `prefix` is returned as it is, without a lookup.
///
/// Each query selects ids and takes the range's lower bound as `?1`, its
/// upper bound as `?2` and `extra` after them; it should stop after a few
/// rows (`LIMIT 4`). `what` names the id in errors ("trace", "event").
/// None found: a 404; several: a 400 naming some of them.
pub(crate) fn resolve(
    c: &Connection,
    prefix: &str,
    what: &str,
    queries: &[&str],
    extra: &[&dyn ToSql],
) -> Result<String, ApiError> {
    if prefix.len() == 32 {
        return Ok(prefix.to_owned());
    }
    let upper = format!("{prefix}g");
    let mut found = BTreeSet::new();
    for sql in queries {
        let mut params: Vec<&dyn ToSql> = vec![&prefix, &upper];
        params.extend_from_slice(extra);
        let mut stmt = c.prepare_cached(sql)?;
        let ids = stmt.query_map(params.as_slice(), |r| r.get::<_, String>(0))?;
        for id in ids {
            found.insert(id?);
        }
        if found.len() > 1 {
            break;
        }
    }
    let mut ids = found.into_iter();
    match (ids.next(), ids.next()) {
        (Some(id), None) => Ok(id),
        (None, _) => Err(ApiError::NotFound(format!(
            "no {what} id starts with {prefix}"
        ))),
        (Some(first), Some(second)) => {
            let mut shown: Vec<String> = vec![first, second];
            shown.extend(ids.take(SHOWN - 2));
            Err(ApiError::BadRequest(format!(
                "{what} id {prefix} is ambiguous: {} and perhaps more start with it; give more digits",
                shown.join(", ")
            )))
        }
    }
}
