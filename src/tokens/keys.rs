//! Signing keys: the private halves on disk in the key directory (0600 files
//! in a 0700 directory, PKCS#8 PEM, encrypted when a passphrase is set),
//! their records (kid, state) in the store, and in memory a `KeyRing` that
//! holds the parsed keys and the pre-serialised JWKS with its ETag. The
//! lifecycle (rotation, revocation, retirement) is in `rotation.rs`.
//!
//! Invariants: a key's file is written (and synced) before its record is
//! inserted, so no published `kid` lacks its private key; private key bytes
//! (PEM, DER, passphrases) live only in `Zeroizing` buffers or `SecretString`;
//! the private key objects are OpenSSL's, which clear their big numbers when
//! freed, and only the `active` key keeps one (the others keep only their
//! public half); no type here prints key material through `Debug`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use josekit::jws::RS256;
use josekit::jws::alg::rsassa::{RsassaJwsSigner, RsassaJwsVerifier};
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::symm::Cipher;
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::clock::UnixTime;
use crate::config::{Config, PASSPHRASE_ENV, Passphrase};
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
    #[error("there is no next signing key to promote; restart latchkey or run `latchkey keys list` to inspect the keys")]
    NoNextKey,
    #[error("another process rotated the signing keys at the same moment; run `latchkey keys list` to see the result")]
    RotatedElsewhere,
    #[error("no signing key has kid {0:?}; run `latchkey keys list` to see the kids")]
    UnknownKid(String),
    #[error("signing key {0} is already retired")]
    AlreadyRetired(String),
    /// Only from the test hook `rotation::CrashPoint`.
    #[error("interrupted on purpose {0}")]
    Interrupted(&'static str),
}

/// How long keys live, derived from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPolicy {
    /// Seconds an `active` key signs before rotation is due.
    pub rotate_every: i64,
    /// Seconds a `next` key must have been published before it may sign:
    /// the JWKS cache lifetime, so every cached JWKS already holds it.
    pub publish_before_use: i64,
    /// Seconds a `retiring` key stays published: the longest lifetime of
    /// anything it signed plus the configured margin.
    pub retain_after_use: i64,
}

impl KeyPolicy {
    pub fn from_config(config: &Config) -> Self {
        let tokens = &config.tokens;
        // Everything the active key signs: access tokens and ID tokens.
        let longest = tokens.access_token_ttl.max(tokens.id_token_ttl);
        Self {
            rotate_every: config.keys.rotate_every.as_secs() as i64,
            publish_before_use: super::JWKS_MAX_AGE_SECS as i64,
            retain_after_use: (longest + config.keys.retire_margin).as_secs() as i64,
        }
    }
}

/// Where keys live and how they are made.
#[derive(Debug, Clone)]
pub struct KeySettings {
    pub dir: PathBuf,
    pub rsa_bits: u32,
    pub passphrase: Passphrase,
    pub policy: KeyPolicy,
}

impl KeySettings {
    pub fn from_config(config: &Config) -> Self {
        Self {
            dir: config.keys.dir.clone(),
            rsa_bits: config.keys.rsa_bits,
            passphrase: config.keys.passphrase.clone(),
            policy: KeyPolicy::from_config(config),
        }
    }
}

/// One parsed key: its public half always, its private half only while it
/// is the `active` key.
pub struct SigningKey {
    pub kid: String,
    pub state: KeyState,
    signer: Option<RsassaJwsSigner>,
    verifier: RsassaJwsVerifier,
    public_jwk: serde_json::Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("state", &self.state).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The signer; only the `active` key has one.
    pub fn signer(&self) -> Option<&RsassaJwsSigner> {
        self.signer.as_ref()
    }

    pub fn verifier(&self) -> &RsassaJwsVerifier {
        &self.verifier
    }

    pub fn public_jwk(&self) -> &serde_json::Value {
        &self.public_jwk
    }
}

/// The keys in use at one moment, with the JWKS document already serialised.
pub struct KeyRing {
    keys: Vec<Arc<SigningKey>>,
    jwks: bytes::Bytes,
    etag: String,
    fingerprint: String,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").field("keys", &self.keys).field("etag", &self.etag).finish_non_exhaustive()
    }
}

