//! Integration tests for `sentry_core::scrub`: realistic nested event data,
//! and a check that scrubbing clean data does not allocate.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;

use sentry_core::scrub::{scrub_headers_without_pii, Scrubber, FILTERED};
use serde_json::{json, Map, Value};

/// Counts allocations made by the current thread (tests run in parallel, so
/// a global counter would see other tests' allocations).
struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with` so that allocations during thread teardown do not panic.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn nested_event_data_at_depth_seven() {
    let mut extra = json!({
        "request": {
            "headers": { "X-Auth-Token": "t0k", "Accept": "*/*" },
            "data": {
                "users": [
                    {
                        "name": "jane",
                        "profile": {
                            "billing": {
                                "cards": [
                                    {
                                        "holder": "Jane Doe",
                                        "Card-Number": "4111 1111 1111 1111",
                                        "memo": "backup card 5555-5555-5555-4444 expires",
                                        "details": {
                                            "Private.Key": { "pem": "-----BEGIN" },
                                            "pin_hint": "not a card: 4111111111111112",
                                            "numbers": [1, 2.5, true, null],
                                            "API_KEY": ["a", "b"]
                                        }
                                    }
                                ]
                            }
                        }
                    }
                ]
            }
        },
        "frame_vars": {
            "self": "<Handler>",
            "db_passwd": 1234,
            "SESSION-ID": null,
            "Credentials": false,
            "client_secret": 1.25,
            "uuid": "550e8400-e29b-41d4-a716-446655440000",
            "big": "12345678901234567890"
        }
    });
    Scrubber::default().scrub_value(&mut extra);
    assert_eq!(
        extra,
        json!({
            "request": {
                "headers": { "X-Auth-Token": "[Filtered]", "Accept": "*/*" },
                "data": {
                    "users": [
                        {
                            "name": "jane",
                            "profile": {
                                "billing": {
                                    "cards": [
                                        {
                                            "holder": "Jane Doe",
                                            "Card-Number": "[Filtered]",
                                            "memo": "backup card [Filtered] expires",
                                            "details": {
                                                "Private.Key": "[Filtered]",
                                                "pin_hint": "not a card: 4111111111111112",
                                                "numbers": [1, 2.5, true, null],
                                                "API_KEY": "[Filtered]"
                                            }
                                        }
                                    ]
                                }
                            }
                        }
                    ]
                }
            },
            "frame_vars": {
                "self": "<Handler>",
                "db_passwd": "[Filtered]",
                "SESSION-ID": "[Filtered]",
                "Credentials": "[Filtered]",
                "client_secret": "[Filtered]",
                "uuid": "550e8400-e29b-41d4-a716-446655440000",
                "big": "12345678901234567890"
            }
        })
    );
}

#[test]
fn arrays_of_arrays_at_depth_eight() {
    let mut v = json!([[[[[[[["4111-1111-1111-1111", { "token": [[["x"]]] }, "plain"]]]]]]]]);
    Scrubber::default().scrub_value(&mut v);
    assert_eq!(
        v,
        json!([[[[[[[["[Filtered]", { "token": "[Filtered]" }, "plain"]]]]]]]])
    );
}

#[test]
fn scrubbing_is_idempotent() {
    let scrubber = Scrubber::default();
    let mut v = json!({ "a": { "password": "x", "b": ["4111111111111111 ok"] } });
    scrubber.scrub_value(&mut v);
    let once = v.clone();
    scrubber.scrub_value(&mut v);
    assert_eq!(v, once);
    assert_eq!(
        v,
        json!({ "a": { "password": "[Filtered]", "b": ["[Filtered] ok"] } })
    );
}

#[test]
fn custom_deny_list_replaces_default() {
    let scrubber = Scrubber::new(["Pin", "date-of-birth"]);
    let mut map = Map::new();
    map.insert(
        "user".into(),
        json!({ "PIN": 1234, "DateOfBirth": "1990-01-01" }),
    );
    map.insert("password".into(), json!("kept: not in the custom list"));
    map.insert("note".into(), json!("card 4111111111111111"));
    scrubber.scrub_map(&mut map);
    assert_eq!(
        Value::Object(map),
        json!({
            "user": { "PIN": "[Filtered]", "DateOfBirth": "[Filtered]" },
            "password": "kept: not in the custom list",
            "note": "card [Filtered]",
        })
    );
}

#[test]
fn request_headers_and_tags() {
    let scrubber = Scrubber::default();
    let mut headers: BTreeMap<String, String> = [
        ("Authorization", "Basic dXNlcjpwYXNz"),
        ("X-Api-Key", "k"),
        ("x-csrf-token", "c"),
        ("Cookie", "sid=1"),
        ("User-Agent", "curl/8"),
        ("X-Card", "4111 1111 1111 1111"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    scrubber.scrub_string_map(&mut headers);
    let got: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (&k[..], &v[..])).collect();
    assert_eq!(
        got,
        [
            ("Authorization", FILTERED),
            ("Cookie", FILTERED),
            ("User-Agent", "curl/8"),
            ("X-Api-Key", FILTERED),
            ("X-Card", FILTERED),
            ("x-csrf-token", FILTERED),
        ]
    );
}

#[test]
fn headers_removed_without_pii() {
    let mut headers: BTreeMap<String, String> = [
        "authorization",
        "Cookie",
        "SET-COOKIE",
        "proxy-authorization",
        "x-forwarded-for",
        "X-Real-Ip",
        "Content-Type",
        "X-Request-Id",
    ]
    .into_iter()
    .map(|k| (k.to_string(), "v".to_string()))
    .collect();
    scrub_headers_without_pii(&mut headers);
    assert_eq!(
        headers.keys().collect::<Vec<_>>(),
        ["Content-Type", "X-Request-Id"]
    );
}

#[test]
fn query_strings() {
    let scrubber = Scrubber::default();
    let mut qs = String::from("q=rust&access_token=abc&page=2&X-Api-Key=k&card=4111111111111111");
    scrubber.scrub_query_string(&mut qs);
    assert_eq!(
        qs,
        "q=rust&access_token=[Filtered]&page=2&X-Api-Key=[Filtered]&card=[Filtered]"
    );
}

#[test]
fn card_numbers_in_text() {
    let scrubber = Scrubber::default();
    let cases = [
        ("pay 4111111111111111 now", "pay [Filtered] now", true),
        ("pay 4111 1111 1111 1111 now", "pay [Filtered] now", true),
        ("pay 4111-1111-1111-1111 now", "pay [Filtered] now", true),
        ("amex:378282246310005;", "amex:[Filtered];", true),
        (
            "bad 4111111111111112 luhn",
            "bad 4111111111111112 luhn",
            false,
        ),
        ("x4111111111111111", "x4111111111111111", false),
        ("4111111111111111x", "4111111111111111x", false),
        (
            "run 41111111111111111111",
            "run 41111111111111111111",
            false,
        ),
        (
            "run 4111 1111 1111 1111 1111",
            "run 4111 1111 1111 1111 1111",
            false,
        ),
        ("ts 1700000000000", "ts 1700000000000", false),
    ];
    for (input, expected, changed) in cases {
        let mut s = input.to_string();
        assert_eq!(scrubber.mask_card_numbers(&mut s), changed, "{input}");
        assert_eq!(s, expected, "{input}");
    }
}

#[test]
fn clean_data_is_not_allocated_for() {
    let scrubber = Scrubber::default();
    let mut value = json!({
        "user": { "id": 42, "name": "jane", "tags": ["a", "b", { "deep": [1, 2, "x"] }] },
        "message": "order 1234 shipped at 1700000000000",
        "uuid": "550e8400-e29b-41d4-a716-446655440000",
        "already": { "password": "[Filtered]" },
    });
    let mut headers: BTreeMap<String, String> = [("Accept", "*/*"), ("Host", "example.com")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut pairs = vec![("q".to_string(), "rust".to_string())];
    let mut qs = String::from("q=rust&page=2&password=[Filtered]");
    let mut text = String::from("nothing 4111111111111112 to see");

    let allocations = allocations_during(|| {
        scrubber.scrub_value(&mut value);
        scrubber.scrub_string_map(&mut headers);
        scrubber.scrub_pairs(&mut pairs);
        scrubber.scrub_query_string(&mut qs);
        assert!(!scrubber.mask_card_numbers(&mut text));
        assert!(scrubber.is_sensitive_key("X-Auth-Token"));
        scrub_headers_without_pii(&mut headers);
    });
    assert_eq!(allocations, 0);
    // The counter itself works, and scrubbing sensitive data does allocate.
    let mut secret = json!({ "token": "abc" });
    assert!(allocations_during(|| scrubber.scrub_value(&mut secret)) > 0);
    assert_eq!(qs, "q=rust&page=2&password=[Filtered]");
}
