//! The one HTTP client builder for MMSC traffic, so fetching and posting agree on
//! redirects, timeouts, the interface and proxies.

use std::net::SocketAddr;
use std::time::Duration;

/// What we tell MMSCs we are; some refuse requests without a User-Agent.
pub const USER_AGENT: &str = concat!("sms-bridge/", env!("CARGO_PKG_VERSION"));

/// How requests reach the MMSC.
#[derive(Debug, Clone, Copy)]
pub enum Route<'a> {
    /// Through the operator's WAP proxy, which resolves names itself.
    Proxy(&'a str),
    /// Straight to this address for `host`: the one the fetch policy checked, so a second
    /// DNS answer cannot send the request elsewhere.
    Pinned { host: &'a str, addr: SocketAddr },
    /// Straight, resolving as usual (the configured MMSC URL, which is trusted).
    Direct,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("proxy {proxy}: {why}")]
    Proxy { proxy: String, why: String },
    #[error("{0}")]
    Build(String),
}

/// A client that follows no redirects and uses only the configured proxy, never one from
/// the environment.
pub fn build(timeout: Duration, interface: Option<&str>, route: Route) -> Result<reqwest::Client, ClientError> {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(USER_AGENT)
        .timeout(timeout)
        .connect_timeout(timeout);
    if let Some(i) = interface {
        b = b.interface(i);
    }
    b = match route {
        Route::Proxy(p) => b.proxy(
            reqwest::Proxy::all(p).map_err(|e| ClientError::Proxy { proxy: p.to_string(), why: e.to_string() })?,
        ),
        Route::Pinned { host, addr } => b.no_proxy().resolve(host, addr),
        Route::Direct => b.no_proxy(),
    };
    b.build().map_err(|e| ClientError::Build(e.to_string()))
}
