//! Data scrubbing applied to an event before it leaves the process.
//!
//! The [`Scrubber`] works on [`serde_json::Value`] trees, on string maps
//! (headers, tags), on key/value pairs, on query strings, URLs, cookie
//! strings and on plain strings. Two rules are applied:
//!
//! 1. **By key name.** The value of every object/map entry whose key is
//!    sensitive (see [`Scrubber::is_sensitive_key`]) is replaced with
//!    [`FILTERED`], whatever its type.
//! 2. **Card numbers.** Every other string has credit-card numbers masked
//!    (see [`Scrubber::mask_card_numbers`]).
//!
//! Strings are never interpreted as `key=value` text: only real keys of
//! objects/maps (and the parameter names of a query string passed to
//! [`Scrubber::scrub_query_string`] or inside a URL passed to
//! [`Scrubber::scrub_url`], and the cookie names of a string passed to
//! [`Scrubber::scrub_cookie_string`]) are judged by name. A URL also loses
//! its `user:password@` part.
//!
//! The scrubber is built for the hot path: the deny list is normalised once
//! in [`Scrubber::new`], key checks compare bytes without allocating, and
//! nothing is allocated when nothing needs to be replaced.
//!
//! [`scrub_headers_without_pii`] is separate: it removes headers that carry
//! personal data (IP addresses, cookies, credentials) when
//! `send_default_pii` is off.
//!
//! ```
//! use sentry_core::scrub::Scrubber;
//! use serde_json::json;
//!
//! let scrubber = Scrubber::default();
//! let mut extra = json!({
//!     "user": { "name": "jane", "Password": "hunter2" },
//!     "note": "paid with 4111 1111 1111 1111",
//! });
//! scrubber.scrub_value(&mut extra);
//! assert_eq!(
//!     extra,
//!     json!({
//!         "user": { "name": "jane", "Password": "[Filtered]" },
//!         "note": "paid with [Filtered]",
//!     })
//! );
//! ```

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// The replacement written in place of scrubbed data.
///
/// ```
/// use sentry_core::scrub::{Scrubber, FILTERED};
///
/// let mut s = String::from("4111111111111111");
/// Scrubber::default().mask_card_numbers(&mut s);
/// assert_eq!(s, FILTERED);
/// ```
pub const FILTERED: &str = "[Filtered]";

/// The entries of [`Scrubber::default_deny_list`].
const DEFAULT_DENY_LIST: &[&str] = &[
    "password",
    "passwd",
    "mysql_pwd",
    "secret",
    "api_key",
    "apikey",
    "token",
    "access_token",
    "auth",
    "credentials",
    "private_key",
    "privatekey",
    "credit_card",
    "card_number",
    "ssn",
    "session_id",
    "phpsessid",
    "connect.sid",
    "csrf",
    "xsrf",
    "cookie",
];

/// Nesting depth (counted in objects/arrays from the value passed to
/// [`Scrubber::scrub_value`]) below which containers are not inspected but
/// replaced wholesale with [`FILTERED`]. This bounds recursion (and therefore
/// stack use) on pathological input while never letting unscrubbed data
/// through.
const MAX_DEPTH: usize = 256;

/// Minimum and maximum number of digits in a card number.
const CARD_MIN_DIGITS: usize = 13;
const CARD_MAX_DIGITS: usize = 19;
/// Minimum number of digits in each group of a separated card number.
const CARD_MIN_GROUP: usize = 3;

/// Headers removed by [`scrub_headers_without_pii`].
const PII_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "set-cookie",
    "proxy-authorization",
    "x-forwarded-for",
    "x-real-ip",
];

/// Scrubs sensitive data by key name and masks credit-card numbers.
///
/// Build it once (for example when the client is created) and reuse it for
/// every event; it is cheap to share by reference and is `Send + Sync`.
///
/// ```
/// use sentry_core::scrub::Scrubber;
///
/// let scrubber = Scrubber::new(["password", "pin"]);
/// assert!(scrubber.is_sensitive_key("User-PIN"));
/// assert!(!scrubber.is_sensitive_key("token"));
/// ```
#[derive(Debug, Clone)]
pub struct Scrubber {
    /// Deny entries, ASCII-lowercased, separators removed, non-empty,
    /// deduplicated, and with entries dropped that contain another entry
    /// (they could never match anything the shorter one does not).
    deny: Box<[Box<[u8]>]>,
    /// Bit set of the first bytes of the `deny` entries.
    first_bytes: [u64; 4],
}

impl Default for Scrubber {
    /// A scrubber using [`Scrubber::default_deny_list`].
    ///
    /// ```
    /// use sentry_core::scrub::Scrubber;
    ///
    /// assert!(Scrubber::default().is_sensitive_key("api_key"));
    /// ```
    fn default() -> Self {
        Scrubber::new(DEFAULT_DENY_LIST)
    }
}

