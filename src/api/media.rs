//! `GET /api/v1/media/{id}/{token}`: the media of an MMS received, for the applications a
//! webhook or MQTT told about it. The token in the link is the credential, as with a
//! signed URL, so the link can be handed on.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::bridge::Bridge;

pub(super) async fn get(State(bridge): State<Arc<Bridge>>, Path((id, token)): Path<(i64, String)>) -> Response {
    match bridge.store.api_media(id) {
        Ok(Some(m)) if super::same_secret(&m.token, &token) => {
            // The sender chose the type: only pictures, sound and video are shown inline, and
            // nothing runs on the gateway's origin (an MMS part can claim to be HTML).
            let inline = ["image/", "audio/", "video/"].iter().any(|t| m.content_type.starts_with(t))
                && m.content_type != "image/svg+xml";
            let how = if inline { "inline" } else { "attachment" };
            // The name is ours (made safe when it was kept): no quoting games.
            let disposition = format!("{how}; filename=\"{}\"", m.name.replace(['"', '\\'], "_"));
            let headers = [
                (header::CONTENT_TYPE, m.content_type),
                (header::CONTENT_DISPOSITION, disposition),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
                (header::CONTENT_SECURITY_POLICY, "sandbox; default-src 'none'".into()),
            ];
            (StatusCode::OK, headers, m.data).into_response()
        }
        Ok(_) => (StatusCode::NOT_FOUND, "no such media (or it was pruned)").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "api: could not read a medium");
            (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response()
        }
    }
}
