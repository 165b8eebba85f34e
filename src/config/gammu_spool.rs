//! `type: gammu_spool` backend settings: the folders of a gammu-smsd `service = files`.

use serde::Deserialize;

use super::Problems;

/// gammu-smsd's `InboxFormat`: how the inbox files are read. Never guessed from a file's
/// content: a `standard` file is the SMS text itself, and a text shaped like a detail file
/// would otherwise choose its own sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InboxFormat {
    /// gammu-smsd's default: UTF-16 text with a byte order mark.
    #[default]
    Unicode,
    Standard,
    /// The smsbackup INI (what matrix-sms-bridge sets).
    Detail,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GammuSpoolConfig {
    /// The `InboxFormat` of gammu-smsdrc.
    pub inbox_format: InboxFormat,
    /// gammu-smsd's `InboxPath`: received messages, read and then moved or deleted.
    pub inbox_path: String,
    /// gammu-smsd's `OutboxPath`: messages to send are written here.
    pub outbox_path: String,
    /// gammu-smsd's `SentSMSPath`: a sent message's file lands here.
    pub sentsms_path: String,
    /// gammu-smsd's `ErrorSMSPath`: a message gammu-smsd gave up on lands here.
    pub errorsms_path: String,
    /// Where bridged inbox files go; unused with `delete_processed`.
    pub processed_path: Option<String>,
    /// Delete bridged inbox files instead of moving them.
    pub delete_processed: bool,
    /// Milliseconds between looks at the folders.
    pub poll_ms: u64,
    /// Seconds a send waits for gammu-smsd to move its file to the sent or error folder;
    /// after that the send is retried later and the file stays in the outbox.
    pub send_timeout: u64,
    /// Asks the network for delivery reports (the `d` flag). gammu-smsd handles the
    /// reports itself: the bridge does not see them.
    pub request_reports: bool,
}

impl Default for GammuSpoolConfig {
    fn default() -> Self {
        GammuSpoolConfig {
            inbox_format: InboxFormat::Unicode,
            inbox_path: String::new(),
            outbox_path: String::new(),
            sentsms_path: String::new(),
            errorsms_path: String::new(),
            processed_path: None,
            delete_processed: false,
            poll_ms: 1000,
            send_timeout: 300,
            request_reports: false,
        }
    }
}

impl GammuSpoolConfig {
    pub(super) fn validate(&self, key: &dyn Fn(&str) -> String, p: &mut Problems) {
        let folders = [
            ("inbox_path", &self.inbox_path),
            ("outbox_path", &self.outbox_path),
            ("sentsms_path", &self.sentsms_path),
            ("errorsms_path", &self.errorsms_path),
        ];
        for (name, path) in folders {
            if path.trim().is_empty() {
                p.add(key(name), "must name a folder (the same as in gammu-smsdrc)");
            }
        }
        // Files are told apart by the folder they are in: the folders must differ.
        let same = |a: &str, b: &str| !a.is_empty() && a.trim_end_matches('/') == b.trim_end_matches('/');
        if same(&self.sentsms_path, &self.outbox_path) {
            p.add(
                key("sentsms_path"),
                "must differ from outbox_path, or sent messages cannot be told from waiting ones",
            );
        }
        if same(&self.errorsms_path, &self.sentsms_path) || same(&self.errorsms_path, &self.outbox_path) {
            p.add(
                key("errorsms_path"),
                "must differ from sentsms_path and outbox_path, or failures cannot be told apart",
            );
        }
        match (&self.processed_path, self.delete_processed) {
            (None, false) => p.add(key("processed_path"), "set a folder for bridged files, or delete_processed: true"),
            (Some(d), false) if same(d, &self.inbox_path) => {
                p.add(key("processed_path"), "must differ from inbox_path, or messages are bridged again")
            }
            _ => {}
        }
        if !(50..=60_000).contains(&self.poll_ms) {
            p.add(key("poll_ms"), "must be between 50 and 60000 milliseconds");
        }
        if self.send_timeout == 0 {
            p.add(key("send_timeout"), "must be at least 1 second");
        }
    }
}
