//! Hot reload: [`ReloadingGeo`] holds the live [`GeoDb`] behind a
//! `RwLock<Arc<GeoDb>>`; a lookup takes the read lock only to clone the `Arc`, so
//! a reload never waits for lookups in flight and they finish on the database
//! they started with.
//!
//! The watcher polls the configured files' modification time and length every
//! `geo.reload_interval`. A changed file is read, kind-checked and probed
//! ([`Database::open`]) on a blocking thread and only then swapped in: requests see
//! the old database or the complete new one, never a half-loaded one. A file that
//! fails to open keeps the old database and logs one warning per change (the
//! stamp of the failed attempt is remembered, so the next change tries again).
//!
//! Polling rather than inotify: it works on every filesystem (network mounts,
//! container volumes whose files are swapped by symlink), costs one `stat` per
//! file per interval, and needs no new dependency.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::{Duration, SystemTime};

use super::{Database, GeoDb, GeoError, GeoInfo, Kind, Source, Sources};
use crate::config;

/// A file's modification time and length; `None` when it cannot be `stat`ed.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// One file-backed database and the stamp it was last loaded (or tried) at.
struct Watched {
    kind: Kind,
    path: PathBuf,
    seen: Stamp,
}

/// The live geo databases, swapped whole when a file changes.
pub struct ReloadingGeo {
    current: RwLock<Arc<GeoDb>>,
    /// Held for a whole reload, so reloads never interleave.
    watched: Mutex<Vec<Watched>>,
}

impl std::fmt::Debug for ReloadingGeo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ReloadingGeo")
            .field(&self.current())
            .finish()
    }
}

impl ReloadingGeo {
    /// Open `sources`; the file-backed ones are watched.
    pub fn open(sources: &Sources) -> Result<Self, GeoError> {
        // Stamp before reading: a change during the read is seen by the next poll.
        let watched = Kind::ALL
            .into_iter()
            .filter_map(|kind| match sources.get(kind) {
                Some(Source::File(path)) => Some(Watched {
                    kind,
                    seen: stamp(path),
                    path: path.clone(),
                }),
                _ => None,
            })
            .collect();
        let db = GeoDb::open(sources)?;
        Ok(Self {
            current: RwLock::new(Arc::new(db)),
            watched: Mutex::new(watched),
        })
    }

    /// The databases `[geo]` names, the bundled sample for unset keys.
    pub fn from_config(geo: &config::Geo) -> Result<Self, GeoError> {
        Self::open(&Sources::from_config(geo))
    }

    /// The live databases. The read lock is held only to clone the `Arc`.
    pub fn current(&self) -> Arc<GeoDb> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// [`GeoDb::lookup`] on the live databases.
    pub fn lookup(&self, ip: IpAddr) -> GeoInfo {
        self.current().lookup(ip)
    }

    /// Reopen every watched file whose stamp changed since it was last tried, and
    /// swap in those that open. Returns one outcome per changed file (empty when
    /// nothing changed); each is also logged. Blocking: reads whole files.
    pub fn reload_changed(&self) -> Vec<(Kind, Result<(), GeoError>)> {
        let mut watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        let mut next = None::<GeoDb>;
        let mut outcomes = Vec::new();
        for w in watched.iter_mut() {
            let now = stamp(&w.path);
            if now == w.seen {
                continue;
            }
            w.seen = now;
            match Database::open(w.kind, &Source::File(w.path.clone())) {
                Ok(db) => {
                    tracing::info!(kind = %w.kind, path = %w.path.display(), database_type = %db.metadata().database_type, build_epoch = db.metadata().build_epoch, "geo database reloaded");
                    let base = next.take().unwrap_or_else(|| (*self.current()).clone());
                    next = Some(base.with(w.kind, Some(Arc::new(db))));
                    outcomes.push((w.kind, Ok(())));
                }
                Err(e) => {
                    tracing::warn!(kind = %w.kind, path = %w.path.display(), error = %e, "geo database not reloaded; keeping the one in use");
                    outcomes.push((w.kind, Err(e)));
                }
            }
        }
        if let Some(db) = next {
            *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(db);
        }
        outcomes
    }

    /// Poll the watched files every `interval` on the tokio runtime and reload
    /// changes ([`Self::reload_changed`]) on a blocking thread. `None` when there is
    /// nothing to watch or `interval` is zero. The task ends when the last `Arc`
    /// of `self` is dropped, or when the handle is aborted.
    pub fn spawn_watcher(
        self: &Arc<Self>,
        interval: Duration,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let nothing_to_watch = self
            .watched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty();
        if interval.is_zero() || nothing_to_watch {
            return None;
        }
        Some(tokio::spawn(watch(Arc::downgrade(self), interval)))
    }
}

async fn watch(geo: Weak<ReloadingGeo>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // the first tick is immediate; the files were just opened
    loop {
        ticks.tick().await;
        let Some(geo) = geo.upgrade() else { return };
        if let Err(e) = tokio::task::spawn_blocking(move || geo.reload_changed()).await {
            tracing::error!(error = %e, "geo reload task failed");
        }
    }
}
