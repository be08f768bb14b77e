//! Bearer and ID token verification: arbitrary strings, and real tokens
//! with fuzzed bytes spliced in, must be rejected without a panic; only the
//! untouched token verifies.
#![no_main]

use std::sync::{Arc, OnceLock};

use latchkey::tokens::{ACCESS_TOKEN_TYP, KeyRing, jwt};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    ring: Arc<KeyRing>,
    token: String,
    /// Keeps the key directory for the whole run.
    _dir: tempfile::TempDir,
}

/// A real provider's key ring and a token it signed.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut config = latchkey::config::Config::default();
        config.database.path = dir.path().join("fuzz.db");
        config.keys.dir = dir.path().join("keys");
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let provider = runtime
            .block_on(latchkey::open_provider(config, Arc::new(latchkey::clock::SystemClock)))
            .expect("a provider");
        let ring = provider.keys.current();
        let mut claims = serde_json::Map::new();
        claims.insert("sub".into(), "fuzz".into());
        let token = jwt::sign(&ring, ACCESS_TOKEN_TYP, claims).expect("a token");
        Fixture { ring, token, _dir: dir }
    })
}

fuzz_target!(|data: &[u8]| {
    let Fixture { ring, token, .. } = fixture();
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = jwt::verify(ring, text, &[ACCESS_TOKEN_TYP]);
    }
    // Splice the input into the real token at a position it chooses.
    if let Some((&position, rest)) = data.split_first() {
        let mut bytes = token.as_bytes().to_vec();
        let at = usize::from(position) * bytes.len() / 256;
        bytes.splice(at..(at + rest.len()).min(bytes.len()), rest.iter().copied());
        if let Ok(text) = String::from_utf8(bytes) {
            if jwt::verify(ring, &text, &[ACCESS_TOKEN_TYP]).is_ok() {
                // Only a change that left the signed bytes intact may pass.
                let signed = |t: &str| t.rsplit_once('.').map(|(head, _)| head.to_string());
                assert_eq!(signed(&text), signed(token));
            }
        }
    }
});
