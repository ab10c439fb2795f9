//! Stack traces: from a `backtrace::Backtrace` or a `std::backtrace::Backtrace`
//! to Sentry frames, with in-app rules and trimming of SDK frames.
//!
//! # What a frame carries
//!
//! Frames are ordered **oldest first** (the outermost caller first, the frame
//! that panicked or captured last), as PROTOCOL.md §5.4 requires. Each frame
//! has:
//!
//! * `function`: the demangled name without the `::h0123456789abcdef` hash
//!   suffix (and without the `[0123abcd]` crate disambiguators of v0 symbols);
//!   the mangled name goes to `symbol`;
//! * `abs_path`, `filename`, `lineno`, `colno` from the debug info (the
//!   `filename` is shortened: relative to the working directory, or to the
//!   cargo registry or Rust source root);
//! * `module` and `package` derived from the symbol path:
//!   `myapp::db::Pool::get` has module `myapp::db` and package `myapp`,
//!   `<alloc::vec::Vec<T> as core::ops::drop::Drop>::drop` has module
//!   `alloc::vec` and package `alloc`, but
//!   `<core::option::Option<u32> as myapp::OptionExt>::get` (an impl that
//!   the orphan rule puts in the trait's crate) has module and package
//!   `myapp`;
//! * `in_app` (see [`InAppRules`]; a frame named without a module path,
//!   as inlined functions are with `debug = "line-tables-only"`, is in-app
//!   when its source file is the application's).
//!
//! # Trimming
//!
//! A stack captured inside a panic hook or inside the SDK starts with frames
//! of the panic machinery (`core::panicking`, `std::panicking`,
//! `rust_begin_unwind`), of the `backtrace` crate and of the SDK itself, and
//! for an event logged through the `tracing` or `log` bridges, with the
//! dispatch frames of `tracing`, `tracing_core`, `tracing_subscriber`,
//! `tracing_log` and `log`. [`trim_sdk_frames`] removes them from the top so
//! that the last frame is the application code that panicked, logged or
//! called `capture_*`: first everything from the newest "border" frame on
//! (`core::panicking::panic*`, `std::panicking::panic_with_hook`, the event
//! dispatch of `tracing_core` and `log`), which also removes a panic hook
//! or a subscriber of the application that runs there and calls the SDK's,
//! then the machinery and SDK frames still on top.
//!
//! ```
//! use sentry_integrations::backtrace::current_stacktrace;
//!
//! #[inline(never)]
//! fn where_am_i() -> sentry_core::protocol::Stacktrace {
//!     current_stacktrace().expect("debug info is available in doc tests")
//! }
//! let st = where_am_i();
//! let last = st.frames.last().unwrap();
//! assert!(last.function.as_deref().unwrap().ends_with("where_am_i"));
//! ```

use std::path::Path;
use std::sync::OnceLock;

use sentry_core::protocol::{Event, Frame, Stacktrace, Thread, ThreadId};
use sentry_core::{ClientOptions, Integration};

/// The most frames kept in one stack trace: the newest ones (the receiver
/// keeps the last 250 too, PROTOCOL.md §5.4).
pub const MAX_FRAMES: usize = 250;

/// Crates whose frames are never in-app by default: the standard library,
/// the unwinder, common async runtimes and this SDK.
pub const SYSTEM_CRATES: &[&str] = &[
    "std",
    "core",
    "alloc",
    "backtrace",
    "panic_unwind",
    "panic_abort",
    "test",
    "tokio",
    "tokio_util",
    "futures",
    "futures_core",
    "futures_util",
    "futures_executor",
    "futures_task",
    "sentry_core",
    "sentry_integrations",
    "sentry_transport",
];

/// Crates whose frames are removed from the top of a stack trace: the panic
/// machinery, the unwinder, this SDK, and the dispatch of `tracing` and `log`
/// (an event logged with `tracing::error!` or `log::error!` reaches the SDK
/// through them; its stack should end in the code that logged).
const TRIM_CRATES: &[&str] = &[
    "std",
    "core",
    "alloc",
    "backtrace",
    "panic_unwind",
    "panic_abort",
    "sentry_core",
    "sentry_integrations",
    "sentry_transport",
    "tracing",
    "tracing_core",
    "tracing_subscriber",
    "tracing_log",
    "log",
];

/// "Border" frames: where the code that panicked or logged hands over to
/// the panic machinery or to the `tracing`/`log` dispatch. Everything newer
/// than the newest of them is machinery, hooks and subscribers: a panic
/// hook the application installed after the SDK's and that calls it, or a
/// `log::Log` or `tracing` subscriber of the application that forwards to
/// the SDK's. An entry ending in `*` matches names that start with it
/// (`core::panicking::panic*` is `panic_fmt`, `panic_bounds_check`,
/// `panic_const::...`); the others match a path and what it contains
/// (`std::panicking::panic_handler::{closure#0}`).
const BORDER_FRAMES: &[&str] = &[
    "core::panicking::panic*",
    "std::panicking::begin_panic*",
    "std::panicking::rust_panic_with_hook",
    "std::panicking::panic_with_hook",
    "std::panicking::panic_handler",
    "rust_begin_unwind",
    "__rustc::rust_begin_unwind",
    "tracing_core::event::Event::dispatch",
    "tracing_core::event::Event::child_of",
    "tracing_core::dispatcher::Dispatch::event",
    "log::__private_api*",
];

/// Decides whether a frame belongs to the application.
///
/// A rule is a path prefix matched segment by segment against the frame's
/// module and function (`myapp::db` matches `myapp::db` and
/// `myapp::db::pool`, not `myapp::dbx`). When rules match, the longest one
/// decides, and `in_app_include` wins a tie. Without a matching rule a frame
/// is **not** in-app when:
///
/// * it has no module and no Rust source file of the application (C
///   symbols such as `main`, `_start`, `start_thread`, or no symbol; see
///   below for frames named without a module path);
/// * its crate is one of [`SYSTEM_CRATES`] (`std`, `core`, `alloc`,
///   `backtrace`, `tokio`, `futures`, this SDK, ...);
/// * its source file lies in the cargo registry or git checkouts
///   (`registry/src/<index>/` or `git/checkouts/` of a cargo home:
///   `~/.cargo`, the `CARGO_HOME` of the process, or a directory named
///   `cargo` such as the `rust` Docker image's `/usr/local/cargo`) or in the
///   Rust toolchain sources (`/rustc/<hash>/`, `lib/rustlib/src/`):
///   third-party code.
///
/// Every other frame is in-app.
///
/// With `debug = "line-tables-only"` (and in any build, for functions the
/// compiler inlined into a caller compiled that way) the debug info names
/// inlined functions without their path: `parse_port`,
/// `unwrap<u16, core::num::error::ParseIntError>`. Such a frame has no
/// module, and its source file decides, as the official SDKs mark every
/// frame in-app that is not known to be system code: a `.rs` file outside
/// the cargo registry and git checkouts and outside the Rust toolchain's
/// sources is the application's, unless it is one of the SDK's own source
/// files. `in_app_include` and `in_app_exclude` rules still win when they
/// match the frame's function name.
///
/// ```
/// use sentry_core::protocol::Frame;
/// use sentry_integrations::backtrace::InAppRules;
///
/// let frame = |function: &str| {
///     let mut f = Frame { function: Some(function.into()), ..Default::default() };
///     sentry_integrations::backtrace::fill_module(&mut f);
///     f
/// };
/// let rules = InAppRules::new(["tokio::runtime::blocking"], ["myapp::vendored"]);
/// assert!(rules.is_in_app(&frame("myapp::handler::run")));
/// assert!(!rules.is_in_app(&frame("myapp::vendored::zlib::inflate")));
/// assert!(!rules.is_in_app(&frame("std::thread::spawn")));
/// assert!(!rules.is_in_app(&frame("tokio::net::TcpStream::connect")));
/// assert!(rules.is_in_app(&frame("tokio::runtime::blocking::pool::run")));
///
/// // Inlined functions named without their path: the file decides.
/// let bare = |function: &str, path: &str| Frame {
///     abs_path: Some(path.into()),
///     ..frame(function)
/// };
/// assert!(rules.is_in_app(&bare("parse_port", "/srv/app/src/orders.rs")));
/// assert!(!rules.is_in_app(&bare(
///     "unwrap<u16, core::num::error::ParseIntError>",
///     "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/core/src/result.rs",
/// )));
/// assert!(!rules.is_in_app(&bare(
///     "from_str",
///     "/home/me/.cargo/registry/src/index-0123456789abcdef/serde_json-1.0.0/src/de.rs",
/// )));
/// assert!(!rules.is_in_app(&bare("start_thread", "nptl/pthread_create.c")));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InAppRules {
    include: Vec<String>,
    exclude: Vec<String>,
}

