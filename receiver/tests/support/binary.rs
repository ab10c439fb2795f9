//! Starting the `receiver` binary itself, for tests that kill and restart
//! it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Starts the binary on `db` (on a free port of 127.0.0.1) and returns it
/// with the DSN it printed.
pub fn spawn(db: &std::path::Path) -> (Child, String) {
    spawn_with(db, &[])
}

/// [`spawn`] with more environment variables.
pub fn spawn_with(db: &std::path::Path, env: &[(&str, &str)]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_receiver"))
        .env("RECEIVER_ADDR", "127.0.0.1:0")
        .env("RECEIVER_DB", db)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn receiver");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the receiver prints its DSN");
    (child, line.trim().to_owned())
}

/// `(key, addr, project)` from `http://KEY@HOST:PORT/PROJECT`.
pub fn parse_dsn(dsn: &str) -> (String, SocketAddr, String) {
    let rest = dsn.strip_prefix("http://").expect("http dsn");
    let (key, rest) = rest.split_once('@').expect("key");
    let (host, project) = rest.split_once('/').expect("project");
    (
        key.to_owned(),
        host.parse().expect("addr"),
        project.to_owned(),
    )
}

/// The envelope endpoint of `dsn` and the `X-Sentry-Auth` header for it.
pub fn envelope_endpoint(dsn: &str) -> (String, String) {
    let (key, addr, project) = parse_dsn(dsn);
    (
        format!("http://{addr}/api/{project}/envelope/"),
        format!("Sentry sentry_key={key}, sentry_version=7"),
    )
}
