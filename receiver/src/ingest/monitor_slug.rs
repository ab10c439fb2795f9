//! A cron monitor's slug as Sentry files check-ins under it.
//!
//! Relay cuts the `monitor_slug` a check-in names to 50 characters and
//! refuses an empty one; Sentry's monitor consumer then makes a slug of it
//! with Django's `slugify` and cuts that to 50 characters again, without
//! dashes at either end. So `"Nightly Backup"`, `"nightly-backup"` and
//! `"nightly backup!"` are one monitor, `nightly-backup`, in Sentry; the
//! receiver files them the same way ([`sentry_slug`]), and the check-ins
//! list's `monitor=` filter takes either form ([`filter_forms`]).

use unicode_normalization::UnicodeNormalization;

/// Relay's and Sentry's longest monitor slug, in characters.
pub const MAX_CHARS: usize = 50;

/// The slug Sentry files a check-in naming `sent` under (already cut to
/// [`MAX_CHARS`] by Relay or not: the result is the same). Empty when
/// nothing of `sent` can be part of a slug (only punctuation, or only
/// letters with no ASCII decomposition such as `"日本"`).
///
/// ```
/// use receiver::ingest::monitor_slug::sentry_slug;
///
/// assert_eq!(sentry_slug("Nightly Backup"), "nightly-backup");
/// assert_eq!(sentry_slug("  café -- au_lait! "), "cafe-au_lait");
/// assert_eq!(sentry_slug("日本"), "");
/// ```
pub fn sentry_slug(sent: &str) -> String {
    let relay_cut: String = sent.chars().take(MAX_CHARS).collect();
    let slug = django_slugify(&relay_cut);
    let cut: String = slug.chars().take(MAX_CHARS).collect();
    cut.trim_matches('-').to_owned()
}

/// The slugs a `monitor=` filter value may name a monitor by: its
/// [`sentry_slug`] (the value itself when nothing of it can be made a
/// slug), and the value as given when that differs (a database written
/// before slugs were made keeps a few as they were sent: see
/// `store::monitor_slugs`).
pub fn filter_forms(value: &str) -> (String, Option<String>) {
    let slug = sentry_slug(value);
    if slug.is_empty() || slug == value {
        (value.to_owned(), None)
    } else {
        (slug, Some(value.to_owned()))
    }
}

/// Django's `slugify(value)` without `allow_unicode`: the compatibility
/// decomposition (NFKD) with everything not ASCII dropped, lower case,
/// everything but word characters, white space and dashes removed, each
/// run of dashes and white space made one dash, and dashes and
/// underscores taken off both ends.
fn django_slugify(value: &str) -> String {
    let kept: String = value
        .nfkd()
        .filter(char::is_ascii)
        .map(|c| c.to_ascii_lowercase())
        .filter(|&c| is_word(c) || is_space(c) || c == '-')
        .collect();
    let mut out = String::with_capacity(kept.len());
    let mut in_run = false;
    for c in kept.chars() {
        if c == '-' || is_space(c) {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.push(c);
            in_run = false;
        }
    }
    out.trim_matches(|c| c == '-' || c == '_').to_owned()
}

/// Python's `\w` for an ASCII character.
fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Python's `\s` for an ASCII character: `str.isspace()` also counts the
/// four information separators `\x1c`–`\x1f`.
fn is_space(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r' | '\x1c'..='\x1f'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_made_as_django_makes_them() {
        for (sent, slug) in [
            ("my-job", "my-job"),
            ("My Job", "my-job"),
            ("Hello, World!", "hello-world"),
            ("a - ! - b", "a-b"),
            ("a--b", "a-b"),
            ("a\x1fb", "a-b"),
            ("__x__", "x"),
            ("-_x_-", "x"),
            ("a_b", "a_b"),
            ("Crème Brûlée", "creme-brulee"),
            ("\u{fb01}le", "file"),
            ("Ångström 2", "angstrom-2"),
            ("日本", ""),
            ("!!!", ""),
            ("job.daily", "jobdaily"),
        ] {
            assert_eq!(sentry_slug(sent), slug, "{sent:?}");
        }
    }

    #[test]
    fn slugs_are_cut_to_fifty_characters_without_a_dash_at_the_end() {
        assert_eq!(sentry_slug(&"a".repeat(60)), "a".repeat(50));
        // Relay cuts what was sent before the slug is made.
        assert_eq!(
            sentry_slug(&format!("{}é", "a".repeat(49))),
            format!("{}e", "a".repeat(49))
        );
        assert_eq!(
            sentry_slug(&format!("{}éz", "a".repeat(49))),
            format!("{}e", "a".repeat(49))
        );
        assert_eq!(
            sentry_slug(&format!("{} b", "a".repeat(49))),
            "a".repeat(49)
        );
    }

    #[test]
    fn a_filter_finds_both_forms() {
        assert_eq!(filter_forms("nightly"), ("nightly".to_owned(), None));
        assert_eq!(
            filter_forms("Nightly Job"),
            ("nightly-job".to_owned(), Some("Nightly Job".to_owned()))
        );
        assert_eq!(filter_forms("日本"), ("日本".to_owned(), None));
    }
}
