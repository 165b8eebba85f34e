//! GETting an MMS from the MMSC under the fetch policy: no redirects, a size cap checked
//! before and while reading, and a timeout.

use std::net::SocketAddr;

use super::FetchError;
use super::client::{self, Route};
use super::policy::{FetchPolicy, check_url, is_internal};

/// GETs `url` under `policy`. The host is resolved once and the connection pinned to the
/// checked address, so a DNS answer cannot change between the check and the request.
pub async fn fetch(url: &str, policy: &FetchPolicy, proxy: Option<&str>) -> Result<Vec<u8>, FetchError> {
    let parsed = check_url(url, policy)?;
    let net = |why: String| FetchError::Network { url: url.to_string(), why };
    let host = parsed.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_string();
    let port = parsed.port_or_known_default().unwrap_or(80);
    let route = match proxy {
        // Through a proxy the proxy resolves the name; the host allow-list still applies.
        Some(p) => Route::Proxy(p),
        None => {
            let addrs: Vec<SocketAddr> =
                tokio::time::timeout(policy.timeout, tokio::net::lookup_host((host.as_str(), port)))
                    .await
                    .map_err(|_| net("name lookup timed out".into()))?
                    .map_err(|e| net(format!("name lookup: {e}")))?
                    .collect();
            let Some(addr) = addrs.first().copied() else { return Err(net("name has no addresses".into())) };
            if let Some(bad) = addrs.iter().find(|a| !policy.allow_private && is_internal(a.ip())) {
                return Err(FetchError::Refused {
                    url: url.to_string(),
                    why: format!("{host} resolves to the internal address {}", bad.ip()),
                });
            }
            Route::Pinned { host: &host, addr }
        }
    };
    let client = client::build(policy.timeout, policy.interface.as_deref(), route).map_err(|e| net(e.to_string()))?;
    let mut resp = client.get(parsed).send().await.map_err(|e| net(e.to_string()))?;
    let status = resp.status();
    if status.is_redirection() {
        let to = resp.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("?");
        return Err(FetchError::Refused { url: url.to_string(), why: format!("redirect to {to}") });
    }
    if !status.is_success() {
        return Err(FetchError::Status { url: url.to_string(), status: status.as_u16() });
    }
    let too_large = |size: String| FetchError::TooLarge { url: url.to_string(), limit: policy.max_bytes, size };
    if let Some(len) = resp.content_length().filter(|&l| l > policy.max_bytes) {
        return Err(too_large(format!("{len} bytes declared")));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| net(e.to_string()))? {
        if (body.len() + chunk.len()) as u64 > policy.max_bytes {
            return Err(too_large(format!("over {} bytes sent", policy.max_bytes)));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
