//! `[geo]` validation, [`ReloadingGeo`] and its watcher.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::super::{GeoDb, Kind, ReloadingGeo, Source, Sources};
use super::{CSV, build_all, ip};

#[test]
fn config_validates_geo_files() {
    let mut config = crate::config::Config::default();
    config.validate().unwrap();
    config.geo.asn_db = Some(PathBuf::from("/nonexistent/asn.mmdb"));
    let err = config.validate().unwrap_err().to_string();
    assert!(
        err.starts_with("geo.asn_db: /nonexistent/asn.mmdb does not exist"),
        "{err}"
    );
    config.geo.asn_db = None;
    config.geo.reload_interval = Duration::from_millis(500);
    assert!(
        config
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("geo.reload_interval")
    );
    config.geo.reload_interval = Duration::ZERO;
    config.validate().unwrap();
    let geo = GeoDb::from_config(&config.geo).unwrap();
    assert!(geo.databases().all(|db| *db.source() == Source::Bundled));
}

/// Write `csv`'s City database to `path` (via rename, as an updater would) and
/// stamp it with `mtime` seconds, so that the change is visible on any filesystem.
fn replace_city(dir: &Path, path: &Path, csv: &str, mtime: u64) {
    let built = dir.join("staging");
    std::fs::create_dir_all(&built).unwrap();
    let city = build_all(&built, csv);
    std::fs::rename(&city, path).unwrap();
    set_mtime(path, mtime);
}

fn set_mtime(path: &Path, secs: u64) {
    let file = File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
        .unwrap();
}

#[test]
fn reload_swaps_good_files_and_keeps_the_old_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live-city.mmdb");
    replace_city(dir.path(), &live, CSV, 1_000);
    let geo = ReloadingGeo::open(&Sources {
        city: Some(Source::File(live.clone())),
        ..Sources::bundled()
    })
    .unwrap();
    let probe = ip("192.0.2.10");
    assert_eq!(geo.lookup(probe).city.as_deref(), Some("London"));
    assert!(geo.reload_changed().is_empty(), "nothing changed");

    let before = geo.current();
    replace_city(
        dir.path(),
        &live,
        &CSV.replace("London", "Londinium"),
        2_000,
    );
    let outcomes = geo.reload_changed();
    assert!(
        matches!(outcomes.as_slice(), [(Kind::City, Ok(()))]),
        "{outcomes:?}"
    );
    assert_eq!(geo.lookup(probe).city.as_deref(), Some("Londinium"));
    assert_eq!(
        geo.lookup(probe).asn,
        Some(64496),
        "the bundled ASN database stays"
    );
    assert_eq!(
        before.lookup(probe).city.as_deref(),
        Some("London"),
        "in-flight Arc unchanged"
    );

    std::fs::write(&live, b"\xab\xcd\xefMaxMind.com garbage").unwrap();
    set_mtime(&live, 3_000);
    let outcomes = geo.reload_changed();
    assert!(
        matches!(outcomes.as_slice(), [(Kind::City, Err(_))]),
        "{outcomes:?}"
    );
    assert_eq!(geo.lookup(probe).city.as_deref(), Some("Londinium"), "kept");
    assert!(
        geo.reload_changed().is_empty(),
        "a failed change is tried once"
    );

    std::fs::remove_file(&live).unwrap();
    assert!(matches!(
        geo.reload_changed().as_slice(),
        [(Kind::City, Err(_))]
    ));
    replace_city(dir.path(), &live, CSV, 4_000);
    assert!(matches!(
        geo.reload_changed().as_slice(),
        [(Kind::City, Ok(()))]
    ));
    assert_eq!(geo.lookup(probe).city.as_deref(), Some("London"));
}

#[tokio::test]
async fn watcher_picks_up_a_replaced_file() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live-city.mmdb");
    replace_city(dir.path(), &live, CSV, 1_000);
    let geo = Arc::new(ReloadingGeo::open(&Sources::from_city_file(live.clone())).unwrap());
    assert!(geo.spawn_watcher(Duration::ZERO).is_none(), "0s disables");
    let task = geo.spawn_watcher(Duration::from_millis(20)).unwrap();
    replace_city(
        dir.path(),
        &live,
        &CSV.replace("London", "Londinium"),
        2_000,
    );
    let probe = ip("192.0.2.10");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while geo.lookup(probe).city.as_deref() != Some("Londinium") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "watcher did not reload"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(geo);
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
}

#[test]
fn no_watcher_for_bundled_only() {
    let geo = Arc::new(ReloadingGeo::open(&Sources::bundled()).unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async { assert!(geo.spawn_watcher(Duration::from_secs(1)).is_none()) });
}
