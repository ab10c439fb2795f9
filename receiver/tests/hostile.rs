//! Hostile clients cannot starve the receiver: idle connections and header
//! tricklers are cut off by the header timeout (and, at the connection
//! limit, the one idle the longest makes room for a new client), slow
//! bodies by the body timeouts, and the connection limit bounds what they
//! can hold while valid requests keep succeeding; a client that never
//! reads its answers loses its connection once a write has stalled for
//! `write_stalled`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use receiver::testing::{post, read_response, request, TestServer};

fn fast_timeouts(max_connections: usize) -> TestServer {
    TestServer::builder()
        .configure(|c| {
            c.timeouts.header_read = Duration::from_secs(1);
            c.timeouts.body_idle = Duration::from_secs(1);
            c.timeouts.body_total = Duration::from_secs(3);
            c.max_connections = max_connections;
        })
        .start()
}

fn valid_request(server: &TestServer, n: usize) -> u16 {
    let auth = server.sentry_auth();
    let body = format!("{{}}\n{{\"type\":\"event\"}}\n{{\"message\":\"valid {n}\"}}\n");
    post(
        &server.envelope_url(),
        &[("X-Sentry-Auth", auth.as_str())],
        body.as_bytes(),
    )
    .map(|r| r.status)
    .unwrap_or(0)
}

/// Sends `count` valid requests one after the other: each gets a 200, all
/// within `within`, and all are stored.
fn valid_requests_succeed_within(server: &TestServer, count: usize, within: Duration) {
    let started = Instant::now();
    for n in 0..count {
        assert_eq!(valid_request(server, n), 200);
    }
    assert!(started.elapsed() < within, "{:?}", started.elapsed());
    assert_eq!(
        server.wait_for_events(count, Duration::from_secs(5)).len(),
        count
    );
}

/// Whether the server closed `stream` within `within`.
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let _ = stream.set_read_timeout(Some(within));
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // e.g. a 408 response before the close
            Err(e) => {
                return !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                )
            }
        }
    }
}

#[test]
fn valid_requests_succeed_while_idle_and_trickling_clients_hold_connections() {
    let server = fast_timeouts(256);
    let mut idle: Vec<TcpStream> = (0..50)
        .map(|_| TcpStream::connect(server.addr()).expect("idle connection"))
        .collect();
    // A header trickler: one byte at a time on its own thread.
    let addr = server.addr();
    let trickler = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).expect("trickler");
        let head = b"POST /api/1/envelope/ HTTP/1.1\r\nHost: x\r\n";
        let started = Instant::now();
        for b in head {
            if s.write_all(&[*b]).is_err() {
                return Some(started.elapsed()); // cut off
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        None
    });

    let started = Instant::now();
    for n in 0..20 {
        assert_eq!(valid_request(&server, n), 200);
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.wait_for_events(20, Duration::from_secs(5)).len(), 20);

    // The idle connections are closed by the header timeout.
    for s in idle.iter_mut().take(5) {
        assert!(
            closed_within(s, Duration::from_secs(3)),
            "idle connection kept open"
        );
    }
    let cut_after = trickler.join().expect("trickler thread");
    assert!(
        cut_after.is_some_and(|d| d < Duration::from_secs(4)),
        "the trickler was not cut off: {cut_after:?}"
    );
}

#[test]
fn connection_limit_bounds_requests_in_progress_and_timeouts_free_them() {
    let server = fast_timeouts(4);
    // Four requests whose bodies never come: requests in progress, which
    // are not closed to make room before their bodies have had a second.
    let _held: Vec<TcpStream> = (0..4).map(|_| envelope_post_head(&server, 100)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    // Waits in the accept queue until a slot frees up (after a second:
    // the body idle timeout, or a body that slow making room).
    assert_eq!(valid_request(&server, 0), 200);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500),
        "limit not applied: {waited:?}"
    );
    assert!(waited < Duration::from_secs(4), "{waited:?}");
}

