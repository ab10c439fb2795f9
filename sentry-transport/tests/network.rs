//! How the transport reaches its receiver: an explicit proxy (from the
//! builder or `ClientOptions`) and TLS trust (a private CA, or none).

mod common;

use std::time::Duration;

use common::{https_dsn, DownPort, Pki, TestServer};
use sentry_core::dsn::Dsn;
use sentry_core::envelope::{Envelope, EnvelopeItem};
use sentry_core::protocol::Event;
use sentry_core::transport::Transport;
use sentry_core::{ClientOptions, Uuid};
use sentry_transport::{HttpTransport, HttpTransportBuilder, TransportError};

const WAIT: Duration = Duration::from_secs(5);

fn fast(builder: HttpTransportBuilder) -> HttpTransportBuilder {
    builder
        .connect_timeout(Duration::from_millis(500))
        .request_timeout(Duration::from_secs(3))
        .max_retries(0)
        .client_reports(false)
        .shutdown_timeout(Duration::from_millis(500))
}

fn event(message: &str) -> Envelope {
    let mut envelope = Envelope::with_event_id(Uuid::new_v4());
    envelope.add_item(EnvelopeItem::event(Event {
        message: Some(message.to_owned()),
        ..Default::default()
    }));
    envelope
}

/// Sends one event and says whether the transport delivered it.
fn deliver(transport: &HttpTransport, message: &str) -> bool {
    transport.send_envelope(event(message));
    transport.flush(WAIT)
}

#[test]
fn a_proxy_carries_every_request_with_its_credentials() {
    // The DSN's port refuses connections: the event can only arrive
    // through the proxy, which sees the receiver's URL in the request.
    let receiver = DownPort::new();
    let proxy = TestServer::start();
    let transport = fast(HttpTransport::builder(receiver.dsn()))
        .proxy(format!("http://me:pa%20ss@127.0.0.1:{}", proxy.port()))
        .build()
        .expect("transport");
    assert!(deliver(&transport, "through the proxy"));
    let requests = proxy.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].uri,
        format!("http://127.0.0.1:{}/api/1/envelope/", receiver.port())
    );
    // `me:pa ss`, percent-decoded as curl does.
    assert_eq!(
        requests[0].header("proxy-authorization"),
        Some("Basic bWU6cGEgc3M=")
    );
    assert!(requests[0].header("x-sentry-auth").is_some());
}

/// A proxy refusing its credentials (407) is no verdict on the envelope:
/// it is retried, and (with a spool) kept for when the password is fixed.
#[test]
fn a_proxy_refusing_its_credentials_is_retried_and_spooled() {
    let receiver = DownPort::new();
    let proxy = TestServer::start();
    proxy.set_default(common::Reply::status(407));
    let spool = tempfile::tempdir().expect("tempdir");
    let transport = fast(HttpTransport::builder(receiver.dsn()))
        .proxy(format!("http://me:wrong@127.0.0.1:{}", proxy.port()))
        .max_retries(2)
        .retry_backoff(Duration::from_millis(10), Duration::from_millis(20))
        .spool_dir(spool.path())
        .build()
        .expect("transport");
    assert!(!deliver(&transport, "behind a proxy that says no"));
    assert_eq!(proxy.requests().len(), 3, "the first try and two retries");
    drop(transport);
    let spooled = walk(spool.path());
    assert_eq!(spooled, 1, "kept for later");
}

/// Files under `dir`, in every subdirectory.
fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| {
            let path = e.expect("entry").path();
            if path.is_dir() {
                walk(&path)
            } else {
                1
            }
        })
        .sum()
}

/// `ClientOptions::user_agent` names the client in both headers.
#[test]
fn the_user_agent_option_names_the_client() {
    let server = TestServer::start();
    let options = ClientOptions::new()
        .dsn(server.dsn())
        .user_agent("my-wrapper/2.0");
    let transport = fast(HttpTransportBuilder::from_options(&options))
        .build()
        .expect("transport");
    assert!(deliver(&transport, "named"));
    let request = &server.requests()[0];
    assert_eq!(request.header("user-agent"), Some("my-wrapper/2.0"));
    assert!(
        request
            .header("x-sentry-auth")
            .is_some_and(|a| a.contains("sentry_client=my-wrapper/2.0")),
        "{:?}",
        request.header("x-sentry-auth")
    );
}

