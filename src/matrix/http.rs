//! [`MatrixApi`] over HTTP: typed ruma requests, sent with reqwest, as the appservice
//! (`as_token`) asserting a user with `?user_id=`.

use std::borrow::Cow;
use std::time::Duration;

use ruma::api::auth_scheme::SendAccessToken;
use ruma::api::client::{
    account::register, alias::get_alias, appservice::request_ping, authenticated_media::get_content,
    config::set_global_account_data, discovery::get_capabilities, media::create_content, membership::invite_user,
    membership::join_room_by_id, membership::leave_room, message::get_message_events, message::send_message_event,
    profile::set_display_name, receipt::create_receipt, room::create_room, state::send_state_event,
};
use ruma::api::path_builder::VersionHistory;
use ruma::api::{
    AppserviceUserIdentity, MatrixVersion, OutgoingRequest, OutgoingRequestAppserviceExt, SupportedVersions,
};
use ruma::events::receipt::ReceiptThread;
use ruma::serde::Raw;
use ruma::{MilliSecondsSinceUnixEpoch, OwnedRoomAliasId, OwnedRoomId, OwnedUserId, TransactionId, UInt, UserId};
use serde_json::{Value, json};

use super::{MatrixApi, MatrixError, Result, RoomSpec};

pub struct HttpMatrix {
    base: String,
    as_token: String,
    http: reqwest::Client,
    versions: SupportedVersions,
}

fn parse<T: TryFrom<String>>(what: &str, s: &str) -> Result<T> {
    T::try_from(s.to_string())
        .map_err(|_| MatrixError::new(Some(400), Some("M_INVALID_PARAM"), format!("invalid {what}: {s:?}")))
}

/// `Retry-After` in seconds (newer homeservers send it beside, or instead of, the body's
/// `retry_after_ms`).
fn retry_after_header(headers: &http::HeaderMap) -> Option<u64> {
    let secs: u64 = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(secs.saturating_mul(1000))
}

fn raw<T>(v: &Value) -> Raw<T> {
    Raw::from_json(serde_json::value::to_raw_value(v).expect("JSON values serialise"))
}

impl HttpMatrix {
    pub fn new(base: &str, as_token: &str) -> HttpMatrix {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("sms-bridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("TLS backend available");
        let versions = SupportedVersions { versions: [MatrixVersion::V1_11].into(), features: Default::default() };
        HttpMatrix { base: base.trim_end_matches('/').to_string(), as_token: as_token.into(), http, versions }
    }

    async fn call<R>(&self, request: R, as_user: Option<&str>) -> Result<R::IncomingResponse>
    where
        R: OutgoingRequest<PathBuilder = VersionHistory> + OutgoingRequestAppserviceExt,
        for<'a> R::Authentication: ruma::api::auth_scheme::AuthScheme<Input<'a> = SendAccessToken<'a>>,
    {
        let user: Option<OwnedUserId> = as_user.map(|u| parse("user ID", u)).transpose()?;
        let identity = user.as_deref().map(AppserviceUserIdentity::new).unwrap_or_default();
        let req: http::Request<Vec<u8>> = request
            .try_into_http_request_with_identity(
                &self.base,
                SendAccessToken::Appservice(&self.as_token),
                identity,
                Cow::Borrowed(&self.versions),
            )
            .map_err(|e| MatrixError::network(format!("building request: {e}")))?;
        let resp = self.execute(req).await?;
        ruma::api::IncomingResponse::try_from_http_response(resp)
            .map_err(|e| MatrixError::new(Some(200), None, format!("bad response: {e}")))
    }

    /// Sends a request; non-2xx answers become a [`MatrixError`] with the Matrix errcode.
    async fn execute(&self, req: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>> {
        let (parts, body) = req.into_parts();
        let url = parts.uri.to_string();
        let resp = self
            .http
            .request(parts.method, &url)
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|e| MatrixError::network(format!("{}: {e}", self.base)))?;
        let status = resp.status();
        // Media downloads need their real type; JSON answers are parsed regardless.
        let content_type = resp.headers().get(http::header::CONTENT_TYPE).cloned();
        let retry_after = retry_after_header(resp.headers());
        let bytes = resp.bytes().await.map_err(|e| MatrixError::network(format!("{}: {e}", self.base)))?.to_vec();
        if !status.is_success() {
            let v: Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let message = v["error"].as_str().map(String::from).unwrap_or_else(|| format!("HTTP {status}"));
            let mut e = MatrixError::new(Some(status.as_u16()), v["errcode"].as_str(), message);
            e.retry_after_ms = v["retry_after_ms"].as_u64().or(retry_after);
            return Err(e);
        }
        let mut out = http::Response::builder().status(status);
        out = out.header(
            http::header::CONTENT_TYPE,
            content_type.unwrap_or(http::HeaderValue::from_static("application/json")),
        );
        Ok(out.body(bytes).expect("valid response"))
    }
}

#[async_trait::async_trait]
impl MatrixApi for HttpMatrix {
    async fn versions(&self) -> Result<Vec<String>> {
        let url = format!("{}/_matrix/client/versions", self.base);
        let resp = self.http.get(&url).send().await.map_err(|e| MatrixError::network(format!("{url}: {e}")))?;
        let status = resp.status();
        let v: Value = resp.json().await.map_err(|e| MatrixError::network(format!("{url}: {e}")))?;
        if !status.is_success() {
            return Err(MatrixError::new(Some(status.as_u16()), None, format!("{url}: HTTP {status}")));
        }
        Ok(v["versions"].as_array().into_iter().flatten().filter_map(|s| s.as_str().map(String::from)).collect())
    }

