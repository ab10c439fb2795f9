//! Human output: aligned tables, short times, a progress line on stderr.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Writes `text` to stdout. A closed pipe (`receiver issues | head`) ends
/// the output quietly instead of panicking.
pub fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        _ => {}
    }
}

/// [`emit`] with a newline.
pub fn emitln(text: &str) {
    emit(&format!("{text}\n"));
}

/// Formats rows under headers with columns padded to their widest cell.
/// The last column is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let cols = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
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
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// `2024-05-01T12:00:03.123456Z` → `2024-05-01 12:00:03`.
pub fn short_time(iso: &str) -> String {
    let t = iso.replace('T', " ");
    t.get(..19).map_or(t.clone(), str::to_owned)
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
            "2024-05-01 12:00:03"
        );
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("ab\ncd", 4), "ab");
    }
}