#[test]
fn client_options_choose_the_proxy_by_the_dsn_scheme() {
    let receiver = DownPort::new();
    let proxy = TestServer::start();
    let elsewhere = DownPort::new();
    let options = |http: Option<String>, https: Option<String>| ClientOptions {
        dsn: Some(receiver.dsn()),
        http_proxy: http.map(Into::into),
        https_proxy: https.map(Into::into),
        ..Default::default()
    };
    let at = |port: u16| Some(format!("127.0.0.1:{port}"));
    // An http:// DSN takes `http_proxy`, never `https_proxy`.
    let options_http = options(at(proxy.port()), at(elsewhere.port()));
    let transport = fast(HttpTransportBuilder::from_options(&options_http))
        .build()
        .expect("transport");
    assert!(deliver(&transport, "via http_proxy"));
    assert_eq!(proxy.requests().len(), 1);
    // Without `http_proxy`, an http:// DSN goes straight (here: nowhere).
    let options_https_only = options(None, at(proxy.port()));
    let transport = fast(HttpTransportBuilder::from_options(&options_https_only))
        .build()
        .expect("transport");
    assert!(!deliver(&transport, "not via https_proxy"));
    assert_eq!(proxy.requests().len(), 1);
    // The factory the integrations install reads the same options.
    let transport = HttpTransport::new(&options_http).expect("transport");
    assert!(deliver(&transport, "via the default transport"));
    assert_eq!(proxy.requests().len(), 2);
}

#[test]
fn a_bad_proxy_url_fails_the_build_and_keeps_its_password() {
    let dsn: Dsn = "http://public@127.0.0.1:9/1".parse().expect("dsn");
    let err = HttpTransport::builder(dsn.clone())
        .proxy("socks5://me:secret@127.0.0.1:1080")
        .build()
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(err, TransportError::InvalidProxy { .. }), "{err}");
    assert!(!err.to_string().contains("secret"), "{err}");
    // Through the options, the application keeps running without sending.
    let options = ClientOptions {
        dsn: Some(dsn),
        http_proxy: Some("http://me:secret@127.0.0.1:99999".into()),
        ..Default::default()
    };
    assert!(matches!(
        HttpTransport::new(&options).map(|_| ()),
        Err(TransportError::InvalidProxy { .. })
    ));
}

#[test]
fn a_receiver_behind_a_private_ca_is_reached_once_that_ca_is_trusted() {
    let pki = Pki::new();
    let server = TestServer::start_tls(pki.server.clone());
    let dsn = https_dsn(&server);

    // The built-in roots do not know the CA: the handshake fails.
    let transport = fast(HttpTransport::builder(dsn.clone()))
        .build()
        .expect("transport");
    assert!(!deliver(&transport, "untrusted"));
    // Nor does trusting another CA help.
    let transport = fast(HttpTransport::builder(dsn.clone()))
        .add_root_certificates_pem(Pki::new().ca_pem)
        .build()
        .expect("transport");
    assert!(!deliver(&transport, "another CA"));
    assert!(server.requests().is_empty());

    let transport = fast(HttpTransport::builder(dsn))
        .add_root_certificates_pem(pki.ca_pem.clone())
        .build()
        .expect("transport");
    assert!(deliver(&transport, "trusted"));
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let envelope = requests[0].envelope.as_ref().expect("an envelope");
    assert_eq!(envelope.items.len(), 1);
}

/// The Python SDK's `ca_certs`: a PEM file named in the options.
#[test]
fn a_ca_file_named_in_the_options_is_trusted() {
    let pki = Pki::new();
    let server = TestServer::start_tls(pki.server.clone());
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("company-ca.pem");
    std::fs::write(&file, &pki.ca_pem).expect("write");
    let options = ClientOptions {
        dsn: Some(https_dsn(&server)),
        ca_certs: Some(file),
        ..Default::default()
    };
    let transport = fast(HttpTransportBuilder::from_options(&options))
        .build()
        .expect("transport");
    assert!(deliver(&transport, "trusted from a file"));
    assert_eq!(server.requests().len(), 1);
    // A file that is not there is an error that names it.
    let missing = ClientOptions {
        ca_certs: Some(dir.path().join("missing.pem")),
        ..options
    };
    let err = HttpTransport::new(&missing).map(|_| ()).unwrap_err();
    assert!(
        matches!(err, TransportError::InvalidCertificate { .. })
            && err.to_string().contains("missing.pem"),
        "{err}"
    );
}

#[test]
fn accept_invalid_certs_reaches_a_receiver_nobody_vouches_for() {
    let server = TestServer::start_tls(Pki::new().server);
    let options = ClientOptions {
        dsn: Some(https_dsn(&server)),
        accept_invalid_certs: true,
        ..Default::default()
    };
    let transport = fast(HttpTransportBuilder::from_options(&options))
        .build()
        .expect("transport");
    assert!(deliver(&transport, "unverified"));
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn text_without_a_certificate_fails_the_build() {
    let dsn: Dsn = "https://public@127.0.0.1:9/1".parse().expect("dsn");
    let err = HttpTransport::builder(dsn)
        .add_root_certificates_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
        .build()
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(err, TransportError::InvalidCertificate { .. }),
        "{err}"
    );
}
