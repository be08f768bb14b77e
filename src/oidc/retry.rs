//! The refresh retry window: concurrent or repeated presentations of the
//! same refresh token within a few seconds share one exchange and get the
//! identical answer, so a client whose response was lost can retry. Outside
//! the window the store sees a consumed token and the family is revoked.
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
}

/// Entries are keyed by token hash *and* client, so a client presenting
/// another client's token gets its own (failing) exchange and cannot hold
/// up or share the owner's.
#[derive(Clone, Default)]
pub struct RefreshRetries {
    entries: Arc<Mutex<HashMap<Key, Entry>>>,
}

impl std::fmt::Debug for RefreshRetries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshRetries(..)")
    }
}

impl RefreshRetries {
    /// The cell shared by every presentation of `token_hash` by `client_id`
    /// within the window.
    pub fn cell(&self, token_hash: &[u8], client_id: &str, now: UnixTime, window_seconds: i64) -> Cell {
        let mut entries = match self.entries.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        entries.retain(|_, entry| now - entry.started_at <= window_seconds);
        let entry = entries
            .entry((token_hash.to_vec(), client_id.to_string()))
            .or_insert_with(|| Entry { started_at: now, cell: Arc::new(OnceCell::new()) });
        entry.cell.clone()
    }
}