impl InAppRules {
    /// Rules from explicit include and exclude prefixes.
    pub fn new<I, E>(include: I, exclude: E) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
        E: IntoIterator,
        E::Item: AsRef<str>,
    {
        let clean = |s: &str| s.trim().trim_end_matches("::").to_owned();
        InAppRules {
            include: include.into_iter().map(|s| clean(s.as_ref())).collect(),
            exclude: exclude.into_iter().map(|s| clean(s.as_ref())).collect(),
        }
    }

    /// The rules of `options.in_app_include` and `options.in_app_exclude`.
    ///
    /// ```
    /// use sentry_core::ClientOptions;
    /// use sentry_integrations::backtrace::InAppRules;
    /// let options = ClientOptions { in_app_include: vec!["tokio".into()], ..Default::default() };
    /// assert_eq!(InAppRules::from_options(&options), InAppRules::new(["tokio"], [""; 0]));
    /// ```
    pub fn from_options(options: &ClientOptions) -> Self {
        InAppRules::new(&options.in_app_include, &options.in_app_exclude)
    }

    /// Whether `frame` is application code (see the type docs for the rules).
    pub fn is_in_app(&self, frame: &Frame) -> bool {
        let candidates = [frame.module.as_deref(), frame.function.as_deref()];
        let matches = |rule: &str| {
            !rule.is_empty()
                && candidates
                    .iter()
                    .flatten()
                    .any(|path| path_starts_with(path, rule))
        };
        let mut best: Option<(usize, bool)> = None;
        for rule in self.include.iter().filter(|r| matches(r)) {
            if best.map_or(true, |(len, _)| rule.len() >= len) {
                best = Some((rule.len(), true));
            }
        }
        for rule in self.exclude.iter().filter(|r| matches(r)) {
            if best.map_or(true, |(len, _)| rule.len() > len) {
                best = Some((rule.len(), false));
            }
        }
        if let Some((_, in_app)) = best {
            return in_app;
        }
        let path = frame.abs_path.as_deref().or(frame.filename.as_deref());
        let Some(package) = frame.package.as_deref().or_else(|| {
            frame
                .module
                .as_deref()
                .map(|m| m.split("::").next().unwrap_or(m))
        }) else {
            return path.is_some_and(is_app_source);
        };
        if SYSTEM_CRATES.contains(&package) {
            return false;
        }
        !path.is_some_and(is_third_party_path)
    }

    /// Sets `in_app` on every frame that does not have it yet.
    pub fn apply(&self, stacktrace: &mut Stacktrace) {
        for frame in &mut stacktrace.frames {
            if frame.in_app.is_none() {
                frame.in_app = Some(self.is_in_app(frame));
            }
        }
    }

    /// Sets `in_app` on the frames of every stack trace of an event
    /// (exceptions, threads and the top-level stack trace).
    pub fn apply_to_event(&self, event: &mut Event) {
        for st in stacktraces_mut(event) {
            self.apply(st);
        }
    }
}

/// Every stack trace of an event: of its exceptions, its threads and the
/// top-level one.
fn stacktraces_mut(event: &mut Event) -> impl Iterator<Item = &mut Stacktrace> {
    let exceptions = event
        .exception
        .values
        .iter_mut()
        .filter_map(|e| e.stacktrace.as_mut());
    let threads = event
        .threads
        .values
        .iter_mut()
        .filter_map(|t| t.stacktrace.as_mut());
    exceptions.chain(threads).chain(event.stacktrace.as_mut())
}

/// `path` equals `prefix` or continues it with `::`.
fn path_starts_with(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with("::"),
        None => false,
    }
}

/// Source paths of code that is not the application's: crates from the
/// registry or git (in any cargo home, see [`cargo_source`]), and the Rust
/// toolchain.
pub(crate) fn is_third_party_path(path: &str) -> bool {
    let path = path.replace('\\', "/");
    path.contains("/.cargo/registry/")
        || path.contains("/.cargo/git/")
        || cargo_source(&path, cargo_home()).is_some()
        || path.starts_with("/rustc/")
        || path.contains("/lib/rustlib/src/")
}

/// Whether a frame without a module path is the application's, by its
/// source file: a Rust file that is neither third-party code (see
/// [`is_third_party_path`]) nor the SDK's own source (see
/// [`is_sdk_source`]).
///
/// Debug info of `debug = "line-tables-only"` names inlined functions
/// bare (`parse_port`, `unwrap<u16, E>`), so no module can be derived from
/// the name; the file still tells whose code it is. C sources (`.c`, `.S`:
/// the C library's `start_thread`) are not the application's.
fn is_app_source(path: &str) -> bool {
    path.ends_with(".rs")
        && !is_third_party_path(path)
        && !is_dependency_layout(path)
        && !is_sdk_source(path)
}

/// Whether a source path has the layout of a dependency's or of generated
/// code, wherever it lies: a `cargo vendor` directory (`…/vendor/<crate>/`),
/// a crate directory named with its version (`serde_json-1.0.128/src/`, as
/// registry sources look after path remapping or under a cargo home this
/// process does not know), or a build script's output
/// (`…/target/<profile>/build/<crate>-<hash>/out/`). An application
/// checked out into a directory named with a version (`app-1.2.3/src/`)
/// looks like a dependency too (only its frames without a module path:
/// those with one are told by their crate).
fn is_dependency_layout(path: &str) -> bool {
    let path = path.replace('\\', "/");
    let dirs: Vec<&str> = path.split('/').collect();
    let Some((_, dirs)) = dirs.split_last() else {
        return false;
    };
    let versioned = |dir: &str| {
        dir.rsplit_once('-').is_some_and(|(name, version)| {
            !name.is_empty()
                && version.split('.').count() >= 3
                && version.split('.').take(3).all(|n| {
                    let digits = n.split(|c: char| !c.is_ascii_digit()).next().unwrap_or("");
                    !digits.is_empty()
                })
        })
    };
    dirs.windows(2)
        .any(|w| w[0] == "vendor" && !w[1].is_empty())
        || dirs.windows(2).any(|w| versioned(w[0]) && w[1] == "src")
        || dirs
            .windows(2)
            .any(|w| w[0] == "build" && w[1].contains('-'))
            && dirs.contains(&"out")
            && dirs.contains(&"target")
}

/// The source directories of the SDK's crates when they are built from a
/// checkout of this repository (a path or git dependency, or this
/// workspace): `<checkout>/sentry-core/src/` and its siblings, with `/`
/// separators. From the registry they are `<index>/sentry-core-<version>/`,
/// which [`source_crate`] recognises.
fn sdk_source_dirs() -> &'static [String] {
    static DIRS: OnceLock<Vec<String>> = OnceLock::new();
    DIRS.get_or_init(|| {
        let manifest = env!("CARGO_MANIFEST_DIR").replace('\\', "/");
        let Some((checkout, _)) = manifest.trim_end_matches('/').rsplit_once('/') else {
            return Vec::new();
        };
        ["sentry-core", "sentry-transport", "sentry-integrations"]
            .iter()
            .map(|krate| format!("{checkout}/{krate}/src/"))
            .collect()
    })
}

/// Whether `path` is a source file of the SDK itself (see
/// [`sdk_source_dirs`]); registry copies of the SDK's crates are told by
/// [`source_crate`].
fn is_sdk_source(path: &str) -> bool {
    let path = path.replace('\\', "/");
    // A build that remaps path prefixes names the sources otherwise than
    // the directory this crate was built in: the crates' own layout still
    // tells them.
    sdk_source_dirs()
        .iter()
        .any(|dir| path.starts_with(dir.as_str()))
        || ["sentry-core", "sentry-transport", "sentry-integrations"]
            .iter()
            .any(|krate| {
                let dir = format!("{krate}/src/");
                path.starts_with(&dir) || path.contains(&format!("/{dir}"))
            })
}

