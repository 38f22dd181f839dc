//! argon2id hashing off the async workers, with bounded concurrency and at a
//! lower CPU priority.
//!
//! Parameters are OWASP's minimum for argon2id (m = 19 MiB, t = 2, p = 1). Each
//! hash or verify runs on a thread of the hasher's own, one of
//! `directory.hash_concurrency` (automatic: one fewer than the CPUs, at least
//! 1), so a burst of completes or sign-ins queues instead of starving the
//! request workers or exhausting memory (each hash holds 19 MiB).
//!
//! Those threads run at nice [`NICE`]. At the same priority as the request
//! workers and the database threads, a hash that has a core keeps it for the
//! scheduler's time slice (some milliseconds) whenever one of them wakes on
//! that core: each hand-off of a reset start (worker → database read →
//! worker → audit writer) could wait a slice, and `POST /v1/reset`'s p99
//! next to 50 completes was five times its p99 alone. Lower, a woken worker
//! takes the core at once, and hashing still gets about a tenth of a core
//! that the workers keep busy, so completes slow down under a flood rather
//! than stop. Measured with `load --scenario hashing` (bench/RESULTS.md).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use thread_priority::{
    NormalThreadSchedulePolicy, ThreadPriority, ThreadPriorityValue, ThreadSchedulePolicy,
    set_thread_priority_and_policy, thread_native_id,
};

/// The hashing threads' nice value (the request workers run at 0): a weight
/// of 110 against 1,024, so about a tenth of a core the workers also want.
pub const NICE: i32 = 10;

/// Hashes and verifies queued or running, in every hasher of the process.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Whether any hash or verify is queued or running in this process: the
/// cores are then shared with argon2, and work that may wait on the disk is
/// better kept off the async workers (`store::durable::sqlite`'s audit
/// commits read this).
pub fn hashing() -> bool {
    IN_FLIGHT.load(Ordering::Relaxed) > 0
}

/// Counts one job in [`IN_FLIGHT`] until dropped: when it has run, or when
/// it was skipped or dropped unrun.
struct InFlight;

impl InFlight {
    fn new() -> Self {
        IN_FLIGHT.fetch_add(1, Ordering::Relaxed);
        Self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A hash or a verify, with where its answer goes.
type Job = Box<dyn FnOnce() + Send>;

/// Shared hasher. Cheap to clone; its threads end with the last clone.
#[derive(Debug, Clone)]
pub struct Hasher {
    jobs: mpsc::Sender<Job>,
    threads: usize,
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

/// The hashing threads for `directory.hash_concurrency`.
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
    ///
    /// # Panics
    /// When the operating system refuses to start a single thread.
    pub fn with_concurrency(concurrency: usize) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let wanted = permits(concurrency);
        let mut threads = 0;
        for n in 0..wanted {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || work(&queue));
            match spawned {
                Ok(_) => threads += 1,
                Err(e) => tracing::warn!(error = %e, "an argon2 thread did not start"),
            }
        }
        assert!(threads > 0, "no argon2 thread could be started");
        Self {
            jobs,
            threads,
            dummy: hash_blocking(&crate::crypto::random_token()).into(),
        }
    }

