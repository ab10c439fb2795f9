//! Information about the SDK that sent an event.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::lenient::Map;

/// A package the SDK is made of, like `cargo:sentry-core`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ClientSdkPackage {
    /// `source:identifier`, e.g. `cargo:sentry-core`.
    pub name: Cow<'static, str>,
    /// The package version.
    pub version: Cow<'static, str>,
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
    pub name: Cow<'static, str>,
    /// The SDK version.
    #[serde(default)]
    pub version: Cow<'static, str>,
    /// Enabled integrations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub integrations: Vec<Cow<'static, str>>,
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

    /// This SDK's own info. (Packages are left out: every event carries
    /// this, and cloning it must not allocate.)
    pub fn this_sdk() -> Self {
        ClientSdkInfo {
            name: Cow::Borrowed(Self::NAME),
            version: Cow::Borrowed(env!("CARGO_PKG_VERSION")),
            integrations: Vec::new(),
            packages: Vec::new(),
            other: Map::new(),
        }
    }

    /// `name/version`, as used in `sentry_client` and User-Agent.
    pub fn client_name(&self) -> String {
        format!("{}/{}", self.name, self.version)
    }
}
