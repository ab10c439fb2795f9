//! Ids as SDKs write them (event, trace and span ids), normalised to
//! lower-case hex, shared by ingestion and the API so that an id stored
//! and an id asked for compare equal.

/// Normalises an event, trace or span id: `len` hex digits in any case, or
/// for a 32-digit id also the dashed UUID form (`8-4-4-4-12`), the two
/// forms SDKs write ids in. Dashes anywhere else make it no id: a lookup by
/// `abc-def…` should say the id is invalid, not find `abcdef…`.
///
/// ```
/// use receiver::ids::hex_id;
///
/// let dashed = "5B8EFFF7-9803-8103-D269-B633813FC60C";
/// assert_eq!(hex_id(dashed, 32).as_deref(), Some("5b8efff798038103d269b633813fc60c"));
/// assert_eq!(hex_id("abc-def", 6), None);
/// ```
pub fn hex_id(s: &str, len: usize) -> Option<String> {
    const UUID_DASHES: [usize; 4] = [8, 13, 18, 23];
    let bytes = s.as_bytes();
    let dashed = len == 32 && bytes.len() == 36 && UUID_DASHES.iter().all(|&i| bytes[i] == b'-');
    let digits = || {
        bytes
            .iter()
            .enumerate()
            .filter(move |(i, _)| !(dashed && UUID_DASHES.contains(i)))
            .map(|(_, b)| *b)
    };
    let count = if dashed { 32 } else { bytes.len() };
    (count == len && digits().all(|b| b.is_ascii_hexdigit())).then(|| {
        digits()
            .map(|b| char::from(b.to_ascii_lowercase()))
            .collect()
    })
}

/// The fewest hex digits an id prefix may have: shorter ones would match
/// too many ids to be worth a lookup (the CLI's tables show eight).
pub const MIN_PREFIX_LEN: usize = 8;

/// A 32-digit id (as [`hex_id`] takes it) or the start of one: at least
/// [`MIN_PREFIX_LEN`] hex digits, lower-cased. `None` for anything else.
///
/// ```
/// use receiver::ids::hex_prefix;
///
/// assert_eq!(hex_prefix("0AF76519").as_deref(), Some("0af76519"));
/// assert_eq!(hex_prefix("0af7651").as_deref(), None); // too short
/// assert_eq!(hex_prefix("0af76519-16cd").as_deref(), None);
/// ```
pub fn hex_prefix(s: &str) -> Option<String> {
    if let Some(full) = hex_id(s, 32) {
        return Some(full);
    }
    ((MIN_PREFIX_LEN..32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| s.to_ascii_lowercase())
}
