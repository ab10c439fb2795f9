//! Records the version and channel of the compiler building this crate (and
//! so the application) for the `rust` context.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let verbose = Command::new(rustc)
        .arg("-vV")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default();
    let field = |name: &str| {
        verbose
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
    };
    let description = verbose.lines().next().unwrap_or("").trim().to_owned();
    let version = field("release:").unwrap_or_default();
    let channel = if version.is_empty() {
        ""
    } else if version.contains("nightly") {
        "nightly"
    } else if version.contains("beta") {
        "beta"
    } else if version.contains("dev") {
        "dev"
    } else {
        "stable"
    };
    let host = field("host:").unwrap_or_default();
    println!("cargo:rustc-env=SENTRY_INTEGRATIONS_RUSTC_VERSION={version}");
    println!("cargo:rustc-env=SENTRY_INTEGRATIONS_RUSTC_CHANNEL={channel}");
    println!("cargo:rustc-env=SENTRY_INTEGRATIONS_RUSTC_DESCRIPTION={description}");
    println!("cargo:rustc-env=SENTRY_INTEGRATIONS_RUSTC_HOST={host}");
}
