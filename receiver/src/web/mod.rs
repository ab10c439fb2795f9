//! The web page: one self-contained HTML page with its script and style
//! sheet, embedded in the binary and served under `/ui/` (always at the
//! root, like the JSON API, whatever the ingestion path prefix is).
//!
//! The page is a client of the JSON API under `/api/0/`: it reads an API
//! token from the URL fragment (`/ui/#token=…`, which browsers never send to
//! the server), keeps it in the tab's `sessionStorage`, removes it from the
//! address bar and sends it as `Authorization: Bearer` on every API call.
//! Without a token it asks for one. `receiver serve` prints such a URL with
//! an ephemeral admin token that lives only in the process's memory
//! ([`crate::api::tokens::MemoryTokens`]).
//!
//! Every response carries a strict `Content-Security-Policy` (scripts,
//! styles and requests only from the page's own origin; no inline script
//! or style; no frames, plugins or form posts), `X-Content-Type-Options:
//! nosniff`, `Cache-Control: no-cache` and `Referrer-Policy: no-referrer`.
//! Event data is untrusted: the script builds the DOM with `textContent`
//! and `createElement` only.
//!
//! ```
//! use receiver::web;
//! let page = web::asset("/ui/").expect("the page");
//! assert_eq!(page.content_type, "text/html; charset=utf-8");
//! assert!(web::asset("/ui/app.js").is_some());
//! assert!(web::asset("/ui/secret.txt").is_none());
//! assert!(web::is_ui_path("/ui/anything") && !web::is_ui_path("/uix"));
//! ```

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Response, StatusCode};

use crate::server::HttpResponse;

/// The page's HTML.
const INDEX_HTML: &str = include_str!("index.html");
/// The page's script (plain ES2017, no build step).
const APP_JS: &str = include_str!("app.js");
/// The page's style sheet.
const APP_CSS: &str = include_str!("app.css");

/// Where the page lives.
pub const UI_PATH: &str = "/ui/";

/// The `Content-Security-Policy` of every `/ui/` response: everything from
/// the page's own origin only, no inline code, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// An embedded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    /// `Content-Type` to send.
    pub content_type: &'static str,
    /// The file's text.
    pub body: &'static str,
}

/// Whether `path` (runs of `/` collapsed) is `/ui` or below it.
pub fn is_ui_path(path: &str) -> bool {
    path == "/ui" || path.starts_with("/ui/")
}

/// The embedded file for a `/ui/…` path, if there is one.
pub fn asset(path: &str) -> Option<Asset> {
    let (content_type, body) = match path {
        "/ui/" | "/ui/index.html" => ("text/html; charset=utf-8", INDEX_HTML),
        "/ui/app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "/ui/app.css" => ("text/css; charset=utf-8", APP_CSS),
        _ => return None,
    };
    Some(Asset { content_type, body })
}

/// Answers a request for `path` (runs of `/` collapsed) if the page owns
/// it: the embedded files, a redirect (302) from `/ui` and from `GET /` to
/// `/ui/`, 404 for other paths under `/ui/` and 405 for methods other than
/// `GET` and `HEAD`. `None`: not a path of the page.
///
/// `ingest_prefix` is the ingestion path prefix: when it is itself under
/// `/ui/` (an odd but legal choice), paths that are not page files are left
/// to ingestion.
pub fn respond(method: &Method, path: &str, ingest_prefix: &str) -> Option<HttpResponse> {
    enum Target {
        Redirect,
        File(Asset),
        Missing,
    }
    let get = matches!(*method, Method::GET | Method::HEAD);
    let target = if path == "/" {
        // Never an ingestion route (those are `{prefix}api/{id}/…`); other
        // methods keep ingestion's 404.
        if !get {
            return None;
        }
        Target::Redirect
    } else if path == "/ui" {
        Target::Redirect
    } else if is_ui_path(path) {
        match asset(path) {
            Some(a) => Target::File(a),
            None if ingest_prefix != "/" && path.starts_with(ingest_prefix) => return None,
            None => Target::Missing,
        }
    } else {
        return None;
    };
    if !get {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed: use GET\n",
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Some(r);
    }
    Some(match target {
        Target::Redirect => redirect(UI_PATH),
        Target::File(asset) => serve(asset),
        Target::Missing => text(StatusCode::NOT_FOUND, "not found\n"),
    })
}

fn serve(asset: Asset) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from_static(asset.body.as_bytes())));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    security_headers(&mut response);
    response
}

fn text(status: StatusCode, body: &'static str) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    security_headers(&mut response);
    response
}

fn redirect(to: &'static str) -> HttpResponse {
    let mut response = text(StatusCode::FOUND, "see /ui/\n");
    response
        .headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(to));
    response
}

fn security_headers(response: &mut HttpResponse) {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
}
