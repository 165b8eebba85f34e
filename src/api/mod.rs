//! The HTTP API for applications (the `gateway:` section): Kannel's `sendsms` for
//! existing scripts, and a JSON API for new code. Every answer that accepts a message is
//! given only after the message is committed.

mod check;
mod json;
mod media;
pub mod openapi;
mod sendsms;

use std::sync::Arc;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::bridge::Bridge;

pub fn router(bridge: Arc<Bridge>) -> Router {
    Router::new()
        .route(openapi::SENDSMS, get(sendsms::get).post(sendsms::post))
        .route(openapi::MESSAGES, post(json::send))
        .route(openapi::MESSAGE, get(json::status))
        .route(openapi::CHECK, post(check::post))
        .route(openapi::QUESTIONS, post(json::ask))
        .route(openapi::QUESTION, get(json::question))
        .route(openapi::MEDIA, get(media::get))
        .route(openapi::OPENAPI, get(openapi::get))
        .with_state(bridge)
}

/// Binds the gateway's address (so a bad one fails the start) and serves it in a task
/// until `shutdown`, then lets the requests under way finish: one whose commit is running
/// gets its answer, so its client does not send it again. None when the gateway is not
/// configured.
pub async fn start(
    bridge: Arc<Bridge>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<Option<tokio::task::JoinHandle<()>>, String> {
    let Some(g) = &bridge.config.gateway else { return Ok(None) };
    let addr = g.listen.clone();
    let listener =
        tokio::net::TcpListener::bind(&addr).await.map_err(|e| format!("gateway: cannot listen on {addr}: {e}"))?;
    tracing::info!(%addr, "gateway for applications listening");
    Ok(Some(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(bridge)).with_graceful_shutdown(shutdown).await {
            tracing::error!(error = %e, "gateway stopped");
        }
    })))
}

/// Requests committing at once: enough to fill a group commit several times over.
const BLOCKING_SLOTS: usize = 64;

/// Runs a handler's committing part on the blocking pool: it waits for a group commit
/// (`fsync`), which must not hold up the async workers, and so that concurrent requests
/// can wait together and share that commit.
///
/// At most [`BLOCKING_SLOTS`] at once: more requests wait here, holding no thread, so a
/// flood cannot take the pool the links' own commits need.
pub(super) async fn blocking(f: impl FnOnce() -> Response + Send + 'static) -> Response {
    static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(BLOCKING_SLOTS);
    let Ok(_slot) = SLOTS.acquire().await else {
        return axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "gateway: a request's handler failed");
        axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
    })
}

/// Constant-time comparison of a secret.
fn same_secret(a: &str, b: &str) -> bool {
    crate::appservice::auth::constant_time_eq(a.as_bytes(), b.as_bytes())
}
