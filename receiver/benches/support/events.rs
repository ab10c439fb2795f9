//! The events both load benchmarks send: realistic Python error events with a
//! 20-frame stack trace and 20 breadcrumbs, deterministic per event number.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch.
pub fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A seeded generator, so runs are comparable.
struct Rng(fastrand::Rng);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.u64(..)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn hex(&mut self, digits: usize) -> String {
        let mut s = String::with_capacity(digits);
        while s.len() < digits {
            s.push_str(&format!("{:016x}", self.next()));
        }
        s.truncate(digits);
        s
    }
}

const ERROR_TYPES: &[&str] = &[
    "KeyError",
    "ValueError",
    "TypeError",
    "AttributeError",
    "IndexError",
    "RuntimeError",
    "ConnectionError",
    "TimeoutError",
    "PermissionError",
    "ZeroDivisionError",
];
const MODULES: &[&str] = &[
    "billing",
    "accounts",
    "orders",
    "search",
    "checkout",
    "inventory",
    "reports",
    "auth",
];
const VERBS: &[&str] = &[
    "load", "save", "charge", "render", "validate", "lookup", "sync", "refresh",
];

/// One error event as JSON text: 20 frames (12 framework, 8 application),
/// 20 breadcrumbs, contexts, tags, request and user data.
fn event_json(n: usize, group: usize, rng: &mut Rng, event_id: &str, now: f64) -> String {
    let ty = ERROR_TYPES[group % ERROR_TYPES.len()];
    let module = MODULES[(group / ERROR_TYPES.len()) % MODULES.len()];
    let verb = VERBS[group % VERBS.len()];
    let mut frames = Vec::with_capacity(20);
    for i in 0..12 {
        frames.push(serde_json::json!({
            "filename": format!("django/core/handlers/base_{i}.py"),
            "abs_path": format!("/usr/lib/python3.11/site-packages/django/core/handlers/base_{i}.py"),
            "module": format!("django.core.handlers.base_{i}"),
            "function": format!("_get_response_{i}"),
            "lineno": 100 + i * 7,
            "in_app": false,
        }));
    }
    for i in 0..8 {
        frames.push(serde_json::json!({
            "filename": format!("app/{module}/{verb}_{i}.py"),
            "abs_path": format!("/srv/app/{module}/{verb}_{i}.py"),
            "module": format!("app.{module}.{verb}_{i}"),
            "function": format!("{verb}_{module}_step_{i}_g{group}"),
            "lineno": 20 + i * 3,
            "context_line": format!("    result = {verb}_{module}_step_{}(record, retries=3)", i + 1),
            "vars": {"record_id": format!("{}", rng.below(100_000)), "retries": "3"},
            "in_app": true,
        }));
    }
    let mut crumbs = Vec::with_capacity(20);
    for i in 0..20 {
        crumbs.push(serde_json::json!({
            "timestamp": now - 20.0 + i as f64,
            "type": if i % 3 == 0 { "http" } else { "default" },
            "category": if i % 3 == 0 { "httplib" } else { "query" },
            "level": "info",
            "message": format!("SELECT name FROM users WHERE id = {}", rng.below(1_000_000)),
            "data": {"duration_ms": rng.below(50)},
        }));
    }
    let user = rng.below(500);
    serde_json::json!({
        "event_id": event_id,
        "timestamp": now,
        "platform": "python",
        "level": "error",
        "logger": format!("app.{module}"),
        "server_name": "web-01.internal",
        "release": "shop@2.4.1",
        "environment": "production",
        "transaction": format!("/api/{module}/{verb}/"),
        "exception": {"values": [{
            "type": ty,
            "value": format!("{verb} failed for record {} after {} retries", rng.below(1_000_000), n % 5),
            "module": "builtins",
            "mechanism": {"type": "django", "handled": false},
            "stacktrace": {"frames": frames},
        }]},
        "breadcrumbs": {"values": crumbs},
        "user": {"id": format!("user-{user}"), "email": format!("user{user}@example.com"), "ip_address": "{{auto}}"},
        "request": {
            "url": format!("https://shop.example.com/api/{module}/{verb}/"),
            "method": "POST",
            "query_string": format!("page={}", n % 10),
            "headers": {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64)", "Accept": "application/json", "Host": "shop.example.com"},
        },
        "contexts": {
            "trace": {"trace_id": rng.hex(32), "span_id": rng.hex(16), "op": "http.server", "status": "internal_error"},
            "os": {"name": "Linux", "version": "6.1.0"},
            "runtime": {"name": "CPython", "version": "3.11.7"},
        },
        "tags": {"region": "eu-west-1", "worker": format!("w{}", n % 16), "feature": module},
        "extra": {"attempt": n % 5, "queue": "default"},
        "modules": {"django": "4.2.7", "requests": "2.31.0", "sentry-sdk": "2.75.0"},
        "sdk": {"name": "sentry.python.django", "version": "2.75.0", "integrations": ["django", "logging", "stdlib"]},
    })
    .to_string()
}

/// The envelope (event header, item header, event JSON) of event `n` out of
/// `groups` groups, and the length of its event JSON.
pub fn envelope(n: usize, groups: usize, now: f64) -> (Vec<u8>, usize) {
    let mut rng = Rng(fastrand::Rng::with_seed(n as u64));
    let group = n % groups.max(1);
    let event_id = uuid4_hex(&mut rng);
    let json = event_json(n, group, &mut rng, &event_id, now);
    let envelope = format!(
        "{{\"event_id\":\"{event_id}\",\"sent_at\":\"{}\"}}\n{{\"type\":\"event\",\"content_type\":\"application/json\",\"length\":{}}}\n{json}\n",
        rfc3339(now),
        json.len()
    );
    (envelope.into_bytes(), json.len())
}

/// A random version-4 UUID as 32 hex digits, as SDKs send `event_id`:
/// no order across events, so the receiver's index on it is written where
/// real traffic writes it (a prefix that counts up would make it an append).
fn uuid4_hex(rng: &mut Rng) -> String {
    let (hi, lo) = (rng.next(), rng.next());
    let hi = (hi & !0xf000) | 0x4000; // version 4
    let lo = (lo & !(0b11 << 62)) | (0b10 << 62); // RFC 4122 variant
    format!("{hi:016x}{lo:016x}")
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` without a date library.
fn rfc3339(secs: f64) -> String {
    let total = secs.max(0.0) as i64;
    let millis = ((secs.max(0.0) - total as f64) * 1000.0) as i64;
    let (days, rem) = (total.div_euclid(86_400), total.rem_euclid(86_400));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