    async fn ping(&self, appservice_id: &str) -> Result<()> {
        let mut req = request_ping::v1::Request::new(appservice_id.to_string());
        req.transaction_id = Some(TransactionId::new());
        self.call(req, None).await.map(|_| ())
    }

    async fn register(&self, localpart: &str) -> Result<()> {
        let mut req = register::v3::Request::new();
        req.username = Some(localpart.to_string());
        req.login_type = Some(register::LoginType::ApplicationService);
        req.inhibit_login = true;
        match self.call(req, None).await {
            Ok(_) => Ok(()),
            Err(e) if e.is("M_USER_IN_USE") => Ok(()),
            Err(e) => Err(e),
        }
    }

    // The newer profile-field endpoint needs Matrix 1.16; this one works everywhere.
    #[allow(deprecated)]
    async fn set_displayname(&self, user_id: &str, name: &str) -> Result<()> {
        let req = set_display_name::v3::Request::new(parse("user ID", user_id)?, Some(name.to_string()));
        self.call(req, Some(user_id)).await.map(|_| ())
    }

    async fn default_room_version(&self) -> Result<String> {
        let resp = self.call(get_capabilities::v3::Request::new(), None).await?;
        Ok(resp.capabilities.room_versions.default.to_string())
    }

    async fn create_room(&self, spec: &RoomSpec) -> Result<String> {
        let mut req = create_room::v3::Request::new();
        req.room_alias_name = spec.alias_localpart.clone();
        req.name = spec.name.clone();
        req.topic = spec.topic.clone();
        req.is_direct = spec.is_direct;
        req.preset = Some(create_room::v3::RoomPreset::PrivateChat);
        req.invite = spec.invite.iter().map(|u| parse("user ID", u)).collect::<Result<_>>()?;
        req.initial_state = spec
            .initial_state
            .iter()
            .map(|s| raw(&json!({ "type": s.event_type, "state_key": s.state_key, "content": s.content })))
            .collect();
        req.power_level_content_override = spec.power_levels.as_ref().map(raw);
        let resp = self.call(req, Some(&spec.creator)).await?;
        Ok(resp.room_id.to_string())
    }

