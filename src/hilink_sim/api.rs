//! The web API's gate and routes: sessions by cookie, one token per POST (consumed, a
//! fresh one handed back), faults, login, compact XML; then the call itself.

use std::time::Instant;

use http::Method;

use super::state::{Inner, State, tick};
use super::{login, sms};
use crate::hilink::xml::{Field, answer_body, error_body, has_layout_whitespace};

/// What the router answers; always HTTP 200, as routers do even for errors.
pub(super) struct Reply {
    pub body: String,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn xml(body: String) -> Reply {
        Reply { body, headers: Vec::new() }
    }

    pub fn fields(fields: &[Field]) -> Reply {
        Reply::xml(answer_body(fields))
    }

    pub fn error(code: i64) -> Reply {
        Reply::xml(error_body(code))
    }

    pub fn with(mut self, headers: Vec<(&'static str, String)>) -> Reply {
        self.headers.extend(headers);
        self
    }
}

pub(super) struct Req<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    /// The `SessionID` cookie.
    pub session: Option<String>,
    /// The `__RequestVerificationToken` header.
    pub token: Option<String>,
    pub body: &'a [u8],
}

/// A text field of an answer.
pub(super) fn f(name: &'static str, value: impl ToString) -> Field {
    Field::text(name, value)
}

pub(super) const TOKEN_HEADER: &str = "__RequestVerificationToken";

pub(super) fn cookie(id: &str) -> (&'static str, String) {
    ("Set-Cookie", format!("SessionID={id}; path=/; HttpOnly"))
}

/// Calls that answer 100003 without a logged-in session (as on B315/B525).
/// Calls whose answer hands out its own tokens (the general path adds none).
const LOGIN_CALLS: &[&str] = &["/api/user/login", "/api/user/challenge_login", "/api/user/authentication_login"];

fn needs_login(path: &str) -> bool {
    path.starts_with("/api/sms/") || path.starts_with("/api/device/") || path == "/api/user/logout"
}

pub(super) fn handle(state: &State, req: &Req) -> Reply {
    let mut guard = state.inner.lock().unwrap();
    let inner = &mut *guard;
    tick(state, inner);
    inner.counters.requests += 1;
    *inner.counters.by_path.entry(req.path.to_string()).or_default() += 1;
    let session = req.session.clone().filter(|id| inner.sessions.contains_key(id));
    if let Some(s) = session.as_ref().and_then(|id| inner.sessions.get_mut(id)) {
        s.last_seen = Instant::now();
    }
    let get = req.method == Method::GET;
    match (get, req.path) {
        (true, "/" | "/html/index.html" | "/html/home.html") => login::home(state, inner, session),
        (true, "/api/webserver/token") => login::token(inner, session),
        (true, "/api/webserver/SesTokInfo") => login::ses_tok_info(inner, session),
        (_, p) if p.starts_with("/api/") => api_call(state, inner, session, req),
        _ => Reply::xml("<html><body>404 Not Found</body></html>".into()),
    }
}

