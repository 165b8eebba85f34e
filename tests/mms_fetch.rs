//! The MMSC fetch against a real HTTP server on loopback (a hand-written one, so a test
//! can send exactly the headers and chunking a hostile server would): the URL policy,
//! internal-address refusal, redirects, size caps before and while reading, status codes.

use std::time::Duration;

use sms_bridge::mms;
use sms_bridge::mmsc::{self, FetchError, FetchPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves: /mms (a small MMS), /declared-big (Content-Length over the cap),
/// /chunked-big (no length, too many chunks), /redirect, /fail (503), anything else 404.
async fn server() -> (u16, Vec<u8>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let message = mms::send_req("t1", &["+15550001111".into()], Some("Simple message"), Some("Hello"), &[]);
    let body = mms::encode(&message).unwrap();
    let served = body.clone();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            let body = served.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = req.split_whitespace().nth(1).unwrap_or("/").to_string();
                let head = |status: &str, extra: &str| format!("HTTP/1.1 {status}\r\nconnection: close\r\n{extra}\r\n");
                match path.as_str() {
                    "/mms" => {
                        let h = head(
                            "200 OK",
                            &format!(
                                "content-type: application/vnd.wap.mms-message\r\ncontent-length: {}\r\n",
                                body.len()
                            ),
                        );
                        let _ = s.write_all(h.as_bytes()).await;
                        let _ = s.write_all(&body).await;
                    }
                    "/declared-big" => {
                        let _ = s.write_all(head("200 OK", "content-length: 10000000\r\n").as_bytes()).await;
                    }
                    "/chunked-big" => {
                        let _ = s.write_all(head("200 OK", "transfer-encoding: chunked\r\n").as_bytes()).await;
                        for _ in 0..100 {
                            if s.write_all(b"100\r\n").await.is_err() {
                                return;
                            }
                            let _ = s.write_all(&[b'x'; 256]).await;
                            let _ = s.write_all(b"\r\n").await;
                        }
                        let _ = s.write_all(b"0\r\n\r\n").await;
                    }
                    "/redirect" => {
                        let _ = s
                            .write_all(
                                head("302 Found", "location: http://169.254.169.254/latest\r\ncontent-length: 0\r\n")
                                    .as_bytes(),
                            )
                            .await;
                    }
                    "/fail" => {
                        let _ = s.write_all(head("503 Service Unavailable", "content-length: 0\r\n").as_bytes()).await;
                    }
                    _ => {
                        let _ = s.write_all(head("404 Not Found", "content-length: 0\r\n").as_bytes()).await;
                    }
                }
                let _ = s.shutdown().await;
            });
        }
    });
    (port, body)
}

fn policy(port: u16, allow_private: bool) -> FetchPolicy {
    FetchPolicy {
        allowed_hosts: vec!["127.0.0.1".into(), "localhost".into()],
        allowed_ports: vec![port],
        allow_private,
        max_bytes: 5000,
        timeout: Duration::from_secs(5),
        interface: None,
    }
}

#[tokio::test]
async fn fetches_within_the_policy_and_refuses_everything_else() {
    let (port, body) = server().await;
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");

    // Loopback is internal: refused unless the operator allowed private addresses.
    for u in [url("/mms"), format!("http://localhost:{port}/mms")] {
        let e = mmsc::fetch(&u, &policy(port, false), None).await.unwrap_err();
        assert!(matches!(&e, FetchError::Refused { why, .. } if why.contains("internal address")), "{e}");
    }

    let p = policy(port, true);
    let got = mmsc::fetch(&url("/mms"), &p, None).await.unwrap();
    assert_eq!(got, body);
    assert_eq!(mms::decode(&got).unwrap().subject.as_deref(), Some("Simple message"));

    let e = mmsc::fetch(&url("/declared-big"), &p, None).await.unwrap_err();
    assert!(matches!(&e, FetchError::TooLarge { size, .. } if size.contains("declared")), "{e}");
    let e = mmsc::fetch(&url("/chunked-big"), &p, None).await.unwrap_err();
    assert!(matches!(&e, FetchError::TooLarge { size, .. } if size.contains("sent")), "{e}");
    let e = mmsc::fetch(&url("/redirect"), &p, None).await.unwrap_err();
    assert!(matches!(&e, FetchError::Refused { why, .. } if why.contains("169.254.169.254")), "{e}");
    let e = mmsc::fetch(&url("/fail"), &p, None).await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    let e = mmsc::fetch(&url("/missing"), &p, None).await.unwrap_err();
    assert!(matches!(e, FetchError::Status { status: 404, .. }) && !e.is_transient());

    // Another port on the MMSC's host.
    let e = mmsc::fetch(&format!("http://127.0.0.1:{}/mms", port + 1), &p, None).await.unwrap_err();
    assert!(matches!(&e, FetchError::Refused { why, .. } if why.contains("is not the MMSC's")), "{e}");

    // A host that isn't the MMSC, even on the same server.
    let mut other = policy(port, true);
    other.allowed_hosts = vec!["mmsc.example.net".into()];
    let e = mmsc::fetch(&url("/mms"), &other, None).await.unwrap_err();
    assert!(matches!(&e, FetchError::Refused { why, .. } if why.contains("not the configured MMSC")), "{e}");

    // Bound to an interface that does not exist: a network error, not a silent fallback to
    // the default route.
    let mut bound = policy(port, true);
    bound.interface = Some("nosuchif0".into());
    let e = mmsc::fetch(&url("/mms"), &bound, None).await.unwrap_err();
    assert!(matches!(e, FetchError::Network { .. }), "{e}");

    // Nothing listening: a network error, worth retrying.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let any_port = policy(closed, true);
    let e = mmsc::fetch(&format!("http://127.0.0.1:{closed}/x"), &any_port, None).await.unwrap_err();
    assert!(e.is_transient(), "{e}");
}
