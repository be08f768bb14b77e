//! Small primitives for secrets: random tokens, hashes of opaque tokens and
//! constant-time comparison. Every random value in latchkey comes from here.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `bytes` random bytes from the OS CSPRNG, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buffer = zeroize::Zeroizing::new(vec![0u8; bytes]);
    rand::rngs::OsRng.fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(&*buffer)
}

/// SHA-256 of an opaque, high-entropy token (codes, session ids, refresh
/// tokens, client secrets). A fast hash is right for 256-bit random values:
/// there is nothing to brute-force, and the token endpoint must stay fast.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Compares two byte strings in time independent of their contents.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// base64url(SHA-256(input)) as used by PKCE S256 (RFC 7636 §4.2).
pub fn sha256_b64url(input: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(input))
}

/// base64url of the left half of SHA-256, as `at_hash` (OIDC Core §3.1.3.6).
pub fn left_half_hash(input: &str) -> String {
    let digest = Sha256::digest(input.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_long_enough() {
        let a = random_token(32);
        let b = random_token(32);
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
    }

    #[test]
    fn pkce_s256_matches_an_independent_computation() {
        assert_eq!(
            sha256_b64url(b"dBjftJeZ4CVP-mJ92K9rDvWwG1YXL3pgKLqe4Oq7p6k"),
            "p1yJuNUzMumfsGERCVdjaRCf-caEM5TDZMJTdM6urxA"
        );
    }
}