fn api_call(state: &State, inner: &mut Inner, session: Option<String>, req: &Req) -> Reply {
    let post = *req.method == Method::POST;
    let mut turned = Vec::new();
    if post {
        let Some(id) = session.as_deref() else {
            inner.counters.session_rejections += 1;
            return Reply::error(125002);
        };
        let tokens = &mut inner.sessions.get_mut(id).expect("filtered to live sessions").tokens;
        let held = req.token.as_deref().and_then(|t| tokens.iter().position(|x| x == t));
        let Some(at) = held else {
            inner.counters.token_rejections += 1;
            state.say(format!("hilink-sim: 125003 for POST {}: token missing, unknown or used", req.path));
            return Reply::error(125003);
        };
        tokens.remove(at);
        inner.counters.tokens_consumed += 1;
        // The login answer hands back its own pair of tokens.
        if !LOGIN_CALLS.contains(&req.path) {
            turned.push((TOKEN_HEADER, inner.issue_token(id)));
        }
    }
    if let Some((code, left)) = inner.error_fault {
        inner.error_fault = (left > 1).then_some((code, left - 1));
        if LOGIN_CALLS.contains(&req.path)
            && let Some(id) = session.as_deref()
        {
            turned.push((TOKEN_HEADER, inner.issue_token(id)));
        }
        return Reply::error(code).with(turned);
    }
    let logged_in = !state.opts.login_required
        || session.as_ref().and_then(|id| inner.sessions.get(id)).is_some_and(|s| s.logged_in);
    if needs_login(req.path) && !logged_in {
        return Reply::error(100003).with(turned);
    }
    if post && has_layout_whitespace(req.body) {
        return format_error(state, inner, req, "whitespace between elements (pretty-printed XML)").with(turned);
    }
    let session = session.unwrap_or_default();
    let token = req.token.as_deref().unwrap_or_default();
    let reply = match (post, req.path) {
        (false, "/api/user/state-login") => login::state_login(state, inner, &session),
        (false, "/api/user/hilink_login") => {
            Reply::fields(&[Field::text("hilink_login", state.opts.login_required as u8)])
        }
        (true, "/api/user/login") => login::login(state, inner, &session, token, req.body),
        (true, "/api/user/challenge_login") => login::challenge(state, inner, &session, req.body),
        (true, "/api/user/authentication_login") => login::authenticate(state, inner, &session, req.body),
        (true, "/api/user/logout") => login::logout(inner, &session),
        (true, "/api/sms/sms-list") => sms::list(state, inner, req),
        (true, "/api/sms/send-sms") => sms::send(state, inner, req),
        (true, "/api/sms/delete-sms") => sms::delete(state, inner, req),
        (true, "/api/sms/set-read") => sms::set_read(state, inner, req),
        (false, "/api/sms/sms-count") => sms::count(state, inner),
        (false, "/api/sms/send-status") => sms::send_status(inner),
        (false, "/api/monitoring/check-notifications") => sms::notifications(state, inner),
        (false, "/api/monitoring/status") => status(inner),
        (false, "/api/device/signal") => signal(),
        (false, "/api/device/information") => information(state),
        // Routers answer calls they lack with 100002, over HTTP 200.
        _ => Reply::error(100002),
    };
    reply.with(turned)
}

/// 100005, logged with the body that caused it.
pub(super) fn format_error(state: &State, inner: &mut Inner, req: &Req, why: &str) -> Reply {
    let body = String::from_utf8_lossy(req.body);
    state.say(format!("hilink-sim: 100005 for POST {} ({why}): {body}", req.path));
    inner.reject(req.path, why, req.body);
    Reply::error(100005)
}

fn status(inner: &Inner) -> Reply {
    Reply::fields(&[
        f("ConnectionStatus", 901),
        f("WifiConnectionStatus", ""),
        f("SignalStrength", ""),
        f("SignalIcon", if inner.no_signal { 0 } else { 4 }),
        f("CurrentNetworkType", 19),
        f("CurrentServiceDomain", 3),
        f("RoamingStatus", 0),
        f("BatteryStatus", ""),
        f("BatteryLevel", ""),
        f("SimStatus", if inner.no_sim { 255 } else { 1 }),
        f("WifiStatus", 1),
        f("CurrentWifiUser", 1),
        f("TotalWifiUser", 32),
        f("ServiceStatus", 2),
        f("maxsignal", 5),
        f("PrimaryDns", "192.0.2.53"),
        f("SecondaryDns", "192.0.2.54"),
    ])
}

fn signal() -> Reply {
    Reply::fields(&[
        f("pci", 312),
        f("sc", ""),
        f("cell_id", 20304050),
        f("rssi", "-67dBm"),
        f("rsrp", "-96dBm"),
        f("rsrq", "-9.0dB"),
        f("sinr", "12dB"),
        f("mode", 7),
    ])
}

fn information(state: &State) -> Reply {
    Reply::fields(&[
        f("DeviceName", &state.opts.device_name),
        f("SerialNumber", "SIMSERIAL0123456"),
        f("Imei", "866000000000017"),
        f("Imsi", "001010123456789"),
        f("Iccid", "8900101234567890123"),
        f("Msisdn", &state.opts.number),
        f("HardwareVersion", "WL1B310FM"),
        f("SoftwareVersion", "21.333.64.00.1456"),
        f("WebUIVersion", "WEBUI 21.100.44.00.03"),
        f("MacAddress1", "00:1E:10:1F:00:00"),
        f("ProductFamily", "LTE"),
        f("Classify", "cpe"),
        f("workmode", "LTE"),
    ])
}
