//! Load generator for the receiver binary.
//!
//! ```text
//! cargo bench -p receiver --bench load
//! cargo bench -p receiver --bench load -- --events 20000 --connections 16
//! ```
//!
//! `cargo bench` builds the `receiver` binary with the bench profile
//! (optimised, like `--release`) and this program spawns it from
//! `CARGO_BIN_EXE_receiver` (override with `RECEIVER_BIN=/path/to/receiver`),
//! so the server runs in its own process and its peak RSS can be read from
//! `/proc/<pid>/status`. Everything talks to 127.0.0.1 only.
//!
//! What it measures:
//!
//! 1. the release binary's size;
//! 2. time from spawning the process to the DSN line on stdout (fresh
//!    database, and again on the existing one);
//! 3. idle RSS after start;
//! 4. a load run: `--events` (default 50 000, at most 500 000) realistic
//!    error events — ~7 KB of JSON each with a 20-frame stack trace and 20
//!    breadcrumbs, in `--groups` (default 50) distinct groups — gzipped into
//!    envelopes (prepared before the clock starts), posted over
//!    `--connections` (default 8, at most 256) keep-alive HTTP/1.1
//!    connections. It reports accepted events/s (200 answers), stored and
//!    grouped events/s (until the database holds every event), request
//!    latency percentiles, the number of issues, the receiver's peak RSS
//!    (`VmHWM`) and CPU time per thread kind, the bytes it wrote per event
//!    (`/proc/<pid>/io`: WAL frames and checkpoint copies), how long each
//!    thread kind (and this client) was runnable but found no free core
//!    (`/proc/<pid>/task/*/schedstat`), and the CPU ceiling: the events/s
//!    that CPU per event would allow with every core busy.
//!
//! Options: `--events N`, `--connections N`, `--groups N`, `--quiet-startup`
//! (skip the repeated start-up measurement), `--rounds N` (load runs, each
//! on a fresh receiver and database; default 1) and `--compare BIN` (a
//! second receiver binary, run alternately with the first, round by
//! round, so that both see the machine's fast and slow phases alike; the
//! summary gives each one's events/s per round and median, and the ratio
//! of the second to the first per round and of the medians):
//!
//! ```text
//! RECEIVER_BIN=new/receiver cargo bench -p receiver --bench load -- \
//!     --connections 256 --events 100000 --rounds 3 --compare old/receiver
//! ```
//!
//! Environment variables
//! `LOAD_EVENTS`, `LOAD_CONNECTIONS`, `LOAD_GROUPS` do the same;
//! `LOAD_KEEP_DB=1` keeps the database for inspection; the database lives
//! in `TMPDIR` (so `TMPDIR=/dev/shm` takes the disk out of the picture).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[path = "support/events.rs"]
mod events;

use flate2::write::GzEncoder;
use flate2::Compression;

const MAX_EVENTS: usize = 500_000;
const MAX_CONNECTIONS: usize = 256;
const MAX_GROUPS: usize = 10_000;
const MAX_ROUNDS: usize = 20;
/// Longest the load phase may take before the run is abandoned.
const LOAD_DEADLINE: Duration = Duration::from_secs(600);
/// How long one request may take before it counts as an I/O error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest to wait for the database to hold every event after the load.
const STORE_DEADLINE: Duration = Duration::from_secs(120);

type Failure = Box<dyn std::error::Error>;

#[derive(Debug, Clone)]
struct Options {
    events: usize,
    connections: usize,
    groups: usize,
    startup_runs: usize,
    /// Load runs per binary.
    rounds: usize,
    /// A second binary, run alternately with the first.
    compare: Option<PathBuf>,
}

