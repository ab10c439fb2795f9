//! Message parameterisation (PROTOCOL.md §10.4) and message trimming.
//!
//! One regex alternation, tried left to right at every position, replaces
//! each match with `<name>` of the alternative that matched: `email`, `url`,
//! `hostname`, `ip`, `uuid`, `sha1`, `md5`, `date`, `duration`, `hex`,
//! `float`, `int`, `quoted_str`, `bool`. The patterns are Sentry's
//! (`grouping/parameterization.py`), including the effects of Python's
//! verbose mode (a literal space inside a verbose pattern is ignored, so the
//! "kitchen" time only matches `3:04pm`, not `3:04 pm`). The `quoted_str` and
//! `bool` alternatives carry a `(?<==)` look-behind in Sentry; the `regex`
//! crate has no look-around, so the look-behind is checked by hand and a
//! rejected match resumes the search one character later, which is what the
//! backtracking engine does.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{CaptureLocations, Regex, RegexBuilder};

/// Placeholder names, in alternation order.
const NAMES: [&str; 14] = [
    "email",
    "url",
    "hostname",
    "ip",
    "uuid",
    "sha1",
    "md5",
    "date",
    "duration",
    "hex",
    "float",
    "int",
    "quoted_str",
    "bool",
];

/// Index in [`NAMES`] of the alternatives guarded by the `=` look-behind.
const QUOTED_STR: usize = 12;
const BOOL: usize = 13;

const TLDS_UPPER: &str = "COM|NET|ORG|JP|DE|UK|FR|BR|IT|RU|ES|ME|GOV|PL|CA|AU|CN|CO|IN|NL|EDU|INFO|EU|CH|ID|AT|KR|CZ|MX|BE|TV|SE|TR|TW|AL|UA|IR|VN|CL|SK|LY|CC|TO|NO|FI|US|PT|DK|AR|HU|TK|GR|IL|NEWS|RO|MY|BIZ|IE|ZA|NZ|SG|EE|TH|IO|XYZ|PE|BG|HK|RS|LT|LINK|PH|CLUB|SI|SITE|MOBI|BY|CAT|WIKI|LA|GA|XXX|CF|HR|NG|JOBS|ONLINE|KZ|UG|GQ|AE|IS|LV|PRO|FM|TIPS|MS|SA|APP";

/// The IPv4 octet `25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9]`.
const OCTET: &str = r"(25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])";
const MONTH: &str = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)";
const DAY: &str = "(?:Sun|Mon|Tue|Wed|Thu|Fri|Sat)";
const ZONE: &str = r"(?:UT|GMT|(?:E|C|M|P)(?:ST|DT)|[A-IK-Z])";

