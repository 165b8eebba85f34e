//! Locks by key: work on one key waits for the same key only, never for other keys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

#[derive(Default)]
pub(crate) struct KeyedLock {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl KeyedLock {
    /// Waits for `key`'s lock; held until the guard drops.
    pub async fn lock(&self, key: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap();
            // Drop the locks nobody holds or waits for, so the map stays small.
            locks.retain(|_, l| Arc::strong_count(l) > 1);
            locks.entry(key.to_string()).or_default().clone()
        };
        lock.lock_owned().await
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.locks.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::KeyedLock;

    #[tokio::test]
    async fn only_the_same_key_waits() {
        let locks = KeyedLock::default();
        let a = locks.lock("a").await;
        let soon = Duration::from_millis(50);
        assert!(tokio::time::timeout(soon, locks.lock("b")).await.is_ok(), "another key goes ahead");
        assert!(tokio::time::timeout(soon, locks.lock("a")).await.is_err(), "the same key waits");
        drop(a);
        let _again = tokio::time::timeout(soon, locks.lock("a")).await.expect("free once released");
        assert_eq!(locks.len(), 1, "released keys are forgotten");
    }
}
