//! Contexts about the machine and the program, added to every event.
//!
//! [`ContextsIntegration`] gathers once, when the client is created:
//!
//! | key | type | fields |
//! |---|---|---|
//! | `os` | `os` | `name` (`Linux`, `macOS`, `Windows`, ...), `version` (distribution or product version), `kernel_version`, `build`, `raw_description`; on Linux also `distribution {name, version, pretty_name}` from `/etc/os-release` |
//! | `rust` | `runtime` | `name: "rustc"`, `version`, `channel` (`stable`, `beta`, `nightly`, `dev`), `raw_description`: the compiler that built the program, recorded at build time |
//! | `device` | `device` | `arch`, `processor_count`, `memory_size` (bytes), `boot_time` (Linux) |
//! | `app` | `app` | `app_start_time` (when the process started; on other systems than Linux when the SDK was initialised), `app_name` (the binary's name), `build_type` (`debug`/`release`) |
//!
//! A context the event (or its scope) already has under the same key is left
//! alone. The integration also sets `server_name` to the host name when the
//! options have none.
//!
//! ```
//! use std::sync::Arc;
//! use sentry_core::{capture_message, protocol::{Context, Level}, test::with_captured_events_options, ClientOptions};
//! use sentry_integrations::contexts::ContextsIntegration;
//!
//! let events = with_captured_events_options(|| { capture_message("hi", Level::Info); }, ClientOptions {
//!     integrations: vec![Arc::new(ContextsIntegration::new())],
//!     ..Default::default()
//! });
//! let Context::Runtime(rust) = &events[0].contexts["rust"] else { panic!("a runtime context") };
//! assert_eq!(rust.name.as_deref(), Some("rustc"));
//! assert!(matches!(events[0].contexts["device"], Context::Device(_)));
//! ```

use std::sync::OnceLock;

use sentry_core::protocol::{
    AppContext, Context, DeviceContext, Event, Map, OsContext, RuntimeContext, Timestamp,
};
use sentry_core::{ClientOptions, Integration};
use serde_json::Value;

/// Adds the `os`, `rust`, `device` and `app` contexts and the default
/// `server_name` (see the [module docs](self)). Each part can be turned off.
#[derive(Debug)]
pub struct ContextsIntegration {
    os: bool,
    rust: bool,
    device: bool,
    app: bool,
    server_name: bool,
    contexts: OnceLock<Vec<(String, Context)>>,
}

impl Default for ContextsIntegration {
    fn default() -> Self {
        Self::new()
    }
}

impl ContextsIntegration {
    /// Every context on, and `server_name` from the host name.
    pub fn new() -> Self {
        // Remember the start time as early as possible.
        let _ = start_time();
        ContextsIntegration {
            os: true,
            rust: true,
            device: true,
            app: true,
            server_name: true,
            contexts: OnceLock::new(),
        }
    }

    /// Whether to add the `os` context.
    pub fn os(mut self, on: bool) -> Self {
        self.os = on;
        self
    }

    /// Whether to add the `rust` (runtime) context.
    pub fn rust(mut self, on: bool) -> Self {
        self.rust = on;
        self
    }

    /// Whether to add the `device` context.
    pub fn device(mut self, on: bool) -> Self {
        self.device = on;
        self
    }

    /// Whether to add the `app` context.
    pub fn app(mut self, on: bool) -> Self {
        self.app = on;
        self
    }

    /// Whether to default `server_name` to the host name.
    ///
    /// ```
    /// use sentry_integrations::contexts::ContextsIntegration;
    /// let only_runtime = ContextsIntegration::new().os(false).device(false).app(false).server_name(false);
    /// ```
    pub fn server_name(mut self, on: bool) -> Self {
        self.server_name = on;
        self
    }

    fn contexts(&self) -> &[(String, Context)] {
        self.contexts.get_or_init(|| {
            let mut out = Vec::new();
            if self.os {
                out.push(("os".to_owned(), os_context().into()));
            }
            if self.rust {
                out.push(("rust".to_owned(), rust_context().into()));
            }
            if self.device {
                out.push(("device".to_owned(), device_context().into()));
            }
            if self.app {
                out.push(("app".to_owned(), app_context().into()));
            }
            out
        })
    }
}

