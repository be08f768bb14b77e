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

struct Entry {
    client_id: String,
    started_at: UnixTime,
    cell: Cell,
}

#[derive(Clone, Default)]
pub struct RefreshRetries {
    entries: Arc<Mutex<HashMap<Vec<u8>, Entry>>>,
}

impl std::fmt::Debug for RefreshRetries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshRetries(..)")
    }
}

impl RefreshRetries {
    /// The shared cell for `token_hash`, or `None` when the token is being
    /// used by another client (which gets no shared answer).
    pub fn cell(&self, token_hash: &[u8], client_id: &str, now: UnixTime, window_seconds: i64) -> Option<Cell> {
        let mut entries = match self.entries.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        entries.retain(|_, entry| now - entry.started_at <= window_seconds);
        let entry = entries.entry(token_hash.to_vec()).or_insert_with(|| Entry {
            client_id: client_id.to_string(),
            started_at: now,
            cell: Arc::new(OnceCell::new()),
        });
        (entry.client_id == client_id).then(|| entry.cell.clone())
    }
}
