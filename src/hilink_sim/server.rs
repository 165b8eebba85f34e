//! The router's web server on loopback, which a reboot takes down and brings back on the
//! same port; and the clock that settles sends and grows long messages.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State as Shared;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{mpsc, oneshot};

use super::api::{Req, TOKEN_HEADER, handle};
use super::state::{State, tick};

/// Tokens and cookies as real routers send them; `SO_REUSEADDR` so a reboot gets the port back.
pub(super) fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(128)
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix("SessionID=").map(String::from))
}

async fn web(Shared(state): Shared<Arc<State>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let slow = state.inner.lock().unwrap().slow;
    if !slow.is_zero() {
        tokio::time::sleep(slow).await;
    }
    let req = Req {
        method: &method,
        path: uri.path(),
        session: session_cookie(&headers),
        token: headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok()).map(String::from),
        body: &body,
    };
    let reply = handle(&state, &req);
    // Routers label their XML text/html; clients sniff it.
    let mut r =
        Response::builder().header("Content-Type", "text/html; charset=UTF-8").header("Cache-Control", "no-cache");
    for (name, value) in reply.headers {
        r = r.header(name, value);
    }
    r.body(Body::from(reply.body)).expect("valid header values")
}

/// Serves `listener` until a reboot; then down for its duration, sessions gone, and up again.
pub(super) fn spawn(state: Arc<State>, listener: TcpListener, mut reboots: mpsc::UnboundedReceiver<Duration>) {
    let addr = listener.local_addr().expect("bound listener");
    tokio::spawn(async move {
        let mut listener = Some(listener);
        loop {
            let l = match listener.take() {
                Some(l) => l,
                None => match bind(addr) {
                    Ok(l) => l,
                    Err(e) => {
                        state.say(format!("hilink-sim: cannot listen again on {addr}: {e}; retrying"));
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                },
            };
            let (stop, stopped) = oneshot::channel::<()>();
            let app = Router::new().fallback(web).with_state(Arc::clone(&state));
            let server = tokio::spawn(async move {
                let _ = axum::serve(l, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
            let Some(down) = reboots.recv().await else { return };
            let _ = stop.send(());
            // Idle keep-alive connections close at once; a hung one must not keep the port.
            let abort = server.abort_handle();
            if tokio::time::timeout(Duration::from_secs(1), server).await.is_err() {
                abort.abort();
            }
            {
                let mut inner = state.inner.lock().unwrap();
                inner.sessions.clear();
                inner.locked_until = None;
                inner.failed_logins = 0;
                inner.counters.reboots += 1;
            }
            state.say(format!("hilink-sim: rebooting, back in {down:?}"));
            tokio::time::sleep(down).await;
            state.say(format!("hilink-sim: up again on http://{addr}/"));
        }
    });
}

/// Ticks every 50 ms so sends settle and held SMS arrive even when nobody polls.
pub(super) fn spawn_clock(state: Arc<State>) {
    let weak = Arc::downgrade(&state);
    drop(state);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let Some(state) = weak.upgrade() else { return };
            let mut inner = state.inner.lock().unwrap();
            tick(&state, &mut inner);
        }
    });
}
