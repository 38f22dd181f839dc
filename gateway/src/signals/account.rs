//! The account's own history as a signal: known countries, networks,
//! browsers and devices, usual places, the last success (for impossible
//! travel), a recent change of contact factor (SIM swap), and the counts the
//! Freeman et al. likelihood-ratio model needs. Updated from successes only
//! (resets and sign-ins), never from attempts.

use risk::signals::{FeatureCounts, History, LevelCounts, Location, PastEvent};

use super::context::Context;
use crate::store::durable::{DurableError, FactorRecord, HistoryRecord, HistoryStore};
use crate::time::from_unix;

/// The model's feature hierarchies, most specific level first.
const HIERARCHIES: &[(&str, &[&str])] = &[
    ("network", &["ip", "asn", "country"]),
    ("agent", &["ua", "browser", "os", "class"]),
];

/// Read the account's history as it bears on an attempt in `ctx`.
pub async fn read(
    store: &dyn HistoryStore,
    account: &str,
    ctx: &Context,
) -> Result<HistoryRecord, DurableError> {
    let device = ctx.device_id.as_deref().filter(|_| ctx.had_cookie);
    store.history(account, &ctx.features(), device).await
}

/// The history signal from what [`read`] returned and the account's factors.
pub fn history(r: &HistoryRecord, factors: &[FactorRecord]) -> History {
    history_of(r, factors)
}

fn history_of(r: &HistoryRecord, factors: &[FactorRecord]) -> History {
    let known = |level: &str| -> Vec<String> {
        r.known
            .iter()
            .filter(|(l, _)| l == level)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let place = |&(lat, lon, accuracy_km): &(f64, f64, f64)| Location {
        lat,
        lon,
        accuracy_km,
    };
    History {
        events: r.events,
        known_countries: known("country"),
        known_asns: known("asn").iter().filter_map(|a| a.parse().ok()).collect(),
        known_browsers: known("browser"),
        usual_locations: r.places.iter().map(place).collect(),
        last_success: r.last.map(|(at, p)| PastEvent {
            at: from_unix(at),
            location: p.as_ref().map(place),
        }),
        contact_changed_at: contact_changed_at(factors),
        features: features(r),
    }
}

/// When the person last added a phone (admin-provisioned ones do not count).
fn contact_changed_at(factors: &[FactorRecord]) -> Option<std::time::SystemTime> {
    factors
        .iter()
        .filter(|f| f.phone.is_some() && !f.provisioned)
        .map(|f| f.created_at)
        .max()
        .map(from_unix)
}

fn features(r: &HistoryRecord) -> Vec<FeatureCounts> {
    if r.events == 0 {
        return Vec::new();
    }
    let total = r.counts.iter().find(|c| c.level == "*");
    let (account_total, global_total) = total.map_or((0, 0), |t| (t.account, t.global));
    HIERARCHIES
        .iter()
        .map(|(name, levels)| FeatureCounts {
            name: (*name).to_owned(),
            // A level whose value is unknown (a lookup miss) is left out: the
            // model would otherwise score "unknown" as a never-seen value.
            levels: levels
                .iter()
                .filter(|level| r.counts.iter().any(|c| c.level == **level && c.present))
                .map(|level| {
                    let c = r.counts.iter().find(|c| c.level == *level);
                    LevelCounts {
                        level: (*level).to_owned(),
                        account_seen: c.map_or(0, |c| c.account),
                        account_total,
                        global_seen: c.map_or(0, |c| c.global),
                        global_total,
                    }
                })
                .collect(),
        })
        .filter(|f: &FeatureCounts| !f.levels.is_empty())
        .collect()
}