/// The `CARGO_HOME` of this process (with `/` separators, no trailing `/`),
/// read once; `None` when unset or empty.
fn cargo_home() -> Option<&'static str> {
    static HOME: OnceLock<Option<String>> = OnceLock::new();
    HOME.get_or_init(|| {
        let home = std::env::var_os("CARGO_HOME")?;
        let home = home.to_str()?.replace('\\', "/");
        let home = home.trim_end_matches('/');
        (!home.is_empty()).then(|| home.to_owned())
    })
    .as_deref()
}

/// For a source path (with `/` separators) inside a cargo home's registry
/// sources or git checkouts, the part after the checkout root:
/// `serde-1.0.1/src/de.rs` for `<home>/registry/src/<index>/serde-1.0.1/src/de.rs`,
/// `dep-<hash>/<rev>/src/lib.rs` for `<home>/git/checkouts/dep-<hash>/<rev>/src/lib.rs`.
///
/// The cargo home is `home` (the `CARGO_HOME` of this process), any
/// directory named `.cargo`, or any directory named `cargo` (the official
/// `rust` Docker image uses `/usr/local/cargo`, and binaries often run
/// where `CARGO_HOME` is not set). Under a plain `cargo` directory the index
/// or checkout directory must carry cargo's `-<16 hex digits>` hash suffix,
/// so an application that lives in a `cargo` directory is not mistaken for
/// a dependency.
fn cargo_source<'a>(path: &'a str, home: Option<&str>) -> Option<&'a str> {
    if let Some(rest) = home
        .and_then(|h| path.strip_prefix(h))
        .and_then(|r| r.strip_prefix('/'))
    {
        if let Some(found) = source_in_cargo_home(rest, false) {
            return Some(found);
        }
    }
    [("/.cargo/", false), ("/cargo/", true)]
        .into_iter()
        .flat_map(|(dir, strict)| {
            path.match_indices(dir)
                .map(move |(i, _)| (&path[i + dir.len()..], strict))
        })
        .find_map(|(rest, strict)| source_in_cargo_home(rest, strict))
}

/// `rest` is a path relative to a cargo home: the part after the index
/// directory of `registry/src/<index>/`, or after `git/checkouts/`.
/// `strict` requires the hash suffix of the index or checkout directory.
fn source_in_cargo_home(rest: &str, strict: bool) -> Option<&str> {
    if let Some(sources) = rest.strip_prefix("registry/src/") {
        let (index, inside) = sources.split_once('/')?;
        return (!inside.is_empty() && (!strict || has_cargo_hash(index))).then_some(inside);
    }
    if let Some(checkouts) = rest.strip_prefix("git/checkouts/") {
        let (checkout, inside) = checkouts.split_once('/')?;
        return (!inside.is_empty() && (!strict || has_cargo_hash(checkout))).then_some(checkouts);
    }
    None
}

