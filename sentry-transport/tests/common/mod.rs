//! A tiny scripted HTTP receiver on 127.0.0.1 for the transport tests.
//!
//! It records every request (headers, raw and gunzipped body, the parsed
//! envelope) and answers from a script of [`Reply`]s, then with a default.

#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use parking_lot::{Condvar, Mutex};
use sentry_core::envelope::{Envelope, ItemType};

/// How the server answers one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A status with extra headers, after an optional delay.
    Status {
        status: u16,
        headers: Vec<(&'static str, String)>,
        delay: Duration,
    },
    /// Never answer (until the server stops).
    Hang,
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::status(200)
    }

    pub fn status(status: u16) -> Reply {
        Reply::Status {
            status,
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn with_header(self, name: &'static str, value: impl Into<String>) -> Reply {
        match self {
            Reply::Status {
                status,
                mut headers,
                delay,
            } => {
                headers.push((name, value.into()));
                Reply::Status {
                    status,
                    headers,
                    delay,
                }
            }
            Reply::Hang => Reply::Hang,
        }
    }

    pub fn after(self, wait: Duration) -> Reply {
        match self {
            Reply::Status {
                status, headers, ..
            } => Reply::Status {
                status,
                headers,
                delay: wait,
            },
            Reply::Hang => Reply::Hang,
        }
    }
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The request target as sent: absolute (`http://host:port/path`) when
    /// the server was used as a proxy.
    pub uri: String,
    pub headers: BTreeMap<String, String>,
    /// The body as sent on the wire.
    pub raw: Vec<u8>,
    /// The body after gunzip (same as `raw` when not compressed).
    pub body: Vec<u8>,
    pub envelope: Option<Envelope>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn item_types(&self) -> Vec<String> {
        self.envelope
            .iter()
            .flat_map(|e| e.items.iter().map(|i| i.headers.ty.as_str().to_owned()))
            .collect()
    }
}

#[derive(Default)]
struct State {
    requests: Mutex<Vec<Recorded>>,
    arrived: Condvar,
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<Option<Reply>>,
    active: AtomicUsize,
    max_active: AtomicUsize,
}

pub struct TestServer {
    addr: SocketAddr,
    state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A port on 127.0.0.1 that is bound but not listening, so connections are
/// refused ("receiver down") and no other test can take it until
/// [`DownPort::release`].
pub struct DownPort {
    socket: Option<socket2::Socket>,
    port: u16,
}

impl DownPort {
    pub fn new() -> DownPort {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        socket.set_reuse_address(true).expect("reuseaddr");
        let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        socket.bind(&addr.into()).expect("bind");
        let port = socket
            .local_addr()
            .expect("local addr")
            .as_socket()
            .expect("inet")
            .port();
        DownPort {
            socket: Some(socket),
            port,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn dsn(&self) -> sentry_core::dsn::Dsn {
        dsn_for_port(self.port)
    }

    /// Frees the port and starts a server on it ("receiver back up").
    pub fn bring_up(mut self) -> TestServer {
        drop(self.socket.take());
        TestServer::start_on(self.port)
    }
}

pub fn dsn_for_port(port: u16) -> sentry_core::dsn::Dsn {
    format!("http://0123456789abcdef0123456789abcdef@127.0.0.1:{port}/1")
        .parse()
        .expect("dsn")
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::start_on(0)
    }

    pub fn start_on(port: u16) -> TestServer {
        TestServer::start_with(port, None)
    }

    /// A server that speaks HTTPS with `tls`.
    pub fn start_tls(tls: Arc<tokio_rustls::rustls::ServerConfig>) -> TestServer {
        TestServer::start_with(0, Some(tokio_rustls::TlsAcceptor::from(tls)))
    }

    fn start_with(port: u16, tls: Option<tokio_rustls::TlsAcceptor>) -> TestServer {
        let std_listener =
            std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind test server");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("addr");
        let state = Arc::new(State::default());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let server_state = state.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                let mut stop_rx = stop_rx;
                loop {
                    tokio::select! {
                        _ = &mut stop_rx => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let state = server_state.clone();
                            let tls = tls.clone();
                            tokio::spawn(async move {
                                let service = service_fn(move |req| handle(req, state.clone()));
                                let http = http1::Builder::new();
                                let _ = match tls {
                                    None => http.serve_connection(TokioIo::new(stream), service).await,
                                    Some(tls) => match tls.accept(stream).await {
                                        Ok(stream) => {
                                            http.serve_connection(TokioIo::new(stream), service).await
                                        }
                                        // A client that does not trust the certificate
                                        // gives up in the handshake: no request.
                                        Err(_) => return,
                                    },
                                };
                            });
                        }
                    }
                }
            });
            runtime.shutdown_background();
        });
        TestServer {
            addr,
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn dsn(&self) -> sentry_core::dsn::Dsn {
        dsn_for_port(self.port())
    }

    /// Answers the next requests with `replies`, in order.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.lock().extend(replies);
    }

    /// The answer once the script is used up (200 by default).
    pub fn set_default(&self, reply: Reply) {
        *self.state.default.lock() = Some(reply);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().clone()
    }

    /// Waits (at most `timeout`) until at least `n` requests have arrived.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = Instant::now() + timeout;
        let mut requests = self.state.requests.lock();
        while requests.len() < n {
            if self
                .state
                .arrived
                .wait_until(&mut requests, deadline)
                .timed_out()
            {
                break;
            }
        }
        requests.clone()
    }

    /// Waits until `pred` holds for the requests so far (bounded).
    pub fn wait_until(
        &self,
        timeout: Duration,
        pred: impl Fn(&[Recorded]) -> bool,
    ) -> Vec<Recorded> {
        let deadline = Instant::now() + timeout;
        let mut requests = self.state.requests.lock();
        while !pred(&requests) {
            if self
                .state
                .arrived
                .wait_until(&mut requests, deadline)
                .timed_out()
            {
                break;
            }
        }
        requests.clone()
    }

    /// The most requests the server was answering at the same time.
    pub fn max_concurrent(&self) -> usize {
        self.state.max_active.load(Ordering::SeqCst)
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let active = state.active.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_active.fetch_max(active, Ordering::SeqCst);
    let (parts, body) = req.into_parts();
    let raw = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let headers: BTreeMap<String, String> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let body = if headers.get("content-encoding").map(String::as_str) == Some("gzip") {
        let mut out = Vec::new();
        match flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut out) {
            Ok(_) => out,
            Err(_) => Vec::new(),
        }
    } else {
        raw.clone()
    };
    let envelope = Envelope::parse(&body).ok();
    let reply = {
        let scripted = state.script.lock().pop_front();
        scripted
            .or_else(|| state.default.lock().clone())
            .unwrap_or_else(Reply::ok)
    };
    {
        let mut requests = state.requests.lock();
        requests.push(Recorded {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            uri: parts.uri.to_string(),
            headers,
            raw,
            body,
            envelope,
        });
        state.arrived.notify_all();
    }
    let response = match reply {
        Reply::Hang => {
            // Hold the request until the server is stopped.
            tokio::time::sleep(Duration::from_secs(120)).await;
            Response::builder()
                .status(500)
                .body(Full::new(Bytes::new()))
        }
        Reply::Status {
            status,
            headers,
            delay,
        } => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let mut builder = Response::builder()
                .status(status)
                .header("content-type", "application/json");
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
            builder.body(Full::new(Bytes::from_static(b"{}")))
        }
    };
    state.active.fetch_sub(1, Ordering::SeqCst);
    Ok(response.unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))))
}

