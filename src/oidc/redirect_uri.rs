//! Redirect URI rules. At registration: absolute, no fragment, no user
//! info, https unless loopback (RFC 9700 §2.6), and already in normal form so
//! that exact matching is unambiguous. At authorization: byte-for-byte
//! equality with a registered value (RFC 9700 §2.1); only the port of a
//! loopback `http` URI may differ (RFC 8252 §7.3).

use url::{Host, Url};

/// Checks a URI an operator wants to register; the error is one sentence.
pub fn validate_for_registration(uri: &str) -> Result<(), String> {
    let parsed = Url::parse(uri).map_err(|err| format!("redirect URI {uri:?} is not an absolute URI ({err})"))?;
    if uri.contains('#') {
        return Err(format!("redirect URI {uri:?} must not contain a fragment (RFC 6749 §3.1.2)"));
    }
    if uri.contains('*') {
        return Err(format!("redirect URI {uri:?} contains '*'; wildcards are not supported, register each URI exactly"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("redirect URI {uri:?} must not contain user information before the host"));
    }
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback(&parsed) => {}
        "http" => {
            return Err(format!(
                "redirect URI {uri:?} uses http; only https is allowed, except for 127.0.0.1, [::1] or localhost (RFC 9700 §2.6)"
            ));
        }
        // Private-use schemes of native apps must look like a reversed
        // domain name (RFC 8252 §7.1).
        scheme if scheme.contains('.') => {}
        scheme => return Err(format!("redirect URI {uri:?} uses the scheme {scheme:?}; use https")),
    }
    if parsed.as_str() != uri {
        return Err(format!("redirect URI {uri:?} is not in normal form; register {:?} instead", parsed.as_str()));
    }
    Ok(())
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(domain)) => domain == "localhost",
        None => false,
    }
}

/// Finds the registered URI that `requested` matches exactly.
pub fn find_match<'a>(registered: &'a [String], requested: &str) -> Option<&'a String> {
    if let Some(exact) = registered.iter().find(|candidate| candidate.as_str() == requested) {
        return Some(exact);
    }
    // Loopback: a native app listens on whatever port it got.
    let requested_url = Url::parse(requested).ok()?;
    if requested_url.scheme() != "http" || !is_loopback(&requested_url) || requested_url.as_str() != requested {
        return None;
    }
    let without_port = |mut url: Url| {
        let _ = url.set_port(None);
        url.to_string()
    };
    let requested_key = without_port(requested_url);
    // Only a registered URI already in normal form counts (registration
    // insists on it): the parser reads `http:///127.0.0.1/cb` as a loopback
    // URI, but that is not what was registered.
    registered.iter().find(|candidate| match Url::parse(candidate) {
        Ok(url)
            if url.as_str() == candidate.as_str()
                && url.scheme() == "http"
                && matches!(url.host(), Some(Host::Ipv4(_) | Host::Ipv6(_)))
                && is_loopback(&url) =>
        {
            without_port(url) == requested_key
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_rules() {
        assert!(validate_for_registration("https://rp.example/cb").is_ok());
        assert!(validate_for_registration("https://rp.example/cb?x=1").is_ok());
        assert!(validate_for_registration("http://127.0.0.1:9000/cb").is_ok());
        assert!(validate_for_registration("http://[::1]:9000/cb").is_ok());
        assert!(validate_for_registration("com.example.app:/cb").is_ok());
        assert!(validate_for_registration("https://rp.example/cb#x").is_err());
        assert!(validate_for_registration("https://user@rp.example/cb").is_err());
        assert!(validate_for_registration("http://rp.example/cb").is_err());
        assert!(validate_for_registration("/cb").is_err());
        assert!(validate_for_registration("https://rp.example/a/../cb").is_err());
        assert!(validate_for_registration("javascript:alert(1)").is_err());
        assert!(validate_for_registration("https://*.example.com/cb").is_err());
    }

    #[test]
    fn matching_is_exact_except_loopback_ports() {
        let registered = vec!["https://rp.example/cb".to_string(), "http://127.0.0.1:8000/cb".to_string()];
        assert!(find_match(&registered, "https://rp.example/cb").is_some());
        for bad in [
            "https://rp.example/cb/",
            "https://rp.example/CB",
            "https://rp.example:443/cb",
            "https://rp.example/cb?x=1",
            "http://rp.example/cb",
            "https://rp.example/cb/../cb",
            "http://127.0.0.1:8000/cb/x",
        ] {
            assert!(find_match(&registered, bad).is_none(), "{bad}");
        }
        assert!(find_match(&registered, "http://127.0.0.1:51234/cb").is_some());
        // Found by cargo fuzz: a registered URI not in normal form must not
        // match by the loopback rule (the parser drops the third slash).
        let odd = vec!["http:///127.0.0.1:8000/cb".to_string()];
        assert!(find_match(&odd, "http://127.0.0.1:9999/cb").is_none());
    }
}
