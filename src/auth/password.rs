//! Password hashing with Argon2id, always off the async runtime and with a
//! bounded number of hashes at once, so a login flood cannot starve the
//! threads that answer discovery and JWKS.
//!
//! Hashes run on a few dedicated threads (one per permit), never on tokio's
//! blocking pool: each thread keeps one Argon2 memory block and reuses it,
//! so memory stays at `threads × memory_kib` however long the flood lasts
//! (allocating 19 MiB per hash on whichever blocking thread came next made
//! the allocator keep a copy per thread: over 1 GB after a 10 s flood) and
//! no page is faulted in twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::{Output, PasswordHash, PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{OnceCell, Semaphore};

use crate::config::PasswordConfig;

/// Passwords longer than this are refused before any hashing work.
pub const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password is empty")]
    Empty,
    #[error("the password is longer than {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    /// Every hasher is busy and the queue is full: try again shortly.
    #[error("too many logins are waiting for a password check")]
    Busy,
    #[error("password hashing failed: {0}")]
    Internal(String),
}

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// The number of permits `permits` started with.
    capacity: usize,
    /// Callers waiting for a permit, and how many may wait.
    waiting: Arc<AtomicUsize>,
    max_queue: usize,
    /// A hash of a random password, verified against when the user does not
    /// exist so that both paths cost the same.
    dummy_hash: Arc<OnceCell<String>>,
    /// The hashing threads' queue; they stop when the last clone is dropped.
    jobs: std::sync::mpsc::Sender<Job>,
}

/// Work for a hashing thread, given that thread's reusable Argon2 memory.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// Starts `threads` hashing threads fed by one queue. Each keeps its Argon2
/// memory between jobs; a thread that cannot be started leaves fewer
/// threads (the queue still drains; with none, `run` reports an error).
fn start_threads(threads: usize) -> std::sync::mpsc::Sender<Job> {
    let (sender, receiver) = std::sync::mpsc::channel::<Job>();
    let receiver = Arc::new(std::sync::Mutex::new(receiver));
    for index in 0..threads {
        let receiver = receiver.clone();
        let started = std::thread::Builder::new().name(format!("argon2-{index}")).spawn(move || {
            // The lowest CPU priority (on Linux: nice 19): a hash waits a
            // moment whenever a runtime thread has a request to answer, so
            // a login flood that keeps every core hashing never delays
            // discovery or JWKS. Hashing still gets every idle cycle.
            if let Err(err) = thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min) {
                tracing::debug!(error = ?err, "cannot lower the priority of a password hashing thread");
            }
            let mut memory: Vec<Block> = Vec::new();
            loop {
                let job = match receiver.lock() {
                    Ok(guard) => guard.recv(),
                    Err(poisoned) => poisoned.into_inner().recv(),
                };
                let Ok(job) = job else { return };
                // A panicking job must not take the thread with it; its
                // caller sees the dropped answer channel as an error.
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut memory))).is_err() {
                    memory = Vec::new();
                }
            }
        });
        if let Err(err) = started {
            tracing::warn!(error = %err, "cannot start a password hashing thread");
        }
    }
    sender
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher").field("params", &self.params).finish_non_exhaustive()
    }
}

