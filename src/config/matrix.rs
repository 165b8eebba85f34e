use serde::Deserialize;

/// What the bridge tells Matrix users about their messages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatrixConfig {
    /// Send `com.beeper.message_send_status` events for relayed messages.
    pub message_status_events: bool,
    /// Send a read receipt from the ghost when the link reports delivery.
    pub delivery_receipts: bool,
    /// Post an `m.notice` when a message fails permanently.
    pub message_error_notices: bool,
}

impl Default for MatrixConfig {
    fn default() -> Self {
        MatrixConfig { message_status_events: true, delivery_receipts: true, message_error_notices: true }
    }
}
