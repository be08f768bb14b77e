//! Scope syntax (RFC 6749 §3.3, Appendix A.4) and the plain-language
//! descriptions shown on the consent page.

pub const OPENID: &str = "openid";
pub const PROFILE: &str = "profile";
pub const EMAIL: &str = "email";
pub const OFFLINE_ACCESS: &str = "offline_access";

/// Scopes every client gets unless registered with an explicit list.
pub const DEFAULT_CLIENT_SCOPES: &[&str] = &[OPENID, PROFILE, EMAIL, OFFLINE_ACCESS];

pub const MAX_SCOPES: usize = 32;
const MAX_SCOPE_BYTES: usize = 128;

/// Splits a scope parameter into its tokens, order kept, duplicates dropped.
pub fn parse(scope: &str) -> Result<Vec<String>, String> {
    let mut scopes: Vec<String> = Vec::new();
    for token in scope.split(' ').filter(|token| !token.is_empty()) {
        if !is_valid_token(token) {
            return Err(format!("scope {token:?} contains characters RFC 6749 §3.3 does not allow"));
        }
        if !scopes.iter().any(|known| known == token) {
            scopes.push(token.to_string());
        }
    }
    if scopes.len() > MAX_SCOPES {
        return Err(format!("at most {MAX_SCOPES} scopes may be requested"));
    }
    Ok(scopes)
}

/// `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`
pub fn is_valid_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= MAX_SCOPE_BYTES
        && token.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

pub fn join(scopes: &[String]) -> String {
    scopes.join(" ")
}

pub fn contains(scopes: &[String], wanted: &str) -> bool {
    scopes.iter().any(|scope| scope == wanted)
}

/// What granting `scope` means, in words a user understands.
pub fn describe(scope: &str) -> String {
    match scope {
        OPENID => "Know who you are: a stable identifier for your account".into(),
        PROFILE => "See your name and user name".into(),
        EMAIL => "See your email address".into(),
        OFFLINE_ACCESS => "Stay connected when you are not using it".into(),
        other => format!("Access \u{201c}{other}\u{201d}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_keeps_order_and_drops_duplicates() {
        assert_eq!(parse("email  openid email").unwrap(), vec!["email", "openid"]);
        assert!(parse("openid \"x").is_err());
        assert!(parse("openid\\x").is_err());
    }
}