fn parse_options() -> Result<Options, Failure> {
    let env_num = |name: &str, default: usize| -> Result<usize, Failure> {
        match std::env::var(name) {
            Ok(v) => Ok(v
                .trim()
                .parse()
                .map_err(|_| format!("{name}={v:?} is not a number"))?),
            Err(_) => Ok(default),
        }
    };
    let mut options = Options {
        events: env_num("LOAD_EVENTS", 50_000)?,
        connections: env_num("LOAD_CONNECTIONS", 8)?,
        groups: env_num("LOAD_GROUPS", 50)?,
        startup_runs: 5,
        rounds: 1,
        compare: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> Result<usize, Failure> {
            let v = args.next().ok_or_else(|| format!("{name} needs a value"))?;
            Ok(v.parse()
                .map_err(|_| format!("{name} {v:?} is not a number"))?)
        };
        match arg.as_str() {
            "--events" => options.events = value("--events")?,
            "--connections" => options.connections = value("--connections")?,
            "--groups" => options.groups = value("--groups")?,
            "--quiet-startup" => options.startup_runs = 1,
            "--rounds" => options.rounds = value("--rounds")?,
            "--compare" => {
                let path = args.next().ok_or("--compare needs a receiver binary")?;
                options.compare = Some(PathBuf::from(path));
            }
            // `cargo bench` passes `--bench`; filters are meaningless here.
            "--bench" => {}
            other if other.starts_with('-') => return Err(format!("unknown option {other}").into()),
            _ => {}
        }
    }
    if options.events == 0 || options.events > MAX_EVENTS {
        return Err(format!("--events must be within 1..={MAX_EVENTS}").into());
    }
    if options.connections == 0 || options.connections > MAX_CONNECTIONS {
        return Err(format!("--connections must be within 1..={MAX_CONNECTIONS}").into());
    }
    if options.groups == 0 || options.groups > MAX_GROUPS {
        return Err(format!("--groups must be within 1..={MAX_GROUPS}").into());
    }
    if options.rounds == 0 || options.rounds > MAX_ROUNDS {
        return Err(format!("--rounds must be within 1..={MAX_ROUNDS}").into());
    }
    Ok(options)
}

fn receiver_binary() -> Result<PathBuf, Failure> {
    let path = match std::env::var_os("RECEIVER_BIN") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_BIN_EXE_receiver")),
    };
    if !path.is_file() {
        return Err(format!(
            "the receiver binary {} does not exist: run `cargo build --release -p receiver` \
             (or `cargo bench -p receiver --bench load`, which builds it), or set RECEIVER_BIN",
            path.display()
        )
        .into());
    }
    Ok(path)
}

/// A spawned receiver.
struct Receiver {
    child: Child,
    dsn: String,
    started_in: Duration,
}

impl Receiver {
    fn spawn(binary: &Path, db: &Path) -> Result<Receiver, Failure> {
        let start = Instant::now();
        let mut child = Command::new(binary)
            .env("RECEIVER_ADDR", "127.0.0.1:0")
            .env("RECEIVER_DB", db)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            return Err("no stdout pipe".into());
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let mut reader = BufReader::new(stdout);
            let _ = reader.read_line(&mut line);
            let _ = tx.send((line, Instant::now()));
            // Keep draining so the receiver never blocks on a full pipe.
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut reader, &mut sink);
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok((line, at)) if line.starts_with("http://") => Ok(Receiver {
                child,
                dsn: line.trim().to_owned(),
                started_in: at - start,
            }),
            Ok((line, _)) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("the receiver printed {line:?} instead of a DSN").into())
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err("the receiver did not print its DSN within 30 s".into())
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `(key, addr, project)` from `http://KEY@HOST:PORT/PROJECT`.
    fn parts(&self) -> Result<(String, SocketAddr, String), Failure> {
        let bad = || format!("unexpected DSN {:?}", self.dsn);
        let rest = self.dsn.strip_prefix("http://").ok_or_else(bad)?;
        let (key, rest) = rest.split_once('@').ok_or_else(bad)?;
        let (host, project) = rest.split_once('/').ok_or_else(bad)?;
        let addr: SocketAddr = host.parse().map_err(|_| bad())?;
        Ok((
            key.to_owned(),
            addr,
            project.trim_end_matches('/').to_owned(),
        ))
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in MiB.
fn status_mib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The threads of a process (`"self"` or a pid) as (kind, `/proc` task
/// directory): numbered names such as `tokio-rt-worker-2` collapse into
/// their kind.
fn threads(pid: &str) -> Vec<(String, PathBuf)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| {
            let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
            let kind = comm
                .trim()
                .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-');
            Some((kind.to_owned(), task.path()))
        })
        .collect()
}

