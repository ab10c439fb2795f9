//! Applies the scrubbing rules to typed events (options `send_default_pii`
//! and `deny_keys`).
//!
//! With `send_default_pii` off, the user's IP address and email, cookies and
//! credential headers are removed. Whatever the setting, values whose key is on
//! the deny-list are replaced with `[Filtered]` in extra, contexts, request
//! data, headers, cookies, query string, URL query and fragment, and env,
//! event, transaction and span tags, span and breadcrumb data and stack-frame
//! vars, at any depth; the userinfo (`user:password@`) of the request URL is
//! removed; and card-number-like digit runs are masked in those places and in
//! messages and exception values.

use crate::protocol::{
    Breadcrumb, Context, Event, Exception, Request, Stacktrace, Transaction, User,
};
use crate::scrub::{scrub_headers_without_pii, Scrubber, FILTERED};
use serde_json::Value;

/// Scrubs an event in place.
///
/// Every breadcrumb is scrubbed, including those that came from the scope:
/// event processors, integrations and `before_send` may have replaced,
/// reordered or edited them, and `Scope::add_breadcrumb_raw` puts them on a
/// scope unscrubbed, so neither position nor count says which are clean.
/// Scrubbing a clean breadcrumb again changes nothing.
pub(crate) fn scrub_event(s: &Scrubber, event: &mut Event, send_default_pii: bool) {
    if let Some(user) = &mut event.user {
        scrub_user(s, user, send_default_pii);
    }
    if let Some(request) = &mut event.request {
        scrub_request(s, request, send_default_pii);
    }
    s.scrub_string_map(&mut event.tags);
    s.scrub_map(&mut event.extra);
    for (alias, ctx) in event.contexts.iter_mut() {
        scrub_context(s, alias, ctx);
    }
    for b in &mut event.breadcrumbs.values {
        scrub_breadcrumb(s, b);
    }
    for exc in &mut event.exception.values {
        scrub_exception(s, exc);
    }
    if let Some(st) = &mut event.stacktrace {
        scrub_stacktrace(s, st);
    }
    for thread in &mut event.threads.values {
        if let Some(st) = &mut thread.stacktrace {
            scrub_stacktrace(s, st);
        }
    }
    if let Some(m) = &mut event.message {
        s.mask_card_numbers(m);
    }
    if let Some(l) = &mut event.logentry {
        if let Some(f) = &mut l.formatted {
            s.mask_card_numbers(f);
        }
        if let Some(p) = &mut l.params {
            s.scrub_value(p);
        }
    }
}

/// Scrubs a transaction in place.
pub(crate) fn scrub_transaction(s: &Scrubber, t: &mut Transaction, send_default_pii: bool) {
    if let Some(user) = &mut t.user {
        scrub_user(s, user, send_default_pii);
    }
    if let Some(request) = &mut t.request {
        scrub_request(s, request, send_default_pii);
    }
    s.scrub_string_map(&mut t.tags);
    s.scrub_map(&mut t.extra);
    for (alias, ctx) in t.contexts.iter_mut() {
        scrub_context(s, alias, ctx);
    }
    for span in &mut t.spans {
        // Only written to when there is something to scrub: a write would
        // create the span's (absent) maps.
        if !span.data.is_empty() {
            s.scrub_map(&mut span.data);
        }
        if !span.tags.is_empty() {
            s.scrub_string_map(&mut span.tags);
        }
    }
    for b in &mut t.breadcrumbs.values {
        scrub_breadcrumb(s, b);
    }
}

/// Scrubs a breadcrumb's data and message.
#[inline]
pub(crate) fn scrub_breadcrumb(s: &Scrubber, b: &mut Breadcrumb) {
    if !b.data.is_empty() {
        s.scrub_map(&mut b.data);
    }
    if let Some(m) = &mut b.message {
        s.mask_card_numbers_cow(m);
    }
}

