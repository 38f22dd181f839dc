//! User agents: the browsers people use (family × version, with a plausible
//! market share), and the ones attackers' tools send (HTTP libraries, headless
//! browsers, outdated browser strings rotated by stuffing kits).
//!
//! Versions advance with time: a device keeps its family and moves to a newer
//! version every `cycle_days` (Chrome ships every four weeks), never past the
//! newest of that day. The newest version is the last of the list at the end of
//! the generated period; the list is illustrative of 2025-2026 releases.

use std::ops::Range;

use rand::Rng;

/// A browser on an operating system.
pub(super) struct Family {
    pub phone: bool,
    /// Relative share among people's devices of its kind (phone or computer).
    pub weight: u32,
    /// Days between two releases.
    pub cycle_days: u32,
    pub versions: &'static [&'static str],
    make: fn(&str) -> String,
}

const CHROME: &[&str] = &[
    "120", "121", "122", "123", "124", "125", "126", "127", "128", "129", "130", "131", "132",
    "133", "134", "135",
];
const FIREFOX: &[&str] = &[
    "128", "129", "130", "131", "132", "133", "134", "135", "136", "137",
];
const SAFARI: &[&str] = &[
    "17.0", "17.1", "17.2", "17.3", "17.4", "17.5", "17.6", "18.0", "18.1", "18.2", "18.3",
];
const SAMSUNG: &[&str] = &["23.0", "24.0", "25.0", "26.0", "27.0"];

const fn family(
    phone: bool,
    weight: u32,
    cycle_days: u32,
    versions: &'static [&'static str],
    make: fn(&str) -> String,
) -> Family {
    Family {
        phone,
        weight,
        cycle_days,
        versions,
        make,
    }
}

#[rustfmt::skip]
pub(super) const FAMILIES: &[Family] = &[
    family(false, 28, 28, CHROME, |v| format!("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36")),
    family(false, 9, 28, CHROME, |v| format!("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0")),
    family(false, 5, 28, FIREFOX, |v| format!("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0")),
    family(false, 6, 28, CHROME, |v| format!("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36")),
    family(false, 7, 45, SAFARI, |v| format!("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v} Safari/605.1.15")),
    family(false, 1, 28, FIREFOX, |v| format!("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:{v}.0) Gecko/20100101 Firefox/{v}.0")),
    family(false, 1, 28, CHROME, |v| format!("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36")),
    family(false, 1, 28, FIREFOX, |v| format!("Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0")),
    family(true, 22, 45, SAFARI, |v| format!("Mozilla/5.0 (iPhone; CPU iPhone OS {} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v} Mobile/15E148 Safari/604.1", v.replace('.', "_"))),
    family(true, 3, 28, CHROME, |v| format!("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/{v}.0.6723.90 Mobile/15E148 Safari/604.1")),
    family(true, 15, 28, CHROME, |v| format!("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile Safari/537.36")),
    family(true, 4, 60, SAMSUNG, |v| format!("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/{v} Chrome/{}.0.0.0 Mobile Safari/537.36", 115 + 2 * v[..2].parse::<u32>().unwrap_or(23).saturating_sub(23))),
    family(true, 1, 28, FIREFOX, |v| format!("Mozilla/5.0 (Android 14; Mobile; rv:{v}.0) Gecko/{v}.0 Firefox/{v}.0")),
];

/// The most common browser of all: what a careful attacker blends in with.
pub(super) const COMMON: u8 = 0;

/// What scripts and stuffing tools send.
#[rustfmt::skip]
const BOTS: &[&str] = &[
    "python-requests/2.31.0",
    "python-requests/2.32.3",
    "curl/8.5.0",
    "Go-http-client/1.1",
    "Go-http-client/2.0",
    "okhttp/4.12.0",
    "axios/1.6.8",
    "Java/17.0.9",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/122.0.6261.94 Safari/537.36",
    "",
];

/// Old browser strings that stuffing kits rotate through.
#[rustfmt::skip]
const OUTDATED: &[&str] = &[
    "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/79.0.3945.130 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/91.0.4472.124 Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.3; Win64; x64; rv:78.0) Gecko/20100101 Firefox/78.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.2 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 12_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.1.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/87.0.4280.88 Safari/537.36 Edg/87.0.664.66",
    "Mozilla/5.0 (Linux; Android 8.0.0; SM-G950F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/83.0.4103.106 Mobile Safari/537.36",
    "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; Trident/6.0)",
];

/// Every user-agent string, built once; events refer to them by index.
pub(super) struct UserAgents {
    pub strings: Vec<String>,
    starts: Vec<u16>,
    pub bots: Range<u16>,
    pub outdated: Range<u16>,
}

impl UserAgents {
    pub fn new() -> Self {
        let mut strings = Vec::new();
        let mut starts = Vec::new();
        for family in FAMILIES {
            starts.push(index(strings.len()));
            strings.extend(family.versions.iter().map(|v| (family.make)(v)));
        }
        let bots = index(strings.len())..index(strings.len() + BOTS.len());
        strings.extend(BOTS.iter().map(|s| (*s).to_owned()));
        let outdated = index(strings.len())..index(strings.len() + OUTDATED.len());
        strings.extend(OUTDATED.iter().map(|s| (*s).to_owned()));
        Self {
            strings,
            starts,
            bots,
            outdated,
        }
    }

    /// The string of `family` at `version` (an index into its versions).
    pub fn of(&self, family: u8, version: u8) -> u16 {
        let family = usize::from(family);
        let last = FAMILIES[family].versions.len() - 1;
        self.starts[family] + index(usize::from(version).min(last))
    }
}

fn index(i: usize) -> u16 {
    u16::try_from(i).expect("few user agents")
}

/// A family for a new phone or computer, by market share.
pub(super) fn pick_family(phone: bool, rng: &mut impl Rng) -> u8 {
    let total: u32 = FAMILIES
        .iter()
        .filter(|f| f.phone == phone)
        .map(|f| f.weight)
        .sum();
    let mut roll = rng.random_range(0..total);
    for (i, family) in FAMILIES.iter().enumerate() {
        if family.phone != phone {
            continue;
        }
        if roll < family.weight {
            return u8::try_from(i).expect("few families");
        }
        roll -= family.weight;
    }
    unreachable!("the roll is below the total")
}

/// The newest version of `family` on `day` of a `days`-long period.
pub(super) fn newest(family: u8, day: u32, days: u32) -> u8 {
    let family = &FAMILIES[usize::from(family)];
    let behind = days.saturating_sub(day) / family.cycle_days;
    let last = u32::try_from(family.versions.len() - 1).expect("few versions");
    u8::try_from(last.saturating_sub(behind)).expect("few versions")
}

/// The version a device bought on `born` with `lag` releases of delay runs on `day`.
pub(super) fn version_on(family: u8, born: u32, lag: u8, day: u32, days: u32) -> u8 {
    let cycle = FAMILIES[usize::from(family)].cycle_days;
    let at_birth = newest(family, born, days).saturating_sub(lag);
    let updates = u8::try_from((day.saturating_sub(born) / cycle).min(255)).unwrap_or(u8::MAX);
    at_birth
        .saturating_add(updates)
        .min(newest(family, day, days))
}
