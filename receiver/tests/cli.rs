//! The `receiver` binary: zero-configuration start, `serve` with flags, and
//! the minimal `projects` / `keys` commands.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn receiver() -> Command {
    Command::new(env!("CARGO_BIN_EXE_receiver"))
}

fn run(args: &[&str], db: &std::path::Path) -> String {
    let out = receiver()
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .expect("run receiver");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn is_hex32(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[test]
fn zero_config_start_creates_the_database_and_prints_the_dsn_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    // No flags except a free port: the database lands in the working directory.
    let started = Instant::now();
    let mut child = receiver()
        .current_dir(dir.path())
        .env("RECEIVER_ADDR", "127.0.0.1:0")
        .env_remove("RECEIVER_DB")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read DSN");
    let elapsed = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    let dsn = line.trim();
    let rest = dsn.strip_prefix("http://").expect("http DSN");
    let (key, rest) = rest.split_once('@').expect("key");
    assert!(is_hex32(key), "{dsn}");
    assert!(
        rest.starts_with("127.0.0.1:") && rest.ends_with("/1"),
        "{dsn}"
    );
    assert!(dir.path().join("receiver.sqlite").exists());
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[test]
fn serve_subcommand_takes_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("sub/dir/r.sqlite");
    let mut child = receiver()
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--prefix",
            "sentry",
            "--db",
        ])
        .arg(&db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read DSN");
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.trim().ends_with("/sentry/1"), "{line}");
    assert!(db.exists());
}

/// A CI script waits for the DSN line: a server that cannot start with the
/// token it was given must not print one first.
#[test]
fn serve_refuses_a_malformed_token_before_printing_a_dsn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("r.sqlite");
    let out = receiver()
        .args(["serve", "--addr", "127.0.0.1:0", "--db"])
        .arg(&db)
        .env("RECEIVER_TOKEN", "short")
        .output()
        .expect("run receiver");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "no DSN line");
    assert!(stderr.contains("16 to 256"), "{stderr}");
    assert!(!db.exists(), "nothing created");
}

#[test]
fn projects_and_keys_can_be_listed_and_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("r.sqlite");
    // A missing database is created, and said so (a mistyped --db would
    // otherwise pass for the receiver's).
    let stderr_of = |args: &[&str]| {
        let out = receiver()
            .args(args)
            .arg("--db")
            .arg(&db)
            .output()
            .expect("run");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(stderr_of(&["tokens", "list"]).contains("creating a new one"));
    assert!(!stderr_of(&["tokens", "list"]).contains("creating a new one"));
    let projects = run(&["projects"], &db);
    assert_eq!(projects.trim(), "1\tdefault\tenabled");
    // --json holds for the commands that create, too.
    let made: serde_json::Value =
        serde_json::from_str(&run(&["--json", "tokens", "create"], &db)).expect("token json");
    assert_eq!(made["scope"], "read");
    assert_eq!(made["token"].as_str().map(str::len), Some(64));
    let made: serde_json::Value =
        serde_json::from_str(&run(&["--json", "keys", "create", "--project", "1"], &db))
            .expect("key json");
    assert!(
        made["dsn"].as_str().is_some_and(|d| d.ends_with("/1")),
        "{made}"
    );

    let dsn = run(&["projects", "create", "--name", "web", "--id", "42"], &db);
    assert!(dsn.trim().ends_with("@127.0.0.1:8000/42"), "{dsn}");
    let dsn = run(
        &[
            "keys",
            "create",
            "--project",
            "42",
            "--key",
            "0123456789abcdef0123456789abcdef",
        ],
        &db,
    );
    assert_eq!(
        dsn.trim(),
        "http://0123456789abcdef0123456789abcdef@127.0.0.1:8000/42"
    );
    let keys = run(&["keys", "list", "--project", "42"], &db);
    assert_eq!(keys.lines().count(), 2, "{keys}");
    assert!(keys.contains("0123456789abcdef0123456789abcdef"));
    // A project is named by its slug too, as in the API.
    assert_eq!(run(&["keys", "list", "--project", "web"], &db), keys);
    let dsn = run(&["keys", "create", "--project", "Web"], &db);
    assert!(dsn.trim().ends_with("@127.0.0.1:8000/42"), "{dsn}");
    let out = receiver()
        .args(["keys", "list", "--project", "shop", "--db"])
        .arg(&db)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("no project \"shop\"") && said.contains("42 (web)"),
        "{said}"
    );
    let all = run(&["projects", "list"], &db);
    assert!(all.contains("42\tweb\tenabled"), "{all}");

    // Bad input is an error with a message, not a panic.
    let out = receiver()
        .args(["keys", "create", "--project", "999", "--db"])
        .arg(&db)
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no project \"999\""));
}

#[path = "support/binary.rs"]
mod binary;