impl Integration for ContextsIntegration {
    fn name(&self) -> &'static str {
        "contexts"
    }

    fn setup(&self, options: &mut ClientOptions) {
        if self.server_name && options.server_name.is_none() {
            options.server_name = hostname().map(Into::into);
        }
        let _ = self.contexts();
    }

    fn process_event(&self, mut event: Event, _options: &ClientOptions) -> Option<Event> {
        for (key, context) in self.contexts() {
            if !event.contexts.contains_key(key) {
                event.contexts.insert(key.clone(), context.clone());
            }
        }
        Some(event)
    }
}

/// When the process started: read from the kernel on Linux, else when the
/// SDK first asked (at `init`, early in most programs).
fn start_time() -> Timestamp {
    static START: OnceLock<Timestamp> = OnceLock::new();
    *START.get_or_init(|| process_start_time().unwrap_or_else(Timestamp::now))
}

/// The process's start: boot time (`btime` in /proc/stat) plus the
/// process's start in clock ticks after boot (field 22 of /proc/self/stat).
#[cfg(target_os = "linux")]
fn process_start_time() -> Option<Timestamp> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces or
    // parentheses itself: count fields after the last `)`, which ends it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    // `after_name` starts at field 3; field 22 is the 20th from there.
    let ticks: u64 = after_name.split_whitespace().nth(19)?.parse().ok()?;
    let boot: u64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz <= 0 {
        return None;
    }
    Some(Timestamp::from_secs_f64(
        boot as f64 + ticks as f64 / hz as f64,
    ))
}

#[cfg(not(target_os = "linux"))]
fn process_start_time() -> Option<Timestamp> {
    None
}

/// The compiler that built this program (recorded by the build script).
///
/// ```
/// let rust = sentry_integrations::contexts::rust_context();
/// assert_eq!(rust.name.as_deref(), Some("rustc"));
/// assert!(rust.version.unwrap().starts_with("1."));
/// ```
pub fn rust_context() -> RuntimeContext {
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let mut other = Map::new();
    if let Some(channel) = non_empty(env!("SENTRY_INTEGRATIONS_RUSTC_CHANNEL")) {
        other.insert("channel".to_owned(), Value::String(channel));
    }
    if let Some(host) = non_empty(env!("SENTRY_INTEGRATIONS_RUSTC_HOST")) {
        other.insert("host".to_owned(), Value::String(host));
    }
    RuntimeContext {
        name: Some("rustc".to_owned()),
        version: non_empty(env!("SENTRY_INTEGRATIONS_RUSTC_VERSION")),
        raw_description: non_empty(env!("SENTRY_INTEGRATIONS_RUSTC_DESCRIPTION")),
        other,
    }
}

/// The machine: architecture, logical CPU count, total memory and (Linux)
/// boot time.
///
/// ```
/// let device = sentry_integrations::contexts::device_context();
/// assert_eq!(device.arch.as_deref(), Some(std::env::consts::ARCH));
/// assert!(device.processor_count.unwrap() >= 1);
/// ```
pub fn device_context() -> DeviceContext {
    DeviceContext {
        arch: Some(std::env::consts::ARCH.to_owned()),
        processor_count: std::thread::available_parallelism()
            .ok()
            .map(|n| n.get() as u64),
        memory_size: sys::memory_size(),
        boot_time: sys::boot_time().map(|t| t.to_rfc3339()),
        ..Default::default()
    }
}

/// The program: when the SDK started, the binary's name and the build type.
///
/// ```
/// let app = sentry_integrations::contexts::app_context();
/// assert!(app.app_name.is_some());
/// assert!(app.app_start_time.is_some());
/// ```
pub fn app_context() -> AppContext {
    let app_name = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .or_else(|| {
            std::env::args_os().next().and_then(|a| {
                std::path::Path::new(&a)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
            })
        });
    AppContext {
        app_start_time: Some(start_time().to_rfc3339()),
        app_name,
        build_type: Some(
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .to_owned(),
        ),
        ..Default::default()
    }
}

