//! A small blocking HTTP/1.1 client for the receiver's JSON API (plain
//! `http://`: the receiver is a local tool).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::CliError;

/// Where the API is and how to authenticate.
#[derive(Debug, Clone)]
pub struct Client {
    host: String,
    base_path: String,
    token: Option<String>,
    timeout: Duration,
    /// When set (`wait`, `check`, `tail --timeout`), no request runs past
    /// it, whatever the per-request timeout.
    deadline: std::cell::Cell<Option<Instant>>,
}

/// A response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers (names lowercased).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header with this lowercase name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `cursor` of the `rel="next"` link, if it has results.
    pub fn next_cursor(&self) -> Option<String> {
        let link = self.header("link")?;
        link.split(", <").find_map(|part| {
            let has = |s: &str| part.contains(s);
            if has("rel=\"next\"") && has("results=\"true\"") {
                let start = part.find("cursor=\"")? + 8;
                let end = part[start..].find('"')? + start;
                Some(part[start..end].to_owned())
            } else {
                None
            }
        })
    }
}

impl Client {
    /// A client for `url` (`http://host[:port][/prefix]`).
    pub fn new(url: &str, token: Option<String>) -> Result<Client, CliError> {
        let url = url.trim().trim_end_matches('/');
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            CliError::Usage(format!(
                "--url must start with http:// (got {url:?}); the receiver speaks plain HTTP"
            ))
        })?;
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if host.is_empty() {
            return Err(CliError::Usage(format!("--url has no host: {url:?}")));
        }
        let host = if host
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
            && !host.ends_with(']')
        {
            host.to_owned()
        } else {
            format!("{host}:80")
        };
        Ok(Client {
            host,
            base_path: path.to_owned(),
            token: token.filter(|t| !t.trim().is_empty()),
            timeout: Duration::from_secs(30),
            deadline: std::cell::Cell::new(None),
        })
    }

    /// `host:port`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Ends every later request by `deadline` at the latest (a receiver
    /// that accepts and never answers, or answers a byte at a time, cannot
    /// hold `wait --timeout 2s` for the 30 s request timeout).
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        self.deadline.set(deadline);
    }

    /// Sends a request to `path` (starting with `/api/0/`, query included).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Response, CliError> {
        let unreachable = |e: std::io::Error| {
            CliError::Unreachable(format!(
                "cannot reach the receiver at http://{}: {e} (is it running? pass --url)",
                self.host
            ))
        };
        let until = {
            let own = Instant::now() + self.timeout;
            self.deadline.get().map_or(own, |d| d.min(own))
        };
        let timed_out = || {
            CliError::Unreachable(format!(
                "no answer from the receiver at http://{} in time",
                self.host
            ))
        };
        let left = || {
            until
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero())
                .ok_or_else(timed_out)
        };
        // Every address the name resolves to (`localhost` may be `::1`
        // first while the receiver listens on 127.0.0.1).
        let addrs: Vec<_> = self.host.to_socket_addrs().map_err(unreachable)?.collect();
        if addrs.is_empty() {
            return Err(CliError::Unreachable(format!(
                "cannot resolve {}",
                self.host
            )));
        }
        let mut last_error = None;
        let mut connected = None;
        for addr in &addrs {
            match TcpStream::connect_timeout(addr, left()?.min(Duration::from_secs(5))) {
                Ok(stream) => {
                    connected = Some(stream);
                    break;
                }
                Err(e) => last_error = Some(e),
            }
        }
        let Some(mut stream) = connected else {
            return Err(unreachable(last_error.unwrap_or_else(|| {
                std::io::Error::other("no address to connect to")
            })));
        };
        stream
            .set_write_timeout(Some(left()?))
            .map_err(unreachable)?;
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut head = format!(
            "{method} {}{path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
             Accept: application/json\r\nUser-Agent: receiver-cli/{}\r\n",
            self.base_path,
            self.host,
            env!("CARGO_PKG_VERSION")
        );
        if let Some(t) = &self.token {
            head.push_str(&format!("Authorization: Bearer {}\r\n", t.trim()));
        }
        if !body.is_empty() || method == "POST" || method == "PUT" {
            head.push_str("Content-Type: application/json\r\n");
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        stream.write_all(head.as_bytes()).map_err(unreachable)?;
        stream.write_all(body.as_bytes()).map_err(unreachable)?;
        let mut raw = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            stream
                .set_read_timeout(Some(left()?))
                .map_err(unreachable)?;
            match stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => raw.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(timed_out())
                }
                Err(e) => return Err(unreachable(e)),
            }
        }
        parse_response(&raw)
            .ok_or_else(|| CliError::Unreachable("the receiver sent a malformed response".into()))
    }

    /// `GET`s `path` and decodes a 2xx JSON answer; other statuses become
    /// [`CliError::Api`].
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<(T, Response), CliError> {
        let response = self.request("GET", path, None)?;
        let value = decode(&response, "GET", path)?;
        Ok((value, response))
    }

    /// Up to `limit` entries of a list whose pages carry a `cursor` (the
    /// logs and metrics lists): asks `{path}&limit=N` for what is still
    /// missing, follows the cursor, and stops at `limit` or when a page
    /// has no cursor. `split` takes a page apart into its entries and its
    /// cursor. A page may be short (its cursor continues a bounded scan).
    pub fn follow_cursor<P: DeserializeOwned, T>(
        &self,
        path: &str,
        limit: usize,
        split: impl Fn(P) -> (Vec<T>, Option<String>),
    ) -> Result<Vec<T>, CliError> {
        self.paginate(path, limit, 1000, |page_path| {
            let (page, _): (P, _) = self.get(page_path)?;
            Ok(split(page))
        })
    }

    /// Up to `limit` entries of a list that answers a JSON array and
    /// names its next page in the `Link` header (issues, check-ins,
    /// transactions), at most `page_max` per request. A page may be empty
    /// while the link goes on (the check-ins list between spans of missed
    /// runs).
    pub fn follow_links<T: DeserializeOwned>(
        &self,
        path: &str,
        limit: usize,
        page_max: usize,
    ) -> Result<Vec<T>, CliError> {
        self.follow_links_while(path, limit, page_max, |_| true)
    }

    /// [`Client::follow_links`] that shows each answer to `keep` first and
    /// stops, without that page's entries, at the first one it refuses
    /// (the transactions list sorted by duration stops where its sorted
    /// window ends).
    pub fn follow_links_while<T: DeserializeOwned>(
        &self,
        path: &str,
        limit: usize,
        page_max: usize,
        mut keep: impl FnMut(&Response) -> bool,
    ) -> Result<Vec<T>, CliError> {
        self.paginate(path, limit, page_max, |page_path| {
            let (rows, response): (Vec<T>, _) = self.get(page_path)?;
            if keep(&response) {
                Ok((rows, response.next_cursor()))
            } else {
                Ok((Vec::new(), None))
            }
        })
    }

    /// Asks `{path}&limit=N[&cursor=C]` until `limit` entries came, no
    /// cursor follows, or the cursor stops moving.
    fn paginate<T>(
        &self,
        path: &str,
        limit: usize,
        page_max: usize,
        mut fetch: impl FnMut(&str) -> Result<(Vec<T>, Option<String>), CliError>,
    ) -> Result<Vec<T>, CliError> {
        let mut out: Vec<T> = Vec::new();
        let mut cursor: Option<String> = None;
        while out.len() < limit {
            let want = (limit - out.len()).min(page_max);
            let mut page_path = format!("{path}&limit={want}");
            if let Some(c) = &cursor {
                page_path.push_str(&format!("&cursor={}", super::commands::enc(c)));
            }
            let (entries, next) = fetch(&page_path)?;
            out.extend(entries);
            if next.is_none() || next == cursor {
                break;
            }
            cursor = next;
        }
        out.truncate(limit);
        Ok(out)
    }

    /// Sends a JSON body and decodes a 2xx JSON answer.
    pub fn send<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: &Value,
    ) -> Result<T, CliError> {
        let response = self.request(method, path, Some(body))?;
        decode(&response, method, path)
    }

    /// Sends `DELETE path`: `Ok` for any 2xx answer (202 and 204 have no
    /// body to read), the API's error otherwise.
    pub fn delete(&self, path: &str) -> Result<(), CliError> {
        let response = self.request("DELETE", path, None)?;
        check_status(&response, "DELETE", path)
    }
}

