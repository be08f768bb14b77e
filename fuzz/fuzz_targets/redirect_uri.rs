//! Redirect URI rules: registration checks and matching must never panic,
//! and a match is exact unless the registered URI is an http loopback one.
#![no_main]

use latchkey::oidc::redirect_uri::{find_match, validate_for_registration};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (registered, requested) = text.split_once('\n').unwrap_or((text, text));
    let registrable = validate_for_registration(registered).is_ok();
    let list = vec![registered.to_string()];
    if let Some(found) = find_match(&list, requested) {
        let loopback = registered.starts_with("http://127.") || registered.starts_with("http://[::1]");
        assert!(found == requested || loopback, "inexact match {registered:?} ~ {requested:?}");
        if registrable && !loopback {
            assert_eq!(found, requested);
        }
    }
});