/// Sends one event until `want` is answered (a running receiver reads
/// quotas changed by another process within `QUOTA_TTL`, 2 s).
fn event_until(dsn: &str, want: u16) -> receiver::testing::TestResponse {
    let (url, auth) = binary::envelope_endpoint(dsn);
    let body = b"{}\n{\"type\":\"event\"}\n{\"message\":\"quota\"}\n";
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = receiver::testing::post(&url, &[("X-Sentry-Auth", auth.as_str())], body)
            .expect("request");
        if r.status == want || Instant::now() > deadline {
            return r;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn quotas_added_and_removed_by_the_cli_apply_to_a_running_receiver() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("r.sqlite");
    let (mut child, dsn) = binary::spawn(&db);
    assert_eq!(event_until(&dsn, 200).status, 200);

    let id = run(
        &[
            "quotas",
            "add",
            "--categories",
            "error,transaction",
            "--limit",
            "0",
            "--window",
            "60",
            "--reason",
            "ci_test",
        ],
        &db,
    );
    let id = id.trim().to_owned();
    let list = run(&["quotas", "list"], &db);
    assert!(
        list.contains(&format!(
            "{id}\t1\tevery key\terror,transaction\t0 per 60 s\tci_test"
        )),
        "{list}"
    );
    // `--json` prints the API's object for a quota, with its project.
    let listed: serde_json::Value =
        serde_json::from_str(&run(&["--json", "quotas", "list"], &db)).expect("json list");
    assert_eq!(
        listed,
        serde_json::json!([{"id": id, "project": "1", "publicKey": null,
            "categories": ["error", "transaction"], "limit": 0, "window": 60,
            "reason": "ci_test", "scope": "project"}])
    );
    let r = event_until(&dsn, 429);
    assert_eq!(r.status, 429, "{}", String::from_utf8_lossy(&r.body));
    let limits = r
        .header("x-sentry-rate-limits")
        .unwrap_or_default()
        .to_owned();
    assert!(
        limits.ends_with(":error;transaction:project:ci_test"),
        "{limits}"
    );

    let removed = run(&["--json", "quotas", "remove", &id], &db);
    assert_eq!(removed.trim(), format!("{{\"removed\":\"{id}\"}}"));
    assert_eq!(event_until(&dsn, 200).status, 200);
    assert_eq!(run(&["quotas", "list"], &db).trim(), "");
    // Removing it again names the mistake instead of passing for done.
    let again = receiver()
        .args(["quotas", "remove", &id, "--db"])
        .arg(&db)
        .output()
        .expect("run receiver");
    assert_eq!(again.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains(&format!("no quota {id}")),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // `add --json` answers with the whole quota, as the API's POST does.
    let key = dsn
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .map(|(key, _)| key)
        .expect("key in the DSN");
    let added: serde_json::Value = serde_json::from_str(&run(
        &["--json", "quotas", "add", "--limit", "5", "--key", key],
        &db,
    ))
    .expect("json add");
    assert_eq!(added["publicKey"], key, "{added}");
    assert_eq!(added["scope"], "key", "{added}");
    assert_eq!(added["limit"], 5, "{added}");
    assert!(added["id"].as_str().is_some_and(|i| i != id), "{added}");

    // Bad input is an error with a message.
    let out = receiver()
        .args([
            "quotas",
            "add",
            "--limit",
            "1",
            "--categories",
            "errors",
            "--db",
        ])
        .arg(&db)
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown data category"));
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn keys_list_prints_dsns_with_the_address_the_receiver_serves_at() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("r.sqlite");
    // Never served, and port 0 given: the default address, not port 0.
    let fresh = run(&["keys", "list", "--addr", "127.0.0.1:0"], &db);
    assert!(fresh.contains("@127.0.0.1:8000/1"), "{fresh}");
    // Port 0: the DSN has a port no default could guess.
    let (mut child, dsn) = binary::spawn(&db);
    // `serve` notes its address just after printing the DSN.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = run(&["keys", "list"], &db);
        if list.contains(&dsn) {
            break;
        }
        assert!(Instant::now() < deadline, "{list:?} lacks {dsn}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    // Still so once it has stopped; `--addr` and `--prefix` decide when given.
    assert!(run(&["keys", "list"], &db).contains(&dsn));
    // Port 0 (a CI script's exported RECEIVER_ADDR) names no usable port.
    assert!(run(&["keys", "list", "--addr", "127.0.0.1:0"], &db).contains(&dsn));
    let list = run(&["keys", "list", "--addr", "0.0.0.0:9999"], &db);
    assert!(list.contains("@127.0.0.1:9999/1"), "{list}");
    let (_, served, _) = binary::parse_dsn(&dsn);
    let list = run(&["keys", "list", "--prefix", "/sentry"], &db);
    assert!(list.contains(&format!("@{served}/sentry/1")), "{list}");
}
