//! A real program that panics delivers its panic event over HTTP before it
//! exits: `examples/panic.rs` (built as the `panic-demo` binary) runs as a
//! child process against a small HTTP server on 127.0.0.1.

#![cfg(all(feature = "panic", feature = "http-transport"))]

#[path = "support/panic_line.rs"]
mod panic_line;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use sentry_core::envelope::{Envelope, ItemType};
use sentry_core::protocol::{Event, Level};

const KEY: &str = "0123456789abcdef0123456789abcdef";
const DEADLINE: Duration = Duration::from_secs(25);
const MAX_BODY: usize = 16 * 1024 * 1024;

/// One HTTP request as the server saw it.
struct Request {
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body, decompressed when it is gzip.
    fn decoded_body(&self) -> Vec<u8> {
        match self.header("content-encoding") {
            Some(enc) if enc.eq_ignore_ascii_case("gzip") => {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(&self.body[..])
                    .take(MAX_BODY as u64)
                    .read_to_end(&mut out)
                    .expect("valid gzip");
                out
            }
            None | Some("identity") => self.body.clone(),
            Some(other) => panic!("unexpected content-encoding {other}"),
        }
    }
}

/// Reads one request (Content-Length or chunked body); `None` at EOF.
fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let target = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    let mut headers = Vec::new();
    for _ in 0..200 {
        line.clear();
        reader.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let mut request = Request {
        target,
        headers,
        body: Vec::new(),
    };
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            if size == 0 {
                line.clear();
                reader.read_line(&mut line)?;
                break;
            }
            if request.body.len() + size > MAX_BODY {
                return Err(std::io::ErrorKind::InvalidData.into());
            }
            let start = request.body.len();
            request.body.resize(start + size, 0);
            reader.read_exact(&mut request.body[start..])?;
            line.clear();
            reader.read_line(&mut line)?;
        }
    } else {
        let len: usize = request
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if len > MAX_BODY {
            return Err(std::io::ErrorKind::InvalidData.into());
        }
        request.body.resize(len, 0);
        reader.read_exact(&mut request.body)?;
    }
    Ok(Some(request))
}

/// Serves one connection: every request gets `200 {}`.
fn serve(stream: TcpStream, requests: mpsc::Sender<Request>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    for _ in 0..100 {
        match read_request(&mut reader) {
            Ok(Some(request)) => {
                let reply = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                if writer.write_all(reply.as_bytes()).is_err() || requests.send(request).is_err() {
                    return;
                }
            }
            Ok(None) | Err(_) => return,
        }
    }
}

/// A local HTTP server that forwards every request it gets; it stops
/// accepting after [`DEADLINE`].
fn start_server() -> (u16, mpsc::Receiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = listener.local_addr().expect("local addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < DEADLINE {
            match listener.accept() {
                Ok((stream, _)) => {
                    let _ = stream.set_nonblocking(false);
                    let tx = tx.clone();
                    thread::spawn(move || serve(stream, tx));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    thread::sleep(Duration::from_millis(10));
                }
                Err(_) => return,
            }
        }
    });
    (port, rx)
}

