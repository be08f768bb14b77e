//! The signing key lifecycle: `next` (published, does not sign) → `active`
//! (signs) → `retiring` (published, verifies) → `retired` (unpublished, file
//! wiped). `Keys::maintain` runs every few seconds in the server: it creates
//! missing keys, rotates when the active key is older than `rotate_every`
//! and the next key has been published for a JWKS cache lifetime, retires
//! keys once every token they signed has expired, removes leftovers, and
//! reloads the ring when another process (the CLI) changed the keys.
//!
//! Invariants (crash safety): a new key's file is written, synced and
//! renamed into place before its record exists; every state change is one
//! store transaction guarded against concurrent changes (the store allows
//! one `active` and one `next` key); a retired key is marked in the store
//! before its file is wiped; a file without a record is garbage, removed
//! once it is older than `ORPHAN_GRACE_SECS` (younger ones may belong to a
//! key another process is about to record).

use std::path::Path;
use std::time::Duration;

use crate::clock::UnixTime;
use crate::store::{KeyRevocation, KeyRotation, KeyState, SigningKeyRecord, Store};

use super::keys::{self, KeyError, KeySettings, Keys};

/// How often a running server calls `Keys::maintain`: a CLI rotation or
/// revocation reaches it within this, so a revoked key stops signing and
/// verifying within a second. A pass is a few indexed reads and a listing
/// of the key directory.
pub const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(1);

/// Age (by file time) after which a key file without a record is deleted.
pub const ORPHAN_GRACE_SECS: i64 = 3600;

/// Test hook: stop with `KeyError::Interrupted` right after this step, as if
/// the process had been killed there. Production code passes `Never`.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CrashPoint {
    #[default]
    Never,
    /// The new key is in `<kid>.pem.tmp`, synced, not yet renamed.
    AfterTempFile,
    /// The new key is in `<kid>.pem`; no record yet.
    AfterKeyFile,
    /// The rotation is committed; the ring is not reloaded.
    AfterCommit,
    /// A retiring key is marked `retired`; its file is still there.
    AfterMarkRetired,
}

/// What `Keys::revoke` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    pub kid: String,
    /// The state the key was in.
    pub was: KeyState,
    /// The key that became active because the revoked one was.
    pub activated: Option<String>,
}

/// What one `Keys::maintain` pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maintenance {
    /// Keys created because the `active` or `next` one was missing.
    pub created: Vec<String>,
    pub rotated: Option<KeyRotation>,
    pub retired: Vec<String>,
    /// Whether the ring was reloaded because the store changed.
    pub reloaded: bool,
}

fn new_record(kid: String, state: KeyState, now: UnixTime) -> SigningKeyRecord {
    SigningKeyRecord { kid, state, created_at: now, state_changed_at: now, revoked_at: None }
}

impl Keys {
    /// `next` → `active`, `active` → `retiring`, a new `next`: what
    /// `latchkey keys rotate` does, and the scheduled rotation.
    pub async fn rotate(&self, store: &dyn Store, now: UnixTime) -> Result<KeyRotation, KeyError> {
        self.rotate_until(store, now, CrashPoint::Never).await
    }

    #[doc(hidden)]
    pub async fn rotate_until(&self, store: &dyn Store, now: UnixTime, crash: CrashPoint) -> Result<KeyRotation, KeyError> {
        let records = store.list_signing_keys().await?;
        let next = records.iter().find(|record| record.state == KeyState::Next).ok_or(KeyError::NoNextKey)?;
        self.rotate_from(store, &next.kid, now, crash).await
    }

    async fn rotate_from(
        &self,
        store: &dyn Store,
        next_kid: &str,
        now: UnixTime,
        crash: CrashPoint,
    ) -> Result<KeyRotation, KeyError> {
        let kid = self.create_key_file(crash).await?;
        // On a store error the file stays: it is garbage if the transaction
        // did not commit, and needed if it did.
        match store.rotate_signing_keys(next_kid, new_record(kid.clone(), KeyState::Next, now), now).await? {
            Some(rotation) => {
                tracing::info!(
                    event = "keys_rotated",
                    active = %rotation.activated,
                    retiring = rotation.retiring.as_deref().unwrap_or("-"),
                    next = %rotation.next,
                    "signing keys rotated"
                );
                if crash == CrashPoint::AfterCommit {
                    return Err(KeyError::Interrupted("after committing the rotation"));
                }
                self.reload_or_warn(store).await;
                Ok(rotation)
            }
            None => {
                keys::wipe_file(&keys::key_path(&self.settings().dir, &kid))?;
                Err(KeyError::RotatedElsewhere)
            }
        }
    }