/// `name-0123456789abcdef`: cargo's directory names for registry indexes
/// and git checkouts end in a 16 hex digit hash.
fn has_cargo_hash(dir: &str) -> bool {
    dir.rsplit_once('-').is_some_and(|(name, hash)| {
        !name.is_empty() && hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// Removes a trailing `::h` + 16 hex digits symbol hash, and the `[0a1b2c3d]`
/// crate disambiguators of v0-mangled names.
///
/// ```
/// use sentry_integrations::backtrace::clean_function_name;
/// assert_eq!(clean_function_name("myapp::main::h0123456789abcdef"), "myapp::main");
/// assert_eq!(clean_function_name("myapp::h1234abcd"), "myapp::h1234abcd");
/// assert_eq!(
///     clean_function_name("<std[e28293b1aa0f68bd]::backtrace::Backtrace>::create"),
///     "<std::backtrace::Backtrace>::create"
/// );
/// ```
pub fn clean_function_name(name: &str) -> String {
    let name = name.trim();
    let name = match name.rfind("::h") {
        Some(i)
            if name.len() - i == 19
                && name[i + 3..]
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()) =>
        {
            &name[..i]
        }
        _ => name,
    };
    if !name.contains('[') {
        return name.to_owned();
    }
    let bytes = name.as_bytes();
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    while i < name.len() {
        let c = bytes[i];
        if c == b'[' && i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_') {
            if let Some(len) = name[i + 1..].find(']') {
                let inner = &name[i + 1..i + 1 + len];
                if (1..=16).contains(&inner.len()) && inner.bytes().all(|b| b.is_ascii_hexdigit()) {
                    i += len + 2;
                    continue;
                }
            }
        }
        // Copy one whole character.
        let ch_len = name[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&name[i..i + ch_len]);
        i += ch_len;
    }
    out
}

/// Splits a path on `::` outside of `<...>`, `(...)` and `[...]`.
fn split_top_level(path: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' | b'(' | b'[' => depth += 1,
            // `->` in `fn() -> T` is not a closing bracket.
            b'>' if i > 0 && bytes[i - 1] == b'-' => {}
            b'>' | b')' | b']' if depth > 0 => depth -= 1,
            b':' if depth == 0 && bytes.get(i + 1) == Some(&b':') => {
                parts.push(&path[start..i]);
                i += 2;
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&path[start..]);
    parts
}

/// Removes generic arguments: `alloc::vec::Vec<T>` → `alloc::vec::Vec`.
fn strip_generics(segment: &str) -> &str {
    match segment.find('<') {
        Some(0) | None => segment,
        Some(i) => &segment[..i],
    }
}

/// For `<A as B>::rest`, the index of the `>` closing the leading `<`.
fn closing_angle(s: &str) -> Option<usize> {
    let mut depth = 0i32;
    let bytes = s.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'<' => depth += 1,
            b'>' if i > 0 && bytes[i - 1] == b'-' => {}
            b'>' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits `A as B` at the top-level ` as `.
fn split_as(s: &str) -> (&str, Option<&str>) {
    let mut depth = 0i32;
    let bytes = s.as_bytes();
    for i in 0..bytes.len() {
        match bytes[i] {
            b'<' | b'(' | b'[' => depth += 1,
            b'>' if i > 0 && bytes[i - 1] == b'-' => {}
            b'>' | b')' | b']' => depth -= 1,
            b' ' if depth == 0 && s[i..].starts_with(" as ") => {
                return (&s[..i], Some(&s[i + 4..]));
            }
            _ => {}
        }
    }
    (s, None)
}

/// The module of a type path: the segments before the type name
/// (`alloc::vec::Vec<T>` → `alloc::vec`).
fn module_of_type(ty: &str) -> Option<String> {
    let ty = ty
        .trim()
        .trim_start_matches('&')
        .trim_start_matches("mut ")
        .trim_start_matches("*const ")
        .trim_start_matches("*mut ")
        .trim_start_matches("dyn ")
        .trim_start_matches("impl ")
        .trim();
    if ty.starts_with(['[', '(', '<']) {
        return None;
    }
    let segments: Vec<&str> = split_top_level(ty)
        .into_iter()
        .map(strip_generics)
        .collect();
    if segments.len() < 2 {
        return None;
    }
    let module: Vec<&str> = segments[..segments.len() - 1]
        .iter()
        .copied()
        .take_while(|s| is_module_segment(s))
        .collect();
    (!module.is_empty()).then(|| module.join("::"))
}

/// Module segments are snake_case identifiers: not a type (`Vec`), not
/// `<impl X>`, not a closure or shim (`{{closure}}`, `{closure#0}`).
fn is_module_segment(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !s.starts_with(|c: char| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// Derives the module path of a (demangled, cleaned) function name.
///
/// For a trait method `<Type as Trait>::method` it is the module of the
/// type, unless the type is from the standard library and the trait is not:
/// by the orphan rule such an impl can only be in the trait's crate (an
/// extension trait of the application implemented for `Option`), so the
/// module is the trait's.
///
/// ```
/// use sentry_integrations::backtrace::module_of_function;
/// assert_eq!(module_of_function("myapp::db::Pool::get").as_deref(), Some("myapp::db"));
/// assert_eq!(module_of_function("myapp::main::{{closure}}").as_deref(), Some("myapp"));
/// assert_eq!(module_of_function("anyhow::error::<impl anyhow::Error>::msg").as_deref(), Some("anyhow::error"));
/// assert_eq!(
///     module_of_function("<alloc::vec::Vec<T> as core::ops::drop::Drop>::drop").as_deref(),
///     Some("alloc::vec")
/// );
/// assert_eq!(
///     module_of_function("<F as core::ops::function::FnOnce<A>>::call_once").as_deref(),
///     Some("core::ops::function")
/// );
/// assert_eq!(
///     module_of_function("<core::option::Option<u32> as myapp::ext::OptionExt>::or_boom").as_deref(),
///     Some("myapp::ext")
/// );
/// assert_eq!(module_of_function("<myapp::Foo as core::fmt::Display>::fmt").as_deref(), Some("myapp"));
/// assert_eq!(module_of_function("core::ptr::drop_in_place::<alloc::string::String>").as_deref(), Some("core::ptr"));
/// assert_eq!(module_of_function("__libc_start_main"), None);
/// ```
pub fn module_of_function(function: &str) -> Option<String> {
    let function = function.trim();
    if function.starts_with('<') {
        let end = closing_angle(function)?;
        let (self_ty, trait_) = split_as(&function[1..end]);
        let self_module = module_of_type(self_ty);
        let trait_module = trait_.and_then(module_of_type);
        return match (self_module, trait_module) {
            // The orphan rule: an impl of a trait from outside the standard
            // library for a standard library type lives in the trait's crate.
            (Some(self_module), Some(trait_module))
                if is_std_module(&self_module) && !is_std_module(&trait_module) =>
            {
                Some(trait_module)
            }
            (self_module, trait_module) => self_module.or(trait_module),
        };
    }
    let mut segments = split_top_level(function);
    // Closures, shims and turbofish arguments at the end.
    while segments
        .last()
        .is_some_and(|s| s.starts_with('{') || s.starts_with('<'))
    {
        segments.pop();
    }
    // The function itself.
    segments.pop();
    let module: Vec<&str> = segments
        .into_iter()
        .take_while(|s| is_module_segment(s))
        .collect();
    (!module.is_empty()).then(|| module.join("::"))
}

/// Whether a module path is in the standard library (`std`, `core`, `alloc`).
fn is_std_module(module: &str) -> bool {
    let krate = module.split("::").next().unwrap_or(module);
    matches!(krate, "std" | "core" | "alloc")
}

/// Fills `module` and `package` of a frame from its `function` (when unset).
///
/// ```
/// use sentry_core::protocol::Frame;
/// let mut f = Frame { function: Some("myapp::db::query".into()), ..Default::default() };
/// sentry_integrations::backtrace::fill_module(&mut f);
/// assert_eq!(f.module.as_deref(), Some("myapp::db"));
/// assert_eq!(f.package.as_deref(), Some("myapp"));
/// ```
pub fn fill_module(frame: &mut Frame) {
    if frame.module.is_none() {
        frame.module = frame.function.as_deref().and_then(module_of_function);
    }
    if frame.package.is_none() {
        frame.package = frame
            .module
            .as_deref()
            .map(|m| m.split("::").next().unwrap_or(m).to_owned());
    }
}

/// The working directory at first use, to shorten file names.
fn working_dir() -> Option<&'static str> {
    static CWD: OnceLock<Option<String>> = OnceLock::new();
    CWD.get_or_init(|| {
        std::env::current_dir()
            .ok()
            .and_then(|p| p.to_str().map(|s| s.trim_end_matches('/').to_owned()))
    })
    .as_deref()
}

/// A short, project-relative file name for an absolute source path: relative
/// to the working directory, to the registry source root
/// (`serde-1.0.0/src/de.rs`, in any cargo home: `~/.cargo`, `CARGO_HOME`,
/// `/usr/local/cargo`) or to the Rust sources (`library/std/src/...`);
/// otherwise the path unchanged.
///
/// ```
/// use sentry_integrations::backtrace::short_filename;
/// assert_eq!(
///     short_filename("/home/me/.cargo/registry/src/index.registry-6f17d22bba15001f/serde-1.0.1/src/de.rs"),
///     "serde-1.0.1/src/de.rs"
/// );
/// assert_eq!(
///     short_filename("/usr/local/cargo/registry/src/index.crates.io-6f17d22bba15001f/serde-1.0.1/src/de.rs"),
///     "serde-1.0.1/src/de.rs"
/// );
/// assert_eq!(short_filename("/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/std/src/rt.rs"), "library/std/src/rt.rs");
/// assert_eq!(short_filename("./src/main.rs"), "src/main.rs");
/// ```
pub fn short_filename(abs_path: &str) -> String {
    short_filename_in(abs_path, working_dir())
}

fn short_filename_in(abs_path: &str, cwd: Option<&str>) -> String {
    short_filename_with(abs_path, cwd, cargo_home())
}

fn short_filename_with(abs_path: &str, cwd: Option<&str>, cargo_home: Option<&str>) -> String {
    let p = abs_path.replace('\\', "/");
    if let Some(rest) = cargo_source(&p, cargo_home) {
        return rest.to_owned();
    }
    if let Some(rest) = p.strip_prefix("/rustc/") {
        if let Some(j) = rest.find('/') {
            return rest[j + 1..].to_owned();
        }
    }
    if let Some(i) = p.find("/lib/rustlib/src/rust/") {
        return p[i + "/lib/rustlib/src/rust/".len()..].to_owned();
    }
    if let Some(rest) = p.strip_prefix("./") {
        return rest.to_owned();
    }
    if let Some(cwd) = cwd.filter(|c| !c.is_empty()) {
        if let Some(rest) = p.strip_prefix(cwd).and_then(|r| r.strip_prefix('/')) {
            return rest.to_owned();
        }
    }
    abs_path.to_owned()
}

/// Removes `.` and `dir/..` components lexically (`include!` and the
/// standard library's own paths contain them).
fn normalize_path(path: &str) -> String {
    if !path.contains("/.") {
        return path.to_owned();
    }
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (absolute, path.starts_with("./")) {
        (true, _) => format!("/{joined}"),
        (false, true) => format!("./{joined}"),
        (false, false) => joined,
    }
}

/// Builds a frame from the parts a symboliser gives.
fn make_frame(
    function: Option<String>,
    symbol: Option<String>,
    path: Option<&Path>,
    lineno: Option<u32>,
    colno: Option<u32>,
    addr: Option<usize>,
) -> Frame {
    let abs_path = path.map(|p| normalize_path(&p.to_string_lossy()));
    let mut frame = Frame {
        filename: abs_path.as_deref().map(short_filename),
        abs_path,
        function: function.filter(|f| !f.is_empty() && f != "<unknown>"),
        lineno: lineno.filter(|&l| l > 0).map(u64::from),
        colno: colno.filter(|&c| c > 0).map(u64::from),
        instruction_addr: addr.map(|a| format!("{a:#x}")),
        ..Default::default()
    };
    if symbol.is_some() && symbol != frame.function {
        frame.symbol = symbol;
    }
    fill_module(&mut frame);
    frame
}

/// Converts a resolved `backtrace::Backtrace` to a stack trace, oldest frame
/// first. Inlined functions become frames of their own. `in_app` is left
/// unset (see [`InAppRules::apply`]); nothing is trimmed. Returns `None` when
/// there are no frames.
pub fn backtrace_to_stacktrace(bt: &::backtrace::Backtrace) -> Option<Stacktrace> {
    let mut frames = Vec::new();
    for frame in bt.frames() {
        let ip = frame.ip() as usize;
        if frame.symbols().is_empty() {
            // The end-of-stack marker has no address and carries nothing.
            if ip != 0 {
                frames.push(make_frame(None, None, None, None, None, Some(ip)));
            }
            continue;
        }
        for sym in frame.symbols() {
            let name = sym.name();
            let function = name
                .as_ref()
                .map(|n| clean_function_name(&format!("{n:#}")));
            let symbol = name
                .as_ref()
                .and_then(|n| n.as_str().map(str::to_owned))
                .filter(|s| function.as_deref() != Some(s));
            frames.push(make_frame(
                function,
                symbol,
                sym.filename(),
                sym.lineno(),
                sym.colno(),
                Some(ip),
            ));
        }
    }
    frames.reverse();
    limit_frames(&mut frames);
    (!frames.is_empty()).then(|| Stacktrace {
        frames,
        ..Default::default()
    })
}

fn limit_frames(frames: &mut Vec<Frame>) {
    if frames.len() > MAX_FRAMES {
        frames.drain(..frames.len() - MAX_FRAMES);
    }
}

/// Whether a frame belongs to the panic machinery, the unwinder or the SDK,
/// and may be trimmed from the top of a stack.
fn is_trimmable(frame: &Frame) -> bool {
    let Some(function) = frame.function.as_deref() else {
        // No symbol: the unwinder's or the system library's own frames.
        return true;
    };
    if function.starts_with("__rust")
        || function.starts_with("rust_begin_unwind")
        || function.starts_with("rust_panic")
        || function.starts_with("_Unwind")
    {
        return true;
    }
    if frame
        .package
        .as_deref()
        .is_some_and(|p| TRIM_CRATES.contains(&p))
    {
        return true;
    }
    // Inlined functions carry their short name only (`event`,
    // `try_with<...>`), and closures that a macro such as `tracing::error!`
    // expands in the caller are in the macro crate's source: the source file
    // tells whose code they are.
    let Some(path) = frame.abs_path.as_deref() else {
        return false;
    };
    if source_crate(path).is_some_and(|krate| TRIM_CRATES.contains(&krate.as_str())) {
        return true;
    }
    // The SDK built from a checkout (a path or git dependency): its inlined
    // functions have no module either, and their files are not in the
    // registry. Only without a module: a doc test's code has the SDK's
    // file name, and a module of its own.
    frame.module.is_none() && is_sdk_source(path)
}

/// The crate whose sources contain `path`, for the Rust standard library
/// (`/rustc/<hash>/library/std/...`, `lib/rustlib/src/rust/library/core/...`)
/// and registry crates (`.../registry/src/<index>/tracing-core-0.1.36/...` is
/// `tracing_core`); `None` for any other path.
fn source_crate(path: &str) -> Option<String> {
    let path = path.replace('\\', "/");
    let library = path
        .strip_prefix("/rustc/")
        .and_then(|rest| rest.split_once('/'))
        .map(|(_, rest)| rest)
        .or_else(|| {
            path.find("/lib/rustlib/src/rust/")
                .map(|i| &path[i + "/lib/rustlib/src/rust/".len()..])
        })
        .and_then(|rest| rest.strip_prefix("library/"));
    if let Some(rest) = library {
        return rest.split_once('/').map(|(krate, _)| krate.to_owned());
    }
    let rest = cargo_source(&path, cargo_home())?;
    if path.contains("/git/checkouts/") {
        // A checkout is named after its repository, not its crate.
        return None;
    }
    let (dir, _) = rest.split_once('/')?;
    // `name-1.2.3` (the version may have a `-pre` part; the name may
    // contain `-<digits>`, as in `sha-1-0.10.0`).
    let version_at = dir.match_indices('-').map(|(i, _)| i).find(|&i| {
        dir[i + 1..].split_once('.').is_some_and(|(major, _)| {
            !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit())
        })
    })?;
    Some(dir[..version_at].replace('-', "_"))
}

/// Whether a frame is a border between the code that panicked or logged
/// and the machinery that reports it (see [`BORDER_FRAMES`]).
fn is_border(frame: &Frame) -> bool {
    let Some(function) = frame.function.as_deref() else {
        return false;
    };
    BORDER_FRAMES
        .iter()
        .any(|border| match border.strip_suffix('*') {
            Some(name_prefix) => function.starts_with(name_prefix),
            None => path_starts_with(function, border),
        })
        || is_bare_dispatch_border(
            function,
            frame.abs_path.as_deref().or(frame.filename.as_deref()),
        )
}

/// Whether a frame named without its path (`debug = "line-tables-only"`
/// names inlined generic functions bare: `log<()>`) is one of the
/// dispatch borders of [`BORDER_FRAMES`], by its source file: `log`'s
/// `__private_api.rs`, or `Event::dispatch`, `Event::child_of` and
/// `Dispatch::event` in `tracing-core`'s `event.rs` and `dispatcher.rs`
/// (not `with_default`, which runs below the application's code).
fn is_bare_dispatch_border(function: &str, path: Option<&str>) -> bool {
    let Some(path) = path else {
        return false;
    };
    if function.contains("::") {
        return false;
    }
    let path = path.replace('\\', "/");
    let in_crate = |krate: &str, file: &str| {
        path.ends_with(&format!("/src/{file}"))
            && path.split('/').any(|dir| {
                dir == krate
                    || dir
                        .strip_prefix(krate)
                        .is_some_and(|rest| rest.starts_with('-'))
            })
    };
    let named = |prefixes: &[&str]| prefixes.iter().any(|p| function.starts_with(p));
    (in_crate("log", "__private_api.rs") && named(&["log"]))
        || ((in_crate("tracing-core", "event.rs") || in_crate("tracing-core", "dispatcher.rs"))
            && named(&["dispatch", "child_of", "event"]))
}

/// Trims a stack trace to the code that panicked, logged or called
/// `capture_*`, in two steps, from the top (newest end):
///
/// 1. Everything from the newest **border** frame on is removed: the panic
///    machinery (`core::panicking::panic*`, `std::panicking::begin_panic*`,
///    `std::panicking::panic_with_hook`, `rust_begin_unwind`, ...) or the
///    event dispatch of `tracing_core` and `log`, and whatever ran above it:
///    the panic hooks (also one the application installed after the SDK's
///    that calls it: `let prev = take_hook(); set_hook(move |i| { ...;
///    prev(i) })`), subscribers and loggers, and the SDK. This is how the
///    official `sentry-backtrace` trims.
/// 2. Frames of the panic machinery, the `backtrace` crate, the SDK and the
///    `tracing`/`log` dispatch still on top are removed, and any frames
///    `extra` selects there (e.g. the `anyhow` constructors): so the stack
///    ends in the application's frame even when standard library frames sit
///    between it and the border (`Option::unwrap`,
///    `RefCell::borrow_mut`), or when there is no border (a `capture_*`
///    call). A frame belongs to such a crate by its package or, for
///    inlined functions and macro-expanded closures, by its source file (a
///    registry crate's, the Rust toolchain's, or, for a frame without a
///    module path, one of the SDK's own files in a checkout of it).
///
/// When nothing but such frames is older than the border, the frames older
/// than the border are kept; without a border, a stack trace of nothing but
/// such frames is left unchanged.
///
/// ```
/// use sentry_core::protocol::{Frame, Stacktrace};
/// use sentry_integrations::backtrace::{fill_module, trim_sdk_frames};
/// let stack = |names: &[&str]| Stacktrace { frames: names.iter().map(|f| {
///     let mut f = Frame { function: Some(f.to_string()), ..Default::default() };
///     fill_module(&mut f);
///     f
/// }).collect(), ..Default::default() };
/// let mut st = stack(&[
///     "std::rt::lang_start", "myapp::main", "myapp::parse", "core::panicking::panic_fmt",
///     "rust_begin_unwind", "std::panicking::rust_panic_with_hook", "sentry_integrations::panic::hook",
/// ]);
/// trim_sdk_frames(&mut st, |_| false);
/// assert_eq!(st.frames.last().unwrap().function.as_deref(), Some("myapp::parse"));
/// assert_eq!(st.frames.len(), 3);
///
/// // An application hook wrapping the SDK's is above the border too.
/// let mut st = stack(&[
///     "myapp::main", "myapp::parse", "core::option::unwrap_failed", "core::panicking::panic_fmt",
///     "std::panicking::panic_with_hook", "myapp::logging::install::{{closure}}",
///     "sentry_integrations::panic::hook",
/// ]);
/// trim_sdk_frames(&mut st, |_| false);
/// assert_eq!(st.frames.last().unwrap().function.as_deref(), Some("myapp::parse"));
/// ```
pub fn trim_sdk_frames(stacktrace: &mut Stacktrace, extra: impl Fn(&Frame) -> bool) {
    let frames = &mut stacktrace.frames;
    let end = match frames.iter().rposition(is_border) {
        Some(border) if border > 0 => border,
        _ => frames.len(),
    };
    let keep = frames[..end]
        .iter()
        .rposition(|f| !(is_trimmable(f) || extra(f)));
    frames.truncate(keep.map_or(end, |last| last + 1));
}

/// The stack of the calling thread: captured, converted, trimmed of SDK and
/// panic frames, oldest first. `in_app` is left unset. `None` when no frame
/// could be captured.
pub fn current_stacktrace() -> Option<Stacktrace> {
    let bt = ::backtrace::Backtrace::new();
    let mut st = backtrace_to_stacktrace(&bt)?;
    trim_sdk_frames(&mut st, |_| false);
    Some(st)
}

/// Parses the text of a `std::backtrace::Backtrace` (`{}` or `{:#}`) into a
/// stack trace, oldest frame first. Trims nothing and leaves `in_app` unset.
///
/// ```
/// let text = "   0: myapp::load\n             at ./src/main.rs:10:5\n   1: main\n";
/// let st = sentry_integrations::backtrace::parse_std_backtrace(text).unwrap();
/// assert_eq!(st.frames[0].function.as_deref(), Some("main"));
/// assert_eq!(st.frames[1].function.as_deref(), Some("myapp::load"));
/// assert_eq!(st.frames[1].filename.as_deref(), Some("src/main.rs"));
/// assert_eq!((st.frames[1].lineno, st.frames[1].colno), (Some(10), Some(5)));
/// ```
pub fn parse_std_backtrace(text: &str) -> Option<Stacktrace> {
    let mut frames: Vec<Frame> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(location) = line.strip_prefix("at ") {
            let Some(frame) = frames.last_mut() else {
                continue;
            };
            let (path, lineno, colno) = split_location(location);
            let path = normalize_path(path);
            frame.filename = Some(short_filename(&path));
            frame.abs_path = Some(path);
            frame.lineno = lineno;
            frame.colno = colno;
            continue;
        }
        // `12: name`, `12:     0x55d3 - name`, or (inlined) just `name`.
        let mut rest = line;
        if let Some((num, after)) = line.split_once(':') {
            if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) {
                rest = after.trim();
            }
        }
        let mut addr = None;
        if rest.starts_with("0x") {
            if let Some((a, name)) = rest.split_once(" - ") {
                addr = Some(a.trim().to_owned());
                rest = name.trim();
            }
        }
        if rest.starts_with("note:") || rest.contains("disabled backtrace") {
            continue;
        }
        let function = clean_function_name(rest);
        let mut frame = Frame {
            function: (!function.is_empty() && function != "<unknown>").then_some(function),
            instruction_addr: addr,
            ..Default::default()
        };
        fill_module(&mut frame);
        frames.push(frame);
    }
    frames.reverse();
    limit_frames(&mut frames);
    (!frames.is_empty()).then(|| Stacktrace {
        frames,
        ..Default::default()
    })
}

/// `path:line:col` (or `path:line`) → parts.
fn split_location(location: &str) -> (&str, Option<u64>, Option<u64>) {
    let mut parts = location.rsplitn(3, ':');
    let last = parts.next().unwrap_or("");
    let middle = parts.next();
    let first = parts.next();
    match (
        first,
        middle.and_then(|m| m.parse().ok()),
        last.parse().ok(),
    ) {
        (Some(path), Some(line), Some(col)) => (path, Some(line), Some(col)),
        _ => match (location.rsplit_once(':'), last.parse::<u64>().ok()) {
            (Some((path, _)), Some(line)) => (path, Some(line), None),
            _ => (location, None, None),
        },
    }
}

/// Converts a `std::backtrace::Backtrace` to a stack trace (oldest first,
/// capture frames trimmed). `None` when it was not captured (e.g.
/// `RUST_BACKTRACE`/`RUST_LIB_BACKTRACE` unset) or has no frames.
///
/// ```
/// let bt = std::backtrace::Backtrace::force_capture();
/// let st = sentry_integrations::backtrace::stacktrace_from_std(&bt).unwrap();
/// assert!(st.frames.iter().all(|f| f.package.as_deref() != Some("sentry_integrations")));
/// ```
pub fn stacktrace_from_std(bt: &std::backtrace::Backtrace) -> Option<Stacktrace> {
    if bt.status() != std::backtrace::BacktraceStatus::Captured {
        return None;
    }
    let mut st = parse_std_backtrace(&format!("{bt:#}"))?;
    trim_sdk_frames(&mut st, |_| false);
    Some(st)
}

/// The event for an error and its `source()` chain, with `backtrace` (when
/// it was captured) as the stack trace of the outermost exception.
///
/// On stable Rust an error cannot be asked for the backtrace it carries
/// (`Error::provide` is unstable), so pass it explicitly; `anyhow` errors
/// have `anyhow::capture_anyhow` in this crate (feature `anyhow`).
///
/// ```
/// use std::backtrace::Backtrace;
/// let err = "x".parse::<u32>().unwrap_err();
/// let event = sentry_integrations::backtrace::event_from_error_with_backtrace(&err, &Backtrace::force_capture());
/// assert!(event.exception.values[0].stacktrace.is_some());
/// ```
pub fn event_from_error_with_backtrace(
    error: &(dyn std::error::Error + 'static),
    backtrace: &std::backtrace::Backtrace,
) -> Event {
    let mut event = sentry_core::event_from_error(error);
    if let Some(st) = stacktrace_from_std(backtrace) {
        if let Some(last) = event.exception.values.last_mut() {
            last.stacktrace = Some(st);
        }
    }
    event
}

/// Captures an error with the backtrace it carries (see
/// [`event_from_error_with_backtrace`]) on the current hub.
///
/// ```
/// use std::backtrace::Backtrace;
/// struct MyError { backtrace: Backtrace }
/// # impl std::fmt::Debug for MyError { fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result { f.write_str("MyError") } }
/// # impl std::fmt::Display for MyError { fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result { f.write_str("failed") } }
/// # impl std::error::Error for MyError {}
/// let err = MyError { backtrace: Backtrace::capture() };
/// sentry_integrations::backtrace::capture_error_with_backtrace(&err, &err.backtrace);
/// ```
pub fn capture_error_with_backtrace(
    error: &(dyn std::error::Error + 'static),
    backtrace: &std::backtrace::Backtrace,
) -> sentry_core::Uuid {
    sentry_core::Hub::with_current(|hub| {
        let Some(client) = hub.client() else {
            return sentry_core::Uuid::nil();
        };
        let mut event = event_from_error_with_backtrace(error, backtrace);
        InAppRules::from_options(client.options()).apply_to_event(&mut event);
        hub.capture_event(event)
    })
}

/// The current thread as a protocol thread (id, name, `current`, `main`).
pub fn current_thread(stacktrace: Option<Stacktrace>) -> Thread {
    let thread = std::thread::current();
    Thread {
        id: Some(thread_id(&thread)),
        name: thread.name().map(str::to_owned),
        main: thread.name() == Some("main"),
        current: true,
        stacktrace,
        ..Default::default()
    }
}

/// A thread's numeric id, read from `ThreadId(N)` (the number itself is not
/// exposed on stable Rust); its text when it does not parse.
pub(crate) fn thread_id(thread: &std::thread::Thread) -> ThreadId {
    let debug = format!("{:?}", thread.id());
    let digits: String = debug.chars().filter(char::is_ascii_digit).collect();
    match digits.parse() {
        Ok(n) => ThreadId::Int(n),
        Err(_) => ThreadId::String(debug),
    }
}

/// Whether an event already carries a stack trace anywhere.
fn has_stacktrace(event: &Event) -> bool {
    event.stacktrace.is_some()
        || event
            .exception
            .values
            .iter()
            .any(|e| e.stacktrace.is_some())
        || event.threads.values.iter().any(|t| t.stacktrace.is_some())
}

/// Processes stack traces of every event: sets `in_app` from the client's
/// `in_app_include`/`in_app_exclude`, and with `attach_stacktrace` adds the
/// capture site's stack (as the current thread) to events that carry none,
/// such as messages.
///
/// In-app frames get the source lines around them when their files are on
/// this machine (see [`crate::source_context`]; 5 lines either side by
/// default, [`StacktraceIntegration::source_context_lines`] changes it).
///
/// Installed by [`crate::init`] (turn it off with
/// [`crate::InitOptions::stacktrace`]).
///
/// ```
/// use std::sync::Arc;
/// use sentry_core::{capture_message, protocol::Level, test::with_captured_events_options, ClientOptions};
/// use sentry_integrations::backtrace::StacktraceIntegration;
///
/// #[inline(never)]
/// fn report() { capture_message("look here", Level::Warning); }
///
/// let events = with_captured_events_options(report, ClientOptions {
///     attach_stacktrace: true,
///     integrations: vec![Arc::new(StacktraceIntegration::new())],
///     ..Default::default()
/// });
/// let frames = &events[0].threads.values[0].stacktrace.as_ref().unwrap().frames;
/// assert!(frames.last().unwrap().function.as_deref().unwrap().ends_with("report"));
/// ```
#[derive(Debug)]
pub struct StacktraceIntegration {
    source_lines: usize,
    sources: crate::source_context::SourceCache,
}

impl Default for StacktraceIntegration {
    fn default() -> Self {
        StacktraceIntegration {
            source_lines: 5,
            sources: crate::source_context::SourceCache::new(),
        }
    }
}

impl StacktraceIntegration {
    /// The integration.
    pub fn new() -> Self {
        Self::default()
    }

    /// Source lines added before and after each in-app frame's line
    /// (default 5; 0 reads no source files).
    pub fn source_context_lines(mut self, lines: usize) -> Self {
        self.source_lines = lines;
        self
    }
}

impl Integration for StacktraceIntegration {
    fn name(&self) -> &'static str {
        "stacktrace"
    }

    fn process_event(&self, mut event: Event, options: &ClientOptions) -> Option<Event> {
        if options.attach_stacktrace && !has_stacktrace(&event) {
            if let Some(st) = current_stacktrace() {
                event.threads.values.push(current_thread(Some(st)));
            }
        }
        // Computed per event: one integration may serve clients with
        // different options.
        InAppRules::from_options(options).apply_to_event(&mut event);
        if self.source_lines > 0 {
            for st in stacktraces_mut(&mut event) {
                for frame in st.frames.iter_mut().filter(|f| f.in_app == Some(true)) {
                    self.sources.add_context(frame, self.source_lines);
                }
            }
        }
        Some(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_dispatch_frames_are_borders_by_their_source_file() {
        let registry = "/home/me/.cargo/registry/src/index-6f17";
        for (function, path, border) in [
            (
                "log<()>",
                format!("{registry}/log-0.4.22/src/__private_api.rs"),
                true,
            ),
            (
                "log_impl",
                format!("{registry}/log-0.4.22/src/__private_api.rs"),
                true,
            ),
            (
                "event<T>",
                format!("{registry}/tracing-core-0.1.33/src/dispatcher.rs"),
                true,
            ),
            (
                "dispatch",
                format!("{registry}/tracing-core-0.1.33/src/event.rs"),
                true,
            ),
            (
                "with_default<F, T>",
                format!("{registry}/tracing-core-0.1.33/src/dispatcher.rs"),
                false,
            ),
            ("log<()>", "/srv/app/src/logging.rs".to_owned(), false),
            (
                "log<()>",
                format!("{registry}/catalog-1.0.0/src/__private_api.rs"),
                false,
            ),
        ] {
            let mut frame = frame(function);
            frame.abs_path = Some(path.clone());
            assert_eq!(is_border(&frame), border, "{function} in {path}");
        }
    }

    /// Source files of frames without a module: the application's, or
    /// dependencies and generated code by their layout, or the SDK's own
    /// under a remapped prefix.
    #[test]
    fn source_paths_tell_whose_code_a_bare_frame_is() {
        for (path, app) in [
            ("/srv/app/src/orders.rs", true),
            ("src/main.rs", true),
            ("C:\\work\\app\\src\\main.rs", true),
            ("/srv/app/vendor/serde_json/src/de.rs", false),
            ("/srv/app/vendor/tokio/src/runtime/task/harness.rs", false),
            ("serde_json-1.0.128/src/de.rs", false),
            (
                "/cargo-cache/registry/src/index-6f17/serde_json-1.0.128/src/de.rs",
                false,
            ),
            (
                "/work/app/target/release/build/myproto-0123abcd/out/api.rs",
                false,
            ),
            ("/rustc/0123abcd/library/core/src/result.rs", false),
            ("/build/sentry-core/src/client.rs", false),
            ("sentry-integrations/src/panic.rs", false),
            ("/srv/app/my-sentry-core/src/lib.rs", true),
            ("/usr/src/glibc/nptl/pthread_create.c", false),
        ] {
            assert_eq!(is_app_source(path), app, "{path}");
        }
    }

    fn frame(function: &str) -> Frame {
        let mut f = Frame {
            function: Some(function.to_owned()),
            ..Default::default()
        };
        fill_module(&mut f);
        f
    }

    #[test]
    fn hashes_are_stripped_only_when_they_are_hashes() {
        assert_eq!(
            clean_function_name("foo::bar::h0123456789abcdef"),
            "foo::bar"
        );
        assert_eq!(clean_function_name("foo::h1234abcd"), "foo::h1234abcd");
        assert_eq!(clean_function_name("foo::hash_map"), "foo::hash_map");
        assert_eq!(clean_function_name("<[u8]>::len"), "<[u8]>::len");
        assert_eq!(
            clean_function_name("std[e28293b1aa0f68bd]::rt::lang_start_internal"),
            "std::rt::lang_start_internal"
        );
    }

    #[test]
    fn modules_and_packages_from_symbol_paths() {
        let cases = [
            ("myapp::main", Some("myapp")),
            ("myapp::server::Server::handle::{{closure}}", Some("myapp::server")),
            ("std::rt::lang_start_internal::{closure#0}", Some("std::rt")),
            ("<myapp::Config as core::fmt::Display>::fmt", Some("myapp")),
            ("<&T as core::fmt::Debug>::fmt", Some("core::fmt")),
            ("<std::backtrace::Backtrace>::create", Some("std::backtrace")),
            (
                "<core::iter::adapters::map::Map<I,F> as core::iter::traits::iterator::Iterator>::next",
                Some("core::iter::adapters::map"),
            ),
            (
                "<core::option::Option<u32> as myapp::OptionExt>::or_boom",
                Some("myapp"),
            ),
            (
                "<alloc::vec::Vec<myapp::Item> as myapp::store::Persist>::save::{{closure}}",
                Some("myapp::store"),
            ),
            (
                "<alloc::string::String as core::convert::From<&str>>::from",
                Some("alloc::string"),
            ),
            ("<[T]>::sort_by", None),
            ("main", None),
            ("_start", None),
        ];
        for (function, module) in cases {
            assert_eq!(
                module_of_function(function).as_deref(),
                module,
                "{function}"
            );
        }
        assert_eq!(frame("tokio::spawn").package.as_deref(), Some("tokio"));
    }

    #[test]
    fn default_in_app_rules() {
        let rules = InAppRules::default();
        for sys in [
            "std::panicking::begin_panic",
            "core::option::unwrap_failed",
            "alloc::vec::Vec<T>::push",
            "backtrace::capture::Backtrace::new",
            "tokio::runtime::Runtime::block_on",
            "futures::executor::block_on",
            "futures_util::future::FutureExt::poll_unpin",
            "sentry_core::api::capture_message",
            "sentry_integrations::panic::hook",
            "sentry_transport::worker::run",
            "main",
        ] {
            assert!(!rules.is_in_app(&frame(sys)), "{sys} must not be in-app");
        }
        for app in [
            "myapp::main",
            "tokio_app::main",
            "stdx::thing",
            "my_service::db::query",
        ] {
            assert!(rules.is_in_app(&frame(app)), "{app} must be in-app");
        }
        let mut dep = frame("serde_json::de::from_str");
        dep.abs_path = Some(
            "/root/.cargo/registry/src/index.registry-1949cf8c6b5b557f/serde_json-1.0.1/src/de.rs"
                .into(),
        );
        assert!(!rules.is_in_app(&dep));
    }

    #[test]
    fn longest_rule_wins_and_include_wins_ties() {
        let rules = InAppRules::new(
            ["myapp::vendored::patched", "tokio"],
            ["myapp::vendored", "tokio"],
        );
        assert!(!rules.is_in_app(&frame("myapp::vendored::zlib::inflate")));
        assert!(rules.is_in_app(&frame("myapp::vendored::patched::run")));
        assert!(rules.is_in_app(&frame("tokio::spawn")));
        assert!(rules.is_in_app(&frame("myapp::main")));
        // Prefixes match whole segments only.
        let rules = InAppRules::new([""; 0], ["myapp"]);
        assert!(rules.is_in_app(&frame("myapp2::main")));
        assert!(!rules.is_in_app(&frame("myapp::main")));
    }

    #[test]
    fn paths_are_normalised() {
        assert_eq!(
            normalize_path("/work/app/tests/support/../../examples/panic.rs"),
            "/work/app/examples/panic.rs"
        );
        assert_eq!(
            normalize_path("/rustc/abc/library/std/src/../../backtrace/src/lib.rs"),
            "/rustc/abc/library/backtrace/src/lib.rs"
        );
        assert_eq!(normalize_path("./src/./main.rs"), "./src/main.rs");
        assert_eq!(normalize_path("../x/y.rs"), "../x/y.rs");
        assert_eq!(normalize_path("/a/b.rs"), "/a/b.rs");
    }

    #[test]
    fn filenames_are_shortened() {
        assert_eq!(
            short_filename_in("/work/app/src/main.rs", Some("/work/app")),
            "src/main.rs"
        );
        assert_eq!(
            short_filename_in("/elsewhere/src/main.rs", Some("/work/app")),
            "/elsewhere/src/main.rs"
        );
        assert_eq!(
            short_filename_in(
                "/home/u/.cargo/git/checkouts/dep-1234/abcd/src/lib.rs",
                None
            ),
            "dep-1234/abcd/src/lib.rs"
        );
    }

    #[test]
    fn registry_and_git_sources_are_found_in_any_cargo_home() {
        let registry = "registry/src/index.crates.io-6f17d22bba15001f/serde_json-1.0.120/src/de.rs";
        let git = "git/checkouts/dep-0123456789abcdef/abc1234/src/lib.rs";
        for home in ["/home/u/.cargo", "/usr/local/cargo", "/opt/rust/cargo"] {
            assert_eq!(
                short_filename_with(&format!("{home}/{registry}"), None, None),
                "serde_json-1.0.120/src/de.rs"
            );
            assert_eq!(
                short_filename_with(&format!("{home}/{git}"), None, None),
                "dep-0123456789abcdef/abc1234/src/lib.rs"
            );
            assert!(is_third_party_path(&format!("{home}/{registry}")));
        }
        // A CARGO_HOME with any name.
        assert_eq!(
            cargo_source(
                "/build/deps/registry/src/mirror/serde-1.0.0/src/de.rs",
                Some("/build/deps")
            ),
            Some("serde-1.0.0/src/de.rs")
        );
        assert_eq!(
            cargo_source(
                "/build/deps/registry/src/mirror/serde-1.0.0/src/de.rs",
                None
            ),
            None
        );
        // Windows paths.
        assert!(is_third_party_path(
            r"C:\Users\me\.cargo\registry\src\index.crates.io-6f17d22bba15001f\log-0.4.0\src\lib.rs"
        ));
        // Applications that live in a directory named `cargo`.
        for app in [
            "/home/me/cargo/registry/src/main.rs",
            "/home/me/cargo/registry/src/handlers/mod.rs",
            "/srv/cargo/src/registry/src/lib.rs",
            "/work/cargo/git/checkouts/mod.rs",
            "/work/cargo/git/checkouts/worktree/src/lib.rs",
        ] {
            assert!(!is_third_party_path(app), "{app}");
            assert_eq!(
                short_filename_with(app, Some("/work"), None),
                app.trim_start_matches("/work/")
            );
        }
    }

    #[test]
    fn std_backtrace_text_in_both_formats() {
        let plain = "   0: myapp::inner
             at ./src/main.rs:2:43
   1: myapp::main
             at ./src/main.rs:4:14
   2: core::ops::function::FnOnce::call_once
             at /rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/core/src/ops/function.rs:250:5
  15: main
  18: _start
";
        let st = parse_std_backtrace(plain).expect("frames");
        let names: Vec<_> = st
            .frames
            .iter()
            .map(|f| f.function.as_deref().unwrap_or("?"))
            .collect();
        assert_eq!(
            names,
            [
                "_start",
                "main",
                "core::ops::function::FnOnce::call_once",
                "myapp::main",
                "myapp::inner"
            ]
        );
        assert_eq!(
            st.frames[2].filename.as_deref(),
            Some("library/core/src/ops/function.rs")
        );
        assert_eq!(st.frames[4].lineno, Some(2));
        assert_eq!(st.frames[4].colno, Some(43));

        let full = "   4:     0x55cfa89401be - main::inner::hdd3da523eec076aa
                               at /tmp/bt/main.rs:2:43
   9:     0x55cfa89662e4 - <std[e28293b1aa0f68bd]::backtrace::Backtrace>::create
  23:                0x0 - <unknown>
";
        let st = parse_std_backtrace(full).expect("frames");
        assert_eq!(st.frames[0].function, None);
        assert_eq!(
            st.frames[1].function.as_deref(),
            Some("<std::backtrace::Backtrace>::create")
        );
        assert_eq!(st.frames[1].module.as_deref(), Some("std::backtrace"));
        assert_eq!(st.frames[2].function.as_deref(), Some("main::inner"));
        assert_eq!(
            st.frames[2].instruction_addr.as_deref(),
            Some("0x55cfa89401be")
        );
        assert_eq!(st.frames[2].abs_path.as_deref(), Some("/tmp/bt/main.rs"));
        assert!(parse_std_backtrace("disabled backtrace").is_none());
    }

    #[test]
    fn trimming_keeps_everything_when_only_sdk_frames_exist() {
        let mut st = Stacktrace {
            frames: vec![
                frame("std::rt::lang_start"),
                frame("sentry_core::api::capture_message"),
            ],
            ..Default::default()
        };
        trim_sdk_frames(&mut st, |_| false);
        assert_eq!(st.frames.len(), 2);
    }

    #[test]
    fn source_files_tell_the_crate_of_frames_without_a_module() {
        let cases = [
            (
                "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/std/src/thread/local.rs",
                Some("std"),
            ),
            (
                "/home/u/.rustup/toolchains/stable/lib/rustlib/src/rust/library/core/src/ops/function.rs",
                Some("core"),
            ),
            (
                "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tracing-core-0.1.36/src/dispatcher.rs",
                Some("tracing_core"),
            ),
            (
                "/usr/local/cargo/registry/src/index.crates.io-1949cf8c6b5b557f/sha-1-0.10.0-pre.1/src/lib.rs",
                Some("sha_1"),
            ),
            ("/home/u/.cargo/git/checkouts/log-0123456789abcdef/abc1234/src/lib.rs", None),
            ("/work/app/src/main.rs", None),
        ];
        for (path, krate) in cases {
            assert_eq!(source_crate(path).as_deref(), krate, "{path}");
        }
    }

    #[test]
    fn logging_dispatch_frames_are_trimmed_from_the_top() {
        let with_path = |function: &str, path: &str| Frame {
            abs_path: Some(path.to_owned()),
            ..frame(function)
        };
        let registry = "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f";
        let mut st = Stacktrace {
            frames: vec![
                frame("myapp::main"),
                with_path("myapp::report", "/work/app/src/main.rs"),
                with_path("myapp::report::{{closure}}", &format!("{registry}/tracing-0.1.44/src/macros.rs")),
                frame("tracing_core::event::Event::dispatch"),
                with_path("event", &format!("{registry}/tracing-core-0.1.36/src/dispatcher.rs")),
                frame("<tracing_subscriber::layer::layered::Layered<L,S> as tracing_core::subscriber::Subscriber>::event"),
                frame("log::__private_api::log_impl"),
                frame("<sentry_integrations::log::SentryLogger<L> as log::Log>::log"),
            ],
            ..Default::default()
        };
        trim_sdk_frames(&mut st, |_| false);
        let last = st.frames.last().and_then(|f| f.function.as_deref());
        assert_eq!(last, Some("myapp::report"));
    }

    #[inline(never)]
    fn capture_here() -> Option<Stacktrace> {
        backtrace_to_stacktrace(&::backtrace::Backtrace::new())
    }

    #[test]
    fn captured_frames_have_function_file_line_and_package() {
        let st = capture_here().expect("stack");
        let here = st
            .frames
            .iter()
            .find(|f| {
                f.function
                    .as_deref()
                    .unwrap_or("")
                    .ends_with("tests::capture_here")
            })
            .expect("the capturing function is a frame");
        assert!(here
            .filename
            .as_deref()
            .unwrap_or("")
            .ends_with("src/backtrace.rs"));
        assert!(here.lineno.is_some());
        assert_eq!(
            here.module.as_deref(),
            Some("sentry_integrations::backtrace::tests")
        );
        assert_eq!(here.package.as_deref(), Some("sentry_integrations"));
        // The SDK's own frames are trimmed from the top.
        let mut trimmed = st.clone();
        trim_sdk_frames(&mut trimmed, |_| false);
        assert!(trimmed.frames.len() < st.frames.len());
    }
}
