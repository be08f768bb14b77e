//! Authorization request parameters: form/query parsing, scope syntax and
//! PKCE value checks must never panic, whatever the bytes.
#![no_main]

use latchkey::oidc::{Params, pkce, scopes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let params = Params::parse(data);
    let _ = params.first_duplicate();
    let _ = params.malformed();
    if let Some(scope) = params.get("scope") {
        if let Ok(parsed) = scopes::parse(scope) {
            assert!(parsed.iter().all(|token| scopes::is_valid_token(token)));
        }
    }
    if let Some(challenge) = params.get("code_challenge") {
        let _ = pkce::is_valid_challenge(challenge);
        if let Some(verifier) = params.get("code_verifier") {
            let _ = pkce::verify(verifier, challenge);
        }
    }
});
