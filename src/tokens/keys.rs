//! Signing keys: the private halves on disk in the key directory (0600 files
//! in a 0700 directory), their records (kid, state) in the store, and in
//! memory a `KeyRing` that holds the parsed keys and the pre-serialised JWKS.
//!
//! Invariants: a key's file is written (and synced) before its record is
//! inserted, so no published `kid` lacks its private key; PEM bytes read
//! from disk live only in `Zeroizing` buffers; the private key objects are
//! OpenSSL's, which clear their big numbers when freed; no type here prints
//! key material through `Debug`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jws::RS256;
use josekit::jws::alg::rsassa::{RsassaJwsSigner, RsassaJwsVerifier};
use zeroize::Zeroizing;

use crate::clock::UnixTime;
use crate::store::{KeyState, SigningKeyRecord, Store};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    Insecure(String),
    #[error("signing key error: {0}")]
    Crypto(String),
    #[error("key store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("no active signing key is available")]
    NoActiveKey,
}

/// One parsed key pair.
pub struct SigningKey {
    pub kid: String,
    pub state: KeyState,
    signer: RsassaJwsSigner,
    verifier: RsassaJwsVerifier,
    public_jwk: serde_json::Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("state", &self.state).finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn signer(&self) -> &RsassaJwsSigner {
        &self.signer
    }

    pub fn verifier(&self) -> &RsassaJwsVerifier {
        &self.verifier
    }

    pub fn public_jwk(&self) -> &serde_json::Value {
        &self.public_jwk
    }
}

/// The keys in use at one moment, with the JWKS document already serialised.
#[derive(Debug)]
pub struct KeyRing {
    keys: Vec<Arc<SigningKey>>,
    jwks: bytes::Bytes,
}

impl KeyRing {
    fn new(keys: Vec<Arc<SigningKey>>) -> Self {
        let published: Vec<&serde_json::Value> =
            keys.iter().filter(|key| key.state != KeyState::Retired).map(|key| key.public_jwk()).collect();
        let jwks = serde_json::to_vec(&serde_json::json!({ "keys": published })).unwrap_or_default().into();
        Self { keys, jwks }
    }

    pub fn active(&self) -> Option<&Arc<SigningKey>> {
        self.keys.iter().find(|key| key.state == KeyState::Active)
    }

    /// A key that may verify tokens: anything still published.
    pub fn find_published(&self, kid: &str) -> Option<&Arc<SigningKey>> {
        self.keys.iter().find(|key| key.kid == kid && key.state != KeyState::Retired)
    }

    /// The serialised JWKS document; cloning is a reference count.
    pub fn jwks_bytes(&self) -> bytes::Bytes {
        self.jwks.clone()
    }
}

/// The shared, swappable key ring.
#[derive(Debug, Clone)]
pub struct Keys {
    dir: PathBuf,
    ring: Arc<RwLock<Arc<KeyRing>>>,
}

impl Keys {
    /// Loads every published key from the store and the key directory,
    /// creating the first active key when there is none.
    pub async fn load_or_create(
        store: &dyn Store,
        dir: &Path,
        rsa_bits: u32,
        now: UnixTime,
    ) -> Result<Self, KeyError> {
        ensure_private_dir(dir)?;
        let mut records = store.list_signing_keys().await?;
        if !records.iter().any(|record| record.state == KeyState::Active) {
            let record = create_key(store, dir, rsa_bits, KeyState::Active, now).await?;
            records.push(record);
        }
        let keys = load_records(dir, &records)?;
        let ring = KeyRing::new(keys);
        if ring.active().is_none() {
            return Err(KeyError::NoActiveKey);
        }
        Ok(Self { dir: dir.to_path_buf(), ring: Arc::new(RwLock::new(Arc::new(ring))) })
    }