#[test]
fn at_the_limit_idle_connections_make_room_for_valid_requests() {
    // Timeouts far beyond the test: only making room frees slots.
    let server = TestServer::builder()
        .configure(|c| {
            c.timeouts.header_read = Duration::from_secs(60);
            c.max_connections = 64;
        })
        .start();
    // Hundreds of idle connections, and header tricklers among them.
    let mut idle: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(server.addr()).expect("idle connection"))
        .collect();
    for s in idle.iter_mut().step_by(10) {
        s.write_all(b"POST /api/1/envelope/ HTTP/1.1\r\nHo")
            .expect("part of a head");
    }
    std::thread::sleep(Duration::from_millis(300));
    valid_requests_succeed_within(&server, 20, Duration::from_secs(5));
    // The first ones, idle the longest, were closed to make room.
    assert!(
        closed_within(&mut idle[0], Duration::from_secs(2)),
        "the longest idle connection kept open"
    );
}

#[test]
fn slow_bodies_time_out_with_408() {
    let server = fast_timeouts(16);
    let mut s = TcpStream::connect(server.addr()).expect("connect");
    let head = format!(
        "POST /api/1/envelope/ HTTP/1.1\r\nHost: x\r\nX-Sentry-Auth: Sentry sentry_key={}\r\n\
         Content-Length: 1000\r\n\r\n{{}}\n",
        server.public_key()
    );
    s.write_all(head.as_bytes()).expect("write");
    let started = Instant::now();
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let response = read_response(&mut s).expect("a response");
    assert_eq!(response.status, 408);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(server.events().is_empty());
}

#[test]
fn at_the_limit_bodies_far_too_slow_make_room_for_valid_requests() {
    // Body timeouts far beyond the test: only making room frees slots.
    let server = TestServer::builder()
        .configure(|c| {
            c.timeouts.body_idle = Duration::from_secs(60);
            c.timeouts.body_total = Duration::from_secs(120);
            c.max_connections = 16;
        })
        .start();
    // More requests than slots whose bodies sent one byte and stalled.
    let mut stalled: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut s = envelope_post_head(&server, 1000);
            s.write_all(b"{").expect("a byte of the body");
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    valid_requests_succeed_within(&server, 10, Duration::from_secs(8));
    assert!(
        closed_within(&mut stalled[0], Duration::from_secs(2)),
        "a stalled body kept its slot"
    );
}

#[test]
fn a_body_sent_a_byte_now_and_then_is_cut_off_by_its_pace() {
    let server = fast_timeouts(16);
    let mut s = envelope_post_head(&server, 1000);
    let started = Instant::now();
    // A byte every 300 ms keeps within `body_idle` (1 s) but is far below
    // 500 bytes a second: cut off after about `body_idle`, not at
    // `body_total` (3 s).
    let mut sent = 0;
    while s.write_all(b"{").is_ok() && sent < 20 {
        sent += 1;
        std::thread::sleep(Duration::from_millis(300));
        if started.elapsed() > Duration::from_millis(1500) {
            break;
        }
    }
    let response = read_response(&mut s).expect("a response");
    assert_eq!(response.status, 408);
    let detail = String::from_utf8_lossy(&response.body).into_owned();
    assert!(
        detail.contains("slower than 500 bytes a second"),
        "{detail}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
}

/// Pipelines requests whose answers (404s that echo a 30 KB path) it
/// never reads, until the server stops taking them or closes.
fn never_reading_client(server: &TestServer) -> TcpStream {
    let mut s = TcpStream::connect(server.addr()).expect("connect");
    s.set_write_timeout(Some(Duration::from_secs(5)))
        .expect("write timeout");
    let request = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "x".repeat(30_000));
    // 30 MB of answers: more than loopback's socket buffers hold.
    for _ in 0..1000 {
        if s.write_all(request.as_bytes()).is_err() {
            break; // blocked for 5 s, or the server closed the connection
        }
    }
    s
}