    /// Compromise: the key leaves `/jwks` and signing at once. If it was
    /// active, the `next` key becomes active and a new `next` is made.
    pub async fn revoke(&self, store: &dyn Store, kid: &str, now: UnixTime) -> Result<Revoked, KeyError> {
        let records = store.list_signing_keys().await?;
        match records.iter().find(|record| record.kid == kid) {
            None => return Err(KeyError::UnknownKid(kid.to_string())),
            Some(record) if record.state == KeyState::Retired => return Err(KeyError::AlreadyRetired(kid.to_string())),
            Some(_) => {}
        }
        // The replacement's file exists before the transaction that may record it.
        let replacement = self.create_key_file(CrashPoint::Never).await?;
        let replacement_path = keys::key_path(&self.settings().dir, &replacement);
        let outcome =
            store.revoke_signing_key(kid, new_record(replacement.clone(), KeyState::Next, now), now).await?;
        let (was, activated, used) = match outcome {
            KeyRevocation::Unknown => {
                keys::wipe_file(&replacement_path)?;
                return Err(KeyError::UnknownKid(kid.to_string()));
            }
            KeyRevocation::AlreadyRetired => {
                keys::wipe_file(&replacement_path)?;
                return Err(KeyError::AlreadyRetired(kid.to_string()));
            }
            KeyRevocation::Revoked { was, activated, replacement_used } => (was, activated, replacement_used),
        };
        if !used {
            keys::wipe_file(&replacement_path)?;
        }
        tracing::warn!(event = "key_revoked", kid, was = was.as_str(), "signing key revoked");
        // The record says retired: the file may go now.
        keys::wipe_file(&keys::key_path(&self.settings().dir, kid))?;
        self.reload(store).await?;
        Ok(Revoked { kid: kid.to_string(), was, activated })
    }

    /// One pass of the schedule; see the module header.
    pub async fn maintain(&self, store: &dyn Store, now: UnixTime) -> Result<Maintenance, KeyError> {
        self.maintain_until(store, now, CrashPoint::Never).await
    }

    #[doc(hidden)]
    pub async fn maintain_until(&self, store: &dyn Store, now: UnixTime, crash: CrashPoint) -> Result<Maintenance, KeyError> {
        let mut report = Maintenance::default();
        let mut records = store.list_signing_keys().await?;
        report.created = self.ensure_live_keys(store, &records, now).await?;
        if !report.created.is_empty() {
            records = store.list_signing_keys().await?;
        }
        let policy = self.settings().policy;
        let active = records.iter().find(|record| record.state == KeyState::Active);
        let next = records.iter().find(|record| record.state == KeyState::Next);
        if let (Some(active), Some(next)) = (active, next) {
            let due = now - active.state_changed_at >= policy.rotate_every;
            let published_long_enough = now - next.state_changed_at >= policy.publish_before_use;
            if due && published_long_enough {
                match self.rotate_from(store, &next.kid, now, crash).await {
                    Ok(rotation) => report.rotated = Some(rotation),
                    Err(KeyError::RotatedElsewhere) => {}
                    Err(err) => return Err(err),
                }
            }
        }
        for record in &records {
            if record.state != KeyState::Retiring || now - record.state_changed_at < policy.retain_after_use {
                continue;
            }
            if store.retire_signing_key(&record.kid, now).await? {
                tracing::info!(event = "key_retired", kid = %record.kid, "signing key retired");
                if crash == CrashPoint::AfterMarkRetired {
                    return Err(KeyError::Interrupted("after marking a key retired"));
                }
                report.retired.push(record.kid.clone());
            }
        }
        let records = store.list_signing_keys().await?;
        // Wipes the files of the keys just retired, and any leftovers.
        clean_key_dir(self.settings(), &records, now)?;
        if keys::fingerprint(&records) != self.current().fingerprint() {
            self.reload(store).await?;
            report.reloaded = true;
        }
        Ok(report)
    }

