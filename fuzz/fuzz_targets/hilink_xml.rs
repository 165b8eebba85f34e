//! Any bytes as a HiLink router's answer. Every reader of `sms_bridge::hilink` takes them
//! without panicking, and what it returns keeps the promises checked below.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sms_bridge::hilink::login::LoginState;
use sms_bridge::hilink::scram::{self, AuthenticationRequest, ChallengeRequest};
use sms_bridge::hilink::sms::{self, LocalDateTime};
use sms_bridge::hilink::{Error, Field, Tokens, cesu8, xml};

fuzz_target!(|data: &[u8]| {
    match xml::response(data) {
        Ok(r) => {
            assert_eq!(r.name, "response");
            let _ = LoginState::parse(&r);
        }
        Err(Error::Router(e)) => {
            let _ = (e.class(), e.to_string());
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    let _ = xml::ok(data);

    if let Ok(list) = sms::parse_list(data) {
        for m in &list.messages {
            assert!(m.phones.iter().all(|p| !p.is_empty() && !p.contains(';') && p.trim() == p), "{:?}", m.phones);
            if let Some(d) = m.date {
                assert_eq!(LocalDateTime::parse(&d.to_text()), Ok(d));
            }
        }
        for e in &list.unreadable {
            assert!(!e.to_string().is_empty());
        }
    }
    if let Ok(s) = sms::parse_send_status(data) {
        assert_eq!(s.settled(), s.phone.is_empty());
        for p in s.phone.iter().chain(&s.suc_phone).chain(&s.fail_phone) {
            assert!(!p.is_empty() && !p.contains(';'), "{p:?}");
        }
    }

    // The challenge login: a hostile answer never asks for more PBKDF2 rounds than the cap.
    if let Ok(c) = scram::parse_challenge(data) {
        assert!(c.iterations.get() <= scram::MAX_ITERATIONS && !c.salt.is_empty() && !c.servernonce.is_empty());
    }
    if let Ok(a) = scram::parse_authentication(data) {
        if let Some(rsa) = &a.rsa {
            assert!(scram::unhex(&rsa.n).is_some_and(|n| !n.is_empty()), "{:?}", rsa.n);
        }
    }
    if let Ok(r) = ChallengeRequest::parse(data) {
        assert!(!r.firstnonce.is_empty());
    }
    let _ = AuthenticationRequest::parse(data);

    let mut tokens = Tokens::new();
    let _ = tokens.bootstrap_from_token(data);
    if let Ok(cookie) = tokens.bootstrap_from_ses_tok_info(data) {
        assert!(cookie.starts_with("SessionID=") && !cookie.contains(['\r', '\n', ';']), "{cookie:?}");
    }

    let text = String::from_utf8_lossy(data);
    let mut html = Tokens::new();
    let found = html.bootstrap_from_html(&text);
    assert_eq!(html.len(), found.min(64));
    while let Some(t) = html.take() {
        assert!(!t.is_empty() && !t.chars().any(char::is_control), "{t:?}");
    }

    if let Ok(d) = LocalDateTime::parse(&text) {
        assert_eq!(LocalDateTime::parse(&d.to_text()), Ok(d));
    }
    let coded = cesu8::encode(&text);
    if text.chars().all(|c| (c as u32) < 0x10000) {
        assert_eq!(coded, text.as_bytes());
    } else {
        assert!(coded.len() > text.len());
    }

    // What we send reads back as sent (XML turns a CR into a line feed, and has no room
    // for other control characters).
    if !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        let body = xml::request(&[Field::text("Content", text.as_ref())]);
        let back = xml::parse(body.as_bytes()).expect("our own request reads back");
        assert_eq!(back.text_of("Content"), Some(text.as_ref()));
    }
});
