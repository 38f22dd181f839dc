//! argon2id hashing off the async workers, with bounded concurrency.
//!
//! Parameters are OWASP's minimum for argon2id (m = 19 MiB, t = 2, p = 1). Each
//! hash or verify runs on the blocking pool behind a semaphore
//! (`directory.hash_concurrency`; automatic: one fewer than the CPUs, at least
//! 1), so a burst of completes or sign-ins queues instead of starving the
//! request workers or exhausting memory (each hash holds 19 MiB). Measured with
//! `load --scenario hashing` (bench/RESULTS.md): with as many permits as CPUs,
//! 50 concurrent completes took every core and `POST /v1/reset`'s p99 rose
//! several times over.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

/// Shared hasher. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    /// A real hash of a random password, verified against when the account is
    /// unknown so that both paths cost one argon2 verification.
    dummy: Arc<str>,
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("static argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hash synchronously (for the CLI and for start-up).
pub fn hash_blocking(password: &str) -> String {
    let salt_bytes = crate::crypto::random_bytes::<16>();
    let salt = SaltString::encode_b64(&salt_bytes).expect("16-byte salt encodes");
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with valid parameters cannot fail")
        .to_string()
}

/// The semaphore's size for `directory.hash_concurrency`.
pub fn permits(configured: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    let cpus = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    cpus.saturating_sub(1).max(1)
}

fn verify_blocking(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

impl Hasher {
    /// The automatic concurrency.
    pub fn new() -> Self {
        Self::with_concurrency(0)
    }

    /// At most `concurrency` hashes at once; `0` = one fewer than the CPUs,
    /// at least 1.
    pub fn with_concurrency(concurrency: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(permits(concurrency))),
            dummy: hash_blocking(&crate::crypto::random_token()).into(),
        }
    }

    async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> T {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("semaphore never closed");
        tokio::task::spawn_blocking(job)
            .await
            .expect("argon2 job panicked")
    }

    pub async fn hash(&self, password: &str) -> String {
        let password = zeroize::Zeroizing::new(password.to_owned());
        self.run(move || hash_blocking(&password)).await
    }

    /// Verify against `phc`, or against the dummy hash when `phc` is `None`
    /// (the result is then always false).
    pub async fn verify(&self, password: &str, phc: Option<String>) -> bool {
        let password = zeroize::Zeroizing::new(password.to_owned());
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| self.dummy.to_string());
        self.run(move || verify_blocking(&password, &phc)).await && known
    }

    /// Does `password` match any of `hashes`? Every hash is checked.
    pub async fn matches_any(&self, password: &str, hashes: Vec<String>) -> bool {
        let mut found = false;
        for phc in hashes {
            found |= self.verify(password, Some(phc)).await;
        }
        found
    }
}

impl Default for Hasher {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let hasher = Hasher::new();
        let phc = hasher.hash("correct horse battery").await;
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            hasher
                .verify("correct horse battery", Some(phc.clone()))
                .await
        );
        assert!(!hasher.verify("wrong", Some(phc)).await);
        assert!(!hasher.verify("anything", None).await);
    }

    #[test]
    fn concurrency_is_configured_or_leaves_a_cpu() {
        assert_eq!(permits(3), 3);
        let cpus = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        assert_eq!(permits(0), (cpus - 1).max(1));
        assert_eq!(Hasher::with_concurrency(2).permits.available_permits(), 2);
    }
}