fn scrub_user(s: &Scrubber, user: &mut User, send_default_pii: bool) {
    if !send_default_pii {
        user.ip_address = None;
        user.email = None;
    }
    s.scrub_map(&mut user.other);
}

fn scrub_request(s: &Scrubber, r: &mut Request, send_default_pii: bool) {
    if !send_default_pii {
        r.cookies = None;
        scrub_headers_without_pii(&mut r.headers);
    } else if let Some(c) = &mut r.cookies {
        scrub_cookies(s, c);
    }
    s.scrub_string_map(&mut r.headers);
    if let Some(d) = &mut r.data {
        s.scrub_value(d);
    }
    if let Some(q) = &mut r.query_string {
        s.scrub_query_string(q);
    }
    if let Some(url) = &mut r.url {
        s.scrub_url(url);
    }
    s.scrub_map(&mut r.env);
    s.scrub_map(&mut r.other);
}

/// Scrubs cookies in any of their forms: a `Cookie` header string, an
/// object, or a list of `[name, value]` pairs; values are judged by the
/// cookie's name.
fn scrub_cookies(s: &Scrubber, cookies: &mut Value) {
    match cookies {
        Value::String(c) => s.scrub_cookie_string(c),
        Value::Array(pairs) => {
            for pair in pairs.iter_mut() {
                match pair.as_array_mut().map(Vec::as_mut_slice) {
                    Some([Value::String(name), value]) if s.is_sensitive_key(name) => {
                        if value.as_str() != Some(FILTERED) {
                            *value = Value::String(FILTERED.to_owned());
                        }
                    }
                    _ => s.scrub_value(pair),
                }
            }
        }
        _ => s.scrub_value(cookies),
    }
}

fn scrub_context(s: &Scrubber, alias: &str, ctx: &mut Context) {
    match ctx {
        Context::Os(c) => s.scrub_map(&mut c.other),
        Context::Runtime(c) => s.scrub_map(&mut c.other),
        Context::Device(c) => s.scrub_map(&mut c.other),
        Context::App(c) => s.scrub_map(&mut c.other),
        Context::Browser(c) => s.scrub_map(&mut c.other),
        Context::Trace(c) => {
            s.scrub_map(&mut c.data);
            s.scrub_map(&mut c.other);
        }
        // A custom context named like a secret (`credentials`, `auth`) is
        // filtered whole, as such a key is in `extra`; it stays an object.
        Context::Other(m) if s.is_sensitive_key(alias) => {
            for (key, v) in m.iter_mut() {
                if key != "type" && v.as_str() != Some(FILTERED) {
                    *v = Value::String(FILTERED.to_owned());
                }
            }
        }
        Context::Other(m) => s.scrub_map(m),
        // A bare value sits directly under its alias, as in `extra`.
        Context::Raw(v) if s.is_sensitive_key(alias) => {
            if v.as_str() != Some(FILTERED) {
                *v = Value::String(FILTERED.to_owned());
            }
        }
        Context::Raw(v) => s.scrub_value(v),
    }
}

fn scrub_exception(s: &Scrubber, exc: &mut Exception) {
    if let Some(v) = &mut exc.value {
        s.mask_card_numbers(v);
    }
    if let Some(st) = &mut exc.stacktrace {
        scrub_stacktrace(s, st);
    }
}

