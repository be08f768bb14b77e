//! The token endpoint's inputs: an Authorization header (first line) and a
//! form body (the rest). Client credentials and bearer extraction must
//! never panic.
#![no_main]

use axum::http::{HeaderMap, HeaderValue, header};
use latchkey::http::extract::{bearer_token, client_credentials};
use latchkey::oidc::Params;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (first, body) = match data.iter().position(|b| *b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(first) {
        headers.insert(header::AUTHORIZATION, value);
    }
    let params = Params::parse(body);
    let _ = client_credentials(&headers, &params);
    let _ = bearer_token(&headers, Some(&params));
});
