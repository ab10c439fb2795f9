//! Building the HTTP request for one envelope (PROTOCOL.md §0, §1.2, §3).
//!
//! `POST {scheme}://{host}[:port]{path}api/{project_id}/envelope/` with
//!
//! * `X-Sentry-Auth: Sentry sentry_key=…, sentry_version=7, sentry_client=…, sentry_timestamp=…`
//! * `Content-Type: application/x-sentry-envelope`
//! * `User-Agent: <sdk name>/<version>`
//! * `Content-Encoding: gzip` when the body is at least the gzip threshold.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use reqwest::header::{HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, USER_AGENT};
use sentry_core::dsn::Dsn;

/// The envelope content type.
pub(crate) const ENVELOPE_CONTENT_TYPE: &str = "application/x-sentry-envelope";

/// A request body, possibly compressed.
#[derive(Debug, Clone)]
pub(crate) struct Body {
    pub(crate) bytes: Bytes,
    pub(crate) gzip: bool,
}

/// Compresses `raw` with gzip when `threshold` is set and `raw` is at least
/// that long and compression actually makes it smaller.
pub(crate) fn encode_body(raw: Vec<u8>, threshold: Option<usize>) -> Body {
    match threshold {
        Some(t) if raw.len() >= t => match gzip(&raw) {
            Some(compressed) if compressed.len() < raw.len() => Body {
                bytes: Bytes::from(compressed),
                gzip: true,
            },
            _ => Body {
                bytes: Bytes::from(raw),
                gzip: false,
            },
        },
        _ => Body {
            bytes: Bytes::from(raw),
            gzip: false,
        },
    }
}

fn gzip(raw: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(raw.len() / 3 + 64),
        Compression::default(),
    );
    encoder.write_all(raw).ok()?;
    encoder.finish().ok()
}

/// Everything constant about the requests of one transport.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    dsn: Dsn,
    url: String,
    client_name: String,
}

impl Endpoint {
    pub(crate) fn new(dsn: Dsn, client_name: String) -> Endpoint {
        let url = dsn.envelope_url();
        Endpoint {
            dsn,
            url,
            client_name,
        }
    }

    /// The envelope URL.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The request for `body`.
    pub(crate) fn request(&self, client: &reqwest::Client, body: &Body) -> reqwest::RequestBuilder {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .ok();
        let auth = self.dsn.auth_header(&self.client_name, timestamp);
        let mut request = client
            .post(&self.url)
            .header("X-Sentry-Auth", auth)
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static(ENVELOPE_CONTENT_TYPE),
            )
            .header(USER_AGENT, self.client_name.as_str());
        if body.gzip {
            request = request.header(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        request.body(body.bytes.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;

    #[test]
    fn small_bodies_stay_plain() {
        let body = encode_body(b"{}\n".to_vec(), Some(1024));
        assert!(!body.gzip);
        assert_eq!(&body.bytes[..], b"{}\n");
    }

    #[test]
    fn disabled_gzip_never_compresses() {
        let raw = vec![b'a'; 10_000];
        let body = encode_body(raw.clone(), None);
        assert!(!body.gzip);
        assert_eq!(&body.bytes[..], &raw[..]);
    }

    #[test]
    fn large_bodies_are_gzipped_and_decode_back() {
        let raw: Vec<u8> = (0..20_000u32)
            .flat_map(|i| (i % 50).to_string().into_bytes())
            .collect();
        let body = encode_body(raw.clone(), Some(1024));
        assert!(body.gzip);
        assert!(body.bytes.len() < raw.len());
        let mut decoded = Vec::new();
        GzDecoder::new(&body.bytes[..])
            .read_to_end(&mut decoded)
            .expect("gunzip");
        assert_eq!(decoded, raw);
    }

    #[test]
    fn incompressible_bodies_are_sent_plain() {
        let raw: Vec<u8> = (0..4096).map(|_| fastrand::u8(..)).collect();
        let body = encode_body(raw.clone(), Some(16));
        assert!(!body.gzip);
        assert_eq!(&body.bytes[..], &raw[..]);
    }

    #[test]
    fn request_carries_auth_type_agent_and_encoding() {
        let dsn: Dsn = "http://abc@127.0.0.1:9/42".parse().expect("dsn");
        let endpoint = Endpoint::new(dsn, "sentry.rust/1.0".into());
        assert_eq!(endpoint.url(), "http://127.0.0.1:9/api/42/envelope/");
        let client = reqwest::Client::new();
        let body = Body {
            bytes: Bytes::from_static(b"x"),
            gzip: true,
        };
        let request = endpoint.request(&client, &body).build().expect("request");
        assert_eq!(request.method(), "POST");
        let h = request.headers();
        let auth = h["x-sentry-auth"].to_str().expect("ascii");
        assert!(
            auth.starts_with(
                "Sentry sentry_key=abc, sentry_version=7, sentry_client=sentry.rust/1.0"
            ),
            "{auth}"
        );
        assert!(auth.contains("sentry_timestamp="), "{auth}");
        assert_eq!(h["content-type"], ENVELOPE_CONTENT_TYPE);
        assert_eq!(h["user-agent"], "sentry.rust/1.0");
        assert_eq!(h["content-encoding"], "gzip");
    }
}