impl Scrubber {
    /// Creates a scrubber from a deny list of key names.
    ///
    /// Entries are normalised once here: ASCII letters are lowercased and
    /// `'_'`, `'-'`, `' '` and `'.'` are removed, so `"api_key"`, `"API-Key"`
    /// and `"apikey"` are the same entry. Entries that are empty after
    /// normalisation are ignored (they would match every key).
    ///
    /// To extend the default list, chain it:
    ///
    /// ```
    /// use sentry_core::scrub::Scrubber;
    ///
    /// let scrubber = Scrubber::new(
    ///     Scrubber::default_deny_list().iter().copied().chain(["iban"]),
    /// );
    /// assert!(scrubber.is_sensitive_key("customer_IBAN"));
    /// assert!(scrubber.is_sensitive_key("password"));
    /// ```
    #[must_use]
    pub fn new<I, S>(deny_keys: I) -> Scrubber
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut entries: Vec<Vec<u8>> = deny_keys
            .into_iter()
            .map(|key| normalized(key.as_ref().bytes()).collect::<Vec<u8>>())
            .filter(|entry| !entry.is_empty())
            .collect();
        // Shorter entries first, so that an entry is only kept when no kept
        // (shorter or equal) entry is a substring of it.
        entries.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
        let mut deny: Vec<Box<[u8]>> = Vec::with_capacity(entries.len());
        for entry in entries {
            if !deny
                .iter()
                .any(|kept| contains(entry.iter().copied(), kept))
            {
                deny.push(entry.into_boxed_slice());
            }
        }
        let mut first_bytes = [0u64; 4];
        for &b in deny.iter().filter_map(|entry| entry.first()) {
            first_bytes[usize::from(b >> 6)] |= 1 << (b & 63);
        }
        Scrubber {
            deny: deny.into_boxed_slice(),
            first_bytes,
        }
    }

    /// The deny list used by [`Scrubber::default`].
    ///
    /// It contains `password`, `passwd`, `mysql_pwd`, `secret`, `api_key`,
    /// `apikey`, `token`, `access_token`, `auth`, `credentials`,
    /// `private_key`, `privatekey`, `credit_card`, `card_number`, `ssn`,
    /// `session_id`, `phpsessid`, `connect.sid`, `csrf`, `xsrf` and `cookie`.
    /// Because matching ignores case and separators and looks for
    /// substrings, this also covers keys such as `X-API-Key`,
    /// `sessionid`, `Session-Id`, `X-Auth-Token`, `Authorization`,
    /// `client_secret` and `Set-Cookie`.
    ///
    /// ```
    /// use sentry_core::scrub::Scrubber;
    ///
    /// assert!(Scrubber::default_deny_list().contains(&"password"));
    /// ```
    #[must_use]
    pub fn default_deny_list() -> &'static [&'static str] {
        DEFAULT_DENY_LIST
    }

    /// Whether `key` names sensitive data.
    ///
    /// The comparison is ASCII case-insensitive and ignores `'_'`, `'-'`,
    /// `' '` and `'.'` in the key; a deny entry matches when it occurs
    /// anywhere in the key. So with the default list `"user_password"`,
    /// `"X-Auth-Token"` and `"Session ID"` are sensitive. This check never
    /// allocates.
    ///
    /// Substring matching errs on the side of scrubbing. Known false
    /// positives with the default list: `"author"` and `"authority"` match
    /// `auth`; `"tokenizer"` matches `token`; and because separators are
    /// ignored, `"class_name"`, `"process_name"` and `"address_number"`
    /// match `ssn`.
    ///
    /// ```
    /// use sentry_core::scrub::Scrubber;
    ///
    /// let scrubber = Scrubber::default();
    /// assert!(scrubber.is_sensitive_key("X-Auth-Token"));
    /// assert!(scrubber.is_sensitive_key("user_password"));
    /// assert!(scrubber.is_sensitive_key("author")); // known false positive
    /// assert!(!scrubber.is_sensitive_key("username"));
    /// ```
    #[must_use]
    pub fn is_sensitive_key(&self, key: &str) -> bool {
        let key = key.as_bytes();
        key.iter().enumerate().any(|(i, &b)| {
            let b = b.to_ascii_lowercase();
            // Cheap rejection of positions where no entry can start.
            if self.first_bytes[usize::from(b >> 6)] & (1 << (b & 63)) == 0 {
                return false;
            }
            self.deny.iter().any(|entry| match entry.split_first() {
                Some((&first, rest)) if first == b => {
                    // `first` is never a separator, so neither is `b`.
                    let mut tail = key[i + 1..]
                        .iter()
                        .filter(|&&b| !is_separator(b))
                        .map(u8::to_ascii_lowercase);
                    rest.iter().all(|&n| tail.next() == Some(n))
                }
                _ => false,
            })
        })
    }

    /// Scrubs a JSON value in place, at any depth.
    ///
    /// Object entries with a sensitive key have their value (of any type,
    /// including `null`, objects and arrays) replaced with the string
    /// [`FILTERED`]; all other strings, inside objects or arrays or at the
    /// top level, get card numbers masked. Numbers are left alone. Nothing
    /// is allocated unless something is replaced.
    ///
    /// Containers nested more than 256 levels deep are replaced with
    /// [`FILTERED`] instead of being inspected.
    ///
    /// ```
    /// use sentry_core::scrub::Scrubber;
    /// use serde_json::json;
    ///
    /// let mut v = json!({ "db": { "config": { "passwd": { "a": 1 } } }, "ok": [1, "x"] });
    /// Scrubber::default().scrub_value(&mut v);
    /// assert_eq!(v, json!({ "db": { "config": { "passwd": "[Filtered]" } }, "ok": [1, "x"] }));
    /// ```
    pub fn scrub_value(&self, value: &mut Value) {
        self.scrub_value_at(value, 0);
    }

    /// Scrubs a JSON object in place; see [`Scrubber::scrub_value`].
    ///
    /// ```
    /// use sentry_core::scrub::Scrubber;
    /// use serde_json::{json, Map, Value};
    ///
    /// let mut map = Map::new();
    /// map.insert("token".into(), json!(["a", "b"]));
    /// map.insert("id".into(), json!(7));
    /// Scrubber::default().scrub_map(&mut map);
    /// assert_eq!(Value::Object(map), json!({ "token": "[Filtered]", "id": 7 }));
    /// ```
    #[inline]
    pub fn scrub_map(&self, map: &mut Map<String, Value>) {
        // Most maps (span data, extra) are empty: skip the call.
        if !map.is_empty() {
            self.scrub_map_at(map, 0);
        }
    }

    /// Scrubs a string map such as request headers or tags: values of
    /// sensitive keys become [`FILTERED`], other values get card numbers
    /// masked.
    ///
    /// ```
    /// use sentry_core::scrub::Scrubber;
    /// use std::collections::BTreeMap;
    ///
    /// let mut headers = BTreeMap::new();
    /// headers.insert("X-Api-Key".to_string(), "abc".to_string());
    /// headers.insert("Accept".to_string(), "text/html".to_string());
    /// Scrubber::default().scrub_string_map(&mut headers);
    /// assert_eq!(headers["X-Api-Key"], "[Filtered]");
    /// assert_eq!(headers["Accept"], "text/html");
    /// ```
    pub fn scrub_string_map(&self, map: &mut BTreeMap<String, String>) {
        for (key, value) in map.iter_mut() {
            self.scrub_entry(key, value);
        }
    }

    /// Scrubs key/value pairs (for example headers kept in order, or parsed
    /// form data) the same way as [`Scrubber::scrub_string_map`].
    ///
    /// ```
    /// use sentry_core::scrub::Scrubber;
    ///
    /// let mut pairs = vec![
    ///     ("Authorization".to_string(), "Bearer abc".to_string()),
    ///     ("Host".to_string(), "example.com".to_string()),
    /// ];
    /// Scrubber::default().scrub_pairs(&mut pairs);
    /// assert_eq!(pairs[0].1, "[Filtered]");
    /// assert_eq!(pairs[1].1, "example.com");
    /// ```
    pub fn scrub_pairs(&self, pairs: &mut [(String, String)]) {
        for (key, value) in pairs.iter_mut() {
            self.scrub_entry(key, value);
        }
    }

    /// Replaces credit-card numbers in `s` with [`FILTERED`] and returns
    /// whether anything changed. Allocates only when something is replaced.
    ///
    /// A card number is a run of 13 to 19 ASCII digits, optionally split
    /// into groups by single spaces or dashes (`"4111 1111 1111 1111"`,
    /// `"4111-1111-1111-1111"`), that passes the Luhn checksum. The whole
    /// run, separators included, is replaced.
    ///
    /// Runs are taken maximal, so groups joined by single separators form
    /// one run even when they are several numbers (`"4111111111111111 123"`,
    /// `"4111 1111 1111 1111 12/29"`, `"qty 2 4111111111111111"`, two card
    /// numbers separated by a space). When such a run is not a card number
    /// as a whole, its stretches of whole groups are: from the left, the
    /// longest stretch starting at each group that is a card number under
    /// the rules below is masked, and the search goes on after it. A
    /// stretch of several groups is not cut out of a regular grouping,
    /// though: next to it there must be no group of the same length as the
    /// stretch's own group at that end, so `"4111 1111 1111 1111 1111"`
    /// (and, alike, two grouped card numbers in a row separated by a single
    /// space) is one 20-digit (32-digit) number and left alone.
    ///
    /// To avoid false positives a run or stretch is left alone when:
    ///
    /// * it has more than 19 or fewer than 13 digits, or it is part of a
    ///   longer run of digits without separators (so a 20-digit number is
    ///   never partly masked);
    /// * it fails the Luhn checksum;
    /// * it is split into groups and some group has fewer than 3 digits
    ///   (hex dumps like `"12 34 56 …"`, lists of small numbers);
    /// * it does not start with a digit from 2 to 6 (the major industry
    ///   identifiers of payment cards), which keeps millisecond and
    ///   nanosecond Unix timestamps from being masked;
    /// * it touches an ASCII letter, digit or `'_'`, directly or across a
    ///   single `'-'` or `'.'` — so digits inside identifiers, hex strings,
    ///   UUIDs and decimal numbers (`"0.4111111111111111"`) are kept, and
    ///   `"card4111111111111111"` is kept too. A stretch that ends at a
    ///   dash followed by more digits touches them (`"4111111111111111-123"`
    ///   is kept); one that ends at a space does not.
    ///
    /// ```
    /// use sentry_core::scrub::Scrubber;
    ///
    /// let scrubber = Scrubber::default();
    /// let mut s = String::from("card: 4111-1111-1111-1111, exp 12/29");
    /// assert!(scrubber.mask_card_numbers(&mut s));
    /// assert_eq!(s, "card: [Filtered], exp 12/29");
    ///
    /// let mut s = String::from("order 4111111111111112"); // fails Luhn
    /// assert!(!scrubber.mask_card_numbers(&mut s));
    /// assert_eq!(s, "order 4111111111111112");
    /// ```
    pub fn mask_card_numbers(&self, s: &mut String) -> bool {
        match self.card_numbers_masked(s) {
            Some(masked) => {
                *s = masked;
                true
            }
            None => false,
        }
    }

    /// Like [`Scrubber::mask_card_numbers`] for a `Cow`: a borrowed string
    /// without card numbers stays borrowed (no allocation).
    ///
    /// ```
    /// use std::borrow::Cow;
    /// use sentry_core::scrub::Scrubber;
    ///
    /// let scrubber = Scrubber::default();
    /// let mut s: Cow<'static, str> = Cow::Borrowed("no card here");
    /// assert!(!scrubber.mask_card_numbers_cow(&mut s));
    /// assert!(matches!(s, Cow::Borrowed(_)));
    /// ```
    #[inline]
    pub fn mask_card_numbers_cow(&self, s: &mut std::borrow::Cow<'_, str>) -> bool {
        match self.card_numbers_masked(s) {
            Some(masked) => {
                *s = std::borrow::Cow::Owned(masked);
                true
            }
            None => false,
        }
    }

    /// `s` with its card numbers masked, or `None` when it has none.
    #[inline]
    fn card_numbers_masked(&self, s: &str) -> Option<String> {
        // A card number has at least 13 digits; most strings have far fewer,
        // and this count is a cheap branch-free pass, inlined into the
        // caller so that the usual answer costs no call.
        if s.len() < 13 || count_ascii_digits(s.as_bytes()) < 13 {
            return None;
        }
        Self::mask_digit_runs(s)
    }

    /// `s` with the card numbers among its digit runs masked.
    #[inline(never)]
    fn mask_digit_runs(s: &str) -> Option<String> {
        let bytes = s.as_bytes();
        let mut out: Option<String> = None;
        let mut copied = 0;
        let mut i = 0;
        while i < bytes.len() {
            if !bytes[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let end = digit_run_end(bytes, i);
            // Stretches of whole groups, from the left, each the longest
            // that is a card number; the whole run when it is one.
            let mut from = i;
            while from < end {
                match longest_card_from(bytes, i, from, end) {
                    Some(card_end) => {
                        let out = out.get_or_insert_with(|| String::with_capacity(bytes.len()));
                        // `from`, `card_end` and `copied` are on ASCII
                        // bytes, hence on char boundaries.
                        out.push_str(&s[copied..from]);
                        out.push_str(FILTERED);
                        copied = card_end;
                        from = card_end + 1;
                    }
                    None => from = group_end(bytes, from) + 1,
                }
            }
            i = end;
        }
        out.map(|mut out| {
            out.push_str(&s[copied..]);
            out
        })
    }

    /// Scrubs a URL query string (without the leading `?`) in place.
    ///
    /// Parameters are split on `'&'`; the value of each `name=value`
    /// parameter whose (percent-decoded) name is sensitive becomes
    /// [`FILTERED`]; afterwards card numbers are masked in the whole string.
    /// Parameters without `'='` are kept as they are.
    ///
    /// ```
    /// use sentry_core::scrub::Scrubber;
    ///
    /// let mut qs = String::from("a=1&password=x");
    /// Scrubber::default().scrub_query_string(&mut qs);
    /// assert_eq!(qs, "a=1&password=[Filtered]");
    /// ```
    pub fn scrub_query_string(&self, qs: &mut String) {
        if let Some(scrubbed) = self.query_string_scrubbed(qs) {
            *qs = scrubbed;
        }
        self.mask_card_numbers(qs);
    }

    /// Scrubs a URL in place: removes the userinfo (`user:password@`) of
    /// its authority, scrubs its query string and its fragment as
    /// [`Scrubber::scrub_query_string`] does (an OAuth implicit flow puts
    /// `access_token=…` in the fragment), and masks card numbers anywhere
    /// in it. Allocates only when something is replaced.
    ///
    /// A URL without a scheme (`/path?q=1`) has no authority and keeps
    /// everything before its `'?'`; a protocol-relative one (`//host/…`)
    /// has one.
    ///
    /// ```
    /// use sentry_core::scrub::Scrubber;
    ///
    /// let mut url = String::from("https://bob:hunter2@example.com/reset?token=abc&page=2");
    /// Scrubber::default().scrub_url(&mut url);
    /// assert_eq!(url, "https://example.com/reset?token=[Filtered]&page=2");
    /// ```
    pub fn scrub_url(&self, url: &mut String) {
        if let Some(userinfo) = url_userinfo(url) {
            url.replace_range(userinfo, "");
        }
        let fragment_start = url.find('#').map(|i| i + 1);
        if let Some(start) = fragment_start {
            if let Some(scrubbed) = self.query_string_scrubbed(&url[start..]) {
                url.replace_range(start.., &scrubbed);
            }
        }
        let query_end = fragment_start.map_or(url.len(), |start| start - 1);
        if let Some(start) = url[..query_end].find('?').map(|i| i + 1) {
            if let Some(scrubbed) = self.query_string_scrubbed(&url[start..query_end]) {
                url.replace_range(start..query_end, &scrubbed);
            }
        }
        self.mask_card_numbers(url);
    }

    /// Scrubs cookies given as one string, as in a `Cookie` header
    /// (`"sessionid=abc; theme=dark"`), in place: the value of each
    /// `name=value` pair (pairs are split on `';'`) whose name, without
    /// surrounding spaces, is sensitive (see [`Scrubber::is_sensitive_key`])
    /// becomes [`FILTERED`]; afterwards card numbers are masked in the whole
    /// string. Pairs without `'='` are kept. Allocates only when something
    /// is replaced.
    ///
    /// ```
    /// use sentry_core::scrub::Scrubber;
    ///
    /// let mut cookies = String::from("sessionid=abc; csrftoken=xyz; theme=dark");
    /// Scrubber::default().scrub_cookie_string(&mut cookies);
    /// assert_eq!(cookies, "sessionid=[Filtered]; csrftoken=[Filtered]; theme=dark");
    /// ```
    pub fn scrub_cookie_string(&self, cookies: &mut String) {
        let scrubbed = {
            let mut out: Option<String> = None;
            let mut copied = 0;
            let mut pair_start = 0;
            for pair in cookies.split(';') {
                if let Some(eq) = pair.find('=') {
                    let value = pair[eq + 1..].trim();
                    if value != FILTERED && self.is_sensitive_key(pair[..eq].trim()) {
                        let value_start = pair_start + eq + 1;
                        let value_end = pair_start + pair.len();
                        let out =
                            out.get_or_insert_with(|| String::with_capacity(cookies.len() + 16));
                        out.push_str(&cookies[copied..value_start]);
                        out.push_str(FILTERED);
                        copied = value_end;
                    }
                }
                pair_start += pair.len() + 1;
            }
            out.map(|mut out| {
                out.push_str(&cookies[copied..]);
                out
            })
        };
        if let Some(scrubbed) = scrubbed {
            *cookies = scrubbed;
        }
        self.mask_card_numbers(cookies);
    }

    /// `qs` with the values of its sensitive parameters replaced, or `None`
    /// when it has none; see [`Scrubber::scrub_query_string`].
    fn query_string_scrubbed(&self, qs: &str) -> Option<String> {
        let mut out: Option<String> = None;
        let mut copied = 0;
        let mut param_start = 0;
        for param in qs.split('&') {
            if let Some(eq) = param.find('=') {
                let value = &param[eq + 1..];
                if value != FILTERED && self.matches(normalized(PercentDecoded::new(&param[..eq])))
                {
                    let value_start = param_start + eq + 1;
                    let value_end = param_start + param.len();
                    let out = out.get_or_insert_with(|| String::with_capacity(qs.len() + 16));
                    out.push_str(&qs[copied..value_start]);
                    out.push_str(FILTERED);
                    copied = value_end;
                }
            }
            param_start += param.len() + 1;
        }
        out.map(|mut out| {
            out.push_str(&qs[copied..]);
            out
        })
    }

    fn matches<I>(&self, key: I) -> bool
    where
        I: Iterator<Item = u8> + Clone,
    {
        self.deny.iter().any(|entry| contains(key.clone(), entry))
    }

    fn scrub_entry(&self, key: &str, value: &mut String) {
        if self.is_sensitive_key(key) {
            if value != FILTERED {
                FILTERED.clone_into(value);
            }
        } else {
            self.mask_card_numbers(value);
        }
    }

    fn scrub_map_at(&self, map: &mut Map<String, Value>, depth: usize) {
        for (key, value) in map.iter_mut() {
            if self.is_sensitive_key(key) {
                set_filtered(value);
            } else {
                self.scrub_value_at(value, depth);
            }
        }
    }

    fn scrub_value_at(&self, value: &mut Value, depth: usize) {
        match value {
            Value::String(s) => {
                self.mask_card_numbers(s);
            }
            Value::Object(_) | Value::Array(_) if depth >= MAX_DEPTH => set_filtered(value),
            Value::Object(map) => self.scrub_map_at(map, depth + 1),
            Value::Array(items) => {
                for item in items.iter_mut() {
                    self.scrub_value_at(item, depth + 1);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

/// Removes headers that carry personal data — `Authorization`, `Cookie`,
/// `Set-Cookie`, `Proxy-Authorization`, `X-Forwarded-For` and `X-Real-Ip`
/// (names compared ASCII case-insensitively) — for use when
/// `send_default_pii` is off. Does not allocate.
///
/// ```
/// use sentry_core::scrub::scrub_headers_without_pii;
/// use std::collections::BTreeMap;
///
/// let mut headers = BTreeMap::new();
/// headers.insert("cookie".to_string(), "sid=1".to_string());
/// headers.insert("X-Real-IP".to_string(), "10.0.0.1".to_string());
/// headers.insert("Accept".to_string(), "*/*".to_string());
/// scrub_headers_without_pii(&mut headers);
/// assert_eq!(headers.keys().collect::<Vec<_>>(), ["Accept"]);
/// ```
pub fn scrub_headers_without_pii(headers: &mut BTreeMap<String, String>) {
    headers.retain(|name, _| !PII_HEADERS.iter().any(|pii| name.eq_ignore_ascii_case(pii)));
}

/// The byte range of the userinfo of `url`, `'@'` included: between the
/// `//` that starts the authority (after a scheme, or at the start) and the
/// last `'@'` before the path, query or fragment.
fn url_userinfo(url: &str) -> Option<std::ops::Range<usize>> {
    let authority_start = if url.starts_with("//") {
        2
    } else {
        let colon = url.find(':')?;
        let scheme = &url.as_bytes()[..colon];
        let valid_scheme = scheme.first().is_some_and(u8::is_ascii_alphabetic)
            && scheme
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !valid_scheme || !url[colon..].starts_with("://") {
            return None;
        }
        colon + 3
    };
    let authority = &url[authority_start..];
    let authority_len = authority.find(['/', '?', '#']).unwrap_or(authority.len());
    let at = authority[..authority_len].rfind('@')?;
    Some(authority_start..authority_start + at + 1)
}

fn set_filtered(value: &mut Value) {
    match value {
        // Reuse the string's buffer.
        Value::String(s) => {
            if s != FILTERED {
                FILTERED.clone_into(s);
            }
        }
        _ => *value = Value::String(FILTERED.to_owned()),
    }
}

fn is_separator(b: u8) -> bool {
    matches!(b, b'_' | b'-' | b' ' | b'.')
}

/// The bytes of a key as compared against deny entries: separators removed,
/// ASCII lowercased.
fn normalized<I>(bytes: I) -> impl Iterator<Item = u8> + Clone
where
    I: Iterator<Item = u8> + Clone,
{
    bytes
        .filter(|&b| !is_separator(b))
        .map(|b| b.to_ascii_lowercase())
}

/// Whether `needle` (non-empty) occurs contiguously in `haystack`.
fn contains<I>(mut haystack: I, needle: &[u8]) -> bool
where
    I: Iterator<Item = u8> + Clone,
{
    loop {
        let mut probe = haystack.clone();
        if needle.iter().all(|&n| probe.next() == Some(n)) {
            return true;
        }
        if haystack.next().is_none() {
            return false;
        }
    }
}

/// Percent-decodes a query-string parameter name on the fly (`'+'` is a
/// space), so that `api%5Fkey` is recognised as `api_key`. Invalid escapes
/// are passed through unchanged.
#[derive(Clone)]
struct PercentDecoded<'a> {
    bytes: &'a [u8],
}

impl<'a> PercentDecoded<'a> {
    fn new(s: &'a str) -> Self {
        PercentDecoded {
            bytes: s.as_bytes(),
        }
    }
}

impl Iterator for PercentDecoded<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let (&first, rest) = self.bytes.split_first()?;
        match (first, rest) {
            (b'%', [hi, lo, tail @ ..]) => match (hex_value(*hi), hex_value(*lo)) {
                (Some(hi), Some(lo)) => {
                    self.bytes = tail;
                    Some(hi << 4 | lo)
                }
                _ => {
                    self.bytes = rest;
                    Some(b'%')
                }
            },
            (b'+', _) => {
                self.bytes = rest;
                Some(b' ')
            }
            _ => {
                self.bytes = rest;
                Some(first)
            }
        }
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// End (exclusive) of the maximal run of digits starting at `start`, where
/// groups of digits may be joined by a single space or dash.
fn digit_run_end(bytes: &[u8], start: usize) -> usize {
    let mut j = start;
    loop {
        while j < bytes.len() && bytes[j].is_ascii_digit() {
            j += 1;
        }
        match (bytes.get(j), bytes.get(j + 1)) {
            (Some(b' ' | b'-'), Some(next)) if next.is_ascii_digit() => j += 1,
            _ => return j,
        }
    }
}

/// End (exclusive) of the group of digits starting at `start`.
fn group_end(bytes: &[u8], start: usize) -> usize {
    let mut j = start;
    while j < bytes.len() && bytes[j].is_ascii_digit() {
        j += 1;
    }
    j
}

/// The end of the longest card number that starts at `from`, the start of a
/// group of the digit run `bytes[run_start..run_end]`, and ends at the end of
/// one of its groups; `None` when there is none.
///
/// A stretch of several groups is not cut out of a regular grouping: it may
/// not end (or start) next to a group of the same length as its own last
/// (or first) group, since `"4111 1111 1111 1111 1111"` reads as one
/// 20-digit number, not as a card number followed by `1111`.
fn longest_card_from(bytes: &[u8], run_start: usize, from: usize, run_end: usize) -> Option<usize> {
    let first_len = group_end(bytes, from) - from;
    // The group before `from` ends at the separator `bytes[from - 1]`.
    let before_len = if from > run_start {
        bytes[run_start..from - 1]
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_digit())
            .count()
    } else {
        0
    };
    let mut found = None;
    let mut stretch_end = from + first_len;
    let mut last_len = first_len;
    let mut digits = first_len;
    let mut single = true;
    while digits <= CARD_MAX_DIGITS {
        let after_len = if stretch_end < run_end {
            // `bytes[stretch_end]` is the separator, the next group follows.
            group_end(bytes, stretch_end + 1) - (stretch_end + 1)
        } else {
            0
        };
        let cut_ok = single || (before_len != first_len && after_len != last_len);
        if digits >= CARD_MIN_DIGITS && cut_ok && is_card_number(bytes, from, stretch_end) {
            found = Some(stretch_end);
        }
        if after_len == 0 {
            break;
        }
        stretch_end += 1 + after_len;
        digits += after_len;
        last_len = after_len;
        single = false;
    }
    found
}

/// Whether `bytes[start..end]`, digit groups joined by single separators and
/// not preceded or followed by a digit, is a card number; see
/// [`Scrubber::mask_card_numbers`].
fn is_card_number(bytes: &[u8], start: usize, end: usize) -> bool {
    let run = &bytes[start..end];
    if !matches!(run.first(), Some(b'2'..=b'6')) {
        return false;
    }
    let mut digits = 0;
    for group in run.split(|b| !b.is_ascii_digit()) {
        if group.len() < CARD_MIN_GROUP && group.len() != run.len() {
            return false;
        }
        digits += group.len();
    }
    if !(CARD_MIN_DIGITS..=CARD_MAX_DIGITS).contains(&digits) {
        return false;
    }
    if touches_word(bytes[..start].iter().rev()) || touches_word(bytes[end..].iter()) {
        return false;
    }
    luhn_valid(run)
}

/// Whether the bytes next to a run (walking away from it) start with a word
/// character, or with `'-'`/`'.'` followed by a word character.
fn touches_word<'a>(mut outward: impl Iterator<Item = &'a u8>) -> bool {
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    match outward.next() {
        Some(&b) if is_word(b) => true,
        Some(b'-' | b'.') => matches!(outward.next(), Some(&b) if is_word(b)),
        _ => false,
    }
}

/// Luhn checksum over the digits of `run` (non-digits are skipped).
fn luhn_valid(run: &[u8]) -> bool {
    let mut sum = 0u32;
    let mut double = false;
    for &b in run.iter().rev().filter(|b| b.is_ascii_digit()) {
        let mut d = u32::from(b - b'0');
        if double {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
        double = !double;
    }
    sum % 10 == 0
}

/// How many bytes of `bytes` are ASCII digits, eight at a time.
///
/// Without a popcount instruction in the baseline x86-64 target, the count
/// of each word is a multiplication: the digit flags are one bit per byte,
/// and multiplying by `0x0101…01` sums the bytes into the top one.
#[inline]
fn count_ascii_digits(bytes: &[u8]) -> usize {
    /// `1` in each byte of `word` that is an ASCII digit, else `0`.
    fn digit_flags(word: u64) -> u64 {
        const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        const ZEROS: u64 = 0x3030_3030_3030_3030;
        // Per byte: `x = b ^ b'0'` is below 10 exactly for digits; adding
        // 0x76 to its low seven bits sets the high bit when it is 10 or more
        // (no carry leaves the byte), and `| x` catches bytes with the high
        // bit set.
        const TEN_UP: u64 = 0x7676_7676_7676_7676;
        let x = word ^ ZEROS;
        (!(((x & LOW7) + TEN_UP) | x) & HIGH) >> 7
    }
    /// The sum of the bytes of `flags` (each 0 or 1).
    fn sum(flags: u64) -> usize {
        (flags.wrapping_mul(0x0101_0101_0101_0101) >> 56) as usize
    }
    fn word(chunk: &[u8]) -> u64 {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        u64::from_le_bytes(word)
    }
    if bytes.len() < 8 {
        return bytes.iter().filter(|b| b.is_ascii_digit()).count();
    }
    let mut chunks = bytes.chunks_exact(8);
    let mut digits: usize = (&mut chunks).map(|c| sum(digit_flags(word(c)))).sum();
    let rest = chunks.remainder().len();
    if rest > 0 {
        // The last eight bytes, of which the last `rest` (the high bytes of
        // the little-endian word) are not counted yet.
        let last = digit_flags(word(&bytes[bytes.len() - 8..]));
        digits += sum(last >> ((8 - rest) * 8));
    }
    digits
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn digit_count_matches_a_plain_count() {
        let alphabet = b"0123456789/:a \x80\xff9";
        let mut seed = 7u32;
        for len in 0..70 {
            for _ in 0..20 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        alphabet[(seed >> 16) as usize % alphabet.len()]
                    })
                    .collect();
                let plain = bytes.iter().filter(|b| b.is_ascii_digit()).count();
                assert_eq!(count_ascii_digits(&bytes), plain, "{bytes:?}");
            }
        }
    }

    fn masked(input: &str) -> (String, bool) {
        let mut s = input.to_owned();
        let changed = Scrubber::default().mask_card_numbers(&mut s);
        (s, changed)
    }

    #[test]
    fn digit_count_matches_a_plain_count_for_every_byte() {
        // Every byte value at every position of an 8-byte word, plus tails.
        for b in 0..=255u8 {
            for len in [1, 7, 8, 9, 16, 21] {
                for pos in 0..len {
                    let mut bytes = vec![b'5'; len];
                    bytes[pos] = b;
                    let plain = bytes.iter().filter(|c| c.is_ascii_digit()).count();
                    assert_eq!(
                        count_ascii_digits(&bytes),
                        plain,
                        "byte {b} at {pos} of {len}"
                    );
                }
            }
        }
        assert_eq!(count_ascii_digits(b"card 4111-1111-1111-1111 end"), 16);
        assert_eq!(count_ascii_digits(b"/09:\xff"), 2);
    }

    #[test]
    fn deny_list_is_normalised_and_reduced() {
        let scrubber = Scrubber::new(["Access_Token", "token", "API-key", "apikey", "", "_-. "]);
        let entries: Vec<&[u8]> = scrubber.deny.iter().map(|e| &e[..]).collect();
        assert_eq!(entries, [&b"token"[..], &b"apikey"[..]]);
    }

    #[test]
    fn empty_deny_list_matches_nothing() {
        let scrubber = Scrubber::new(Vec::<String>::new());
        assert!(!scrubber.is_sensitive_key("password"));
        assert!(!scrubber.is_sensitive_key(""));
    }

    #[test]
    fn sensitive_key_spellings() {
        let scrubber = Scrubber::default();
        for key in [
            "password",
            "PASSWORD",
            "user_password",
            "userPassword",
            "pass.word",
            "pass word",
            "passwd",
            "MYSQL_PWD",
            "client_secret",
            "api_key",
            "ApiKey",
            "x-api-key",
            "X-API-KEY",
            "token",
            "access_token",
            "refresh-token",
            "X-Auth-Token",
            "Authorization",
            "auth",
            "credentials",
            "credit_card",
            "creditCard",
            "card-number",
            "ssn",
            "sessionid",
            "session_id",
            "session-id",
            "Session ID",
            "session.id",
            "PHPSESSID",
            "connect.sid",
            "csrf_token",
            "_xsrf",
            "Cookie",
            "Set-Cookie",
            "private_key",
            "privateKey",
        ] {
            assert!(scrubber.is_sensitive_key(key), "{key} should be sensitive");
        }
    }

    #[test]
    fn non_sensitive_keys() {
        let scrubber = Scrubber::default();
        for key in [
            "", "user", "username", "email", "id", "session", "pass", "key", "card", "Accept",
            "Host", "tok", "sess_ion",
        ] {
            assert!(
                !scrubber.is_sensitive_key(key),
                "{key} should not be sensitive"
            );
        }
    }

    #[test]
    fn documented_false_positives() {
        let scrubber = Scrubber::default();
        assert!(scrubber.is_sensitive_key("author"));
        assert!(scrubber.is_sensitive_key("authority"));
        assert!(scrubber.is_sensitive_key("tokenizer"));
        assert!(scrubber.is_sensitive_key("class_name"));
        assert!(scrubber.is_sensitive_key("tok_en_count"));
    }

    #[test]
    fn non_ascii_keys_are_compared_bytewise() {
        let scrubber = Scrubber::new(["pässwort"]);
        assert!(scrubber.is_sensitive_key("Mein_Pässwort"));
        assert!(!scrubber.is_sensitive_key("MEIN_PÄSSWORT"));
    }

    #[test]
    fn scrub_value_replaces_every_type() {
        let mut v = json!({
            "password": "x",
            "secret": 42,
            "token": 1.5,
            "auth": true,
            "api_key": null,
            "credentials": { "user": "a", "pass": "b" },
            "ssn": [1, 2, 3],
            "session_id": "[Filtered]",
            "plain": "value",
        });
        Scrubber::default().scrub_value(&mut v);
        assert_eq!(
            v,
            json!({
                "password": "[Filtered]",
                "secret": "[Filtered]",
                "token": "[Filtered]",
                "auth": "[Filtered]",
                "api_key": "[Filtered]",
                "credentials": "[Filtered]",
                "ssn": "[Filtered]",
                "session_id": "[Filtered]",
                "plain": "value",
            })
        );
    }

    #[test]
    fn scrub_value_top_level_scalars() {
        let scrubber = Scrubber::default();
        let mut v = json!("4111111111111111");
        scrubber.scrub_value(&mut v);
        assert_eq!(v, json!("[Filtered]"));
        let mut v = json!(4111111111111111u64);
        scrubber.scrub_value(&mut v);
        assert_eq!(v, json!(4111111111111111u64));
    }

    #[test]
    fn scrub_value_deep_nesting() {
        let mut v = json!({
            "l1": [{ "l2": { "l3": [[{ "l4": { "l5": { "l6": {
                "password": { "even": ["deeper"] },
                "card": "cc 5555 5555 5555 4444 exp",
                "keep": 1
            } } } }]] } }]
        });
        Scrubber::default().scrub_value(&mut v);
        assert_eq!(
            v,
            json!({
                "l1": [{ "l2": { "l3": [[{ "l4": { "l5": { "l6": {
                    "password": "[Filtered]",
                    "card": "cc [Filtered] exp",
                    "keep": 1
                } } } }]] } }]
            })
        );
    }

    #[test]
    fn scrub_value_beyond_max_depth_is_filtered() {
        let mut v = json!({ "keep": "x" });
        for _ in 0..MAX_DEPTH {
            v = json!([v]);
        }
        let mut expected = json!(FILTERED);
        for _ in 0..MAX_DEPTH {
            expected = json!([expected]);
        }
        Scrubber::default().scrub_value(&mut v);
        assert_eq!(v, expected);

        let mut v = json!({ "keep": "x" });
        for _ in 0..MAX_DEPTH - 1 {
            v = json!([v]);
        }
        let expected = v.clone();
        Scrubber::default().scrub_value(&mut v);
        assert_eq!(v, expected);
    }

    #[test]
    fn scrub_map_custom_list() {
        let scrubber = Scrubber::new(["pin", "dob"]);
        let mut map = Map::new();
        map.insert("User-PIN".into(), json!(1234));
        map.insert("D.O.B".into(), json!("1990-01-01"));
        map.insert("password".into(), json!("kept"));
        scrubber.scrub_map(&mut map);
        assert_eq!(
            Value::Object(map),
            json!({ "User-PIN": "[Filtered]", "D.O.B": "[Filtered]", "password": "kept" })
        );
    }

    #[test]
    fn string_map_and_pairs() {
        let scrubber = Scrubber::default();
        let mut map = BTreeMap::new();
        map.insert("Authorization".to_string(), "Bearer x".to_string());
        map.insert("X-Note".to_string(), "4111 1111 1111 1111".to_string());
        map.insert("Host".to_string(), "h".to_string());
        scrubber.scrub_string_map(&mut map);
        let got: Vec<(&str, &str)> = map.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        assert_eq!(
            got,
            [
                ("Authorization", "[Filtered]"),
                ("Host", "h"),
                ("X-Note", "[Filtered]")
            ]
        );

        let mut pairs = vec![
            ("sessionid".to_string(), "abc".to_string()),
            ("q".to_string(), "pay 378282246310005 now".to_string()),
        ];
        scrubber.scrub_pairs(&mut pairs);
        assert_eq!(
            pairs,
            [
                ("sessionid".to_string(), "[Filtered]".to_string()),
                ("q".to_string(), "pay [Filtered] now".to_string()),
            ]
        );
    }

    #[test]
    fn card_numbers_valid() {
        for (input, expected) in [
            ("4111111111111111", "[Filtered]"),
            ("4111 1111 1111 1111", "[Filtered]"),
            ("4111-1111-1111-1111", "[Filtered]"),
            ("4111 1111-1111 1111", "[Filtered]"),
            ("3782 822463 10005", "[Filtered]"),
            ("4222222222222", "[Filtered]"),
            ("6011000990139424", "[Filtered]"),
            ("2223003122003222", "[Filtered]"),
            ("4111111111111111110", "[Filtered]"),
            ("a 4111111111111111 b", "a [Filtered] b"),
            ("(4111111111111111)", "([Filtered])"),
            ("cc=4111111111111111&x", "cc=[Filtered]&x"),
            ("end 4111111111111111.", "end [Filtered]."),
            ("-4111111111111111", "-[Filtered]"),
            ("é4111111111111111é", "é[Filtered]é"),
            (
                "4111111111111111 and 5555555555554444",
                "[Filtered] and [Filtered]",
            ),
        ] {
            assert_eq!(masked(input), (expected.to_owned(), true), "{input}");
        }
    }

    #[test]
    fn card_numbers_next_to_other_numbers() {
        // Groups joined by single separators form one run that is not a card
        // number as a whole; the card number among its groups still is.
        for (input, expected) in [
            ("card 4111111111111111 123", "card [Filtered] 123"),
            ("card 4111 1111 1111 1111 12/29", "card [Filtered] 12/29"),
            ("qty 2 4111111111111111", "qty 2 [Filtered]"),
            ("1 4111111111111111", "1 [Filtered]"),
            ("4111111111111111 5555555555554444", "[Filtered] [Filtered]"),
            ("123 4111 1111 1111 1111", "123 [Filtered]"),
            ("4111 1111 1111 1111 123", "[Filtered] 123"),
            ("3782 822463 10005 2029", "[Filtered] 2029"),
            ("378282246310005 2024 ok", "[Filtered] 2024 ok"),
            ("4111111111111111 1111", "[Filtered] 1111"),
            ("7 4111-1111-1111-1111 99", "7 [Filtered] 99"),
        ] {
            assert_eq!(masked(input), (expected.to_owned(), true), "{input}");
        }
    }

    #[test]
    fn card_masking_of_digit_soup_is_stable() {
        // Random runs of digits and separators: no panic, and masking a
        // masked string changes nothing.
        let alphabet = b"41111111111111115555 -- .a";
        let mut seed = 11u32;
        for len in 0..80 {
            for _ in 0..50 {
                let input: String = (0..len)
                    .map(|_| {
                        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        char::from(alphabet[(seed >> 16) as usize % alphabet.len()])
                    })
                    .collect();
                let (once, _) = masked(&input);
                assert_eq!(masked(&once), (once.clone(), false), "{input:?}");
            }
        }
    }

    #[test]
    fn card_numbers_left_alone() {
        for input in [
            "",
            "no digits",
            "4111111111111112",                        // Luhn fails
            "41111111111111111111",                    // 20 digits
            "1234567812345670",                        // valid Luhn, starts with 1
            "1700000000000",                           // ms timestamp
            "411111111111",                            // 12 digits
            "card4111111111111111",                    // adjacent to letters
            "4111111111111111x",                       // adjacent to letters
            "id_4111111111111111",                     // identifier
            "0.4111111111111111",                      // decimal
            "4111111111111111.5",                      // decimal
            "ab-4111111111111111",                     // inside a dashed token
            "4111  1111  1111  1111",                  // double separators
            "41 11 11 11 11 11 11 11",                 // short groups
            "4111--1111--1111--1111",                  // double dashes
            "41111111-1111-1111-a111-111111111111",    // UUID-like
            "550e8400-e29b-41d4-a716-446655440000",    // UUID
            "d41d8cd98f00b204e9800998ecf8427e",        // hex digest
            "4111111111111111-123",                    // dashed onto more digits
            "123-4111111111111111",                    // dashed onto more digits
            "1700000000000 1700000000001",             // ms timestamps
            "12 34 56 78 90 12 34 56 78 90",           // short groups
            "4111111111111112 5555555555554444x",      // Luhn fails / letter
            "1111 4111 1111 1111 1111",                // one grouped number
            "4111 1111 1111 1111 5555 5555 5555 4444", // one grouped number
        ] {
            assert_eq!(masked(input), (input.to_owned(), false), "{input}");
        }
    }

    #[test]
    fn luhn() {
        assert!(luhn_valid(b"4111111111111111"));
        assert!(luhn_valid(b"4111-1111 1111-1111"));
        assert!(!luhn_valid(b"4111111111111112"));
        assert!(luhn_valid(b"79927398713"));
        assert!(!luhn_valid(b"79927398710"));
    }

    #[test]
    fn percent_decoded_keys() {
        let decoded: Vec<u8> = PercentDecoded::new("a%5Fb+c%zz%4").collect();
        assert_eq!(decoded, b"a_b c%zz%4");
    }

    #[test]
    fn query_strings() {
        let scrubber = Scrubber::default();
        for (input, expected) in [
            ("", ""),
            ("a=1&b=2", "a=1&b=2"),
            ("a=1&password=x", "a=1&password=[Filtered]"),
            ("password=x&a=1", "password=[Filtered]&a=1"),
            ("api%5Fkey=abc&q=rust", "api%5Fkey=[Filtered]&q=rust"),
            ("user%5Bpassword%5D=x", "user%5Bpassword%5D=[Filtered]"),
            (
                "session+id=1&token=",
                "session+id=[Filtered]&token=[Filtered]",
            ),
            ("password&a=1", "password&a=1"),
            ("token=a=b&&x=1", "token=[Filtered]&&x=1"),
            ("cc=4111111111111111&a=1", "cc=[Filtered]&a=1"),
            ("password=[Filtered]", "password=[Filtered]"),
        ] {
            let mut qs = input.to_owned();
            scrubber.scrub_query_string(&mut qs);
            assert_eq!(qs, expected, "{input}");
        }
    }

    #[test]
    fn urls() {
        let scrubber = Scrubber::default();
        for (input, expected) in [
            ("", ""),
            ("https://example.com/a/b", "https://example.com/a/b"),
            (
                "https://example.com/reset?token=abc123&password=hunter2",
                "https://example.com/reset?token=[Filtered]&password=[Filtered]",
            ),
            ("https://x/?page=2&q=rust", "https://x/?page=2&q=rust"),
            (
                "https://bob:hunter2@example.com:8443/p?q=1",
                "https://example.com:8443/p?q=1",
            ),
            ("postgres://u:p@db/name", "postgres://db/name"),
            ("ftp://anon@host", "ftp://host"),
            ("//u:p@cdn.example/x", "//cdn.example/x"),
            ("https://a:b@c@host/", "https://host/"),
            // '@' outside the authority is not userinfo.
            (
                "https://host/users/@me?x=a@b",
                "https://host/users/@me?x=a@b",
            ),
            ("mailto:someone@example.com", "mailto:someone@example.com"),
            (
                "/relative?next=https://u:p@h/",
                "/relative?next=https://u:p@h/",
            ),
            (
                "/login?api_key=k#access_token=t&state=s",
                "/login?api_key=[Filtered]#access_token=[Filtered]&state=s",
            ),
            (
                "https://x/#frag?secret=s",
                "https://x/#frag?secret=[Filtered]",
            ),
            (
                "https://x/pay?cc=4111111111111111",
                "https://x/pay?cc=[Filtered]",
            ),
            ("https://x/?token=[Filtered]", "https://x/?token=[Filtered]"),
            (
                "https://é:ü@höst/ä?ö=1&secret=ß",
                "https://höst/ä?ö=1&secret=[Filtered]",
            ),
        ] {
            let mut url = input.to_owned();
            scrubber.scrub_url(&mut url);
            assert_eq!(url, expected, "{input}");
        }
    }

    #[test]
    fn cookie_strings() {
        let scrubber = Scrubber::default();
        for (input, expected) in [
            ("", ""),
            ("theme=dark; lang=en", "theme=dark; lang=en"),
            (
                "sessionid=abc; csrftoken=xyz; theme=dark",
                "sessionid=[Filtered]; csrftoken=[Filtered]; theme=dark",
            ),
            (
                "theme=dark;session_id=abc",
                "theme=dark;session_id=[Filtered]",
            ),
            (" PHPSESSID = abc ;x=1", " PHPSESSID =[Filtered];x=1"),
            ("auth_token=a=b; flag", "auth_token=[Filtered]; flag"),
            ("secret; token", "secret; token"),
            ("sessionid=[Filtered]", "sessionid=[Filtered]"),
            ("note=4111111111111111", "note=[Filtered]"),
        ] {
            let mut cookies = input.to_owned();
            scrubber.scrub_cookie_string(&mut cookies);
            assert_eq!(cookies, expected, "{input}");
        }
    }

    #[test]
    fn headers_without_pii() {
        let mut headers = BTreeMap::new();
        for name in [
            "Authorization",
            "COOKIE",
            "set-cookie",
            "Proxy-Authorization",
            "X-Forwarded-For",
            "x-real-ip",
            "Accept",
            "X-Cookie-Note",
        ] {
            headers.insert(name.to_string(), "v".to_string());
        }
        scrub_headers_without_pii(&mut headers);
        assert_eq!(
            headers.keys().collect::<Vec<_>>(),
            ["Accept", "X-Cookie-Note"]
        );
    }
}