impl KeyRing {
    fn new(keys: Vec<Arc<SigningKey>>, fingerprint: String) -> Self {
        let published: Vec<&serde_json::Value> =
            keys.iter().filter(|key| key.state != KeyState::Retired).map(|key| key.public_jwk()).collect();
        let jwks: bytes::Bytes = serde_json::to_vec(&serde_json::json!({ "keys": published })).unwrap_or_default().into();
        let etag = format!("\"{}\"", crate::secrets::sha256_b64url(&jwks));
        Self { keys, jwks, etag, fingerprint }
    }

    /// The key that signs: the `active` one, with its private half loaded.
    pub fn active(&self) -> Option<&Arc<SigningKey>> {
        self.keys.iter().find(|key| key.state == KeyState::Active && key.signer.is_some())
    }

    /// A key that may verify tokens: anything still published.
    pub fn find_published(&self, kid: &str) -> Option<&Arc<SigningKey>> {
        self.keys.iter().find(|key| key.kid == kid && key.state != KeyState::Retired)
    }

    /// The kids in `/jwks`, in record order.
    pub fn published_kids(&self) -> Vec<&str> {
        self.keys.iter().filter(|key| key.state != KeyState::Retired).map(|key| key.kid.as_str()).collect()
    }

    /// The serialised JWKS document; cloning is a reference count.
    pub fn jwks_bytes(&self) -> bytes::Bytes {
        self.jwks.clone()
    }

    /// A strong ETag of the JWKS document (quoted).
    pub fn etag(&self) -> &str {
        &self.etag
    }

    /// Summary of the records this ring was built from (see `fingerprint`).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

/// A cheap summary of the key records: when it changes, the ring is stale.
pub fn fingerprint(records: &[SigningKeyRecord]) -> String {
    records.iter().map(|record| format!("{}:{}:{};", record.kid, record.state.as_str(), record.state_changed_at)).collect()
}

/// The shared, swappable key ring.
#[derive(Debug, Clone)]
pub struct Keys {
    settings: Arc<KeySettings>,
    ring: Arc<RwLock<Arc<KeyRing>>>,
}

impl Keys {
    /// Start-up: checks the key directory, removes leftovers of interrupted
    /// work, loads every published key (so a wrong passphrase or a missing
    /// file stops us before anything is created), then creates the `active`
    /// and `next` keys if either is missing.
    pub async fn load_or_create(store: &dyn Store, settings: KeySettings, now: UnixTime) -> Result<Self, KeyError> {
        ensure_private_dir(&settings.dir)?;
        let settings = Arc::new(settings);
        let records = store.list_signing_keys().await?;
        super::rotation::clean_key_dir(&settings, &records, now)?;
        let ring = load_ring(&settings, &records)?;
        let keys = Self { settings, ring: Arc::new(RwLock::new(Arc::new(ring))) };
        keys.ensure_live_keys(store, &records, now).await?;
        keys.reload(store).await?;
        Ok(keys)
    }

    pub fn settings(&self) -> &KeySettings {
        &self.settings
    }