    /// How many hashes run at once.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Run `job` on a hashing thread, after those queued before it; not at
    /// all when this future is dropped before its turn comes.
    ///
    /// # Panics
    /// When the job panicked.
    pub async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> T {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let counted = InFlight::new();
        let job: Job = Box::new(move || {
            // Nobody waits for it any more (the client went away while it
            // queued): the core is better spent on the next one.
            if answer.is_closed() {
                return;
            }
            let done = job();
            // No longer counted by the time its caller wakes.
            drop(counted);
            let _ = answer.send(done);
        });
        self.jobs
            .send(job)
            .expect("the argon2 threads live as long as a hasher");
        answered.await.expect("argon2 job panicked")
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

/// A hashing thread: lower its priority, then run jobs until the last
/// hasher is gone.
fn work(queue: &Mutex<mpsc::Receiver<Job>>) {
    lower_priority();
    loop {
        let next = queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .recv();
        let Ok(job) = next else { return };
        // A panicking job drops its answer (the caller sees it); the thread
        // carries on with the next.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    }
}

/// Set this thread's nice value to [`NICE`]. Raising one's own nice value
/// needs no privilege; where it is refused all the same (a sandbox), the
/// thread hashes at normal priority and says so.
fn lower_priority() {
    // thread-priority maps 0..=99 onto nice 19..=-20 (39 × (1 − p/99) − 20,
    // rounded down): 22 is nice 10. The tests read the value back.
    let priority = ThreadPriorityValue::try_from(22u8).map(ThreadPriority::Crossplatform);
    let set = priority.map_err(|e| e.clone()).and_then(|priority| {
        set_thread_priority_and_policy(
            thread_native_id(),
            priority,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other),
        )
        .map_err(|e| format!("{e:?}"))
    });
    if let Err(e) = set {
        tracing::warn!(error = %e, "argon2 thread left at normal priority");
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

    /// [`hashing`] counts a job from the call until it has run, and one
    /// whose caller went away before its turn until it is skipped.
    #[tokio::test]
    async fn hashing_counts_queued_and_running_jobs() {
        let hasher = Hasher::with_concurrency(1);
        assert!(!hashing());
        let (release, held) = mpsc::channel::<()>();
        let running = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.run(move || held.recv().is_ok()).await }
        });
        // Queued behind it, and given up before its turn.
        let queued = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.run(|| true).await }
        });
        while IN_FLIGHT.load(Ordering::Relaxed) < 2 {
            tokio::task::yield_now().await;
        }
        assert!(hashing());
        queued.abort();
        assert!(queued.await.unwrap_err().is_cancelled());
        assert!(hashing(), "the first job still runs");
        release.send(()).unwrap();
        assert!(running.await.unwrap());
        // The skipped job is dropped by the thread that came to it.
        for _ in 0..100 {
            if !hashing() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(!hashing());
    }

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
        assert_eq!(Hasher::with_concurrency(2).threads(), 2);
    }

    /// The nice value of the calling thread, from `/proc` (field 19 of
    /// `stat`, after the command name in parentheses).
    fn own_nice() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("Linux /proc");
        let after_name = &stat[stat.rfind(')').expect("stat has a name") + 2..];
        after_name
            .split(' ')
            .nth(16)
            .expect("field 19")
            .parse()
            .expect("a number")
    }

    #[tokio::test]
    async fn hashes_run_on_their_own_lower_priority_threads() {
        let hasher = Hasher::with_concurrency(2);
        let base = own_nice();
        let (name, nice) = hasher
            .run(|| (std::thread::current().name().map(str::to_owned), own_nice()))
            .await;
        assert!(
            name.as_deref().is_some_and(|n| n.starts_with("argon2-")),
            "{name:?}"
        );
        // (Under a test runner started nicer than that, going back up to it
        // takes a privilege the runner may not have.)
        if base <= NICE {
            assert_eq!(nice, NICE);
        }
        // The request side keeps its priority.
        assert_eq!(own_nice(), base);
        // A panicking job is the caller's, not the thread's: both threads
        // still hash afterwards.
        let hasher2 = hasher.clone();
        let panicked = tokio::spawn(async move { hasher2.run(|| panic!("boom")).await }).await;
        assert!(panicked.is_err());
        let phcs = futures::future::join_all((0..4).map(|_| hasher.hash("pw"))).await;
        assert!(phcs.iter().all(|p| p.starts_with("$argon2id$")));
    }

    #[tokio::test]
    async fn a_job_whose_caller_went_away_is_skipped() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let hasher = Hasher::with_concurrency(1);
        // Hold the one thread until told to go on.
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let busy = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.run(move || wait.recv().is_ok()).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        // Queued behind it, then abandoned, as by a client that disconnects.
        let ran = Arc::new(AtomicBool::new(false));
        let abandoned = tokio::spawn({
            let (hasher, ran) = (hasher.clone(), Arc::clone(&ran));
            async move { hasher.run(move || ran.store(true, Ordering::SeqCst)).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        abandoned.abort();
        assert!(abandoned.await.unwrap_err().is_cancelled());
        go.send(()).unwrap();
        assert!(busy.await.unwrap());
        // A job queued after it runs, so the abandoned one had its turn.
        assert!(hasher.run(|| true).await);
        assert!(!ran.load(Ordering::SeqCst), "the abandoned job did not run");
    }
}
