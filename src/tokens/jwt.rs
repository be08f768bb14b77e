//! JWS compact signing and verification with the key ring. Only RS256 is
//! accepted, only keys we published are used, and nothing in a token's
//! header (`jku`, `x5u`, `jwk`) can point verification anywhere else.

use josekit::jws::JwsHeader;
use josekit::jws::JwsVerifier;
use josekit::jwt::{self, JwtPayload};
use serde_json::{Map, Value};

use super::keys::{KeyError, KeyRing};

/// Signs `claims` with the active key; the header carries `typ` and `kid`.
pub fn sign(ring: &KeyRing, typ: &str, claims: Map<String, Value>) -> Result<String, KeyError> {
    let key = ring.active().ok_or(KeyError::NoActiveKey)?;
    let signer = key.signer().ok_or(KeyError::NoActiveKey)?;
    let mut header = JwsHeader::new();
    header.set_token_type(typ);
    header.set_key_id(key.kid.clone());
    let payload = JwtPayload::from_map(claims).map_err(|err| KeyError::Crypto(err.to_string()))?;
    jwt::encode_with_signer(&payload, &header, signer).map_err(|err| KeyError::Crypto(err.to_string()))
}

/// Why a token was not accepted. Deliberately coarse: callers answer
/// `invalid_token` whatever the reason.
#[derive(Debug, thiserror::Error)]
#[error("token rejected: {0}")]
pub struct VerifyError(pub &'static str);

/// Verifies the signature against a published key and the `typ` header
/// (RFC 9068 §4, RFC 8725 §3.11); returns the claims. Time, issuer and
/// audience are checked by the caller, who knows which apply.
pub fn verify(ring: &KeyRing, token: &str, accepted_typ: &[&str]) -> Result<Map<String, Value>, VerifyError> {
    if token.len() > 16 * 1024 {
        return Err(VerifyError("too long"));
    }
    let (payload, header) = jwt::decode_with_verifier_selector(token, |header| {
        if header.algorithm() != Some("RS256") {
            return Ok(None);
        }
        let Some(kid) = header.key_id() else { return Ok(None) };
        Ok(ring.find_published(kid).map(|key| key.verifier() as &dyn JwsVerifier))
    })
    .map_err(|_| VerifyError("bad signature or unknown key"))?;
    let typ = header.token_type().unwrap_or_default();
    if !accepted_typ.iter().any(|accepted| typ.eq_ignore_ascii_case(accepted)) {
        return Err(VerifyError("wrong token type"));
    }
    Ok(payload.claims_set().clone())
}
