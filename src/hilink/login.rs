//! Login: the password as `password_type` 0 or 4 wants it, the login request, and the
//! answer of `GET /api/user/state-login`.

use ring::digest::{SHA256, digest};

use super::errors::{Error, Result};
use super::xml::{Element, Field, request};

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 §4); too small a job for a dependency.
pub fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = u32::from_be_bytes([0, b[0], b[1], b[2]]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn sha256_hex(data: &[u8]) -> String {
    digest(&SHA256, data).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// `password_type` 4: `base64(hex(sha256(username + base64(hex(sha256(password))) + token)))`,
/// with the token that also goes in the request's header.
pub fn password_type4(username: &str, password: &str, token: &str) -> String {
    let inner = base64(sha256_hex(password.as_bytes()).as_bytes());
    base64(sha256_hex(format!("{username}{inner}{token}").as_bytes()).as_bytes())
}

/// `password_type` 0 (older firmwares): the password in base64.
pub fn password_type0(password: &str) -> String {
    base64(password.as_bytes())
}

/// The body of `POST /api/user/login`. Type 4 needs the token; other types (0, and 3
/// after a factory reset) send base64 and the router's own type back.
pub fn login_request(username: &str, password: &str, password_type: i64, token: &str) -> String {
    let hashed = match password_type {
        4 => password_type4(username, password, token),
        _ => password_type0(password),
    };
    request(&[
        Field::text("Username", username),
        Field::text("Password", hashed),
        Field::text("password_type", password_type),
    ])
}

/// The body of `POST /api/user/logout`.
pub fn logout_request() -> String {
    request(&[Field::text("Logout", 1)])
}

/// `GET /api/user/state-login`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginState {
    /// 0 logged in, -1 logged out, -2 repeat; a stick without login may omit it.
    pub state: Option<i64>,
    /// 4 when absent: the common case on current firmwares.
    pub password_type: i64,
}

impl LoginState {
    pub fn logged_in(&self) -> bool {
        self.state == Some(0)
    }

    pub fn parse(answer: &Element) -> Result<LoginState> {
        let number = |element: &'static str| -> Result<Option<i64>> {
            match answer.text_of(element).map(str::trim) {
                None | Some("") => Ok(None),
                Some(v) => {
                    v.parse().map(Some).map_err(|_| Error::Bad { element, value: v.into(), why: "not a number" })
                }
            }
        };
        Ok(LoginState { state: number("State")?, password_type: number("password_type")?.unwrap_or(4) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hilink::xml::response;

    #[test]
    fn base64_padding() {
        for (plain, coded) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg==")] {
            assert_eq!(base64(plain.as_bytes()), coded);
        }
        assert_eq!(base64(&[0xFB, 0xFF]), "+/8=");
    }

    #[test]
    fn type4_matches_an_independent_computation() {
        // Derived once with Python:
        //   inner = base64.b64encode(hashlib.sha256(b'hunter2').hexdigest().encode()).decode()
        //   base64.b64encode(hashlib.sha256(('admin' + inner + 'abcDEF0123456789tokenXYZ')
        //       .encode()).hexdigest().encode())
        assert_eq!(
            password_type4("admin", "hunter2", "abcDEF0123456789tokenXYZ"),
            "OGJjNmYwNDQ2MDJjNGY1MWU2YzAwYmJjMmI1NTdkOTkyMTMzNjg4ZmI4MzVlNzlmMzQ1OWY2ZWM0YTc3MTI1MA=="
        );
    }

    #[test]
    fn type0_is_base64_of_utf8() {
        // Python: base64.b64encode('pässwörd'.encode())
        assert_eq!(password_type0("hunter2"), "aHVudGVyMg==");
        assert_eq!(password_type0("pässwörd"), "cMOkc3N3w7ZyZA==");
    }

    #[test]
    fn login_body_field_order() {
        let body = login_request("admin", "hunter2", 0, "t");
        assert!(body.ends_with(
            "<request><Username>admin</Username><Password>aHVudGVyMg==</Password><password_type>0</password_type></request>"
        ));
        assert!(login_request("a&b", "x", 4, "t").contains("<Username>a&amp;b</Username>"));
        assert!(logout_request().ends_with("<request><Logout>1</Logout></request>"));
    }

    #[test]
    fn state_login() {
        let r =
            response(b"<response><State>-1</State><Username></Username><password_type>4</password_type></response>")
                .unwrap();
        let s = LoginState::parse(&r).unwrap();
        assert_eq!(s, LoginState { state: Some(-1), password_type: 4 });
        assert!(!s.logged_in());
        let r = response(b"<response><State>0</State><password_type>0</password_type></response>").unwrap();
        assert!(LoginState::parse(&r).unwrap().logged_in());
        let r = response(b"<response><State>zero</State></response>").unwrap();
        assert_eq!(LoginState::parse(&r).unwrap_err().to_string(), "<State> holds \"zero\": not a number");
    }
}
