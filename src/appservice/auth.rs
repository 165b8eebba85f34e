//! `hs_token` check: `Authorization: Bearer` or the legacy `access_token` query parameter.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use super::matrix_error;
use crate::bridge::Bridge;

pub(super) async fn require_hs_token(State(bridge): State<Arc<Bridge>>, req: Request, next: Next) -> Response {
    let header = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let token = header.or_else(|| query_token(req.uri().query().unwrap_or("")));
    match token {
        None => matrix_error(StatusCode::UNAUTHORIZED, "M_MISSING_TOKEN", "Missing hs_token"),
        Some(t) if constant_time_eq(t.as_bytes(), bridge.config.appservice.hs_token.as_bytes()) => next.run(req).await,
        Some(_) => matrix_error(StatusCode::FORBIDDEN, "M_FORBIDDEN", "Invalid hs_token"),
    }
}

fn query_token(query: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == "access_token").then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Compares without an early exit, so response timing does not reveal the token.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= (x ^ y) as usize;
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_tokens() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn reads_query_tokens() {
        assert_eq!(query_token("a=1&access_token=ab%2Fc").as_deref(), Some("ab/c"));
        assert_eq!(query_token("access_token=%zz%"), Some("%zz%".into()));
        assert_eq!(query_token("user_id=x"), None);
    }
}
