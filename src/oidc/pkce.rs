//! PKCE (RFC 7636) with S256 only: `plain` offers no protection once the
//! authorization request leaks, so it is refused (RFC 9700 §2.1.1).

use crate::secrets::{constant_time_eq, sha256_b64url};

/// `code-verifier = 43*128unreserved` (RFC 7636 §4.1); an S256 challenge is
/// 43 characters of the same alphabet.
pub fn is_valid_verifier(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

pub fn is_valid_challenge(value: &str) -> bool {
    value.len() == 43 && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// RFC 7636 §4.6: BASE64URL(SHA256(verifier)) == challenge.
pub fn verify(verifier: &str, challenge: &str) -> bool {
    is_valid_verifier(verifier) && constant_time_eq(sha256_b64url(verifier.as_bytes()).as_bytes(), challenge.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_verification() {
        assert!(verify("dBjftJeZ4CVP-mJ92K9rDvWwG1YXL3pgKLqe4Oq7p6k", "p1yJuNUzMumfsGERCVdjaRCf-caEM5TDZMJTdM6urxA"));
        assert!(!verify("dBjftJeZ4CVP-mJ92K9rDvWwG1YXL3pgKLqe4Oq7p6K", "p1yJuNUzMumfsGERCVdjaRCf-caEM5TDZMJTdM6urxA"));
        assert!(!is_valid_verifier("short"));
        assert!(!is_valid_verifier(&format!("{}+", "a".repeat(43))));
    }
}