#[test]
fn clients_that_never_read_their_answers_lose_their_connections() {
    let server = TestServer::builder()
        .configure(|c| {
            c.timeouts.write_stalled = Duration::from_secs(1);
            c.max_connections = 2;
        })
        .start();
    let mut held: Vec<TcpStream> = (0..2).map(|_| never_reading_client(&server)).collect();
    for s in &mut held {
        assert!(
            closed_within(s, Duration::from_secs(3)),
            "a connection whose answers were not read stayed open"
        );
    }
    // Their slots are free again.
    let started = Instant::now();
    assert_eq!(valid_request(&server, 0), 200);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn at_the_limit_an_answer_still_being_sent_is_not_cut() {
    let server = TestServer::builder()
        .configure(|c| c.max_connections = 2)
        .start();
    // Its answers fill the socket buffers: not idle, though no request
    // of it is being handled.
    let mut slow_reader = never_reading_client(&server);
    let mut idle = TcpStream::connect(server.addr()).expect("idle connection");
    std::thread::sleep(Duration::from_millis(300));
    valid_requests_succeed_within(&server, 1, Duration::from_secs(3));
    assert!(
        closed_within(&mut idle, Duration::from_secs(2)),
        "the idle connection kept its slot"
    );
    // The slow reader still gets all its answers, then waits for more.
    assert!(
        !closed_within(&mut slow_reader, Duration::from_millis(500)),
        "a connection was closed while its answers were being sent"
    );
}

/// A connection that has sent the head of an envelope POST with a body of
/// `content_length` bytes (blocking reads and writes give up after 10 s).
fn envelope_post_head(server: &TestServer, content_length: usize) -> TcpStream {
    let mut s = TcpStream::connect(server.addr()).expect("connect");
    s.set_write_timeout(Some(Duration::from_secs(10)))
        .expect("write timeout");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let head = format!(
        "POST /api/1/envelope/ HTTP/1.1\r\nHost: x\r\nX-Sentry-Auth: {}\r\n\
         Content-Length: {content_length}\r\n\r\n",
        server.sentry_auth()
    );
    s.write_all(head.as_bytes()).expect("head");
    s
}

/// An envelope whose one attachment is `size` bytes.
fn attachment_envelope(size: usize) -> Vec<u8> {
    let mut body = format!("{{}}\n{{\"type\":\"attachment\",\"length\":{size}}}\n").into_bytes();
    body.resize(body.len() + size, b'a');
    body.push(b'\n');
    body
}

#[test]
fn bodies_in_flight_share_one_budget_and_what_would_exceed_it_gets_503() {
    let server = TestServer::builder()
        .configure(|c| {
            c.limits.max_decoded_body = 1024 * 1024;
            c.limits.max_decoded_in_flight = 1024 * 1024;
        })
        .start();
    let auth = server.sentry_auth();
    // 700 KB of a body whose end has not arrived yet.
    let first = attachment_envelope(700_000);
    let mut held = envelope_post_head(&server, first.len());
    let (sent, rest) = first.split_at(first.len() - 100);
    held.write_all(sent).expect("most of the body");
    let post_400k = || {
        post(
            &server.envelope_url(),
            &[("X-Sentry-Auth", auth.as_str())],
            &attachment_envelope(400_000),
        )
        .expect("reply")
    };
    // Once the server holds those 700 KB, 400 KB more do not fit.
    let started = Instant::now();
    let in_flight = || {
        request("GET", &format!("{}/health", server.url()), &[], b"")
            .map(|r| {
                r.json()["ingest"]["body_bytes_in_flight"]
                    .as_u64()
                    .unwrap_or(0)
            })
            .unwrap_or(0)
    };
    while in_flight() < 699_000 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the body was not read"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let refused = post_400k();
    assert_eq!(
        refused.status,
        503,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    let detail = refused.json()["detail"].as_str().unwrap_or("").to_owned();
    assert!(detail.contains("retry later"), "{detail}");
    assert!(refused.header("x-sentry-error").is_some());
    // The first request finishes and is stored; its share is free again.
    held.write_all(rest).expect("the rest");
    let answer = read_response(&mut held).expect("answer");
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(post_400k().status, 200);
    assert_eq!(server.counts()["attachments"], 2);
    assert_eq!(in_flight(), 0, "shares outlived their requests");
}

#[test]
fn an_early_413_reaches_a_client_that_sends_its_whole_body_first() {
    let server = TestServer::builder()
        .configure(|c| c.limits.max_raw_body = 1024 * 1024)
        .start();
    // Like most HTTP clients, it writes the whole body before it reads:
    // 32 MiB, more than loopback's socket buffers hold.
    let body = vec![b'x'; 32 * 1024 * 1024];
    let mut s = envelope_post_head(&server, body.len());
    let sent = s.write_all(&body);
    assert!(sent.is_ok(), "reset while the body was sent: {sent:?}");
    let answer = read_response(&mut s).expect("the answer");
    assert_eq!(
        answer.status,
        413,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert!(answer.header("x-sentry-error").is_some());
}
