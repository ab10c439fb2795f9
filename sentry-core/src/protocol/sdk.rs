//! Information about the SDK that sent an event.

use serde::{Deserialize, Serialize};

use super::lenient::Map;

/// A package the SDK is made of, like `cargo:sentry-core`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ClientSdkPackage {
    /// `source:identifier`, e.g. `cargo:sentry-core`.
    pub name: String,
    /// The package version.
    pub version: String,
}

/// The `sdk` interface: name, version, integrations and packages.
///
/// ```
/// use sentry_core::protocol::ClientSdkInfo;
/// let sdk = ClientSdkInfo::this_sdk();
/// assert_eq!(sdk.name, "sentry.rust.lite");
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ClientSdkInfo {
    /// e.g. `sentry.python`.
    #[serde(default)]
    pub name: String,
    /// The SDK version.
    #[serde(default)]
    pub version: String,
    /// Enabled integrations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub integrations: Vec<String>,
    /// Packages that make up the SDK.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<ClientSdkPackage>,
    /// Everything else the SDK sent.
    #[serde(flatten)]
    pub other: Map,
}

impl ClientSdkInfo {
    /// The name this SDK reports itself as.
    pub const NAME: &'static str = "sentry.rust.lite";

    /// This SDK's own info.
    pub fn this_sdk() -> Self {
        ClientSdkInfo {
            name: Self::NAME.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            integrations: Vec::new(),
            packages: vec![ClientSdkPackage {
                name: "cargo:sentry-core".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
            }],
            other: Map::new(),
        }
    }

    /// `name/version`, as used in `sentry_client` and User-Agent.
    pub fn client_name(&self) -> String {
        format!("{}/{}", self.name, self.version)
    }
}