    /// The current ring; cheap (one `Arc` clone).
    pub fn current(&self) -> Arc<KeyRing> {
        match self.ring.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the store and swaps in a new ring (used after rotation).
    pub async fn reload(&self, store: &dyn Store) -> Result<(), KeyError> {
        let records = store.list_signing_keys().await?;
        let ring = KeyRing::new(load_records(&self.dir, &records)?);
        if ring.active().is_none() {
            return Err(KeyError::NoActiveKey);
        }
        let mut guard = match self.ring.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(ring);
        Ok(())
    }
}

fn key_path(dir: &Path, kid: &str) -> PathBuf {
    dir.join(format!("{kid}.pem"))
}

fn load_records(dir: &Path, records: &[SigningKeyRecord]) -> Result<Vec<Arc<SigningKey>>, KeyError> {
    records
        .iter()
        .filter(|record| record.state != KeyState::Retired)
        .map(|record| {
            let pem = read_private_file(&key_path(dir, &record.kid))?;
            parse_key(&record.kid, record.state, &pem).map(Arc::new)
        })
        .collect()
}

fn parse_key(kid: &str, state: KeyState, pem: &[u8]) -> Result<SigningKey, KeyError> {
    let crypto = |err: josekit::JoseError| KeyError::Crypto(format!("key {kid}: {err}"));
    let key_pair = RS256.key_pair_from_pem(pem).map_err(crypto)?;
    let signer = RS256.signer_from_pem(pem).map_err(crypto)?;
    let public = key_pair.to_jwk_public_key();
    let verifier = RS256.verifier_from_jwk(&public).map_err(crypto)?;
    let field = |name: &str| public.parameter(name).cloned().unwrap_or(serde_json::Value::Null);
    let public_jwk = serde_json::json!({
        "kty": "RSA",
        "kid": kid,
        "use": "sig",
        "alg": "RS256",
        "n": field("n"),
        "e": field("e"),
    });
    let mut signer = signer;
    signer.set_key_id(kid);
    Ok(SigningKey { kid: kid.to_string(), state, signer, verifier, public_jwk })
}

/// Generates a key, writes its file, then records it in the store.
pub async fn create_key(
    store: &dyn Store,
    dir: &Path,
    rsa_bits: u32,
    state: KeyState,
    now: UnixTime,
) -> Result<SigningKeyRecord, KeyError> {
    let kid = crate::secrets::random_token(12);
    let pem = tokio::task::spawn_blocking(move || -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let pair: RsaKeyPair = RS256
            .generate_key_pair(rsa_bits)
            .map_err(|err| KeyError::Crypto(format!("cannot generate an RSA key: {err}")))?;
        Ok(Zeroizing::new(pair.to_pem_private_key()))
    })
    .await
    .map_err(|err| KeyError::Crypto(err.to_string()))??;
    write_private_file(&key_path(dir, &kid), &pem)?;
    let record = SigningKeyRecord { kid, state, created_at: now, state_changed_at: now };
    store.insert_signing_key(record.clone()).await?;
    Ok(record)
}

#[cfg(unix)]
fn ensure_private_dir(dir: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|err| KeyError::Io(format!("cannot create key directory {}: {err}", dir.display())))?;
    }
    let mode = std::fs::metadata(dir)
        .map_err(|err| KeyError::Io(format!("cannot read key directory {}: {err}", dir.display())))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(KeyError::Insecure(format!(
            "key directory {} is accessible by group or others (mode {:o}); run: chmod 700 {}",
            dir.display(),
            mode & 0o777,
            dir.display()
        )));
    }
    // Make sure the 0700 really holds even if the umask widened it.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|err| KeyError::Io(format!("cannot set permissions on {}: {err}", dir.display())))
}

#[cfg(unix)]
fn read_private_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let metadata = std::fs::metadata(path).map_err(|err| {
        KeyError::Io(format!("signing key file {} cannot be read: {err}; restore it from backup", path.display()))
    })?;
    let mode = metadata.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(KeyError::Insecure(format!(
            "signing key file {} is readable by group or others (mode {:o}); run: chmod 600 {}",
            path.display(),
            mode & 0o777,
            path.display()
        )));
    }
    std::fs::read(path)
        .map(Zeroizing::new)
        .map_err(|err| KeyError::Io(format!("cannot read signing key file {}: {err}", path.display())))
}

#[cfg(unix)]
fn write_private_file(path: &Path, contents: &[u8]) -> Result<(), KeyError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |err: std::io::Error| KeyError::Io(format!("cannot write signing key file {}: {err}", path.display()));
    // Write to a temporary name and rename, so a crash never leaves a
    // half-written key under its real name.
    let tmp = path.with_extension("pem.tmp");
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(io)?;
    file.write_all(contents).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Some(parent) = path.parent() {
        std::fs::File::open(parent).and_then(|dir| dir.sync_all()).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_has_no_key_material() {
        let pair = RS256.generate_key_pair(2048).unwrap();
        let pem = pair.to_pem_private_key();
        let key = parse_key("kid1", KeyState::Active, &pem).unwrap();
        let key_debug = format!("{key:?}");
        let printed = format!("{key_debug} {:?}", KeyRing::new(vec![Arc::new(key)]));
        assert!(printed.contains("kid1"));
        assert!(!printed.contains("PRIVATE"));
        assert!(!printed.contains("signer"));
    }

    #[test]
    fn jwks_has_only_public_members() {
        let pair = RS256.generate_key_pair(2048).unwrap();
        let key = parse_key("k", KeyState::Active, &pair.to_pem_private_key()).unwrap();
        let ring = KeyRing::new(vec![Arc::new(key)]);
        let jwks: serde_json::Value = serde_json::from_slice(&ring.jwks_bytes()).unwrap();
        let jwk = jwks["keys"][0].as_object().unwrap();
        let mut names: Vec<&str> = jwk.keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(names, ["alg", "e", "kid", "kty", "n", "use"]);
    }
}
