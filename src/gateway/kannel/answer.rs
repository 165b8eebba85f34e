//! Kannel's answers to `sendsms`: HTTP status and the one-line body, word for word, so
//! clients that match on them keep working. Kannel sends them as `text/html` with
//! `Pragma: no-cache` and `Cache-Control: no-cache`.

use thiserror::Error;

/// The accepted answer, given once the message is committed. Kannel answers once per
/// request whatever the number of receivers (the first part's acknowledgement releases
/// the reply), so the count does not change the line.
pub fn accepted_answer(queued: bool, _n_recipients: usize) -> (u16, String) {
    let line = if queued { "3: Queued for later delivery" } else { "0: Accepted for delivery" };
    (202, line.to_owned())
}

/// A parameter whose value Kannel refuses with "`<name>` field misformed, rejected".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Udh,
    DlrUrl,
    DlrMask,
    MClass,
    Pid,
    Rpi,
    AltDcs,
    Mwi,
    Coding,
    Compress,
    Validity,
    Deferred,
    Priority,
    // Kannel passes these bytes on as they are; we need text.
    From,
    Smsc,
    Binfo,
}

impl Field {
    /// The name as Kannel writes it in its answers.
    pub fn name(self) -> &'static str {
        match self {
            Field::Udh => "UDH",
            Field::DlrUrl => "DLR-URL",
            Field::DlrMask => "DLR-Mask",
            Field::MClass => "MClass",
            Field::Pid => "PID",
            Field::Rpi => "RPI",
            Field::AltDcs => "Alt-DCS",
            Field::Mwi => "MWI",
            Field::Coding => "Coding",
            Field::Compress => "Compress",
            Field::Validity => "Validity",
            Field::Deferred => "Deferred",
            Field::Priority => "Priority",
            Field::From => "From",
            Field::Smsc => "SMSC",
            Field::Binfo => "BInfo",
        }
    }
}

/// Why a `sendsms` request is not accepted; `Display` is Kannel's body line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SendsmsError {
    /// No username/user or password/pass, wrong ones, or a client address the user may
    /// not send from.
    #[error("Authorization failed for sendsms")]
    Authorization,
    #[error("Missing receiver number, rejected")]
    MissingReceiver,
    #[error("Empty receiver number not allowed, rejected")]
    EmptyReceiver,
    /// Every receiver was denied (bad characters, white or black lists).
    #[error("Number(s) has/have been denied by white- and/or black-lists.")]
    ReceiversDenied,
    /// No `from`, and the user has no default sender (nor is there a global one).
    #[error("Sender missing and no global set, rejected")]
    SenderMissing,
    #[error("{} field misformed, rejected", .0.name())]
    Field(Field),
    #[error("UDH field is too long, rejected")]
    UdhTooLong,
    #[error("Account field misformed or too long, rejected")]
    Account,
    /// Unknown `charset`, or `text` not valid in it.
    #[error("Charset or body misformed, rejected")]
    Charset,
    /// A parameter Kannel takes that this gateway cannot honour (ours, not Kannel's).
    #[error("{} field not supported, rejected", .0)]
    Unsupported(&'static str),
    /// A `%` not followed by two hex digits (ours: Kannel keeps such bytes).
    #[error("Malformed URL encoding, rejected")]
    BadEncoding,
    /// Nothing could be queued. With several receivers Kannel names those that failed.
    #[error("Sending failed.{}", failed_list(.failed, *.n_recipients))]
    SendingFailed { failed: Vec<String>, n_recipients: usize },
    /// The message can never be routed (Kannel's negative acknowledgement).
    #[error("Not routable. Do not try again.")]
    NotRoutable,
    /// A passing failure (Kannel's temporary negative acknowledgement).
    #[error("Temporal failure, try again later.")]
    TemporaryFailure,
}

fn failed_list(failed: &[String], n_recipients: usize) -> String {
    if n_recipients > 1 && !failed.is_empty() {
        format!(" Failed receivers are: {}", failed.join(" "))
    } else {
        String::new()
    }
}

impl SendsmsError {
    pub fn status(&self) -> u16 {
        match self {
            SendsmsError::Authorization | SendsmsError::NotRoutable => 403,
            SendsmsError::SendingFailed { .. } => 500,
            SendsmsError::TemporaryFailure => 503,
            _ => 400,
        }
    }

    /// HTTP status and body line.
    pub fn answer(&self) -> (u16, String) {
        (self.status(), self.to_string())
    }
}