impl PasswordHasher {
    pub fn new(config: &PasswordConfig, concurrency: usize) -> Result<Self, PasswordError> {
        let params = Params::new(config.memory_kib, config.iterations, config.parallelism, None)
            .map_err(|err| PasswordError::Internal(err.to_string()))?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            capacity: concurrency.max(1),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_queue: config.max_queue,
            dummy_hash: Arc::new(OnceCell::new()),
            jobs: start_threads(concurrency.max(1)),
        })
    }

    fn argon2(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: SecretString) -> Result<String, PasswordError> {
        check_length(&password)?;
        let params = self.params.clone();
        self.run(move || {
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            Self::argon2(params)
                .hash_password(password.expose_secret().as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|err| PasswordError::Internal(err.to_string()))
        })
        .await
    }

    /// Verifies `password` against `hash`; with `None` runs a dummy
    /// verification of equal cost and returns false.
    pub async fn verify(&self, password: SecretString, hash: Option<String>) -> Result<bool, PasswordError> {
        if password.expose_secret().len() > MAX_PASSWORD_BYTES {
            return Ok(false);
        }
        let (hash, is_real) = match hash {
            Some(hash) => (hash, true),
            None => (self.dummy_hash().await?, false),
        };
        // A hash made with cheaper parameters than today's (before the
        // operator raised them) would answer faster than the dummy
        // verification of an unknown user: pad it with one, so that timing
        // tells nothing until the next login upgrades it (`is_current`).
        let padding = if is_real && self.is_weaker(&hash) { Some(self.dummy_hash().await?) } else { None };
        let matches = self
            .run_with_memory(move |memory| {
                let password = password.expose_secret().as_bytes();
                let matches = verify_in(memory, password, &hash);
                if let Some(dummy) = padding {
                    let _ = verify_in(memory, password, &dummy);
                }
                matches
            })
            .await?;
        Ok(matches && is_real)
    }

    /// Whether `hash` was made with today's algorithm and parameters; a
    /// login rehashes a password whose hash is not.
    pub fn is_current(&self, hash: &str) -> bool {
        match PasswordHash::new(hash) {
            Ok(parsed) => {
                parsed.algorithm == Algorithm::Argon2id.ident()
                    && Params::try_from(&parsed).is_ok_and(|params| {
                        (params.m_cost(), params.t_cost(), params.p_cost())
                            == (self.params.m_cost(), self.params.t_cost(), self.params.p_cost())
                    })
            }
            Err(_) => false,
        }
    }

    /// Whether verifying `hash` costs less than a hash with today's parameters.
    fn is_weaker(&self, hash: &str) -> bool {
        let cost = |params: &Params| u64::from(params.m_cost()) * u64::from(params.t_cost());
        match PasswordHash::new(hash).ok().and_then(|parsed| Params::try_from(&parsed).ok()) {
            Some(params) => cost(&params) < cost(&self.params),
            None => false,
        }
    }

    async fn dummy_hash(&self) -> Result<String, PasswordError> {
        self.dummy_hash
            .get_or_try_init(|| async {
                self.hash(SecretString::from(crate::secrets::random_token(16))).await
            })
            .await
            .cloned()
    }

    /// Hashes running now and hashes waiting for a permit.
    pub fn queue(&self) -> HashQueue {
        HashQueue {
            running: self.capacity.saturating_sub(self.permits.available_permits()),
            waiting: self.waiting.load(Ordering::Relaxed),
            capacity: self.capacity,
        }
    }

    /// Runs `work` on a hashing thread once a permit is free.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, PasswordError> + Send + 'static,
    ) -> Result<T, PasswordError> {
        self.run_with_memory(move |_| work()).await
    }

    /// Runs `work` on a hashing thread, with that thread's reusable Argon2
    /// memory, once a permit is free. The queue is bounded: a flood gets
    /// `Busy` instead of piling up without limit.
    async fn run_with_memory<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> Result<T, PasswordError> + Send + 'static,
    ) -> Result<T, PasswordError> {
        let _permit = match self.permits.try_acquire() {
            Ok(permit) => permit,
            Err(_) => {
                // The guard also uncounts a waiter whose future is dropped.
                let waiting = WaitingGuard::enter(&self.waiting);
                if self.waiting.load(Ordering::Relaxed) > self.max_queue {
                    return Err(PasswordError::Busy);
                }
                let permit = self.permits.acquire().await;
                drop(waiting);
                permit.map_err(|err| PasswordError::Internal(err.to_string()))?
            }
        };
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let _ = answer.send(work(memory));
        });
        self.jobs.send(job).map_err(|_| PasswordError::Internal("no password hashing thread is running".into()))?;
        answered.await.map_err(|_| PasswordError::Internal("the password hashing thread failed".into()))?
    }
}

/// Verifies `password` against the PHC string `hash`, computing Argon2 in
/// `memory` (grown as the hash's parameters need, then kept). The same
/// computation and constant-time comparison as `PasswordVerifier`, without
/// a fresh allocation per hash. A PHC string carries its own parameters, so
/// hashes made before a parameter change still verify.
fn verify_in(memory: &mut Vec<Block>, password: &[u8], hash: &str) -> Result<bool, PasswordError> {
    let parsed = PasswordHash::new(hash).map_err(|err| PasswordError::Internal(err.to_string()))?;
    // Like `verify_password(..).is_ok()`: a hash we cannot compute matches nothing.
    Ok(compute_and_compare(memory, password, &parsed).unwrap_or(false))
}

fn compute_and_compare(memory: &mut Vec<Block>, password: &[u8], parsed: &PasswordHash<'_>) -> Option<bool> {
    let (salt, expected) = (parsed.salt?, parsed.hash?);
    let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
    let version = parsed.version.map(Version::try_from).transpose().ok()?.unwrap_or_default();
    let params = Params::try_from(parsed).ok()?;
    let mut salt_buffer = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buffer).ok()?;
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut computed = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, &mut computed, &mut memory[..blocks])
        .ok()?;
    // `Output`'s equality is constant-time.
    Some(Output::new(&computed).ok()? == expected)
}

/// How busy the hasher is (see `PasswordHasher::queue`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashQueue {
    pub running: usize,
    pub waiting: usize,
    pub capacity: usize,
}

/// Counts a waiter until dropped, also when the waiting future is cancelled.
struct WaitingGuard<'a>(&'a AtomicUsize);