fn scrub_stacktrace(s: &Scrubber, st: &mut Stacktrace) {
    for frame in &mut st.frames {
        s.scrub_map(&mut frame.vars);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Map;
    use serde_json::json;

    #[test]
    fn pii_off_removes_identity_and_credentials_and_masks_deny_keys() {
        let mut event: Event = serde_json::from_value(json!({
            "user": {"id": "7", "email": "a@b.c", "ip_address": "1.2.3.4"},
            "request": {
                "url": "https://x/y", "cookies": "session=abc",
                "headers": {"Authorization": "Bearer t", "Cookie": "c", "Accept": "*/*", "X-Api-Key": "k"},
                "query_string": "page=2&token=abc",
                "data": {"form": {"password": "hunter2", "name": "n"}}
            },
            "extra": {"nested": {"deeper": {"api_key": "k", "card": "4111 1111 1111 1111"}}},
            "contexts": {"custom": {"secret": "s", "ok": 1}},
            "breadcrumbs": [{"data": {"access_token": "t"}}],
            "exception": [{"type": "E", "value": "card 4111111111111111 declined",
                "stacktrace": {"frames": [{"function": "f", "vars": {"passwd": "p", "i": 1}}]}}]
        }))
        .expect("event");
        scrub_event(&Scrubber::default(), &mut event, false);
        let v = serde_json::to_value(&event).expect("json");
        assert_eq!(v["user"], json!({"id": "7"}));
        assert_eq!(v["request"].get("cookies"), None);
        assert_eq!(
            v["request"]["headers"],
            json!({"Accept": "*/*", "X-Api-Key": "[Filtered]"})
        );
        assert_eq!(v["request"]["query_string"], "page=2&token=[Filtered]");
        assert_eq!(
            v["request"]["data"]["form"],
            json!({"password": "[Filtered]", "name": "n"})
        );
        assert_eq!(
            v["extra"]["nested"]["deeper"],
            json!({"api_key": "[Filtered]", "card": "[Filtered]"})
        );
        assert_eq!(
            v["contexts"]["custom"],
            json!({"secret": "[Filtered]", "ok": 1})
        );
        assert_eq!(
            v["breadcrumbs"]["values"][0]["data"],
            json!({"access_token": "[Filtered]"})
        );
        let exc = &v["exception"]["values"][0];
        assert_eq!(exc["value"], "card [Filtered] declined");
        assert_eq!(
            exc["stacktrace"]["frames"][0]["vars"],
            json!({"passwd": "[Filtered]", "i": 1})
        );
    }

    #[test]
    fn pii_on_keeps_identity_but_still_masks_deny_keys() {
        let mut event = Event {
            user: Some(User {
                email: Some("a@b.c".into()),
                ip_address: Some("1.2.3.4".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut extra = Map::new();
        extra.insert("password".into(), json!("x"));
        event.extra = extra;
        scrub_event(&Scrubber::default(), &mut event, true);
        let user = event.user.expect("user");
        assert_eq!(user.email.as_deref(), Some("a@b.c"));
        assert_eq!(user.ip_address.as_deref(), Some("1.2.3.4"));
        assert_eq!(event.extra["password"], "[Filtered]");
    }

    #[test]
    fn a_custom_context_named_like_a_secret_is_filtered_whole() {
        let mut event: Event = serde_json::from_value(json!({
            "contexts": {
                "credentials": {"type": "credentials", "user": "bob", "nested": {"a": 1}},
                "custom": {"user": "bob"}
            }
        }))
        .expect("event");
        scrub_event(&Scrubber::default(), &mut event, false);
        let v = serde_json::to_value(&event).expect("json");
        assert_eq!(
            v["contexts"]["credentials"],
            json!({"type": "credentials", "user": "[Filtered]", "nested": "[Filtered]"})
        );
        assert_eq!(v["contexts"]["custom"], json!({"user": "bob"}));
    }

    #[test]
    fn contexts_that_are_not_objects_are_scrubbed_like_extra() {
        let mut event: Event = serde_json::from_value(json!({
            "contexts": {
                "api_key": "k",
                "note": "card 4111111111111111",
                "list": [{"password": "p", "ok": 1}],
                "count": 3
            }
        }))
        .expect("event");
        scrub_event(&Scrubber::default(), &mut event, false);
        let v = serde_json::to_value(&event).expect("json");
        assert_eq!(
            v["contexts"],
            json!({
                "api_key": "[Filtered]",
                "note": "card [Filtered]",
                "list": [{"password": "[Filtered]", "ok": 1}],
                "count": 3
            })
        );
    }
}