fn pattern() -> String {
    let h = "[0-9a-fA-F]";
    let ipv4 = format!(r"({OCTET}\.){{3,3}}{OCTET}");
    let email = r"[a-zA-Z0-9.!\#$%&'*+/=?^_`{|}\~\-]+@[a-zA-Z0-9\-]+(?:\.[a-zA-Z0-9\-]+)*";
    let url = r"\b(wss?|https?|ftp)://[^\s/$.?\#].[^\s]*";
    let hostname = format!(
        r"\b([a-zA-Z0-9\-]{{1,63}}\.)+?(({TLDS_UPPER})|({}))\b",
        TLDS_UPPER.to_ascii_lowercase()
    );
    let ip = [
        format!("({h}{{1,4}}:){{7,7}}{h}{{1,4}}"),
        format!("({h}{{1,4}}:){{1,7}}:"),
        format!("({h}{{1,4}}:){{1,6}}:{h}{{1,4}}"),
        format!("({h}{{1,4}}:){{1,5}}(:{h}{{1,4}}){{1,2}}"),
        format!("({h}{{1,4}}:){{1,4}}(:{h}{{1,4}}){{1,3}}"),
        format!("({h}{{1,4}}:){{1,3}}(:{h}{{1,4}}){{1,4}}"),
        format!("({h}{{1,4}}:){{1,2}}(:{h}{{1,4}}){{1,5}}"),
        format!("{h}{{1,4}}:((:{h}{{1,4}}){{1,6}})"),
        format!(":((:{h}{{1,4}}){{1,7}}|:)"),
        format!("fe80:(:{h}{{0,4}}){{0,4}}%[0-9a-zA-Z]{{1,}}"),
        format!("::(ffff(:0{{1,4}}){{0,1}}:){{0,1}}{ipv4}"),
        format!(r"({h}{{1,4}}:){{1,4}}:{ipv4}\b"),
    ]
    .join("|");
    let ip = format!(r"({ip})|(\b{ipv4}\b)");
    let uuid = format!(r"\b{h}{{8}}-{h}{{4}}-{h}{{4}}-{h}{{4}}-{h}{{12}}\b");
    let sha1 = format!(r"\b{h}{{40}}\b");
    let md5 = format!(r"\b{h}{{32}}\b");
    let date = [
        // RFC822, RFC1123, RFC1123Z
        format!(
            r"({DAY},\s\d{{1,2}}\s{MONTH}\s\d{{2,4}}\s\d{{1,2}}:\d{{1,2}}(:\d{{1,2}})?\s([-\+][\d]{{2}}[0-5][\d]|{ZONE}))"
        ),
        // "Mon Jan 02, 1999", "Jan 02, 1999"
        format!(r"(({DAY}\s)?{MONTH}\s[0-3]\d,\s\d{{2,4}})"),
        // RFC850
        format!(
            r"((?:Sunday|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday),\s\d{{2}}-{MONTH}-\d{{2}}\s\d{{2}}:\d{{2}}:\d{{2}}\s{ZONE})"
        ),
        // RFC3339, RFC3339Nano
        r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z?([+-]?\d{2}:\d{2})?)".to_owned(),
        // Datetime
        r"(\d{4}-?[01]\d-?[0-3]\d\s[0-2]\d:[0-5]\d:[0-5]\d)(\.\d+)?".to_owned(),
        // Kitchen (the space before am/pm is dropped by Python's verbose mode)
        r"(\d{1,2}:\d{2}(:\d{2})?(?:[aApP][Mm])?)".to_owned(),
        // Date
        r"(\d{4}-[01]\d-[0-3]\d)".to_owned(),
        // Time
        r"([0-2]\d:[0-5]\d:[0-5]\d)".to_owned(),
        // Old date formats
        concat!(
            r"((\d{4}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-5]\d\.\d+([+-][0-2]\d:[0-5]\d|Z))|",
            r"(\d{4}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-5]\d([+-][0-2]\d:[0-5]\d|Z))|",
            r"(\d{4}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d([+-][0-2]\d:[0-5]\d|Z)))"
        )
        .to_owned(),
        r"(\b(?:(Sun|Mon|Tue|Wed|Thu|Fri|Sat)\s+)?(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+([\d]{1,2})\s+([\d]{2}:[\d]{2}:[\d]{2})\s+[\d]{4})".to_owned(),
        format!(
            r"(\b(?:(Sun|Mon|Tue|Wed|Thu|Fri|Sat),\s+)?(0[1-9]|[1-2]?[\d]|3[01])\s+(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+(19[\d]{{2}}|[2-9][\d]{{3}})\s+(2[0-3]|[0-1][\d]):([0-5][\d])(?::(60|[0-5][\d]))?\s+([-\+][\d]{{2}}[0-5][\d]|{ZONE}))"
        ),
        r"(datetime.datetime\(.*?\))".to_owned(),
    ]
    .join("|");
    let duration = r"\b(\d+ms)|(\d+(\.\d+)?s)\b";
    let hex = r"\b0[xX][0-9a-fA-F]+\b";
    let float = r"-\d+\.\d+\b|\b\d+\.\d+\b";
    let int = r"-\d+\b|\b\d+\b";
    let quoted_str = r#"'([^']+)'|"([^"]+)""#;
    let bool_ = "True|true|False|false";
    let parts: [&str; 14] = [
        email, url, &hostname, &ip, &uuid, &sha1, &md5, &date, duration, hex, float, int,
        quoted_str, bool_,
    ];
    NAMES
        .iter()
        .zip(parts)
        .map(|(name, p)| format!("(?P<{name}>{p})"))
        .collect::<Vec<_>>()
        .join("|")
}

/// Python's `\s` for `str` patterns also matches the information
/// separators `\x1c`–`\x1f`.
const PY_SPACE_ASCII: &str = r"[\t\n\x0B\x0C\r \x1C-\x1F]";

/// The pattern for ASCII-only text: `\d`, `\s` and `\b` restricted to
/// ASCII, which on ASCII input match exactly what the Unicode versions
/// match, and let the DFA run without Unicode word-boundary fallbacks.
fn ascii_pattern(unicode: &str) -> String {
    unicode
        .replace(r"\d", "[0-9]")
        .replace(r"\s", PY_SPACE_ASCII)
        .replace(r"\b", r"(?-u:\b)")
}

struct Parameterizer {
    regex: Regex,
    /// Capture-group index of each entry of [`NAMES`].
    groups: [usize; 14],
}

