//! `SQLite` implementation of [`HistoryStore`]: account events, feature counts
//! per account and globally, and device bindings.

use async_trait::async_trait;
use sqlx::{Sqlite, Transaction};

use super::{
    DurableError, HistoryRecord, HistoryStore, LevelCount, Place, SqliteStore, SuccessEvent,
};

/// Distinct cities kept as "usual places".
pub(super) const MAX_PLACES: i64 = 10;

async fn bump(
    tx: &mut Transaction<'_, Sqlite>,
    scope: &str,
    level: &str,
    value: &str,
) -> Result<(), DurableError> {
    sqlx::query(
        "INSERT INTO feature_counts (scope, level, value, count) VALUES (?, ?, ?, 1)
         ON CONFLICT (scope, level, value) DO UPDATE SET count = count + 1",
    )
    .bind(scope)
    .bind(level)
    .bind(value)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl HistoryStore for SqliteStore {
    async fn record_success(&self, e: &SuccessEvent) -> Result<(), DurableError> {
        let _turn = self.turn().await?;
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO account_events (username, kind, at, ip, asn, country, city, lat, lon, accuracy_km,
                                         ua, browser, os, class, device_id)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&e.username)
        .bind(&e.kind)
        .bind(e.at)
        .bind(&e.ip)
        .bind(e.asn)
        .bind(&e.country)
        .bind(&e.city)
        .bind(e.lat)
        .bind(e.lon)
        .bind(e.accuracy_km)
        .bind(&e.ua)
        .bind(&e.browser)
        .bind(&e.os)
        .bind(&e.class)
        .bind(&e.device_id)
        .execute(&mut *tx)
        .await?;
        for scope in [e.username.as_str(), ""] {
            bump(&mut tx, scope, "*", "*").await?;
            for (level, value) in e.features() {
                if let Some(value) = value {
                    bump(&mut tx, scope, level, &value).await?;
                }
            }
        }
        if let Some(device) = &e.device_id {
            sqlx::query(
                "INSERT INTO known_devices (username, device_id, first_seen, last_seen) VALUES (?, ?, ?, ?)
                 ON CONFLICT (username, device_id) DO UPDATE SET last_seen = excluded.last_seen",
            )
            .bind(&e.username)
            .bind(device)
            .bind(e.at)
            .bind(e.at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn history(
        &self,
        username: &str,
        current: &[(&'static str, Option<String>)],
        device_id: Option<&str>,
    ) -> Result<HistoryRecord, DurableError> {
        self.read_history(username, current, device_id).await
    }
}

/// The account's latest event as the `last` query returns it: time, latitude,
/// longitude, accuracy.
pub(super) type LastRow = (i64, Option<f64>, Option<f64>, Option<f64>);

/// A [`HistoryRecord`] from the answers of its queries (shared with the
/// `PostgreSQL` store, whose queries answer alike).
pub(super) fn assemble(
    known: Vec<(String, String)>,
    places: Vec<Place>,
    last: Option<LastRow>,
    device_known: bool,
    counts: Vec<LevelCount>,
) -> HistoryRecord {
    let events = counts
        .iter()
        .find(|c| c.level == "*")
        .map_or(0, |c| c.account);
    HistoryRecord {
        events,
        known,
        places,
        last: last.map(|(at, lat, lon, acc)| {
            let place = match (lat, lon) {
                (Some(latitude), Some(longitude)) => {
                    Some((latitude, longitude, acc.unwrap_or(0.0)))
                }
                _ => None,
            };
            (at, place)
        }),
        counts,
        device_known,
    }
}

/// The (level, value) rows to look up in each scope: the totals, then every
/// current value, in order.
pub(super) fn wanted<'a>(current: &'a [(&'static str, Option<String>)]) -> Vec<(&'a str, &'a str)> {
    let mut wanted: Vec<(&str, &str)> = vec![("*", "*")];
    wanted.extend(
        current
            .iter()
            .filter_map(|(l, v)| v.as_deref().map(|v| (*l, v))),
    );
    wanted
}

/// The [`LevelCount`]s from the `(scope, level, count)` rows found for
/// [`wanted`] in the account's scope then the global one, in that order: for
/// a level, the first row found counts.
pub(super) fn counts_from_rows(
    rows: &[(String, String, i64)],
    username: &str,
    current: &[(&'static str, Option<String>)],
) -> Vec<LevelCount> {
    let count = |scope_is_account: bool, level: &str| {
        rows.iter()
            .find(|(s, l, _)| {
                l == level
                    && (s == username) == scope_is_account
                    && (scope_is_account || s.is_empty())
            })
            .map_or(0, |(_, _, c)| u32::try_from(*c).unwrap_or(u32::MAX))
    };
    std::iter::once("*")
        .chain(current.iter().map(|(l, _)| *l))
        .map(|level| {
            let present = level == "*" || current.iter().any(|(l, v)| *l == level && v.is_some());
            LevelCount {
                level: level.to_owned(),
                present,
                account: if present { count(true, level) } else { 0 },
                global: if present { count(false, level) } else { 0 },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(user: &str, at: i64, country: &str, city: &str, lat: f64) -> SuccessEvent {
        SuccessEvent {
            username: user.into(),
            kind: "reset".into(),
            at,
            ip: Some(format!("192.0.2.{at}")),
            asn: Some(64_500),
            country: Some(country.into()),
            city: Some(city.into()),
            lat: Some(lat),
            lon: Some(0.0),
            accuracy_km: Some(20.0),
            browser: Some("Chrome".into()),
            device_id: Some(format!("dev-{user}")),
            ..SuccessEvent::default()
        }
    }

    #[tokio::test]
    async fn history_counts_places_and_devices_sqlite() {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        history_counts_places_and_devices(&store).await;
    }

    #[tokio::test]
    async fn history_counts_places_and_devices_postgres() {
        let store = crate::store::durable::postgres_test_store().await;
        history_counts_places_and_devices(&store).await;
    }

    async fn history_counts_places_and_devices(store: &dyn HistoryStore) {
        store
            .record_success(&event("ann", 1, "GB", "London", 51.5))
            .await
            .unwrap();
        store
            .record_success(&event("ann", 2, "GB", "London", 51.5))
            .await
            .unwrap();
        store
            .record_success(&event("ann", 3, "FR", "Paris", 48.8))
            .await
            .unwrap();
        store
            .record_success(&event("bob", 4, "GB", "London", 51.5))
            .await
            .unwrap();
        let current = vec![
            ("country", Some("GB".to_owned())),
            ("asn", Some("64500".to_owned())),
            ("browser", None),
        ];
        let h = store
            .history("ann", &current, Some("dev-ann"))
            .await
            .unwrap();
        assert_eq!(h.events, 3);
        assert!(h.device_known);
        assert_eq!(h.places.len(), 2);
        assert!((h.places[0].0 - 48.8).abs() < 1e-9, "most recent first");
        assert_eq!(h.last.unwrap().0, 3);
        let gb = h.counts.iter().find(|c| c.level == "country").unwrap();
        assert_eq!((gb.account, gb.global), (2, 3));
        let total = h.counts.iter().find(|c| c.level == "*").unwrap();
        assert_eq!((total.account, total.global), (3, 4));
        assert!(h.known.contains(&("country".into(), "FR".into())));
        let browser = h.counts.iter().find(|c| c.level == "browser").unwrap();
        assert_eq!(
            (browser.account, browser.global),
            (0, 0),
            "unknown value counts nothing"
        );
        let nobody = store
            .history("zed", &current, Some("dev-ann"))
            .await
            .unwrap();
        assert_eq!(
            (nobody.events, nobody.device_known, nobody.last),
            (0, false, None)
        );
    }
}