/// The operating system: name, version, kernel version and build.
///
/// ```
/// let os = sentry_integrations::contexts::os_context();
/// assert!(os.name.is_some());
/// ```
pub fn os_context() -> OsContext {
    sys::os_context()
}

/// The host name, for `server_name`.
///
/// ```
/// let name = sentry_integrations::contexts::hostname();
/// assert!(name.map_or(true, |n| !n.is_empty()));
/// ```
pub fn hostname() -> Option<String> {
    sys::hostname().filter(|h| !h.is_empty())
}

/// `KEY=value` lines of `/etc/os-release` (values may be quoted).
fn parse_os_release(text: &str) -> Vec<(&str, String)> {
    text.lines()
        .filter_map(|line| {
            let (key, value) = line.trim().split_once('=')?;
            if key.starts_with('#') {
                return None;
            }
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            Some((key.trim(), value.replace("\\\"", "\"")))
        })
        .collect()
}

/// An OS context for Linux from `uname` fields and `/etc/os-release`.
fn linux_os_context(
    kernel_release: Option<String>,
    kernel_build: Option<String>,
    os_release: &str,
) -> OsContext {
    let fields = parse_os_release(os_release);
    let get = |k: &str| {
        fields
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.clone())
    };
    let mut other = Map::new();
    let mut distribution = Map::new();
    for (key, field) in [
        ("name", "ID"),
        ("version", "VERSION_ID"),
        ("pretty_name", "PRETTY_NAME"),
    ] {
        if let Some(v) = get(field) {
            distribution.insert(key.to_owned(), Value::String(v));
        }
    }
    if !distribution.is_empty() {
        other.insert("distribution".to_owned(), Value::Object(distribution));
    }
    OsContext {
        name: Some("Linux".to_owned()),
        version: get("VERSION_ID"),
        kernel_version: kernel_release,
        build: kernel_build,
        raw_description: get("PRETTY_NAME"),
        other,
    }
}

#[cfg(unix)]
mod sys {
    use std::ffi::CStr;

    use sentry_core::protocol::{OsContext, Timestamp};

    /// `uname(2)`: sysname, release, version.
    fn uname() -> Option<(String, String, String)> {
        // SAFETY: `utsname` is plain old data; zeroed is a valid value, and
        // `uname` fills it with NUL-terminated strings on success.
        let mut u: libc::utsname = unsafe { std::mem::zeroed() };
        if unsafe { libc::uname(&mut u) } != 0 {
            return None;
        }
        let text = |field: &[libc::c_char]| {
            // SAFETY: on success every field is NUL-terminated within the array.
            unsafe { CStr::from_ptr(field.as_ptr()) }
                .to_string_lossy()
                .into_owned()
        };
        Some((text(&u.sysname), text(&u.release), text(&u.version)))
    }