    /// Makes sure an `active` and a `next` key exist; returns new kids.
    pub(crate) async fn ensure_live_keys(
        &self,
        store: &dyn Store,
        records: &[SigningKeyRecord],
        now: UnixTime,
    ) -> Result<Vec<String>, KeyError> {
        let has = |state: KeyState| records.iter().find(|record| record.state == state);
        let mut created = Vec::new();
        match (has(KeyState::Active), has(KeyState::Next)) {
            (Some(_), Some(_)) => {}
            // A published next key is better than a fresh one: promote it.
            (None, Some(next)) => match self.rotate_from(store, &next.kid, now, CrashPoint::Never).await {
                Ok(rotation) => created.push(rotation.next),
                Err(KeyError::RotatedElsewhere) => {}
                Err(err) => return Err(err),
            },
            (active, None) => {
                let mut missing = vec![KeyState::Next];
                if active.is_none() {
                    missing.insert(0, KeyState::Active);
                }
                for state in missing {
                    let kid = self.create_key_file(CrashPoint::Never).await?;
                    if store.insert_signing_key(new_record(kid.clone(), state, now)).await? {
                        tracing::info!(event = "key_created", kid = %kid, state = state.as_str(), "signing key created");
                        created.push(kid);
                    } else {
                        // Another process created one first; ours was never recorded.
                        keys::wipe_file(&keys::key_path(&self.settings().dir, &kid))?;
                    }
                }
            }
        }
        Ok(created)
    }

    /// Generates a key and writes its file; returns its kid.
    async fn create_key_file(&self, crash: CrashPoint) -> Result<String, KeyError> {
        let settings = self.settings().clone();
        let kid = crate::secrets::random_token(12);
        let task_kid = kid.clone();
        tokio::task::spawn_blocking(move || -> Result<(), KeyError> {
            let pem = keys::generate_pem(settings.rsa_bits, &settings.passphrase)?;
            keys::write_temp_file(&settings.dir, &task_kid, &pem)?;
            if crash == CrashPoint::AfterTempFile {
                return Err(KeyError::Interrupted("after writing the temporary key file"));
            }
            keys::publish_temp_file(&settings.dir, &task_kid)?;
            if crash == CrashPoint::AfterKeyFile {
                return Err(KeyError::Interrupted("after writing the key file"));
            }
            Ok(())
        })
        .await
        .map_err(|err| KeyError::Crypto(err.to_string()))??;
        Ok(kid)
    }

    async fn reload_or_warn(&self, store: &dyn Store) {
        // The store is already changed; the next maintenance pass retries.
        if let Err(err) = self.reload(store).await {
            tracing::warn!(error = %err, "reloading the signing keys failed");
        }
    }
}

/// Removes what interrupted work left in the key directory: files of
/// `retired` keys (at once) and files without a record (after the grace
/// period). Files that are not `*.pem` or `*.pem.tmp` are left alone.
pub(crate) fn clean_key_dir(settings: &KeySettings, records: &[SigningKeyRecord], now: UnixTime) -> Result<(), KeyError> {
    let dir = &settings.dir;
    let entries = std::fs::read_dir(dir)
        .map_err(|err| KeyError::Io(format!("cannot list key directory {}: {err}", dir.display())))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let (kid, temporary) = match (name.strip_suffix(".pem.tmp"), name.strip_suffix(".pem")) {
            (Some(kid), _) => (kid, true),
            (None, Some(kid)) => (kid, false),
            (None, None) => continue,
        };
        let path = entry.path();
        match records.iter().find(|record| record.kid == kid) {
            Some(record) if record.state == KeyState::Retired => {
                tracing::info!(file = %path.display(), "wiping the file of a retired key");
                keys::wipe_file(&path)?;
            }
            Some(_) if !temporary => {}
            _ => {
                if file_age(&path, now).is_some_and(|age| age >= ORPHAN_GRACE_SECS) {
                    tracing::info!(file = %path.display(), "removing a key file that has no record");
                    keys::wipe_file(&path)?;
                }
            }
        }
    }
    Ok(())
}

/// Seconds since the file was last modified, by `now`.
fn file_age(path: &Path, now: UnixTime) -> Option<i64> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    let at = modified.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
    Some(now - at)
}
