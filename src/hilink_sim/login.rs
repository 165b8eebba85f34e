//! Tokens, sessions and login: the web UI's page, the two token calls, state-login, login
//! (password_type 4 or 0, lockout, session limit) and logout.

use std::time::Instant;

use super::api::{Reply, TOKEN_HEADER, cookie};
use super::state::{Inner, State};
use crate::hilink::login::{password_type0, password_type4};
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
pub(super) fn login(state: &State, inner: &mut Inner, session: &str, token: &str, body: &[u8]) -> Reply {
    let o = &state.opts;
    let now = Instant::now();
    let fresh = |inner: &mut Inner| vec![(TOKEN_HEADER, inner.issue_token(session))];
    if o.login_required && inner.locked_until.is_some_and(|t| t > now) {
        return Reply::error(108007).with(fresh(inner));
    }
    let Ok(req) = parse(body) else {
        return Reply::error(100005).with(fresh(inner));
    };
    let (user, password) = (req.text_of("Username").unwrap_or_default(), req.text_of("Password").unwrap_or_default());
    if o.login_required {
        let expected = match o.password_type {
            4 => password_type4(&o.username, &o.password, token),
            _ => password_type0(&o.password),
        };
        if user != o.username || password != expected {
            inner.failed_logins += 1;
            inner.counters.login_failures += 1;
            if inner.failed_logins >= o.max_login_failures {
                inner.locked_until = Some(now + o.lockout);
                state.say(format!("hilink-sim: {} wrong logins: locked for {:?}", inner.failed_logins, o.lockout));
            }
            return Reply::error(108006).with(fresh(inner));
        }
        let others = inner.sessions.iter().filter(|(id, s)| s.logged_in && id.as_str() != session).count();
        if others >= o.max_sessions {
            return Reply::error(108003).with(fresh(inner));
        }
    }
    inner.failed_logins = 0;
    inner.counters.logins += 1;
    // A new session id and only the answer's two tokens stay valid, as on B525.
    inner.sessions.remove(session);
    let id = inner.new_session(true);
    let (one, two) = (inner.issue_token(&id), inner.issue_token(&id));
    state.say(format!("hilink-sim: login #{} ({} sessions)", inner.counters.logins, inner.logged_in_sessions()));
    Reply::xml(ok_response_body()).with(vec![
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