    pub(super) fn hostname() -> Option<String> {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for `len` bytes; the name may be
        // truncated without a NUL, which we handle below.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc != 0 {
            return None;
        }
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        Some(String::from_utf8_lossy(&buf[..end]).into_owned())
    }

    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd"
    ))]
    pub(super) fn memory_size() -> Option<u64> {
        // SAFETY: sysconf has no memory-safety preconditions.
        let (pages, page_size) = unsafe {
            (
                libc::sysconf(libc::_SC_PHYS_PAGES),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        (pages > 0 && page_size > 0).then(|| pages as u64 * page_size as u64)
    }

    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd"
    )))]
    pub(super) fn memory_size() -> Option<u64> {
        None
    }

    pub(super) fn boot_time() -> Option<Timestamp> {
        if !cfg!(any(target_os = "linux", target_os = "android")) {
            return None;
        }
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let secs: f64 = stat
            .lines()
            .find_map(|l| l.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()?;
        Some(Timestamp::from_secs_f64(secs))
    }

    pub(super) fn os_context() -> OsContext {
        let (sysname, release, version) = uname().unwrap_or_default();
        let non_empty = |s: String| (!s.is_empty()).then_some(s);
        if cfg!(any(target_os = "linux", target_os = "android")) {
            let os_release = std::fs::read_to_string("/etc/os-release")
                .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
                .unwrap_or_default();
            return super::linux_os_context(non_empty(release), non_empty(version), &os_release);
        }
        if cfg!(target_os = "macos") {
            let plist = std::fs::read_to_string("/System/Library/CoreServices/SystemVersion.plist")
                .unwrap_or_default();
            return OsContext {
                name: Some("macOS".to_owned()),
                version: plist_string(&plist, "ProductVersion"),
                build: plist_string(&plist, "ProductBuildVersion"),
                kernel_version: non_empty(release),
                ..Default::default()
            };
        }
        OsContext {
            name: non_empty(sysname).or_else(|| Some(std::env::consts::OS.to_owned())),
            version: non_empty(release.clone()),
            kernel_version: non_empty(release),
            build: non_empty(version),
            ..Default::default()
        }
    }

    /// The `<string>` after `<key>{key}</key>` in a property list.
    fn plist_string(plist: &str, key: &str) -> Option<String> {
        let after = plist.split_once(&format!("<key>{key}</key>"))?.1;
        let start = after.find("<string>")? + "<string>".len();
        let end = after[start..].find("</string>")?;
        Some(after[start..start + end].trim().to_owned())
    }
}

#[cfg(not(unix))]
mod sys {
    use sentry_core::protocol::{OsContext, Timestamp};

    pub(super) fn hostname() -> Option<String> {
        std::env::var("COMPUTERNAME").ok()
    }

    pub(super) fn memory_size() -> Option<u64> {
        None
    }

    pub(super) fn boot_time() -> Option<Timestamp> {
        None
    }

    pub(super) fn os_context() -> OsContext {
        let name = match std::env::consts::OS {
            "windows" => "Windows",
            other => other,
        };
        OsContext {
            name: Some(name.to_owned()),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn the_process_start_is_read_from_the_kernel() {
        let start = process_start_time().expect("start time").as_secs_f64();
        let now = Timestamp::now().as_secs_f64();
        // This test process started a little while ago (ticks are 10 ms).
        assert!(start <= now + 0.05, "{start} > {now}");
        assert!(now - start < 3600.0, "{start} is too long ago");
    }

    #[test]
    fn linux_os_from_os_release() {
        let os = linux_os_context(
            Some("6.1.0-18-amd64".into()),
            Some("#1 SMP PREEMPT_DYNAMIC".into()),
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n# comment\n",
        );
        assert_eq!(os.name.as_deref(), Some("Linux"));
        assert_eq!(os.version.as_deref(), Some("12"));
        assert_eq!(os.kernel_version.as_deref(), Some("6.1.0-18-amd64"));
        assert_eq!(
            os.raw_description.as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        let v = serde_json::to_value(Context::Os(os)).expect("json");
        assert_eq!(v["type"], "os");
        assert_eq!(v["distribution"]["name"], "debian");
    }

    #[test]
    fn existing_contexts_win_and_server_name_defaults_to_host() {
        let integration = ContextsIntegration::new().os(false);
        let mut options = ClientOptions::default();
        integration.setup(&mut options);
        assert_eq!(options.server_name.as_deref(), hostname().as_deref());
        let mut event = Event::default();
        event
            .contexts
            .insert("app".into(), Context::App(AppContext::default()));
        let event = integration.process_event(event, &options).expect("kept");
        assert_eq!(event.contexts["app"], Context::App(AppContext::default()));
        assert!(event.contexts.contains_key("rust"));
        assert!(event.contexts.contains_key("device"));
        assert!(!event.contexts.contains_key("os"));
        let Context::Runtime(rust) = &event.contexts["rust"] else {
            panic!("rust is a runtime context");
        };
        assert!(matches!(
            rust.other.get("channel").and_then(Value::as_str),
            Some("stable" | "beta" | "nightly" | "dev")
        ));
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn linux_facts_are_read() {
        assert!(device_context().memory_size.unwrap_or(0) > 0);
        assert!(device_context().boot_time.is_some());
        assert!(os_context().kernel_version.is_some());
    }
}