    /// The current ring; cheap (one `Arc` clone).
    pub fn current(&self) -> Arc<KeyRing> {
        match self.ring.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the store and swaps in a new ring. In-flight requests keep
    /// the ring they started with, so the swap never fails a request.
    pub async fn reload(&self, store: &dyn Store) -> Result<(), KeyError> {
        let records = store.list_signing_keys().await?;
        let ring = match load_ring(&self.settings, &records) {
            Ok(ring) => ring,
            // A `retiring` key may have been retired (and its file removed)
            // by another process between the listing and the reading.
            Err(_) => load_ring(&self.settings, &store.list_signing_keys().await?)?,
        };
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

pub(crate) fn key_path(dir: &Path, kid: &str) -> PathBuf {
    dir.join(format!("{kid}.pem"))
}

pub(crate) fn temp_path(dir: &Path, kid: &str) -> PathBuf {
    dir.join(format!("{kid}.pem.tmp"))
}

fn load_ring(settings: &KeySettings, records: &[SigningKeyRecord]) -> Result<KeyRing, KeyError> {
    let keys = records
        .iter()
        .filter(|record| record.state != KeyState::Retired)
        .map(|record| {
            let path = key_path(&settings.dir, &record.kid);
            let pem = read_private_file(&path)?;
            let der = decode_private_key(&path, &pem, &settings.passphrase)?;
            parse_key(&record.kid, record.state, &der).map(Arc::new)
        })
        .collect::<Result<Vec<_>, KeyError>>()?;
    Ok(KeyRing::new(keys, fingerprint(records)))
}

/// The PKCS#8 DER of a key file, decrypting it when it is encrypted.
fn decode_private_key(path: &Path, pem: &[u8], passphrase: &Passphrase) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let encrypted = pem.starts_with(b"-----BEGIN ENCRYPTED PRIVATE KEY-----");
    let key = match (encrypted, passphrase.get()) {
        (true, Some(secret)) => PKey::private_key_from_pem_passphrase(pem, secret.expose_secret().as_bytes())
            .map_err(|_| {
                KeyError::Crypto(format!(
                    "cannot decrypt signing key file {}: wrong passphrase; check {PASSPHRASE_ENV} or keys.passphrase_file",
                    path.display()
                ))
            })?,
        (true, None) => {
            return Err(KeyError::Crypto(format!(
                "signing key file {} is encrypted; set {PASSPHRASE_ENV} or keys.passphrase_file to its passphrase",
                path.display()
            )));
        }
        (false, passphrase) => {
            if passphrase.is_some() {
                tracing::warn!(file = %path.display(), "signing key file is not encrypted; it is replaced at the next rotations");
            }
            // The passphrase variant never falls back to a terminal prompt.
            PKey::private_key_from_pem_passphrase(pem, b"").map_err(|err| {
                KeyError::Crypto(format!("signing key file {} is not a PEM private key: {err}", path.display()))
            })?
        }
    };
    key.private_key_to_pkcs8()
        .map(Zeroizing::new)
        .map_err(|err| KeyError::Crypto(format!("signing key file {}: {err}", path.display())))
}

fn parse_key(kid: &str, state: KeyState, der: &[u8]) -> Result<SigningKey, KeyError> {
    let crypto = |err: josekit::JoseError| KeyError::Crypto(format!("key {kid}: {err}"));
    let public = {
        let key_pair = RS256.key_pair_from_der(der).map_err(crypto)?;
        josekit::jwk::KeyPair::to_jwk_public_key(&key_pair)
    };
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
    // Only the signing key keeps its private half in memory.
    let signer = if state == KeyState::Active {
        let mut signer = RS256.signer_from_der(der).map_err(crypto)?;
        signer.set_key_id(kid);
        Some(signer)
    } else {
        None
    };
    Ok(SigningKey { kid: kid.to_string(), state, signer, verifier, public_jwk })
}

/// A new RSA key as the PEM text of its file: PKCS#8, encrypted with
/// AES-256-CBC (PBKDF2) when a passphrase is set.
pub(crate) fn generate_pem(rsa_bits: u32, passphrase: &Passphrase) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let crypto = |err: openssl::error::ErrorStack| KeyError::Crypto(format!("cannot generate an RSA key: {err}"));
    let key = PKey::from_rsa(Rsa::generate(rsa_bits).map_err(crypto)?).map_err(crypto)?;
    let pem = match passphrase.get() {
        Some(secret) => key.private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), secret.expose_secret().as_bytes()),
        None => key.private_key_to_pem_pkcs8(),
    };
    pem.map(Zeroizing::new).map_err(crypto)
}

#[cfg(unix)]
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<(), KeyError> {
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
    // A directory that holds no key yet is ours to tighten: git cannot
    // record 0700, so the committed `keys/` (with its `.gitkeep`) arrives
    // as 0755 in every clone. Once keys are in it, a loose mode is a
    // mistake the operator must look at.
    if mode & 0o077 != 0 && !holds_key_files(dir)? {
        tracing::info!(dir = %dir.display(), "restricting the empty key directory to its owner (0700)");
    } else if mode & 0o077 != 0 {
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

/// Whether `dir` holds a key file (`*.pem`, or a `*.pem.tmp` being written).
fn holds_key_files(dir: &Path) -> Result<bool, KeyError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|err| KeyError::Io(format!("cannot list key directory {}: {err}", dir.display())))?;
    Ok(entries.flatten().any(|entry| {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        name.ends_with(".pem") || name.ends_with(".pem.tmp")
    }))
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

/// Writes `contents` to `<kid>.pem.tmp` (0600) and syncs it.
#[cfg(unix)]
pub(crate) fn write_temp_file(dir: &Path, kid: &str, contents: &[u8]) -> Result<PathBuf, KeyError> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = temp_path(dir, kid);
    let io = |err: std::io::Error| KeyError::Io(format!("cannot write signing key file {}: {err}", tmp.display()));
    if key_path(dir, kid).exists() {
        return Err(KeyError::Io(format!("signing key file for kid {kid} exists already; try again")));
    }
    let mut file =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(io)?;
    file.write_all(contents).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(tmp)
}

