//! The fetch policy: a notification's Content-Location comes from the network, so it is
//! treated as hostile. Only http(s), only the configured MMSC hosts and ports, and no
//! loopback/private/link-local addresses unless the operator allowed them.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;

use super::FetchError;

#[derive(Debug, Clone)]
pub struct FetchPolicy {
    /// Hosts a Content-Location may name (the MMSC's, plus any allow-list). Empty: none.
    pub allowed_hosts: Vec<String>,
    /// Ports it may name besides 80 and 443 (the MMSC URL's own).
    pub allowed_ports: Vec<u16>,
    /// Let URLs resolve to loopback, private or link-local addresses (an MMSC on a LAN).
    pub allow_private: bool,
    pub max_bytes: u64,
    pub timeout: Duration,
    /// Send through this network interface (a modem's MMS APN), e.g. `wwan1`.
    pub interface: Option<String>,
}

/// A Content-Location made absolute: routers that keep the notification may hand over
/// only a path or an id, which is completed from the configured MMSC base URL.
pub fn complete_location(location: &str, base: Option<&str>) -> Result<String, FetchError> {
    let refused = |why: &str| FetchError::Refused { url: location.to_string(), why: why.to_string() };
    if let Ok(url) = Url::parse(location) {
        return Ok(url.to_string());
    }
    let base = base.ok_or_else(|| refused("only part of the download address, and neither mms.retrieve_url_base nor mms.mmsc_url is set to complete it"))?;
    let base = Url::parse(base).map_err(|e| refused(&format!("MMSC base URL: {e}")))?;
    let joined = if location.starts_with('/') {
        base.join(location)
    } else {
        let mut b = base.clone();
        if !b.path().ends_with('/') {
            b.set_path(&format!("{}/", b.path()));
        }
        b.join(location)
    };
    joined.map(|u| u.to_string()).map_err(|e| refused(&e.to_string()))
}

/// Checks scheme and host against the policy (addresses are checked after resolving).
pub fn check_url(url: &str, policy: &FetchPolicy) -> Result<Url, FetchError> {
    let refused = |why: String| FetchError::Refused { url: url.to_string(), why };
    let parsed = Url::parse(url).map_err(|e| refused(format!("not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(refused(format!("scheme {} is not http or https", parsed.scheme())));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refused("credentials in the URL".into()));
    }
    if policy.allowed_hosts.is_empty() {
        return Err(refused("no MMSC is configured (mms.mmsc_url)".into()));
    }
    let host = bare_host(parsed.host_str().ok_or_else(|| refused("no host".into()))?);
    if !policy.allowed_hosts.iter().any(|h| bare_host(h) == host) {
        return Err(refused(format!(
            "host {host} is not the configured MMSC (mms.mmsc_url, mms.retrieve_url_base, mms.allowed_hosts)"
        )));
    }
    // Another port on the MMSC's host could be any service it runs.
    let port = parsed.port_or_known_default().unwrap_or(0);
    if !matches!(port, 80 | 443) && !policy.allowed_ports.contains(&port) {
        return Err(refused(format!("port {port} is not the MMSC's")));
    }
    Ok(parsed)
}

/// A host as the allow-list compares it: lower case, without IPv6 brackets.
fn bare_host(h: &str) -> String {
    h.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase()
}

/// Addresses an MMS URL must not reach unless the operator allowed private ones: every
/// special-purpose range, and IPv6 forms that carry an IPv4 address inside.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0 // "this network"
                || a >= 240 // reserved
                || (a == 100 && (b & 0xC0) == 64) // carrier-grade NAT
                || (a == 198 && (b & 0xFE) == 18) // benchmarking
                || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let embedded =
                |hi: u16, lo: u16| std::net::Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
            let inner = if let Some(v4) = v6.to_ipv4_mapped() {
                Some(v4)
            } else if (s[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified())
                || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
            {
                Some(embedded(s[6], s[7])) // IPv4-compatible ::a.b.c.d, or NAT64
            } else if s[0] == 0x2002 {
                Some(embedded(s[1], s[2])) // 6to4
            } else {
                None
            };
            if let Some(v4) = inner {
                return is_internal(IpAddr::V4(v4));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xFE00) == 0xFC00 // unique local
                || (s[0] & 0xFFC0) == 0xFE80 // link-local
                || (s[0] & 0xFFC0) == 0xFEC0 // site-local (deprecated)
                || s[0] == 0x2001 && s[1] == 0x0db8 // documentation
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> FetchPolicy {
        FetchPolicy {
            allowed_hosts: vec!["mms.example.net".into()],
            allowed_ports: vec![8002],
            allow_private: false,
            max_bytes: 1000,
            timeout: Duration::from_secs(5),
            interface: None,
        }
    }

    #[test]
    fn urls_outside_the_policy_are_refused() {
        let p = policy();
        assert!(check_url("http://mms.example.net/x", &p).is_ok());
        assert!(check_url("https://MMS.example.net:8002/x?y", &p).is_ok());
        assert!(check_url("http://mms.example.net:6379/", &p).unwrap_err().to_string().contains("port 6379"));
        for bad in [
            "file:///etc/passwd",
            "ftp://mms.example.net/x",
            "http://evil.example.com/x",
            "http://mms.example.net.evil.com/x",
            "http://user:pw@mms.example.net/x",
            "not a url",
        ] {
            let e = check_url(bad, &p).unwrap_err();
            assert!(matches!(e, FetchError::Refused { .. }), "{bad}: {e}");
            assert!(!e.is_transient());
        }
    }

    #[test]
    fn without_an_mmsc_nothing_is_fetched() {
        let p = FetchPolicy { allowed_hosts: vec![], ..policy() };
        assert!(check_url("http://mms.example.net/x", &p).unwrap_err().to_string().contains("no MMSC is configured"));
    }

    #[test]
    fn internal_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.5",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "100.128.0.1", "2001:4860::8888", "2002:808:808::1", "64:ff9b::808:808"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn partial_locations_are_completed_from_the_base() {
        assert_eq!(complete_location("http://a/b", None).unwrap(), "http://a/b");
        assert_eq!(
            complete_location("/mms/abc", Some("http://mmsc.op:8002/x")).unwrap(),
            "http://mmsc.op:8002/mms/abc"
        );
        assert_eq!(complete_location("abc123", Some("http://mmsc.op/mms")).unwrap(), "http://mmsc.op/mms/abc123");
        assert!(complete_location("abc123", None).is_err());
    }
}