impl Parameterizer {
    fn new(pattern: &str) -> Parameterizer {
        let regex = RegexBuilder::new(pattern)
            .size_limit(64 << 20)
            .dfa_size_limit(16 << 20)
            .build()
            .expect("the parameterisation regex is valid");
        let mut groups = [0; 14];
        for (slot, name) in groups.iter_mut().zip(NAMES) {
            *slot = regex
                .capture_names()
                .position(|n| n == Some(name))
                .expect("every placeholder has a named group");
        }
        Parameterizer { regex, groups }
    }
}

/// For text with non-ASCII characters (Unicode `\d`, `\s`, `\b` as in
/// Python).
static UNICODE: LazyLock<Parameterizer> =
    LazyLock::new(|| Parameterizer::new(&pattern().replace(r"\s", r"[\s\x1C-\x1F]")));

/// For ASCII text (the common case).
static ASCII: LazyLock<Parameterizer> =
    LazyLock::new(|| Parameterizer::new(&ascii_pattern(&pattern())));

/// Replaces variable parts of a message (numbers, ids, dates, addresses...)
/// with placeholders such as `<int>` (PROTOCOL.md §10.4), so that messages
/// that differ only in such values group together.
///
/// ```
/// use receiver::grouping::parameterize;
/// assert_eq!(parameterize("User 123 not found at 0x7ffe"), "User <int> not found at <hex>");
/// assert_eq!(parameterize("mail bob@example.com, key='abc'"), "mail <email>, key=<quoted_str>");
/// assert_eq!(parameterize("no numbers here"), "no numbers here");
/// ```
pub fn parameterize(text: &str) -> String {
    parameterize_cow(text).into_owned()
}

/// [`parameterize`] without allocating when nothing is replaced.
pub(crate) fn parameterize_cow(text: &str) -> Cow<'_, str> {
    let p: &Parameterizer = if text.is_ascii() { &ASCII } else { &UNICODE };
    let mut locs: CaptureLocations = p.regex.capture_locations();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut pos = 0;
    while pos <= text.len() {
        let Some(m) = p.regex.captures_read_at(&mut locs, text, pos) else {
            break;
        };
        let (start, end) = (m.start(), m.end());
        let which = p
            .groups
            .iter()
            .position(|&g| locs.get(g).is_some())
            .unwrap_or(NAMES.len() - 1);
        if (which == QUOTED_STR || which == BOOL) && !text[..start].ends_with('=') {
            // The look-behind `(?<==)` fails: no match starts here.
            pos = start + text[start..].chars().next().map_or(1, char::len_utf8);
            continue;
        }
        let buf = out.get_or_insert_with(|| String::with_capacity(text.len()));
        buf.push_str(&text[copied..start]);
        buf.push('<');
        buf.push_str(NAMES[which]);
        buf.push('>');
        copied = end;
        pos = if end > start {
            end
        } else {
            end + text[end..].chars().next().map_or(1, char::len_utf8)
        };
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut buf) => {
            buf.push_str(&text[copied..]);
            Cow::Owned(buf)
        }
    }
}

/// Python's `str.isspace` (Unicode whitespace plus the information
/// separators `\x1c`–`\x1f`).
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// Python's `str.splitlines` boundaries (`\r\n` counts as one).
fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r'
            | '\x0b'
            | '\x0c'
            | '\x1c'
            | '\x1d'
            | '\x1e'
            | '\u{85}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// The first two lines of `text` that are not blank.
fn first_two_lines(text: &str) -> (Option<&str>, Option<&str>) {
    let mut found: [Option<&str>; 2] = [None, None];
    let mut n = 0;
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    loop {
        let (line_end, next_start) = loop {
            match chars.next() {
                None => break (text.len(), None),
                Some((i, c)) if is_line_break(c) => {
                    let mut next = i + c.len_utf8();
                    if c == '\r' {
                        if let Some(&(j, '\n')) = chars.peek() {
                            chars.next();
                            next = j + 1;
                        }
                    }
                    break (i, Some(next));
                }
                Some(_) => {}
            }
        };
        let line = &text[start..line_end];
        if !line.chars().all(is_py_space) {
            found[n] = Some(line);
            n += 1;
            if n == 2 {
                break;
            }
        }
        match next_start {
            Some(s) => start = s,
            None => break,
        }
    }
    (found[0], found[1])
}

/// Keeps the first two non-blank lines of a message (appending `...` when
/// anything was removed, even just blank lines) and parameterises the
/// result: the normalisation grouping applies to messages and exception
/// values (Sentry's `normalize_message_for_grouping`).
///
/// ```
/// use receiver::grouping::normalize_message;
/// assert_eq!(normalize_message("retry 3 of 5"), "retry <int> of <int>");
/// assert_eq!(normalize_message("a\n\nb\nc"), "a\nb...");
/// ```
pub fn normalize_message(message: &str) -> String {
    normalize_message_cow(message).into_owned()
}

