//! Human output: aligned tables, short times, a progress line on stderr.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Writes `text` to stdout with its control characters shown escaped (see
/// [`sanitize`]): event data comes from any client with a DSN, and an
/// escape sequence in a message would otherwise reach the terminal of
/// whoever runs `receiver tail`. A closed pipe (`receiver issues | head`)
/// ends the output quietly instead of panicking.
pub fn emit(text: &str) {
    emit_bytes(&sanitize(text));
}

/// [`emit`] with a newline.
pub fn emitln(text: &str) {
    emit(&format!("{text}\n"));
}

/// Writes JSON `text`, with the characters serde_json leaves as they are
/// but a terminal acts on (DEL, C1 controls, bidi overrides) written as
/// `\uXXXX` escapes: still the same JSON, and `receiver tail --json` in a
/// terminal passes no escape sequence a DSN holder put in an event.
///
/// ```
/// use receiver::cli::output::json_safe;
/// assert_eq!(json_safe("{\"a\":\"x\u{9b}2J\"}"), "{\"a\":\"x\\u009b2J\"}");
/// ```
pub fn emit_json(text: &str) {
    emit_bytes(&json_safe(text));
}

/// See [`emit_json`]. These characters only occur inside JSON strings,
/// where the escape means the same character.
pub fn json_safe(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(|c| unsafe_char(c) && c != '\n') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_char(c) && c != '\n' {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

fn emit_bytes(text: &str) {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        _ => {}
    }
}

/// `text` with control characters (C0 but newline and tab, DEL, C1) and
/// bidirectional overrides written as `\u{..}` escapes, so that nothing a
/// terminal acts on gets through.
///
/// ```
/// use receiver::cli::output::sanitize;
/// assert_eq!(sanitize("ok\ttext\n"), "ok\ttext\n");
/// assert_eq!(sanitize("\x1b]0;title\x07\r"), "\\u{1b}]0;title\\u{7}\\u{d}");
/// assert_eq!(sanitize("a\u{202e}b"), "a\\u{202e}b");
/// ```
pub fn sanitize(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Formats rows under headers with columns padded to their widest cell.
/// The last column is not padded. A cell is kept on its line: newlines
/// and tabs in it (server data, from any client with a DSN) are shown as
/// `\n`, `\r` and `\t`, so that they neither break the alignment nor
/// forge a row.
///
/// ```
/// use receiver::cli::output::table;
/// let rows = [vec!["a\nb  c".to_owned(), "x\ty".to_owned()]];
/// assert_eq!(table(&["K", "V"], &rows), "K        V\na\\nb  c  x\\ty\n");
/// ```
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| one_line(cell).into_owned()).collect())
        .collect();
    let cols = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, cell) in cells.enumerate().take(cols) {
            if i + 1 == cols {
                l.push_str(cell);
            } else {
                l.push_str(cell);
                let pad = widths[i] - cell.chars().count();
                l.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in &rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// `text` with newlines, carriage returns and tabs written as `\n`, `\r`
/// and `\t`: for what is one line by nature (a title, a culprit).
///
/// ```
/// use receiver::cli::output::one_line;
/// assert_eq!(one_line("a\nb\tc"), "a\\nb\\tc");
/// ```
pub fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(['\n', '\r', '\t']) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.replace('\n', "\\n")
            .replace('\r', "\\r")
            .replace('\t', "\\t"),
    )
}

/// `text` (a message, an exception's value) over as many lines as it has,
/// each after the first indented by `indent`, so that none can pass for
/// a line of the view around it; a carriage return ends a line too.
///
/// ```
/// use receiver::cli::output::indented;
/// assert_eq!(indented("a\nb\r\nc", "  "), "a\n  b\n  c");
/// ```
pub fn indented(text: &str, indent: &str) -> String {
    text.lines()
        .flat_map(|line| line.split('\r'))
        .collect::<Vec<_>>()
        .join(&format!("\n{indent}"))
}

/// `2024-05-01T12:00:03.123456Z` → `2024-05-01 12:00:03Z`: to the second,
/// still marked as UTC (the API's times are; a view beside a monitor's
/// time zone or a user's clock should not pass for local time).
///
/// ```
/// use receiver::cli::output::short_time;
/// assert_eq!(short_time("2024-05-01T12:00:03.123456Z"), "2024-05-01 12:00:03Z");
/// assert_eq!(short_time(""), "");
/// ```
pub fn short_time(iso: &str) -> String {
    let t = iso.replace('T', " ");
    match t.get(..19) {
        Some(second) if t.ends_with('Z') => format!("{second}Z"),
        Some(second) => second.to_owned(),
        None => t,
    }
}

/// The first 8 characters of a hex id (a trace, event or check-in id), as
/// tables show it; empty for none.
///
/// ```
/// use receiver::cli::output::short_id;
/// assert_eq!(short_id(Some("0af7651916cd43dd8448eb211c80319c")), "0af76519");
/// assert_eq!(short_id(None), "");
/// ```
pub fn short_id(id: Option<&str>) -> String {
    id.map(|id| id.chars().take(8).collect())
        .unwrap_or_default()
}

/// Cuts `s` to `max` characters with `…`.
pub fn truncate(s: &str, max: usize) -> String {
    let first_line = s.lines().next().unwrap_or("");
    if first_line.chars().count() <= max {
        first_line.to_owned()
    } else {
        let mut t: String = first_line.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// A one-line spinner on stderr, shown only when stderr is a terminal.
#[derive(Debug)]
pub struct Progress {
    enabled: bool,
    started: Instant,
    frame: usize,
}

impl Progress {
    /// Starts (draws nothing yet).
    pub fn new() -> Progress {
        Progress {
            enabled: std::io::stderr().is_terminal(),
            started: Instant::now(),
            frame: 0,
        }
    }

    /// Redraws the line with `message` and the elapsed time of `total`.
    pub fn update(&mut self, message: &str, total: Duration) {
        if !self.enabled {
            return;
        }
        const FRAMES: &[char] = &['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
        self.frame = (self.frame + 1) % FRAMES.len();
        let mut err = std::io::stderr();
        let _ = write!(
            err,
            "\r\x1b[2K{} {message} ({:.1}s / {}s)",
            FRAMES[self.frame],
            self.started.elapsed().as_secs_f64(),
            total.as_secs()
        );
        let _ = err.flush();
    }

    /// Clears the line.
    pub fn finish(&mut self) {
        if self.enabled {
            let mut err = std::io::stderr();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let t = table(
            &["ID", "TITLE"],
            &[
                vec!["1".into(), "a".into()],
                vec!["100".into(), "b c".into()],
            ],
        );
        assert_eq!(t, "ID   TITLE\n1    a\n100  b c\n");
        assert_eq!(
            short_time("2024-05-01T12:00:03.123456Z"),
            "2024-05-01 12:00:03Z"
        );
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("ab\ncd", 4), "ab");
    }
}
