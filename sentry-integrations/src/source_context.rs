//! Source lines around in-app frames (`pre_context`, `context_line`,
//! `post_context`), read from the source files when they are on this machine
//! (absolute paths to regular `.rs` files only).
//!
//! Running next to its sources (development, CI, a local receiver), a
//! program's stack traces then show the code of every in-app frame, as the
//! Python and JavaScript SDKs' do. A deployed binary without its sources
//! gets nothing added: a file that cannot be read is remembered as missing
//! and not tried again.
//!
//! Files are read once and kept (at most [`MAX_FILES`], each at most
//! [`MAX_FILE_BYTES`]); lines are cut at [`MAX_LINE_CHARS`] characters.
//!
//! ```
//! use sentry_core::protocol::Frame;
//! use sentry_integrations::source_context::SourceCache;
//!
//! let mut frame = Frame {
//!     abs_path: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/src/source_context.rs").into()),
//!     lineno: Some(1),
//!     in_app: Some(true),
//!     ..Default::default()
//! };
//! SourceCache::new().add_context(&mut frame, 5);
//! assert!(frame.context_line.as_deref().unwrap().starts_with("//! Source lines"));
//! assert!(frame.pre_context.is_empty());
//! assert_eq!(frame.post_context.len(), 5);
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use sentry_core::protocol::Frame;

/// Source files kept in memory at most; the cache is emptied when full.
pub const MAX_FILES: usize = 64;
/// Larger files are not read (generated code, bundled data).
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// Longer lines are cut to this many characters.
pub const MAX_LINE_CHARS: usize = 200;

/// Source files read so far, by path (`None`: not readable).
#[derive(Debug, Default)]
pub struct SourceCache {
    files: Mutex<HashMap<String, Option<Arc<[String]>>>>,
}

impl SourceCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds up to `lines` lines before and after the frame's line, and the
    /// line itself, when the frame has an `abs_path` and `lineno`, its file
    /// can be read, and it has no context yet. Any `lines` is accepted:
    /// `usize::MAX` means the whole file (the counts are clamped to the
    /// file's ends, never overflow).
    ///
    /// ```
    /// use sentry_core::protocol::Frame;
    /// use sentry_integrations::source_context::SourceCache;
    ///
    /// let mut frame = Frame {
    ///     abs_path: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/src/source_context.rs").into()),
    ///     lineno: Some(2),
    ///     ..Default::default()
    /// };
    /// SourceCache::new().add_context(&mut frame, usize::MAX);
    /// assert_eq!(frame.pre_context.len(), 1);
    /// assert!(frame.post_context.len() > 100);
    /// ```
    pub fn add_context(&self, frame: &mut Frame, lines: usize) {
        if lines == 0 || frame.context_line.is_some() {
            return;
        }
        let (Some(path), Some(lineno)) = (frame.abs_path.as_deref(), frame.lineno) else {
            return;
        };
        let Some(source) = self.file(path) else {
            return;
        };
        let Some(at) = usize::try_from(lineno)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .filter(|&i| i < source.len())
        else {
            return;
        };
        frame.pre_context = source[at.saturating_sub(lines)..at].to_vec();
        frame.context_line = Some(source[at].clone());
        // `lines` comes from the options and may be as large as
        // `usize::MAX`: `at + 1 + lines` would overflow.
        let end = source.len().min(at.saturating_add(1).saturating_add(lines));
        frame.post_context = source[at + 1..end].to_vec();
    }

    /// The lines of `path`, read on first use.
    fn file(&self, path: &str) -> Option<Arc<[String]>> {
        if let Some(known) = self.files.lock().get(path) {
            return known.clone();
        }
        // Read without the lock held: another thread may read the same file
        // meanwhile, which costs time, not correctness.
        let lines = read_lines(path);
        let mut files = self.files.lock();
        if files.len() >= MAX_FILES {
            files.clear();
        }
        files.insert(path.to_owned(), lines.clone());
        lines
    }
}