/// The API's error for a status outside 2xx, with its `detail`.
fn check_status(response: &Response, method: &str, path: &str) -> Result<(), CliError> {
    if !(200..300).contains(&response.status) {
        let detail = serde_json::from_slice::<Value>(&response.body)
            .ok()
            .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&response.body).into_owned());
        let hint = match response.status {
            401 => " (pass --token or set RECEIVER_TOKEN; `receiver tokens create` makes one)",
            _ => "",
        };
        return Err(CliError::Api {
            status: response.status,
            detail: format!("{method} {path}: {detail}{hint}"),
        });
    }
    Ok(())
}

fn decode<T: DeserializeOwned>(
    response: &Response,
    method: &str,
    path: &str,
) -> Result<T, CliError> {
    check_status(response, method, path)?;
    serde_json::from_slice(&response.body).map_err(|e| CliError::Api {
        status: response.status,
        detail: format!("{method} {path}: unexpected answer: {e}"),
    })
}

fn parse_response(raw: &[u8]) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body)?;
    } else if let Some(len) = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        body.truncate(len);
    }
    Some(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_responses() {
        let c = Client::new("http://localhost:9000/x/", None).expect("client");
        assert_eq!(c.host(), "localhost:9000");
        assert_eq!(c.base_path, "/x");
        assert_eq!(
            Client::new("http://h", None).expect("client").host(),
            "h:80"
        );
        assert!(Client::new("https://h", None).is_err());
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nLink: <u>; rel=\"previous\"; results=\"false\"; cursor=\"1:1:1\", <u>; rel=\"next\"; results=\"true\"; cursor=\"5:2:0\"\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        let r = parse_response(raw).expect("parse");
        assert_eq!(r.body, b"abc");
        assert_eq!(r.next_cursor().as_deref(), Some("5:2:0"));
    }
}
