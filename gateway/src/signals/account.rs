//! The account's own history as a signal: known countries, networks,
//! browsers and devices, usual places, the last success (for impossible
//! travel), a recent change of contact factor (SIM swap), and the counts the
//! Freeman et al. likelihood-ratio model needs. Updated from successes only
//! — completed resets — never from attempts. Enrolment sign-ins are
//! password-only, so they do not count: a stolen password must not be able to
//! teach the model the attacker's country, network, browser and device.

use risk::signals::{FeatureCounts, History, LevelCounts, Location, PastEvent};

use super::context::Context;
use crate::store::durable::{FactorRecord, HistoryRecord};
use crate::time::from_unix;

/// The model's feature hierarchies, most specific level first.
const HIERARCHIES: &[(&str, &[&str])] = &[
    ("network", &["ip", "asn", "country"]),
    ("agent", &["ua", "browser", "os", "class"]),
];

/// The device cookie of `ctx` to look for among the account's bound devices:
/// one the browser presented (a cookie issued with this answer binds nothing).
pub fn bound_device(ctx: &Context) -> Option<&str> {
    ctx.device_id.as_deref().filter(|_| ctx.had_cookie)
}

/// The history signal from what the store read (`Durable::attempt`) and the
/// account's factors.
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

/// Below this many successes in the whole population, most real accounts have
/// no history yet, so decoys have none either.
const DECOY_HISTORY_MIN_POPULATION: u32 = 100;

/// A value is "common" when at least this share of all successes had it.
const COMMON_SHARE: u32 = 5; // 1 in 5 = 20 %

/// A plausible history for a decoy (an unknown name, or an account without a
/// usable factor): what a typical account of this population would show for
/// this context. Without it, every history signal — new country, new device,
/// distance, travel, the likelihood ratio — could fire only for real accounts,
/// and an escalation would tell that a name exists.
///
/// The decoy "has" the current country, ASN and browser when they are common
/// among all accounts' successes (≥ 20 %), and is new to them otherwise; its
/// usual place is here when the country is common, and it last succeeded days
/// ago (stable per name, from `seed`). It never has a bound device, like a real
/// account seen from a browser without its cookie. While the population has
/// fewer than 100 successes (a new deployment, where most accounts have no
/// history yet) a decoy has none either.
pub fn decoy(
    r: &HistoryRecord,
    ctx: &Context,
    seed: &[u8; 32],
    now: std::time::SystemTime,
) -> History {
    let total = r
        .counts
        .iter()
        .find(|c| c.level == "*")
        .map_or(0, |c| c.global);
    if total < DECOY_HISTORY_MIN_POPULATION {
        return History::default();
    }
    let common = |level: &str| {
        total > 0
            && r.counts.iter().any(|c| {
                c.level == level && c.present && c.global.saturating_mul(COMMON_SHARE) >= total
            })
    };
    let events = 2 + u32::from(seed[3] % 6);
    let usual: Vec<Location> = if common("country") {
        ctx.location.into_iter().collect()
    } else {
        Vec::new()
    };
    let days_ago = 3 + u64::from(seed[4] % 28);
    let last_at = now
        .checked_sub(std::time::Duration::from_secs(days_ago * 86_400))
        .unwrap_or(std::time::SystemTime::UNIX_EPOCH);
    History {
        events,
        known_countries: ctx
            .country
            .clone()
            .filter(|_| common("country"))
            .into_iter()
            .collect(),
        known_asns: ctx.asn.filter(|_| common("asn")).into_iter().collect(),
        known_browsers: ctx
            .ua
            .browser
            .clone()
            .filter(|_| common("browser"))
            .into_iter()
            .collect(),
        last_success: Some(PastEvent {
            at: last_at,
            location: usual.first().copied(),
        }),
        usual_locations: usual,
        contact_changed_at: None,
        features: HIERARCHIES
            .iter()
            .map(|(name, levels)| FeatureCounts {
                name: (*name).to_owned(),
                levels: levels
                    .iter()
                    .filter_map(|level| r.counts.iter().find(|c| c.level == *level && c.present))
                    .map(|c| LevelCounts {
                        level: c.level.clone(),
                        account_seen: if common(&c.level) { events } else { 0 },
                        account_total: events,
                        global_seen: c.global,
                        global_total: total,
                    })
                    .collect(),
            })
            .filter(|f: &FeatureCounts| !f.levels.is_empty())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::durable::LevelCount;

    fn record(country_global: u32, total: u32) -> HistoryRecord {
        let count = |level: &str, global| LevelCount {
            level: level.into(),
            present: true,
            account: 0,
            global,
        };
        HistoryRecord {
            counts: vec![
                count("*", total),
                count("country", country_global),
                count("asn", 0),
                count("browser", 0),
            ],
            ..HistoryRecord::default()
        }
    }

    fn ctx() -> Context {
        Context {
            country: Some("GB".into()),
            asn: Some(64_500),
            location: Some(Location {
                lat: 51.5,
                lon: -0.1,
                accuracy_km: 20.0,
            }),
            ..Context::default()
        }
    }

    #[test]
    fn decoys_know_what_is_common_and_nothing_else() {
        let now = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_hours(500_000);
        let seed = [7; 32];
        let h = decoy(&record(80, 100), &ctx(), &seed, now);
        assert!(h.events >= 2);
        assert_eq!(h.known_countries, ["GB"], "a common country is known");
        assert!(h.known_asns.is_empty(), "a rare network is new");
        assert_eq!(h.usual_locations.len(), 1);
        assert!(h.last_success.unwrap().at < now - std::time::Duration::from_hours(48));
        let rare = decoy(&record(3, 100), &ctx(), &seed, now);
        assert!(rare.known_countries.is_empty() && rare.usual_locations.is_empty());
        assert_eq!(
            decoy(&record(80, 100), &ctx(), &seed, now),
            h,
            "stable per name"
        );
        let empty = decoy(&record(0, 0), &ctx(), &seed, now);
        assert!(
            empty.known_countries.is_empty(),
            "no population yet: everything is new"
        );
    }
}
