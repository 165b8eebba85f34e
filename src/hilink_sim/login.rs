//! Tokens, sessions and login: the web UI's page, the two token calls, state-login, login
//! (password_type 4 or 0, lockout, session limit) and logout.

use std::time::Instant;

use super::api::{Reply, TOKEN_HEADER, cookie};
use super::state::{Inner, State};
use crate::hilink::login::{password_type0, password_type4};
use crate::hilink::scram;
use crate::hilink::xml::{Field, ok_response_body, parse};

/// The session the call belongs to, a new one (and its cookie) when it has none.
fn session_or_new(inner: &mut Inner, session: Option<String>) -> (String, Vec<(&'static str, String)>) {
    match session {
        Some(id) => (id, Vec::new()),
        None => {
            let id = inner.new_session(false);
            let c = cookie(&id);
            (id, vec![c])
        }
    }
}

/// `GET /`: the web UI's page with two `csrf_token` metas, as B315/B525 serve it.
pub(super) fn home(state: &State, inner: &mut Inner, session: Option<String>) -> Reply {
    let (id, headers) = session_or_new(inner, session);
    let (a, b) = (inner.issue_token(&id), inner.issue_token(&id));
    let body = format!(
        "<!DOCTYPE html>\r\n<html><head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n\
         <meta name=\"csrf_token\" content=\"{a}\">\r\n<meta name=\"csrf_token\" content=\"{b}\">\r\n\
         <title>{}</title></head><body></body></html>\r\n",
        state.opts.device_name
    );
    Reply { body, headers }
}

/// `GET /api/webserver/token`.
pub(super) fn token(inner: &mut Inner, session: Option<String>) -> Reply {
    let (id, headers) = session_or_new(inner, session);
    let t = inner.issue_token(&id);
    Reply::fields(&[Field::text("token", t)]).with(headers)
}

/// `GET /api/webserver/SesTokInfo`: the cookie in the body as well as in Set-Cookie.
pub(super) fn ses_tok_info(inner: &mut Inner, session: Option<String>) -> Reply {
    let (id, headers) = session_or_new(inner, session);
    let t = inner.issue_token(&id);
    Reply::fields(&[Field::text("SesInfo", format!("SessionID={id}")), Field::text("TokInfo", t)]).with(headers)
}

/// `GET /api/user/state-login`. Without login (a stick) it shows State 0: nothing to do.
pub(super) fn state_login(state: &State, inner: &Inner, session: &str) -> Reply {
    let o = &state.opts;
    let logged_in = !o.login_required || inner.sessions.get(session).is_some_and(|s| s.logged_in);
    Reply::fields(&[
        Field::text("State", if logged_in { 0 } else { -1 }),
        Field::text("Username", if logged_in && o.login_required { o.username.as_str() } else { "" }),
        Field::text("password_type", o.password_type),
        Field::text("extern_password_type", 1),
        Field::text("firstlogin", 0),
    ])
}

/// `POST /api/user/login`; `token` is the one the header carried (the type 4 hash uses it).
/// A router with the challenge login refuses this one as a wrong password, as newer B618
/// firmwares are reported to.
pub(super) fn login(state: &State, inner: &mut Inner, session: &str, token: &str, body: &[u8]) -> Reply {
    let o = &state.opts;
    if let Some(refused) = locked_or_unreadable(state, inner, session, body) {
        return refused;
    }
    let req = parse(body).expect("checked above");
    let (user, password) = (req.text_of("Username").unwrap_or_default(), req.text_of("Password").unwrap_or_default());
    if o.login_required {
        let expected = match o.password_type {
            4 => password_type4(&o.username, &o.password, token),
            _ => password_type0(&o.password),
        };
        if o.challenge_login || user != o.username || password != expected {
            return wrong_login(state, inner, session);
        }
    }
    logged_in(state, inner, session, ok_response_body())
}

/// `POST /api/user/challenge_login`: the first half of the SCRAM login (100002 on routers
/// without it).
pub(super) fn challenge(state: &State, inner: &mut Inner, session: &str, body: &[u8]) -> Reply {
    let o = &state.opts;
    if !o.challenge_login {
        return Reply::error(100002).with(fresh(inner, session));
    }
    if let Some(refused) = locked_or_unreadable(state, inner, session, body) {
        return refused;
    }
    let Ok(req) = scram::ChallengeRequest::parse(body) else {
        return Reply::error(100005).with(fresh(inner, session));
    };
    if req.username != o.username {
        return wrong_login(state, inner, session);
    }
    let random: Vec<u8> = (0..32).map(|_| rand::random::<u8>()).collect();
    let servernonce = scram::server_nonce(&req.firstnonce, &random);
    if let Some(s) = inner.sessions.get_mut(session) {
        s.challenge = Some((req.firstnonce, servernonce.clone()));
    }
    Reply::xml(scram::challenge_answer(&salt(o), SCRAM_ITERATIONS, &servernonce)).with(fresh(inner, session))
}

/// `POST /api/user/authentication_login`: the client's proof; on success the session is
/// logged in and the answer carries the server's signature.
pub(super) fn authenticate(state: &State, inner: &mut Inner, session: &str, body: &[u8]) -> Reply {
    let o = &state.opts;
    if let Some(refused) = locked_or_unreadable(state, inner, session, body) {
        return refused;
    }
    let Ok(req) = scram::AuthenticationRequest::parse(body) else {
        return Reply::error(100005).with(fresh(inner, session));
    };
    let pending = inner.sessions.get_mut(session).and_then(|s| s.challenge.take());
    let Some((firstnonce, servernonce)) = pending.filter(|(_, server)| *server == req.finalnonce) else {
        return wrong_login(state, inner, session);
    };
    let keys = scram::Keys::derive(&o.password, &salt(o), SCRAM_ITERATIONS);
    if !keys.verify_client_proof(&firstnonce, &servernonce, &req.clientproof) {
        return wrong_login(state, inner, session);
    }
    let answer = scram::authentication_answer(&keys, &firstnonce, &servernonce, RSA_N, &[1, 0, 1]);
    logged_in(state, inner, session, answer)
}

const SCRAM_ITERATIONS: std::num::NonZeroU32 = std::num::NonZeroU32::new(100).expect("not zero");
/// A stand-in public key modulus: the bridge checks its signature, never encrypts with it.
const RSA_N: &[u8] = &[0xC3; 64];

/// The router's salt for its one user.
fn salt(o: &super::Options) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, format!("hilink-sim salt {}", o.username).as_bytes()).as_ref().to_vec()
}