/// [`normalize_message`] without allocating when nothing changes.
pub(crate) fn normalize_message_cow(message: &str) -> Cow<'_, str> {
    let trimmed: Cow<'_, str> = match first_two_lines(message) {
        (Some(a), None) if a.len() == message.len() => Cow::Borrowed(message),
        (None, _) => Cow::Borrowed("..."),
        (Some(a), None) => Cow::Owned(format!("{a}...")),
        (Some(a), Some(b)) => {
            let joined_len = a.len() + 1 + b.len();
            if joined_len == message.len() && message.as_bytes()[a.len()] == b'\n' {
                Cow::Borrowed(message)
            } else {
                Cow::Owned(format!("{a}\n{b}..."))
            }
        }
    };
    match trimmed {
        Cow::Borrowed(s) => parameterize_cow(s),
        Cow::Owned(s) => match parameterize_cow(&s) {
            Cow::Borrowed(_) => Cow::Owned(s),
            Cow::Owned(p) => Cow::Owned(p),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        let cases = [
            (
                "User 123 not found at 0x7ffe",
                "User <int> not found at <hex>",
            ),
            (
                "write to bob.smith@example.com failed",
                "write to <email> failed",
            ),
            (
                "GET https://api.example.com/v1/users?id=3 -> 500",
                "GET <url> -> <int>",
            ),
            (
                "cannot reach db.internal.example.com",
                "cannot reach <hostname>",
            ),
            ("connect 10.0.0.12 refused", "connect <ip> refused"),
            ("peer ::1 gone", "peer <ip> gone"),
            (
                "order 123e4567-e89b-12d3-a456-426614174000 lost",
                "order <uuid> lost",
            ),
            (
                "commit 0123456789abcdef0123456789abcdef01234567",
                "commit <sha1>",
            ),
            ("etag d41d8cd98f00b204e9800998ecf8427e", "etag <md5>"),
            (
                "at 2024-01-31T12:00:00Z and 2024-02-01",
                "at <date> and <date>",
            ),
            ("took 150ms", "took <duration>"),
            ("took 1.5s", "took <duration>"),
            ("ratio -0.25 and 3.14", "ratio <float> and <float>"),
            ("offset -12", "offset <int>"),
            (
                "name='bob' and other='x'",
                "name=<quoted_str> and other=<quoted_str>",
            ),
            ("flag=true but true alone", "flag=<bool> but true alone"),
            ("'quoted' alone stays", "'quoted' alone stays"),
            ("at 3:04pm", "at <date>"),
            (
                "created datetime.datetime(2024, 1, 2) now",
                "created <date> now",
            ),
            ("grouping: same line #4", "grouping: same line #<int>"),
        ];
        for (input, want) in cases {
            assert_eq!(parameterize(input), want, "input: {input}");
        }
    }

    #[test]
    fn ascii_and_unicode_patterns_agree_on_ascii_text() {
        let samples = [
            "User 123 not found at 0x7ffe",
            "at 2024-01-31T12:00:00Z, Mon, 02 Jan 2006 15:04 MST and 3:04pm",
            "x=True y='a b' z=\"c\" 1.5s 20ms -3 -4.5 db.example.com 10.1.2.3 ::1",
            "tab\there\x1cand 12\x1f34",
        ];
        for s in samples {
            let mut a = String::new();
            let mut u = String::new();
            for (p, out) in [(&*ASCII, &mut a), (&*UNICODE, &mut u)] {
                let mut pos = 0;
                while let Some(m) = p.regex.find_at(s, pos) {
                    out.push_str(&format!("{}..{} ", m.start(), m.end()));
                    pos = m.end().max(pos + 1);
                }
            }
            assert_eq!(a, u, "{s}");
        }
        // Unicode digits are digits, as in Python.
        assert_eq!(parameterize("id \u{0663}\u{0664} é"), "id <int> é");
    }

    #[test]
    fn unchanged_text_is_borrowed() {
        assert!(matches!(
            parameterize_cow("nothing to see"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(
            normalize_message_cow("nothing to see"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn trimming_keeps_two_non_blank_lines() {
        assert_eq!(normalize_message("one line"), "one line");
        assert_eq!(normalize_message("a\nb"), "a\nb");
        assert_eq!(normalize_message("a\r\nb"), "a\nb...");
        assert_eq!(
            normalize_message("\n  \nfirst\n\nsecond\nthird"),
            "first\nsecond..."
        );
        assert_eq!(
            normalize_message("trailing newline\n"),
            "trailing newline..."
        );
        assert_eq!(normalize_message("   "), "...");
        assert_eq!(
            normalize_message("id 7\nid 8\nid 9"),
            "id <int>\nid <int>..."
        );
    }
}
