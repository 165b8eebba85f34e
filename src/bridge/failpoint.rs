//! Crash-test hooks: `SMS_BRIDGE_FAILPOINT=<name>` makes the process stop dead at that
//! point, so a test can `kill -9` it in exactly the window it wants to test.
//! Unset (always, in production) they cost one string comparison.

use std::sync::OnceLock;

pub(crate) async fn hit(name: &str) {
    static POINT: OnceLock<Option<String>> = OnceLock::new();
    let point = POINT.get_or_init(|| std::env::var("SMS_BRIDGE_FAILPOINT").ok());
    if point.as_deref() == Some(name) {
        tracing::warn!(failpoint = name, "failpoint reached; pausing until killed");
        std::future::pending::<()>().await;
    }
}