    async fn resolve_alias(&self, alias: &str) -> Result<Option<String>> {
        let alias: OwnedRoomAliasId = parse("room alias", alias)?;
        match self.call(get_alias::v3::Request::new(alias), None).await {
            Ok(r) => Ok(Some(r.room_id.to_string())),
            Err(e) if e.is("M_NOT_FOUND") => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn join(&self, user_id: &str, room_id: &str) -> Result<()> {
        let room: OwnedRoomId = parse("room ID", room_id)?;
        self.call(join_room_by_id::v3::Request::new(room), Some(user_id)).await.map(|_| ())
    }

    async fn invite(&self, sender: &str, room_id: &str, user_id: &str) -> Result<()> {
        let room: OwnedRoomId = parse("room ID", room_id)?;
        let who = invite_user::v3::InvitationRecipient::UserId(invite_user::v3::InviteUserId::new(parse(
            "user ID", user_id,
        )?));
        match self.call(invite_user::v3::Request::new(room, who), Some(sender)).await {
            Ok(_) => Ok(()),
            // Already invited or joined: what we wanted.
            Err(e) if e.status == Some(403) && e.message.contains("already in the room") => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn leave(&self, user_id: &str, room_id: &str, reason: Option<&str>) -> Result<()> {
        let room: OwnedRoomId = parse("room ID", room_id)?;
        let mut req = leave_room::v3::Request::new(room);
        req.reason = reason.map(String::from);
        self.call(req, Some(user_id)).await.map(|_| ())
    }

    async fn send(
        &self,
        sender: &str,
        room_id: &str,
        txn_id: &str,
        event_type: &str,
        content: &Value,
        ts: Option<i64>,
    ) -> Result<String> {
        let room: OwnedRoomId = parse("room ID", room_id)?;
        let mut req = send_message_event::v3::Request::new_raw(room, txn_id.into(), event_type.into(), raw(content));
        req.timestamp = ts.and_then(|t| UInt::new(t.max(0) as u64)).map(MilliSecondsSinceUnixEpoch);
        Ok(self.call(req, Some(sender)).await?.event_id.to_string())
    }

    async fn send_state(
        &self,
        sender: &str,
        room_id: &str,
        event_type: &str,
        state_key: &str,
        content: &Value,
    ) -> Result<String> {
        let room: OwnedRoomId = parse("room ID", room_id)?;
        let req = send_state_event::v3::Request::new_raw(room, event_type.into(), state_key.to_string(), raw(content));
        Ok(self.call(req, Some(sender)).await?.event_id.to_string())
    }

    async fn download(&self, mxc: &str) -> Result<(Vec<u8>, Option<String>)> {
        let bad = || MatrixError::new(Some(400), Some("M_INVALID_PARAM"), format!("not an mxc:// URI: {mxc:?}"));
        let (server, id) = mxc.strip_prefix("mxc://").and_then(|r| r.split_once('/')).ok_or_else(bad)?;
        let server = ruma::OwnedServerName::try_from(server).map_err(|_| bad())?;
        let resp = self.call(get_content::v1::Request::new(id.to_string(), server), None).await?;
        Ok((resp.file, resp.content_type))
    }

    async fn upload(&self, sender: &str, content_type: &str, filename: &str, data: Vec<u8>) -> Result<String> {
        let mut req = create_content::v3::Request::new(data);
        req.filename = Some(filename.to_string());
        req.content_type = Some(content_type.to_string());
        Ok(self.call(req, Some(sender)).await?.content_uri.to_string())
    }

    async fn read_receipt(&self, sender: &str, room_id: &str, event_id: &str) -> Result<()> {
        let room: OwnedRoomId = parse("room ID", room_id)?;
        let mut req =
            create_receipt::v3::Request::new(room, create_receipt::v3::ReceiptType::Read, parse("event ID", event_id)?);
        req.thread = ReceiptThread::Unthreaded;
        self.call(req, Some(sender)).await.map(|_| ())
    }

    async fn recent_events(&self, user: &str, room_id: &str, limit: u32) -> Result<Vec<Value>> {
        let mut req = get_message_events::v3::Request::backward(parse("room ID", room_id)?);
        req.limit = UInt::from(limit);
        let resp = self.call(req, Some(user)).await?;
        Ok(resp.chunk.iter().filter_map(|e| serde_json::from_str(e.json().get()).ok()).collect())
    }

    async fn set_account_data(&self, user_id: &str, event_type: &str, content: &Value) -> Result<()> {
        let user: &UserId = &parse::<OwnedUserId>("user ID", user_id)?;
        let req = set_global_account_data::v3::Request::new_raw(user.to_owned(), event_type.into(), raw(content));
        self.call(req, Some(user_id)).await.map(|_| ())
    }
}