/// The file's lines (invalid UTF-8 replaced, long lines cut), or `None`
/// when it is not an absolute path to a regular `.rs` file, or is
/// unreadable or too large.
///
/// Only Rust sources are read (a hand-built frame must not make the SDK
/// send lines of any file it names), only by absolute path (a relative one,
/// from `--remap-path-prefix`, would be resolved against whatever directory
/// the program runs in), and only regular files, with the size limit also
/// applied to the read itself (a FIFO or a growing file never blocks or
/// overruns it).
fn read_lines(path: &str) -> Option<Arc<[String]>> {
    use std::io::Read;
    let p = std::path::Path::new(path);
    if !p.is_absolute() || p.extension() != Some(std::ffi::OsStr::new("rs")) {
        return None;
    }
    let meta = std::fs::metadata(p).ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
        return None;
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(p)
        .ok()?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return None;
    }
    let text = String::from_utf8_lossy(&bytes);
    Some(
        text.lines()
            .map(|line| match line.char_indices().nth(MAX_LINE_CHARS) {
                Some((cut, _)) => line[..cut].to_owned(),
                None => line.to_owned(),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn frame(path: &str, lineno: u64) -> Frame {
        Frame {
            abs_path: Some(path.to_owned()),
            lineno: Some(lineno),
            ..Default::default()
        }
    }

    fn source(text: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new()
            .suffix(".rs")
            .tempfile()
            .expect("temp file");
        f.write_all(text).expect("write");
        f
    }

    #[test]
    fn lines_around_the_frame_clipped_at_the_file_ends() {
        let file = source(b"one\ntwo\nthree\nfour\nfive\n");
        let path = file.path().to_str().expect("utf-8 path");
        let cache = SourceCache::new();
        let mut f = frame(path, 2);
        cache.add_context(&mut f, 2);
        assert_eq!(f.pre_context, ["one"]);
        assert_eq!(f.context_line.as_deref(), Some("two"));
        assert_eq!(f.post_context, ["three", "four"]);
        let mut last = frame(path, 5);
        cache.add_context(&mut last, 2);
        assert_eq!(last.pre_context, ["three", "four"]);
        assert_eq!(last.context_line.as_deref(), Some("five"));
        assert!(last.post_context.is_empty());
    }

    #[test]
    fn nothing_for_a_missing_file_a_line_past_the_end_or_line_zero() {
        let file = source(b"only\n");
        let path = file.path().to_str().expect("utf-8 path");
        let cache = SourceCache::new();
        for mut f in [frame("/no/such/file.rs", 1), frame(path, 2), frame(path, 0)] {
            cache.add_context(&mut f, 3);
            assert_eq!(f.context_line, None, "{f:?}");
        }
    }

    #[test]
    fn bad_bytes_and_long_lines_are_tamed() {
        let mut text = b"ab\xffc\n".to_vec();
        text.extend("\u{e9}".repeat(MAX_LINE_CHARS + 50).as_bytes());
        text.push(b'\n');
        let file = source(&text);
        let path = file.path().to_str().expect("utf-8 path");
        let cache = SourceCache::new();
        let mut f = frame(path, 1);
        cache.add_context(&mut f, 1);
        assert!(f.context_line.as_deref().unwrap().contains('\u{fffd}'));
        assert_eq!(f.post_context[0].chars().count(), MAX_LINE_CHARS);
    }

    #[test]
    fn only_absolute_paths_to_rust_sources_are_read() {
        let text = source(b"fn main() {}\n");
        let rs = text.path().to_str().expect("utf-8 path").to_owned();
        let mut other = tempfile::Builder::new()
            .suffix(".txt")
            .tempfile()
            .expect("temp file");
        other.write_all(b"secret\n").expect("write");
        let cache = SourceCache::new();
        let dir = text.path().parent().expect("dir").to_str().expect("utf-8");
        for path in [
            other.path().to_str().expect("utf-8 path").to_owned(),
            "src/lib.rs".to_owned(),
            dir.to_owned(),
        ] {
            let mut f = frame(&path, 1);
            cache.add_context(&mut f, 1);
            assert_eq!(f.context_line, None, "{path}");
        }
        let mut f = frame(&rs, 1);
        cache.add_context(&mut f, 1);
        assert_eq!(f.context_line.as_deref(), Some("fn main() {}"));
    }

    #[test]
    fn any_number_of_lines_is_clamped_to_the_file() {
        let file = source(b"one\ntwo\nthree\n");
        let path = file.path().to_str().expect("utf-8 path");
        let cache = SourceCache::new();
        for lines in [usize::MAX, usize::MAX - 1, usize::MAX / 2 + 1] {
            let mut f = frame(path, 2);
            cache.add_context(&mut f, lines);
            assert_eq!(f.pre_context, ["one"], "{lines}");
            assert_eq!(f.context_line.as_deref(), Some("two"), "{lines}");
            assert_eq!(f.post_context, ["three"], "{lines}");
        }
    }

    #[test]
    fn a_file_is_read_once() {
        let file = source(b"before\n");
        let path = file.path().to_str().expect("utf-8 path").to_owned();
        let cache = SourceCache::new();
        let mut f = frame(&path, 1);
        cache.add_context(&mut f, 0);
        assert_eq!(f.context_line, None, "zero lines: nothing");
        cache.add_context(&mut f, 1);
        assert_eq!(f.context_line.as_deref(), Some("before"));
        std::fs::write(&path, "after\n").expect("rewrite");
        let mut again = frame(&path, 1);
        cache.add_context(&mut again, 1);
        assert_eq!(again.context_line.as_deref(), Some("before"));
    }
}