/// CPU seconds (user + system) per thread kind of a process.
fn thread_cpu(pid: u32) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (kind, task) in threads(&pid.to_string()) {
        let Ok(stat) = std::fs::read_to_string(task.join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`: comm may contain spaces and parentheses.
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        // After the comm: state is field 3, utime 14, stime 15 (1-based).
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
        if let (Some(u), Some(s)) = (ticks(11), ticks(12)) {
            *out.entry(kind).or_default() += (u + s) / 100.0;
        }
    }
    out
}

/// Seconds runnable but waiting for a core, and on a core, summed per
/// thread kind of a process (`/proc/<pid>/task/*/schedstat`: on-CPU and
/// run-queue nanoseconds, then turns on a core). Threads that exited are not
/// counted; empty where the kernel keeps no scheduler statistics.
fn thread_waits(pid: &str) -> BTreeMap<String, RunQueue> {
    let mut out = BTreeMap::<String, RunQueue>::new();
    for (kind, task) in threads(pid) {
        let Ok(stat) = std::fs::read_to_string(task.join("schedstat")) else {
            continue;
        };
        let mut fields = stat.split_whitespace().map(|f| f.parse::<u64>().ok());
        let (Some(Some(on_cpu)), Some(Some(waiting)), Some(Some(turns))) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let entry = out.entry(kind).or_default();
        entry.on_cpu += on_cpu as f64 / 1e9;
        entry.waiting += waiting as f64 / 1e9;
        entry.turns += turns;
    }
    out
}

/// One thread kind's scheduler totals, from [`thread_waits`].
#[derive(Clone, Copy, Default)]
struct RunQueue {
    /// Seconds on a core.
    on_cpu: f64,
    /// Seconds runnable while no core was free for it.
    waiting: f64,
    /// Times it was put on a core (after a wake or a preemption).
    turns: u64,
}

/// How long each thread kind waited for a core during the load, per event
/// and per turn on a core: `None` when the kernel keeps no statistics.
fn run_queue_line(
    before: &BTreeMap<String, RunQueue>,
    after: &BTreeMap<String, RunQueue>,
    events: i64,
) -> Option<String> {
    let mut parts = Vec::new();
    for (name, a) in after {
        let b = before.get(name).copied().unwrap_or_default();
        let (waiting, turns) = (a.waiting - b.waiting, a.turns.saturating_sub(b.turns));
        if turns == 0 || a.on_cpu - b.on_cpu < 0.005 {
            continue;
        }
        parts.push(format!(
            "{name} {:.0} µs per event ({:.0} µs per turn on a core)",
            waiting * 1e6 / events.max(1) as f64,
            waiting * 1e6 / turns as f64
        ));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// CPU seconds (user + system) of a whole process, exited threads included.
fn process_cpu(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    let Some(close) = stat.rfind(')') else {
        return f64::NAN;
    };
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => f64::NAN,
    }
}

/// Bytes a process has written so far, from `/proc/<pid>/io`: `wchar`
/// (every write system call: WAL frames, checkpoint copies, HTTP replies)
/// and `write_bytes` (the page-cache pages it dirtied, what storage will
/// see); `None` where the kernel does not report them.
fn written_bytes(pid: u32) -> Option<(u64, u64)> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    let field = |name: &str| -> Option<u64> {
        io.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
    };
    Some((field("wchar:")?, field("write_bytes:")?))
}

/// The receiver's `/health` answer (its stage and writer counters), or
/// `None` if it could not be read.
fn health(addr: SocketAddr) -> Option<serde_json::Value> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    // A loopback receiver answers `/health` only to a loopback host name.
    let request = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    if !response.starts_with(b"HTTP/1.1 200 ") {
        return None;
    }
    let body = response.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    serde_json::from_slice(&response[body..]).ok()
}

/// Where the stored requests' time went between two `/health` answers:
/// a line for the report, or `None` if either lacks the counters.
fn pipeline_line(before: &serde_json::Value, after: &serde_json::Value) -> Option<String> {
    let grew = |section: &str, key: &str| -> Option<f64> {
        let at = |v: &serde_json::Value| v[section][key].as_u64();
        Some(at(after)?.checked_sub(at(before)?)? as f64)
    };
    let requests = grew("ingest", "requests")?.max(1.0);
    let commits = grew("writer", "commits")?.max(1.0);
    Some(format!(
        "pipeline: {:.2} requests per commit; per request {:.0} µs preparing and {:.0} µs \
         waiting for its commit, while the writer was busy {:.0} µs per commit",
        grew("writer", "jobs")? / commits,
        grew("ingest", "preparing_micros")? / requests,
        grew("ingest", "waiting_for_commit_micros")? / requests,
        grew("writer", "busy_micros")? / commits,
    ))
}

/// Busy CPU seconds of the whole machine so far (all processes, all cores).
fn machine_busy() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return f64::NAN;
    };
    let Some(line) = stat.lines().next() else {
        return f64::NAN;
    };
    let ticks: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal …
    let total: f64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3).copied().unwrap_or(0.0) + ticks.get(4).copied().unwrap_or(0.0);
    (total - idle) / 100.0
}

/// A whole HTTP request for event `n`: head and gzipped envelope.
fn request_bytes(
    n: usize,
    groups: usize,
    addr: SocketAddr,
    project: &str,
    auth: &str,
) -> (Vec<u8>, usize) {
    let (envelope, json_len) = events::envelope(n, groups, events::now_secs());
    let mut gz = GzEncoder::new(Vec::with_capacity(4096), Compression::default());
    let body = gz
        .write_all(&envelope)
        .and_then(|()| gz.finish())
        .unwrap_or_default();
    let head = format!(
        "POST /api/{project}/envelope/ HTTP/1.1\r\nHost: {addr}\r\nX-Sentry-Auth: {auth}\r\n\
         User-Agent: sentry.python/2.75.0\r\nContent-Type: application/x-sentry-envelope\r\n\
         Content-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&body);
    (bytes, json_len)
}

/// Reads one response; returns its status.
async fn read_status(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<u16> {
    buf.clear();
    let mut chunk = [0u8; 4096];
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return Err(invalid("response head too large"));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| invalid("non-UTF-8 head"))?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("bad status line"))?;
    let length: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .ok_or_else(|| invalid("response without Content-Length"))?;
    let mut have = buf.len() - head_end;
    while have < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(invalid("truncated response body"));
        }
        have += n;
    }
    Ok(status)
}

#[derive(Default)]
struct LoadResult {
    latencies: Vec<Duration>,
    statuses: BTreeMap<u16, usize>,
    io_errors: usize,
    first_error: Option<String>,
}

/// Posts every request over `connections` keep-alive connections.
///
/// All connections are driven by one thread (a current-thread tokio
/// runtime): the client shares the receiver's two cores, and one thread
/// that handles whichever responses are ready costs less than a blocked
/// thread per connection woken for each response (a thread per connection
/// cost ~14 µs per request, about a tenth of the machine).
fn run_load(addr: SocketAddr, requests: &[Vec<u8>], connections: usize) -> LoadResult {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return LoadResult {
                io_errors: 1,
                first_error: Some(format!("cannot start the client runtime: {e}")),
                ..LoadResult::default()
            }
        }
    };
    let next = AtomicUsize::new(0);
    let deadline = Instant::now() + LOAD_DEADLINE;
    let clients = (0..connections).map(|_| client(addr, requests, &next, deadline, connections));
    let results = runtime.block_on(futures_util::future::join_all(clients));
    let mut total = LoadResult::default();
    for local in results {
        total.latencies.extend(local.latencies);
        for (k, v) in local.statuses {
            *total.statuses.entry(k).or_default() += v;
        }
        total.io_errors += local.io_errors;
        if total.first_error.is_none() {
            total.first_error = local.first_error;
        }
    }
    total
}

/// One keep-alive connection: takes the next request until none is left.
async fn client(
    addr: SocketAddr,
    requests: &[Vec<u8>],
    next: &AtomicUsize,
    deadline: Instant,
    connections: usize,
) -> LoadResult {
    let mut local = LoadResult {
        latencies: Vec::with_capacity(requests.len() / connections + 1),
        ..LoadResult::default()
    };
    let mut stream: Option<TcpStream> = None;
    let mut buf = Vec::with_capacity(1024);
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(request) = requests.get(i) else {
            break;
        };
        if Instant::now() > deadline {
            local
                .first_error
                .get_or_insert_with(|| "load deadline passed".to_owned());
            break;
        }
        let started = Instant::now();
        let exchange = async {
            if stream.is_none() {
                let s = TcpStream::connect(addr).await?;
                s.set_nodelay(true)?;
                stream = Some(s);
            }
            let s = stream.as_mut().ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotConnected, "no stream")
            })?;
            s.write_all(request).await?;
            read_status(s, &mut buf).await
        };
        let outcome = match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(outcome) => outcome,
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no response within 30 s",
            )),
        };
        match outcome {
            Ok(status) => {
                local.latencies.push(started.elapsed());
                *local.statuses.entry(status).or_default() += 1;
                if status != 200 && local.first_error.is_none() {
                    local.first_error = Some(format!(
                        "HTTP {status}: {}",
                        String::from_utf8_lossy(&buf).lines().last().unwrap_or("")
                    ));
                }
            }
            Err(e) => {
                local.io_errors += 1;
                local.first_error.get_or_insert_with(|| e.to_string());
                stream = None; // reconnect for the next one
            }
        }
    }
    local
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap_or(-1)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Failure> {
    let options = parse_options()?;
    let binary = receiver_binary()?;
    let dir = tempfile::tempdir()?;
    measure_footprint(&binary, &options, dir.path())?;
    let mut binaries = vec![binary];
    if let Some(other) = &options.compare {
        if !other.is_file() {
            return Err(format!("--compare: {} does not exist", other.display()).into());
        }
        measure_footprint(other, &options, dir.path())?;
        binaries.push(other.clone());
    }
    let keep = std::env::var_os("LOAD_KEEP_DB").is_some();
    let mut figures: Vec<Vec<Figures>> = vec![Vec::new(); binaries.len()];
    for round in 1..=options.rounds {
        // Alternately, run by run: the machine's speed drifts over minutes,
        // and a comparison must see both binaries in the same phases.
        for (b, binary) in binaries.iter().enumerate() {
            if options.rounds > 1 || binaries.len() > 1 {
                println!("=== round {round}, {}", binary.display());
            }
            let db = dir.path().join(format!("load-{round}-{b}.sqlite"));
            figures[b].push(load_run(binary, &db, &options)?);
            if !keep {
                // ~2 KB per event: many rounds would fill the disk.
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
                }
            }
        }
    }
    if options.rounds > 1 || binaries.len() > 1 {
        summarize(&binaries, &figures);
    }
    if keep {
        let kept = dir.keep();
        println!("kept the databases in {}", kept.display());
    }
    Ok(())
}

/// What one load run measured, for the summary of several.
#[derive(Debug, Clone, Copy)]
struct Figures {
    stored_per_s: f64,
    p99_ms: f64,
    cpu_us_per_event: f64,
}

/// Prints each binary's runs and medians, and how the second compares.
fn summarize(binaries: &[PathBuf], figures: &[Vec<Figures>]) {
    let median = |mut v: Vec<f64>| -> f64 {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n == 0 {
            return f64::NAN;
        }
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    };
    println!("--- summary (stored and grouped events/s per round; median)");
    let mut medians = Vec::new();
    for (binary, runs) in binaries.iter().zip(figures) {
        let rates: Vec<String> = runs
            .iter()
            .map(|f| format!("{:.0}", f.stored_per_s))
            .collect();
        let m = median(runs.iter().map(|f| f.stored_per_s).collect());
        println!(
            "{}: {} (median {m:.0}; p99 median {:.1} ms; CPU median {:.0} µs per event)",
            binary.display(),
            rates.join(" / "),
            median(runs.iter().map(|f| f.p99_ms).collect()),
            median(runs.iter().map(|f| f.cpu_us_per_event).collect())
        );
        medians.push(m);
    }
    if let [first, second] = figures {
        let ratios: Vec<String> = first
            .iter()
            .zip(second)
            .map(|(a, b)| format!("{:.3}", b.stored_per_s / a.stored_per_s))
            .collect();
        println!(
            "second / first: {} per round; {:.3} of the medians",
            ratios.join(" / "),
            medians[1] / medians[0]
        );
    }
}

/// Binary size, start-up time and idle RSS of `binary`.
fn measure_footprint(binary: &Path, options: &Options, dir: &Path) -> Result<(), Failure> {
    println!("receiver binary: {}", binary.display());
    if binary.components().any(|c| c.as_os_str() == "debug") {
        println!("  WARNING: this is a debug build; the figures are not meaningful");
    }
    let size = std::fs::metadata(binary)?.len();
    println!(
        "binary size: {:.1} MiB (target < 20 MiB)",
        size as f64 / (1024.0 * 1024.0)
    );
    // Start-up time: fresh databases, then a restart on an existing one.
    let mut fresh = Vec::new();
    for i in 0..options.startup_runs {
        let r = Receiver::spawn(binary, &dir.join(format!("startup-{i}.sqlite")))?;
        fresh.push(r.started_in);
        r.stop();
    }
    let existing = Receiver::spawn(binary, &dir.join("startup-0.sqlite"))?;
    let existing_in = existing.started_in;
    existing.stop();
    fresh.sort();
    println!(
        "start to DSN line: fresh db median {} (min {}, max {}, {} runs); existing db {} \
         (target < 200 ms)",
        ms(percentile(&fresh, 0.5)),
        ms(fresh[0]),
        ms(fresh[fresh.len() - 1]),
        fresh.len(),
        ms(existing_in)
    );
    for i in 0..options.startup_runs {
        remove_database(&dir.join(format!("startup-{i}.sqlite")));
    }
    let idle = Receiver::spawn(binary, &dir.join("idle.sqlite"))?;
    std::thread::sleep(Duration::from_millis(300));
    println!(
        "idle RSS: {:.1} MiB (target < 20 MiB)",
        status_mib(idle.pid(), "VmRSS").unwrap_or(f64::NAN)
    );
    idle.stop();
    // The next binary (`--compare`) starts on a fresh one too: an older
    // build refuses a database of a newer schema.
    remove_database(&dir.join("idle.sqlite"));
    Ok(())
}

/// Removes a database file with its WAL and shared-memory files.
fn remove_database(db: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

/// One load run against `binary` on a fresh database at `db`.
fn load_run(binary: &Path, db: &Path, options: &Options) -> Result<Figures, Failure> {
    let options = options.clone();
    let server = Receiver::spawn(binary, db)?;
    let pid = server.pid();
    let (key, addr, project) = server.parts()?;

    // Prepare every request before the clock starts.
    let auth = format!("Sentry sentry_key={key}, sentry_version=7, sentry_client=load/1.0");
    let prep_start = Instant::now();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunks: Vec<Vec<(Vec<u8>, usize)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (auth, project) = (&auth, &project);
                s.spawn(move || {
                    (t..options.events)
                        .step_by(threads)
                        .map(|n| request_bytes(n, options.groups, addr, project, auth))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    // Interleave back into event order (n = t + k * threads).
    let mut requests = Vec::with_capacity(options.events);
    let mut json_bytes = 0usize;
    let mut iters: Vec<_> = chunks.into_iter().map(Vec::into_iter).collect();
    'outer: loop {
        for it in &mut iters {
            match it.next() {
                Some((r, j)) => {
                    json_bytes += j;
                    requests.push(r);
                }
                None => break 'outer,
            }
        }
    }
    if requests.len() != options.events {
        return Err(format!("prepared {} of {} requests", requests.len(), options.events).into());
    }
    let wire: usize = requests.iter().map(Vec::len).sum();
    println!(
        "prepared {} events in {:.1} s: {:.1} KB of event JSON on average, {:.1} KB on the \
         wire (gzip, with HTTP head); {} groups, {} connections",
        options.events,
        prep_start.elapsed().as_secs_f64(),
        json_bytes as f64 / options.events as f64 / 1000.0,
        wire as f64 / options.events as f64 / 1000.0,
        options.groups,
        options.connections
    );

    let health_before = health(addr);
    let cpu_before = thread_cpu(pid);
    let (waits_before, client_waits_before) =
        (thread_waits(&pid.to_string()), thread_waits("self"));
    let written_before = written_bytes(pid);
    let client_cpu_before = process_cpu(std::process::id());
    let busy_before = machine_busy();
    let started = Instant::now();
    let mut result = run_load(addr, &requests, options.connections);
    let accepted_in = started.elapsed();
    let client_cpu = process_cpu(std::process::id()) - client_cpu_before;
    let machine_cpu = machine_busy() - busy_before;
    let (waits_after, client_waits_after) = (thread_waits(&pid.to_string()), thread_waits("self"));

    let conn = rusqlite::Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    let ok = result.statuses.get(&200).copied().unwrap_or(0);
    let mut stored = 0;
    let store_deadline = Instant::now() + STORE_DEADLINE;
    while Instant::now() < store_deadline {
        stored = count(&conn, "SELECT COUNT(*) FROM events");
        if stored >= ok as i64 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let stored_in = started.elapsed();
    let cpu_after = thread_cpu(pid);
    let health_after = health(addr);
    let written = written_bytes(pid)
        .zip(written_before)
        .map(|(after, before)| {
            (
                after.0.saturating_sub(before.0),
                after.1.saturating_sub(before.1),
            )
        });
    let issues = count(&conn, "SELECT COUNT(*) FROM issues");
    let times_seen = count(&conn, "SELECT COALESCE(SUM(times_seen), 0) FROM issues");
    let peak = status_mib(pid, "VmHWM").unwrap_or(f64::NAN);
    let rss = status_mib(pid, "VmRSS").unwrap_or(f64::NAN);
    drop(conn);
    server.stop();
    let file_size = |suffix: &str| {
        std::fs::metadata(format!("{}{suffix}", db.display())).map_or(0, |m| m.len())
    };
    let (db_size, wal_size) = (file_size(""), file_size("-wal"));

    result.latencies.sort();
    let lat = &result.latencies;
    println!("--- results");
    println!(
        "accepted: {ok} of {} in {:.2} s = {:.0} events/s (statuses {:?}, I/O errors {})",
        options.events,
        accepted_in.as_secs_f64(),
        ok as f64 / accepted_in.as_secs_f64(),
        result.statuses,
        result.io_errors
    );
    if let Some(e) = &result.first_error {
        println!("  first error: {e}");
    }
    println!(
        "stored and grouped: {stored} events in {:.2} s = {:.0} events/s; {issues} issues \
         (expected {}), times_seen sum {times_seen}",
        stored_in.as_secs_f64(),
        stored as f64 / stored_in.as_secs_f64(),
        options.groups.min(options.events)
    );
    println!(
        "latency: p50 {}  p90 {}  p99 {}  max {}",
        ms(percentile(lat, 0.50)),
        ms(percentile(lat, 0.90)),
        ms(percentile(lat, 0.99)),
        ms(percentile(lat, 1.0))
    );
    println!("receiver peak RSS (VmHWM): {peak:.1} MiB; RSS after the run {rss:.1} MiB");
    println!(
        "database: {:.1} MiB ({:.2} KB per event), WAL file {:.1} MiB",
        db_size as f64 / (1024.0 * 1024.0),
        db_size as f64 / stored.max(1) as f64 / 1000.0,
        wal_size as f64 / (1024.0 * 1024.0)
    );
    if let Some((syscalls, storage)) = written {
        let per_event = |bytes: u64| bytes as f64 / stored.max(1) as f64 / 1000.0;
        println!(
            "written during the load: {:.1} KB per event by write calls (WAL frames, checkpoint \
             copies, replies), {:.1} KB per event of dirtied file pages",
            per_event(syscalls),
            per_event(storage)
        );
    }
    match health_before.zip(health_after) {
        Some((before, after)) => match pipeline_line(&before, &after) {
            Some(line) => println!("{line}"),
            None => println!(
                "pipeline: this receiver's /health has no stage counters (or they went down)"
            ),
        },
        None => println!("pipeline: /health could not be read"),
    }
    let mut server_total = 0.0;
    let mut per_thread = Vec::new();
    for (name, after) in &cpu_after {
        let used = after - cpu_before.get(name).copied().unwrap_or(0.0);
        if used > 0.005 {
            server_total += used;
            per_thread.push(format!("{name} {used:.2} s"));
        }
    }
    println!(
        "receiver CPU: {server_total:.2} s = {:.0} µs per event ({}); load generator CPU {:.2} s",
        server_total * 1e6 / stored.max(1) as f64,
        per_thread.join(", "),
        client_cpu
    );
    // Over the accepted phase only, like the machine's busy time.
    let answered = ok as i64;
    match (
        run_queue_line(&waits_before, &waits_after, answered),
        run_queue_line(&client_waits_before, &client_waits_after, answered),
    ) {
        (Some(server), Some(client)) => {
            println!("waiting for a core (runnable, none free): {server}; load generator {client}")
        }
        (Some(server), None) => println!("waiting for a core (runnable, none free): {server}"),
        _ => println!("waiting for a core: this kernel keeps no scheduler statistics"),
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "machine: {cores} cores, {:.2} CPU-s busy during the load ({:.0}% of capacity); other \
         processes used {:.2} CPU-s",
        machine_cpu,
        100.0 * machine_cpu / (accepted_in.as_secs_f64() * cores as f64),
        (machine_cpu - server_total - client_cpu).max(0.0)
    );
    // What the CPU cost alone allows: every core busy with the receiver
    // and this client, at this run's CPU per event. Runs that leave cores
    // idle (too few connections in flight) stay below it.
    let per_event = (server_total + client_cpu) / stored.max(1) as f64;
    if per_event > 0.0 {
        println!(
            "CPU ceiling: {:.0} events/s with all {cores} cores busy at {:.0} µs per event (receiver \
             and load generator)",
            cores as f64 / per_event,
            per_event * 1e6
        );
    }
    if ok != options.events || stored < ok as i64 {
        return Err("not every event was accepted and stored".into());
    }
    Ok(Figures {
        stored_per_s: stored as f64 / stored_in.as_secs_f64(),
        p99_ms: percentile(lat, 0.99).as_secs_f64() * 1e3,
        cpu_us_per_event: server_total * 1e6 / stored.max(1) as f64,
    })
}
