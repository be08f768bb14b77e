//! The machine's own limits for `scripts/bench`: Argon2id password hashes
//! per second at latchkey's configured parameters, and RS256 (RSA-2048)
//! JWT signatures per second through josekit, each on all cores (one thread
//! per core, nothing else running in this process).
//!
//! Usage: `limits SECONDS` prints
//! `threads=N argon2_per_s=X rs256_sign_per_s=Y argon2_ms=Z`.
//! The Argon2 parameters come from the same configuration latchkey reads
//! (defaults, `./latchkey.toml`, `LATCHKEY_PASSWORD_*`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use josekit::jws::{JwsHeader, RS256};
use josekit::jwt::{self, JwtPayload};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Runs `work` on `threads` threads for `seconds`; returns operations per second.
fn on_all_cores(threads: usize, seconds: f64, work: impl Fn() -> Result<(), Error> + Send + Sync + 'static) -> Result<f64, Error> {
    let work = Arc::new(work);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (work, stop, done) = (work.clone(), stop.clone(), done.clone());
            std::thread::spawn(move || -> Result<(), Error> {
                while !stop.load(Ordering::Relaxed) {
                    work()?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for handle in handles {
        handle.join().map_err(|_| "a worker thread panicked")??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

fn main() -> Result<(), Error> {
    let seconds: f64 = std::env::args().nth(1).map(|text| text.parse()).transpose()?.unwrap_or(5.0);
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let config = latchkey::config::Config::load(None)?;
    let password = config.password.clone();
    let params = Params::new(password.memory_kib, password.iterations, password.parallelism, None).map_err(|err| err.to_string())?;

    // Argon2id at its fastest: each thread reuses one memory block, as
    // latchkey's hashing threads do (a login's verification recomputes the
    // same hash). A fresh allocation per hash would be slower, and so a
    // laxer limit.
    let single = Instant::now();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2.hash_password(b"correct horse battery staple", &salt).map_err(|err| err.to_string())?;
    let argon2_ms = single.elapsed().as_secs_f64() * 1000.0;
    let argon2_per_s = on_all_cores(threads, seconds, move || {
        thread_local! {
            static MEMORY: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let mut out = [0u8; 32];
        MEMORY.with_borrow_mut(|memory| {
            memory.resize(params.block_count(), Block::default());
            argon2.hash_password_into_with_memory(b"correct horse battery staple", b"a sixteen byte s", &mut out, &mut memory[..])
        })
        .map_err(|err| err.to_string())?;
        Ok(())
    })?;

    // RS256 as latchkey signs: a josekit signer from a PEM key, a typical
    // access-token payload.
    let key = RS256.generate_key_pair(2048)?;
    let signer = Arc::new(RS256.signer_from_pem(key.to_pem_private_key())?);
    let mut header = JwsHeader::new();
    header.set_token_type("at+jwt");
    header.set_key_id("bench");
    let mut payload = JwtPayload::new();
    payload.set_issuer("http://127.0.0.1:18080");
    payload.set_subject("service");
    payload.set_claim("scope", Some("api.read".into()))?;
    let rs256_sign_per_s = on_all_cores(threads, seconds, move || {
        jwt::encode_with_signer(&payload, &header, signer.as_ref())?;
        Ok(())
    })?;

    println!("threads={threads} argon2_per_s={argon2_per_s:.1} rs256_sign_per_s={rs256_sign_per_s:.1} argon2_ms={argon2_ms:.1}");
    Ok(())
}