#[test]
fn a_panicking_program_delivers_its_panic_event_before_exiting() {
    let (port, requests) = start_server();
    let mut child = Command::new(env!("CARGO_BIN_EXE_panic-demo"))
        .env("SENTRY_DSN", format!("http://{KEY}@127.0.0.1:{port}/1"))
        .env_remove("SENTRY_RELEASE")
        .env_remove("SENTRY_ENVIRONMENT")
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start panic-demo");

    // The child exits by itself (status 101 after the panic).
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("panic-demo did not exit within {DEADLINE:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    assert_eq!(status.code(), Some(101), "stderr: {stderr}");
    // The previous hook (the default one printing the message) still runs.
    assert!(stderr.contains("invalid port \"80a\""), "stderr: {stderr}");

    // Everything the child sent was received before it exited: the event is
    // among the requests already queued (no waiting needed beyond a margin).
    let mut event: Option<(Request, Event)> = None;
    while event.is_none() {
        let request = requests
            .recv_timeout(Duration::from_secs(2))
            .unwrap_or_else(|_| panic!("no event received; stderr: {stderr}"));
        let envelope = Envelope::parse(&request.decoded_body()).expect("a valid envelope");
        let found = envelope
            .items
            .iter()
            .find(|i| i.headers.ty == ItemType::Event)
            .and_then(|i| i.payload.as_raw())
            .map(|raw| serde_json::from_slice::<Event>(raw).expect("event JSON"));
        if let Some(e) = found {
            event = Some((request, e));
        }
    }
    let (request, event) = event.expect("found");

    assert_eq!(request.target, "/api/1/envelope/");
    let auth = request.header("x-sentry-auth").unwrap_or("");
    assert!(auth.contains(&format!("sentry_key={KEY}")), "auth: {auth}");

    assert_eq!(event.level, Level::Fatal);
    assert_eq!(event.exception.len(), 1);
    let exc = &event.exception.values[0];
    assert_eq!(exc.ty, "panic");
    assert_eq!(
        exc.value.as_deref(),
        Some("invalid port \"80a\": invalid digit found in string")
    );
    let mechanism = exc.mechanism.as_ref().expect("mechanism");
    assert_eq!(mechanism.ty, "panic");
    assert_eq!(mechanism.handled, Some(false));

    let thread = &event.threads.values[0];
    assert_eq!(thread.name.as_deref(), Some("main"));
    assert!(thread.crashed);
    assert_eq!(exc.thread_id, thread.id);

    // The last frame is the `panic!` line in the example, in-app; `main`
    // calls it; the panic machinery and the SDK are trimmed away.
    let frames = &exc.stacktrace.as_ref().expect("stack trace").frames;
    let last = frames.last().expect("frames");
    assert_eq!(last.in_app, Some(true), "{last:?}");
    assert!(
        last.filename
            .as_deref()
            .is_some_and(|f| f.ends_with("examples/panic.rs")),
        "{last:?}"
    );
    assert_eq!(last.lineno, Some(panic_line::panic_line()), "{last:?}");
    // The source is on this machine: the panicking line and its
    // neighbours come with the frame.
    assert!(
        last.context_line
            .as_deref()
            .is_some_and(|l| l.contains("panic!")),
        "{last:?}"
    );
    assert_eq!(last.pre_context.len(), 5, "{last:?}");
    assert!(!last.post_context.is_empty(), "{last:?}");
    assert!(last.colno.is_some());
    assert!(
        last.function
            .as_deref()
            .is_some_and(|f| f.ends_with("::parse_port")),
        "{last:?}"
    );
    let main = &frames[frames.len() - 2];
    assert!(main
        .function
        .as_deref()
        .is_some_and(|f| f.ends_with("::main")));
    assert_eq!(main.in_app, Some(true));
    for f in frames {
        let function = f.function.as_deref().unwrap_or("");
        assert!(!function.starts_with("sentry"), "SDK frame kept: {f:?}");
        // Demangled without the `::h0123456789abcdef` hash suffix.
        let hash = function.rsplit("::").next().unwrap_or("");
        assert!(
            !(hash.len() == 17 && hash.starts_with('h')),
            "hash suffix kept: {function}"
        );
        if f.package.as_deref() == Some("std") {
            assert_eq!(f.in_app, Some(false), "{f:?}");
        }
    }

    // Contexts, breadcrumb and server name came along.
    for key in ["os", "rust", "device", "app"] {
        assert!(event.contexts.contains_key(key), "missing context {key}");
    }
    assert!(event.server_name.is_some());
    assert_eq!(
        event.breadcrumbs.values[0].message.as_deref(),
        Some("reading the port from the command line")
    );
}
