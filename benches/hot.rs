//! Criterion micro-benchmarks of the functions on latchkey's hot paths:
//! RS256 signing and verification with the real key ring, the exact
//! redirect-URI match, and building access-token and ID-token claims.
//!
//! Run with `cargo bench --bench hot`. Timings only; nothing here asserts.

// A benchmark, not product code: a failed set-up may stop it.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use latchkey::clock::ManualClock;
use latchkey::config::Config;
use latchkey::oidc::claims::{self, AccessTokenClaims, IdTokenClaims};
use latchkey::oidc::redirect_uri;
use latchkey::store::User;
use latchkey::tokens::{ACCESS_TOKEN_TYP, jwt};

fn hot(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut config = Config::default();
    config.database.path = dir.path().join("latchkey.db");
    config.keys.dir = dir.path().join("keys");
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let provider = runtime
        .block_on(latchkey::open_provider(config, Arc::new(ManualClock::new())))
        .expect("a provider with a fresh key");
    let ring = provider.keys.current();
    let now = 1_700_000_000;
    let scopes: Vec<String> = ["openid", "profile", "email", "offline_access"].map(String::from).to_vec();
    let user = User {
        id: "u_3f9a2c7d1e".into(),
        username: "alice".into(),
        display_name: Some("Alice Liddell".into()),
        email: Some("alice@example.com".into()),
        email_verified: true,
        password_hash: String::new(),
        disabled: false,
        created_at: now,
        updated_at: now,
    };
    let access_claims = || {
        claims::access_token(AccessTokenClaims {
            issuer: "https://login.example.com",
            audience: "https://login.example.com/userinfo",
            subject: &user.id,
            client_id: "wiki",
            scopes: &scopes,
            grant_id: "g_5d1c",
            auth_time: Some(now),
            now,
            ttl: 300,
        })
    };

    c.bench_function("claims::access_token", |b| b.iter(|| black_box(access_claims())));
    c.bench_function("claims::id_token", |b| {
        b.iter(|| {
            black_box(claims::id_token(IdTokenClaims {
                issuer: "https://login.example.com",
                user: &user,
                client_id: "wiki",
                nonce: Some("n-0S6_WzA2Mj"),
                auth_time: now,
                access_token: "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
                scopes: &scopes,
                include_scope_claims: true,
                now,
                ttl: 300,
            }))
        })
    });
    c.bench_function("jwt::sign (RS256, access token)", |b| {
        b.iter(|| black_box(jwt::sign(&ring, ACCESS_TOKEN_TYP, access_claims()).expect("signed")))
    });
    let token = jwt::sign(&ring, ACCESS_TOKEN_TYP, access_claims()).expect("signed");
    c.bench_function("jwt::verify (RS256, access token)", |b| {
        b.iter(|| black_box(jwt::verify(&ring, black_box(&token), &[ACCESS_TOKEN_TYP]).expect("verified")))
    });

    let registered: Vec<String> = (0..5).map(|i| format!("https://app{i}.example.com/oidc/callback")).collect();
    c.bench_function("redirect_uri::find_match (5 registered, last matches)", |b| {
        b.iter(|| black_box(redirect_uri::find_match(&registered, black_box("https://app4.example.com/oidc/callback"))))
    });
    c.bench_function("redirect_uri::find_match (loopback, any port)", |b| {
        let loopback = vec!["http://127.0.0.1/callback".to_string()];
        b.iter(|| black_box(redirect_uri::find_match(&loopback, black_box("http://127.0.0.1:51234/callback"))))
    });
}

criterion_group!(benches, hot);
criterion_main!(benches);