/// Sums the `client_report` counts in `requests` by `(reason, category)`.
pub fn discards(requests: &[Recorded]) -> BTreeMap<(String, String), u64> {
    let mut out = BTreeMap::new();
    for request in requests {
        let Some(envelope) = &request.envelope else {
            continue;
        };
        for item in &envelope.items {
            if item.headers.ty != ItemType::ClientReport {
                continue;
            }
            let Some(raw) = item.payload.as_raw() else {
                continue;
            };
            let report: serde_json::Value = serde_json::from_slice(raw).expect("report json");
            for d in report["discarded_events"].as_array().into_iter().flatten() {
                let key = (
                    d["reason"].as_str().unwrap_or_default().to_owned(),
                    d["category"].as_str().unwrap_or_default().to_owned(),
                );
                *out.entry(key).or_insert(0) += d["quantity"].as_u64().unwrap_or(0);
            }
        }
    }
    out
}

/// Requests that carry an item of type `ty`.
pub fn with_item<'a>(requests: &'a [Recorded], ty: &str) -> Vec<&'a Recorded> {
    requests
        .iter()
        .filter(|r| r.item_types().iter().any(|t| t == ty))
        .collect()
}

/// A private CA and a certificate it issued for 127.0.0.1.
pub struct Pki {
    pub ca_pem: String,
    pub server: Arc<tokio_rustls::rustls::ServerConfig>,
}

impl Pki {
    pub fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).expect("CA");
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().expect("key");
        let params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("params");
        let cert = params.signed_by(&key, &issuer).expect("certificate");
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let server = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                tokio_rustls::rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der())
                    .into(),
            )
            .expect("server config");
        Pki {
            ca_pem: ca.pem(),
            server: Arc::new(server),
        }
    }
}

pub fn https_dsn(server: &TestServer) -> sentry_core::dsn::Dsn {
    format!(
        "https://0123456789abcdef0123456789abcdef@127.0.0.1:{}/1",
        server.port()
    )
    .parse()
    .expect("dsn")
}

/// Builds `builder` (no retries, no client reports), sends one event
/// and says whether it was delivered within 5 s.
pub fn deliver_one(builder: sentry_transport::HttpTransportBuilder) -> bool {
    use sentry_core::transport::Transport;
    let transport = builder
        .max_retries(0)
        .client_reports(false)
        .build()
        .expect("transport");
    let mut envelope = Envelope::new();
    envelope.add_item(sentry_core::envelope::EnvelopeItem::event(
        sentry_core::protocol::Event::default(),
    ));
    transport.send_envelope(envelope);
    transport.flush(Duration::from_secs(5))
}
