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
