//! Where the recorded SDK envelopes live, for the tests that replay them
//! (`#[path = "support/fixtures.rs"] mod fixtures_support;`).

// Each test binary uses the part it needs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `shared/fixtures/python`: the `shared/` checkout sits beside this
/// repository's checkout.
pub fn python_fixtures_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/python");
    assert!(
        dir.join("index.json").is_file(),
        "Python SDK fixtures are missing: expected {} (the shared/ checkout beside this one)",
        dir.display()
    );
    dir
}

/// The `*.jsonl` envelope bodies' file names, sorted.
pub fn envelope_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read the fixture directory")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".jsonl"))
        .collect();
    names.sort();
    names
}

/// The project id and public key the recorded scenario's DSN names.
pub const PROJECT: i64 = 42;
/// See [`PROJECT`].
pub const PUBLIC_KEY: &str = "0123456789abcdef0123456789abcdef";

/// One recorded request: where it went, its headers (without `Host`,
/// `Content-Length` and `Content-Encoding`) and its decoded body.
pub struct Fixture {
    pub name: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Every recorded request of the Python scenario, in order.
pub fn load_python_fixtures() -> Vec<Fixture> {
    let dir = python_fixtures_dir();
    envelope_names(&dir)
        .into_iter()
        .map(|name| {
            let stem = name.trim_end_matches(".jsonl");
            let meta: serde_json::Value = serde_json::from_slice(
                &std::fs::read(dir.join(format!("{stem}.headers.json"))).expect("headers"),
            )
            .expect("headers json");
            let headers = meta["headers"]
                .as_object()
                .expect("headers object")
                .iter()
                .filter(|(k, _)| {
                    !matches!(
                        k.to_ascii_lowercase().as_str(),
                        "host" | "content-length" | "content-encoding"
                    )
                })
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                .collect();
            let query = meta["query"].as_str().unwrap_or("");
            let path = format!(
                "{}{}",
                meta["path"].as_str().expect("path"),
                if query.is_empty() {
                    String::new()
                } else {
                    format!("?{query}")
                }
            );
            Fixture {
                body: std::fs::read(dir.join(&name)).expect("body"),
                name,
                path,
                headers,
            }
        })
        .collect()
}