fn fresh(inner: &mut Inner, session: &str) -> Vec<(&'static str, String)> {
    vec![(TOKEN_HEADER, inner.issue_token(session))]
}

/// 108007 while locked out, 100005 for a body that is not XML.
fn locked_or_unreadable(state: &State, inner: &mut Inner, session: &str, body: &[u8]) -> Option<Reply> {
    if state.opts.login_required && inner.locked_until.is_some_and(|t| t > Instant::now()) {
        return Some(Reply::error(108007).with(fresh(inner, session)));
    }
    parse(body).is_err().then(|| Reply::error(100005).with(fresh(inner, session)))
}

/// 108006, counted towards the lockout.
fn wrong_login(state: &State, inner: &mut Inner, session: &str) -> Reply {
    let o = &state.opts;
    inner.failed_logins += 1;
    inner.counters.login_failures += 1;
    if inner.failed_logins >= o.max_login_failures {
        inner.locked_until = Some(Instant::now() + o.lockout);
        state.say(format!("hilink-sim: {} wrong logins: locked for {:?}", inner.failed_logins, o.lockout));
    }
    Reply::error(108006).with(fresh(inner, session))
}

/// A login that worked: a new session id, and only the answer's two tokens stay valid, as
/// on B525. 108003 when the sessions are used up.
fn logged_in(state: &State, inner: &mut Inner, session: &str, body: String) -> Reply {
    let o = &state.opts;
    if o.login_required {
        let others = inner.sessions.iter().filter(|(id, s)| s.logged_in && id.as_str() != session).count();
        if others >= o.max_sessions {
            return Reply::error(108003).with(fresh(inner, session));
        }
    }
    inner.failed_logins = 0;
    inner.counters.logins += 1;
    inner.sessions.remove(session);
    let id = inner.new_session(true);
    let (one, two) = (inner.issue_token(&id), inner.issue_token(&id));
    state.say(format!("hilink-sim: login #{} ({} sessions)", inner.counters.logins, inner.logged_in_sessions()));
    Reply::xml(body).with(vec![
        cookie(&id),
        ("__RequestVerificationTokenone", one),
        ("__RequestVerificationTokentwo", two),
    ])
}

/// `POST /api/user/logout`.
pub(super) fn logout(inner: &mut Inner, session: &str) -> Reply {
    if let Some(s) = inner.sessions.get_mut(session) {
        s.logged_in = false;
    }
    inner.counters.logouts += 1;
    Reply::xml(ok_response_body())
}
