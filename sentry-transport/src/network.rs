//! How the transport reaches its receiver: through which proxy, trusting
//! which certificates.

use crate::TransportError;

/// Where requests go before the receiver.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Proxy {
    /// As the `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY`
    /// environment variables say (no proxy when none is set).
    #[default]
    Environment,
    /// Straight to the receiver, whatever the environment says.
    Direct,
    /// Through this proxy (an `http://` or `https://` URL, possibly with
    /// credentials).
    Url(String),
}

impl Proxy {
    /// The setting for a proxy option as `ClientOptions` spells it: unset
    /// leaves it to the environment, an empty string means none.
    pub(crate) fn from_option(option: Option<&str>) -> Proxy {
        match option.map(str::trim) {
            None => Proxy::Environment,
            Some("") => Proxy::Direct,
            Some(url) => Proxy::Url(url.to_owned()),
        }
    }
}

/// The connection settings of a builder.
#[derive(Clone, Default)]
pub(crate) struct Network {
    pub(crate) proxy: Proxy,
    pub(crate) accept_invalid_certs: bool,
    /// PEM bundles whose certificates are trusted besides the built-in
    /// roots, as given (checked when the client is built).
    pub(crate) root_certificates: Vec<Vec<u8>>,
    /// PEM files of such certificates, read when the client is built.
    pub(crate) root_certificate_files: Vec<std::path::PathBuf>,
    /// A PEM file named by the environment (`SSL_CERT_FILE`, else
    /// `REQUESTS_CA_BUNDLE`, as the Python SDK reads them) and the
    /// variable: trusted too, but one that cannot be read is reported on
    /// stderr and left out rather than disabling the transport (the
    /// variable may be meant for another program).
    pub(crate) environment_certificates: Option<(&'static str, std::path::PathBuf)>,
}

impl Network {
    /// The CA file the environment names, if any.
    pub(crate) fn certificates_from_environment() -> Option<(&'static str, std::path::PathBuf)> {
        ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"]
            .into_iter()
            .find_map(|name| {
                let value = std::env::var_os(name)?;
                (!value.is_empty()).then(|| (name, std::path::PathBuf::from(value)))
            })
    }
}

impl Network {
    /// `client` configured with these settings.
    pub(crate) fn apply(
        &self,
        mut client: reqwest::ClientBuilder,
    ) -> Result<reqwest::ClientBuilder, TransportError> {
        match &self.proxy {
            Proxy::Environment => {}
            Proxy::Direct => client = client.no_proxy(),
            Proxy::Url(url) => client = client.proxy(proxy(url)?),
        }
        let mut files = Vec::new();
        for path in &self.root_certificate_files {
            files.push(
                std::fs::read(path).map_err(|e| TransportError::InvalidCertificate {
                    reason: format!("cannot read {}: {e}", path.display()),
                })?,
            );
        }
        if let Some((variable, path)) = &self.environment_certificates {
            let found = std::fs::read(path)
                .map_err(|e| e.to_string())
                .and_then(|pem| {
                    let certificates =
                        reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| e.to_string())?;
                    if certificates.is_empty() {
                        return Err("no PEM certificate in it".to_owned());
                    }
                    Ok(certificates)
                });
            match found {
                Ok(certificates) => {
                    for certificate in certificates {
                        client = client.add_root_certificate(certificate);
                    }
                }
                Err(e) => eprintln!(
                    "[sentry-transport] warning: {variable}={} is not used: {e}",
                    path.display()
                ),
            }
        }
        for pem in self.root_certificates.iter().chain(&files) {
            let invalid = |reason: String| TransportError::InvalidCertificate { reason };
            let certificates =
                reqwest::Certificate::from_pem_bundle(pem).map_err(|e| invalid(e.to_string()))?;
            if certificates.is_empty() {
                return Err(invalid(
                    "no PEM certificate (-----BEGIN CERTIFICATE-----) found".to_owned(),
                ));
            }
            for certificate in certificates {
                client = client.add_root_certificate(certificate);
            }
        }
        Ok(client.danger_accept_invalid_certs(self.accept_invalid_certs))
    }
}

/// A proxy for every request from `url`. A URL without a scheme is taken
/// as `http://` (as curl and the `*_PROXY` variables do). Errors never
/// repeat the URL: it may hold a password.
fn proxy(url: &str) -> Result<reqwest::Proxy, TransportError> {
    let invalid = |reason: String| TransportError::InvalidProxy { reason };
    let absolute = if url.contains("://") {
        url.to_owned()
    } else {
        format!("http://{url}")
    };
    let parsed = reqwest::Url::parse(&absolute).map_err(|e| invalid(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "the scheme is {:?}; only http:// and https:// proxies are supported",
            parsed.scheme()
        )));
    }
    if parsed.host_str().map_or(true, str::is_empty) {
        return Err(invalid("no host".to_owned()));
    }
    reqwest::Proxy::all(parsed).map_err(|e| invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_options_map_to_settings() {
        assert_eq!(Proxy::from_option(None), Proxy::Environment);
        assert_eq!(Proxy::from_option(Some(" ")), Proxy::Direct);
        assert_eq!(
            Proxy::from_option(Some("proxy:3128")),
            Proxy::Url("proxy:3128".into())
        );
    }

    #[test]
    fn bad_proxy_urls_are_refused_without_repeating_them() {
        for url in [
            "socks5://me:secret@proxy:1080",
            "ftp://proxy",
            "http://me:secret@proxy:99999",
            "http://",
        ] {
            let err = proxy(url).map(|_| ()).unwrap_err().to_string();
            assert!(err.starts_with("invalid proxy URL: "), "{url}: {err}");
            assert!(!err.contains("secret"), "{url}: {err}");
        }
        assert!(proxy("proxy.internal:3128").is_ok());
        assert!(proxy("https://me:secret@proxy.internal").is_ok());
    }

    #[test]
    fn a_root_certificate_must_be_pem() {
        for pem in [&b"not a certificate"[..], b""] {
            let network = Network {
                root_certificates: vec![pem.to_vec()],
                ..Network::default()
            };
            let err = network
                .apply(reqwest::Client::builder())
                .map(|_| ())
                .unwrap_err();
            assert!(
                matches!(err, TransportError::InvalidCertificate { .. }),
                "{err}"
            );
        }
    }
}