/// Renames the synced temporary file to `<kid>.pem` and syncs the
/// directory, so a crash never leaves a half-written key under its name.
pub(crate) fn publish_temp_file(dir: &Path, kid: &str) -> Result<PathBuf, KeyError> {
    let path = key_path(dir, kid);
    let io = |err: std::io::Error| KeyError::Io(format!("cannot write signing key file {}: {err}", path.display()));
    std::fs::rename(temp_path(dir, kid), &path).map_err(io)?;
    std::fs::File::open(dir).and_then(|dir| dir.sync_all()).map_err(io)?;
    Ok(path)
}

/// Overwrites a key file with zeros, syncs, and deletes it. A file that is
/// already gone is fine.
pub(crate) fn wipe_file(path: &Path) -> Result<(), KeyError> {
    let io = |err: std::io::Error| KeyError::Io(format!("cannot delete signing key file {}: {err}", path.display()));
    match std::fs::OpenOptions::new().write(true).open(path) {
        Ok(mut file) => {
            let len = file.metadata().map(|metadata| metadata.len()).unwrap_or(0);
            file.write_all(&vec![0u8; len as usize]).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(io(err)),
    }
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(io(err)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(pem: &[u8], passphrase: &Passphrase) -> Zeroizing<Vec<u8>> {
        decode_private_key(Path::new("k.pem"), pem, passphrase).unwrap()
    }

    #[test]
    fn debug_output_has_no_key_material() {
        let pem = generate_pem(2048, &Passphrase::none()).unwrap();
        let key = parse_key("kid1", KeyState::Active, &der(&pem, &Passphrase::none())).unwrap();
        assert!(key.signer().is_some());
        let key_debug = format!("{key:?}");
        let settings = KeySettings {
            dir: "keys".into(),
            rsa_bits: 2048,
            passphrase: Passphrase::new("very secret words"),
            policy: KeyPolicy::from_config(&Config::default()),
        };
        let ring = KeyRing::new(vec![Arc::new(key)], String::new());
        let keys = Keys { settings: Arc::new(settings), ring: Arc::new(RwLock::new(Arc::new(ring))) };
        let printed = format!("{key_debug} {:?} {keys:?}", keys.current());
        assert!(printed.contains("kid1"));
        for secret in ["PRIVATE", "signer", "very secret", "\"n\"", "\"d\""] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
    }

    #[test]
    fn jwks_has_only_public_members_and_an_etag() {
        let pem = generate_pem(2048, &Passphrase::none()).unwrap();
        let key = parse_key("k", KeyState::Active, &der(&pem, &Passphrase::none())).unwrap();
        let ring = KeyRing::new(vec![Arc::new(key)], String::new());
        let jwks: serde_json::Value = serde_json::from_slice(&ring.jwks_bytes()).unwrap();
        let jwk = jwks["keys"][0].as_object().unwrap();
        let mut names: Vec<&str> = jwk.keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(names, ["alg", "e", "kid", "kty", "n", "use"]);
        assert!(ring.etag().starts_with('"') && ring.etag().len() > 20);
    }

    #[test]
    fn only_the_active_key_keeps_its_private_half() {
        let pem = generate_pem(2048, &Passphrase::none()).unwrap();
        for state in [KeyState::Next, KeyState::Retiring] {
            let key = parse_key("k", state, &der(&pem, &Passphrase::none())).unwrap();
            assert!(key.signer().is_none());
        }
    }

    #[test]
    fn encrypted_files_need_the_right_passphrase() {
        let right = Passphrase::new("right");
        let pem = generate_pem(2048, &right).unwrap();
        assert!(pem.starts_with(b"-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        assert!(parse_key("k", KeyState::Active, &der(&pem, &right)).is_ok());
        let err = decode_private_key(Path::new("k.pem"), &pem, &Passphrase::new("wrong")).unwrap_err();
        assert!(err.to_string().contains("wrong passphrase"), "{err}");
        let err = decode_private_key(Path::new("k.pem"), &pem, &Passphrase::none()).unwrap_err();
        assert!(err.to_string().contains(PASSPHRASE_ENV), "{err}");
    }
}
