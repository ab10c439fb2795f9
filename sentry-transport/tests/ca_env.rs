//! The CA file the environment names (`SSL_CERT_FILE`, else
//! `REQUESTS_CA_BUNDLE`, as the Python SDK reads them) is trusted unless
//! `ca_certs` is set; one that cannot be read is reported, not fatal. One
//! test in its own binary: it sets the process environment.

mod common;

use std::time::Duration;

use common::{deliver_one, https_dsn, Pki, TestServer};
use sentry_core::ClientOptions;
use sentry_transport::HttpTransportBuilder;

fn deliver(options: &ClientOptions) -> bool {
    deliver_one(
        HttpTransportBuilder::from_options(options).connect_timeout(Duration::from_millis(500)),
    )
}

#[test]
fn the_environments_ca_file_is_trusted_unless_the_options_name_one() {
    let pki = Pki::new();
    let server = TestServer::start_tls(pki.server.clone());
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("company-ca.pem");
    std::fs::write(&ca, &pki.ca_pem).expect("write");
    let options = ClientOptions::new().dsn(https_dsn(&server));
    std::env::remove_var("REQUESTS_CA_BUNDLE");

    std::env::set_var("SSL_CERT_FILE", &ca);
    assert!(deliver(&options), "SSL_CERT_FILE");
    std::env::remove_var("SSL_CERT_FILE");
    std::env::set_var("REQUESTS_CA_BUNDLE", &ca);
    assert!(deliver(&options), "REQUESTS_CA_BUNDLE");
    assert_eq!(server.requests().len(), 2);

    // The option comes first: another CA there, and the environment's is
    // not trusted.
    let other = dir.path().join("other-ca.pem");
    std::fs::write(&other, Pki::new().ca_pem).expect("write");
    assert!(!deliver(&options.clone().ca_certs(&other)));
    // A variable naming nothing readable is passed over (reported on
    // stderr): the transport still works, with the built-in roots.
    std::env::set_var("REQUESTS_CA_BUNDLE", dir.path().join("missing.pem"));
    assert!(!deliver(&options), "the built-in roots do not know the CA");
    std::env::remove_var("REQUESTS_CA_BUNDLE");
    assert_eq!(server.requests().len(), 2);
}
