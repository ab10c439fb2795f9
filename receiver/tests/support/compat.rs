//! What the compatibility tests with the official SDKs share
//! (`#[path = "support/compat.rs"] mod compat;`): running the SDK's script
//! with a deadline, reading the ids it printed, and looking at what the
//! receiver stored, straight from its database.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use receiver::testing::TestServer;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde_json::Value;

/// The workspace's root directory (where `compat/` and `target/` are).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_owned()
}

/// What a finished command printed.
pub struct Finished {
    pub success: bool,
    pub status: String,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `command` to completion, killing it after `timeout`.
pub fn run(command: &mut Command, timeout: Duration) -> Result<Finished, String> {
    let shown = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                text = String::from_utf8_lossy(&bytes).into_owned();
            }
            text
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{shown} did not finish within {timeout:?}"));
            }
            Err(e) => return Err(format!("waiting for {shown}: {e}")),
        }
    };
    Ok(Finished {
        success: status.success(),
        status: status.to_string(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Runs an SDK's scenario `script` (through `command`, which names the
/// interpreter and the script) against `server` with `SENTRY_DSN` set and
/// no proxy or ambient SDK settings; asserts it succeeded and returns the
/// JSON object it printed last.
pub fn run_sdk_script(
    mut command: Command,
    script: &Path,
    server: &TestServer,
    timeout: Duration,
) -> Value {
    command.env("SENTRY_DSN", server.dsn());
    // Nothing between the SDK and the receiver, and no ambient SDK settings.
    for var in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "SENTRY_RELEASE",
        "SENTRY_ENVIRONMENT",
        "SENTRY_DEBUG",
        "SENTRY_TRACES_SAMPLE_RATE",
    ] {
        command.env_remove(var);
    }
    command.env("NO_PROXY", "127.0.0.1,localhost");
    let out = match run(&mut command, timeout) {
        Ok(out) => out,
        Err(e) => panic!("the scenario script failed to run: {e}"),
    };
    assert!(
        out.success,
        "{} exited {}\nstdout:\n{}\nstderr:\n{}",
        script.display(),
        out.status,
        out.stdout,
        out.stderr
    );
    last_json_line(script, &out.stdout)
}

/// The last line of `stdout` that holds a JSON object, parsed; panics,
/// naming `script`, when there is none.
pub fn last_json_line(script: &Path, stdout: &str) -> Value {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_else(|| {
            panic!(
                "no JSON line in the output of {}:\n{stdout}",
                script.display()
            )
        });
    match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => panic!("{} printed invalid JSON ({e}): {line}", script.display()),
    }
}

/// The ids the script reported for `scenario`, as stored (32 lowercase hex).
pub fn ids(all: &Value, scenario: &str) -> Vec<String> {
    let list = all[scenario]
        .as_array()
        .unwrap_or_else(|| panic!("the script reported no ids for {scenario:?}: {all}"));
    list.iter()
        .map(|v| {
            let id = v
                .as_str()
                .unwrap_or_else(|| panic!("{scenario}: the SDK returned no event id ({all})"));
            id.replace('-', "").to_ascii_lowercase()
        })
        .collect()
}

/// The receiver's database, read-only.
pub fn open(db: &Path) -> Connection {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap_or_else(|e| panic!("open {}: {e}", db.display()));
    conn.busy_timeout(Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("busy timeout: {e}"));
    conn
}

/// The single integer `sql` selects.
pub fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A stored event: `(issue_id, kind, level, title)`.
pub fn event_row(conn: &Connection, event_id: &str) -> (i64, String, String, String) {
    conn.query_row(
        "SELECT issue_id, kind, level, title FROM events WHERE event_id = ?1",
        [event_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .optional()
    .unwrap_or_else(|e| panic!("query event {event_id}: {e}"))
    .unwrap_or_else(|| panic!("event {event_id} was not stored"))
}

/// The stored event's exception values, oldest cause first.
pub fn exceptions(server: &TestServer, event_id: &str) -> Vec<Value> {
    let json = server
        .event_json(event_id)
        .unwrap_or_else(|| panic!("no stored payload for event {event_id}"));
    json["exception"]["values"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("event {event_id} has no exception values: {json}"))
}