impl<'a> WaitingGuard<'a> {
    fn enter(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter)
    }
}

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn check_length(password: &SecretString) -> Result<(), PasswordError> {
    let length = password.expose_secret().len();
    if length == 0 {
        return Err(PasswordError::Empty);
    }
    if length > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasher {
        let config = PasswordConfig { memory_kib: 64, iterations: 1, parallelism: 1, max_concurrent: 1, max_queue: 1 };
        PasswordHasher::new(&config, 1).unwrap()
    }

    #[tokio::test]
    async fn hash_and_verify_round_trip() {
        let hasher = cheap();
        let hash = hasher.hash(SecretString::from("correct horse")).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(hasher.verify(SecretString::from("correct horse"), Some(hash.clone())).await.unwrap());
        assert!(!hasher.verify(SecretString::from("wrong"), Some(hash)).await.unwrap());
        assert!(!hasher.verify(SecretString::from("correct horse"), None).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_instead_of_waiting() {
        let config = PasswordConfig { memory_kib: 8 * 1024, iterations: 3, parallelism: 1, max_concurrent: 1, max_queue: 2 };
        let hasher = PasswordHasher::new(&config, 1).unwrap();
        let attempts: Vec<_> = (0..12)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.hash(SecretString::from("pw")).await })
            })
            .collect();
        let mut busy = 0;
        for attempt in attempts {
            if matches!(attempt.await.unwrap(), Err(PasswordError::Busy)) {
                busy += 1;
            }
        }
        // One hashing, two waiting: the other nine are turned away.
        assert!(busy >= 6, "only {busy} were refused");
        assert_eq!(hasher.queue().waiting, 0);
    }

    #[tokio::test]
    async fn the_queue_counts_running_and_waiting_hashes() {
        let hasher = cheap();
        assert_eq!(hasher.queue(), HashQueue { running: 0, waiting: 0, capacity: 1 });
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let first = {
            let hasher = hasher.clone();
            tokio::spawn(async move {
                hasher
                    .run(move || {
                        let _ = started_tx.send(());
                        let _ = release_rx.recv();
                        Ok(())
                    })
                    .await
            })
        };
        tokio::task::spawn_blocking(move || started_rx.recv()).await.unwrap().unwrap();
        let second = {
            let hasher = hasher.clone();
            tokio::spawn(async move { hasher.run(|| Ok(())).await })
        };
        while hasher.queue().waiting == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(hasher.queue(), HashQueue { running: 1, waiting: 1, capacity: 1 });
        release_tx.send(()).unwrap();
        first.await.unwrap().unwrap();
        second.await.unwrap().unwrap();
        assert_eq!(hasher.queue(), HashQueue { running: 0, waiting: 0, capacity: 1 });
    }

    #[tokio::test]
    async fn hashes_made_with_other_parameters_verify_on_the_reused_memory() {
        let small = cheap();
        let config = PasswordConfig { memory_kib: 512, iterations: 1, parallelism: 2, max_concurrent: 1, max_queue: 4 };
        let large = PasswordHasher::new(&config, 1).unwrap();
        let small_hash = small.hash(SecretString::from("pw one")).await.unwrap();
        let large_hash = large.hash(SecretString::from("pw two")).await.unwrap();
        // One thread, so one memory: large, then small, then large again.
        for _ in 0..2 {
            assert!(small.verify(SecretString::from("pw two"), Some(large_hash.clone())).await.unwrap());
            assert!(small.verify(SecretString::from("pw one"), Some(small_hash.clone())).await.unwrap());
            assert!(!small.verify(SecretString::from("pw one"), Some(large_hash.clone())).await.unwrap());
        }
        assert!(small.verify(SecretString::from("pw"), Some("not a phc string".into())).await.is_err());
    }

    #[tokio::test]
    async fn hashes_with_old_parameters_are_not_current() {
        let small = cheap();
        let config = PasswordConfig { memory_kib: 512, iterations: 2, parallelism: 1, max_concurrent: 1, max_queue: 4 };
        let large = PasswordHasher::new(&config, 1).unwrap();
        let old_hash = small.hash(SecretString::from("pw")).await.unwrap();
        let new_hash = large.hash(SecretString::from("pw")).await.unwrap();
        assert!(small.is_current(&old_hash) && !small.is_weaker(&old_hash));
        assert!(!large.is_current(&old_hash) && large.is_weaker(&old_hash));
        assert!(large.is_current(&new_hash));
        assert!(!large.is_current("not a phc string"));
        // A padded verification still answers like any other.
        assert!(large.verify(SecretString::from("pw"), Some(old_hash.clone())).await.unwrap());
        assert!(!large.verify(SecretString::from("wrong"), Some(old_hash)).await.unwrap());
    }

    #[tokio::test]
    async fn overlong_passwords_are_refused_before_hashing() {
        let hasher = cheap();
        let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert!(matches!(hasher.hash(SecretString::from(long)).await, Err(PasswordError::TooLong)));
    }
}
