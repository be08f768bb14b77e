//! The refresh retry window: concurrent or repeated presentations of the
//! same refresh token within a few seconds share one exchange and get the
//! identical answer, so a client whose response was lost can retry. Outside
//! the window the store sees a consumed token and the family is revoked.
//!
//! The window closes early once the successor token is presented: whoever
//! holds the successor received the answer, so a later presentation of the
//! old token is no lost-response retry but a copy, and counts as reuse. That
//! also keeps the map small however fast clients refresh (one entry per
//! chain in flight, not one per refresh in the last few seconds).
//!
//! Invariant: this is process-local memory. After a restart a retry is
//! treated as reuse, which is the safe side.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::clock::UnixTime;

use super::token::TokenResponse;

type Cell = Arc<OnceCell<TokenResponse>>;

/// A presented refresh token's hash and the client that presented it.
type Key = (Vec<u8>, String);

struct Entry {
    started_at: UnixTime,
    cell: Cell,
    /// The key under which the successor token will be presented, once the
    /// exchange has produced one.
    successor: Option<Key>,
}

#[derive(Default)]
struct Entries {
    /// Entries are keyed by token hash *and* client, so a client presenting
    /// another client's token gets its own (failing) exchange and cannot
    /// hold up or share the owner's.
    by_token: HashMap<Key, Entry>,
    /// Successor key → the key of the exchange that issued it.
    predecessor: HashMap<Key, Key>,
    /// When expired entries were last swept.
    swept_at: UnixTime,
}

impl Entries {
    fn remove(&mut self, key: &Key) {
        if let Some(successor) = self.by_token.remove(key).and_then(|entry| entry.successor) {
            self.predecessor.remove(&successor);
        }
    }
}

#[derive(Clone, Default)]
pub struct RefreshRetries {
    entries: Arc<Mutex<Entries>>,
}

impl std::fmt::Debug for RefreshRetries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshRetries(..)")
    }
}

impl RefreshRetries {
    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        match self.entries.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The cell shared by every presentation of `token_hash` by `client_id`
    /// within the window.
    pub fn cell(&self, token_hash: &[u8], client_id: &str, now: UnixTime, window_seconds: i64) -> Cell {
        let mut entries = self.lock();
        // Sweeping is a pass over the map: at most once a second.
        if now > entries.swept_at {
            let expired: Vec<Key> = entries
                .by_token
                .iter()
                .filter(|(_, entry)| now - entry.started_at > window_seconds)
                .map(|(key, _)| key.clone())
                .collect();
            for key in &expired {
                entries.remove(key);
            }
            entries.swept_at = now;
        }
        let key = (token_hash.to_vec(), client_id.to_string());
        // This token is the successor of an earlier exchange: that one's
        // answer arrived, so its window is over.
        if let Some(predecessor) = entries.predecessor.remove(&key) {
            entries.remove(&predecessor);
        }
        let entry = entries
            .by_token
            .entry(key)
            .or_insert_with(|| Entry { started_at: now, cell: Arc::new(OnceCell::new()), successor: None });
        if now - entry.started_at > window_seconds {
            // Expired but not swept yet (swept at most once a second).
            *entry = Entry { started_at: now, cell: Arc::new(OnceCell::new()), successor: None };
        }
        entry.cell.clone()
    }

    /// Records that the exchange of `token_hash` issued `successor_hash`.
    pub fn note_successor(&self, token_hash: &[u8], client_id: &str, successor_hash: Vec<u8>) {
        let mut entries = self.lock();
        let key = (token_hash.to_vec(), client_id.to_string());
        let successor = (successor_hash, client_id.to_string());
        if let Some(entry) = entries.by_token.get_mut(&key) {
            if entry.successor.is_some() {
                return;
            }
            entry.successor = Some(successor.clone());
            entries.predecessor.insert(successor, key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presenting_the_successor_closes_the_window_and_the_map_stays_small() {
        let retries = RefreshRetries::default();
        let first = retries.cell(b"rt1", "web", 100, 5);
        assert!(Arc::ptr_eq(&first, &retries.cell(b"rt1", "web", 101, 5)), "a retry shares the exchange");
        assert!(!Arc::ptr_eq(&first, &retries.cell(b"rt1", "other", 101, 5)), "another client does not");
        retries.note_successor(b"rt1", "web", b"rt2".to_vec());
        let _second = retries.cell(b"rt2", "web", 102, 5);
        assert!(!Arc::ptr_eq(&first, &retries.cell(b"rt1", "web", 102, 5)), "rt1's window closed");
        // A long chain keeps one entry per client and token in flight.
        for i in 0..1000u32 {
            let (token, next) = (format!("t{i}"), format!("t{}", i + 1));
            let _ = retries.cell(token.as_bytes(), "chain", 200, 5);
            retries.note_successor(token.as_bytes(), "chain", next.into_bytes());
        }
        assert!(retries.lock().by_token.len() < 10);
        // Outside the window everything goes.
        let _ = retries.cell(b"late", "web", 300, 5);
        assert_eq!(retries.lock().by_token.len(), 1);
        assert!(retries.lock().predecessor.len() <= 1);
    }
}
