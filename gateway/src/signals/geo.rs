//! Geo: where an address is, which network it belongs to, and whether it is an
//! anonymiser, from up to three `MaxMind` DB files: `GeoIP2`/`GeoLite2` **City**, `GeoLite2`
//! **ASN** and `GeoIP2` **Anonymous IP**.
//!
//! A lookup never fails: an address a database does not know, a database that is
//! not configured, and (logged) a record that does not decode all read as "unknown"
//! (`None` / `false`). The risk policy treats unknown as "does not fire", so a gap in
//! the data can never deny a reset on its own.
//!
//! # Layout
//!
//! - this file: [`GeoInfo`] (what a lookup yields), [`GeoLookup`] (the trait the
//!   flow uses), [`GeoDb`] (the open databases), [`Kind`], [`Source`], [`Sources`]
//!   and [`GeoError`].
//! - [`database`]: one opened database: bytes, type check, probe decode.
//! - [`reload`]: [`ReloadingGeo`], the live `Arc<GeoDb>` that a watcher swaps when
//!   a configured file changes.
//! - [`csv_rows`]: the CSV format of `resetgate geo build`, parsed and validated.
//! - [`build`]: CSV rows -> the three `.mmdb` files, shaped like `MaxMind`'s; the
//!   bundled sample under `data/geo/` is built with it.
//!
//! # Read into memory, not memory-mapped
//!
//! `maxminddb`'s `Reader::open_mmap` is an `unsafe fn` (the mapping is undefined
//! behaviour if the file is truncated or rewritten in place while mapped), and the
//! workspace forbids `unsafe_code`, which no module can locally allow. So a file is
//! read whole into memory: about 60-120 MB for a full City database, read once per
//! (re)load, after which a lookup costs the same as with a mapping. It also makes an
//! in-place rewrite of a file harmless to the running gateway.

mod build;
mod csv_rows;
mod database;
mod reload;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use maxminddb::geoip2;
use serde::{Deserialize, Serialize};

pub use build::{BuildOptions, build_database, sibling_paths, write_databases};
pub use csv_rows::{CsvRow, parse_csv};
pub use database::Database;
pub use reload::ReloadingGeo;

use crate::config;

/// The accuracy assumed for a location whose record has coordinates but no
/// `accuracy_radius` (`MaxMind` always sets it; some compatible databases do not).
/// Deliberately coarse: impossible-travel subtracts it from distances, so an
/// over-precise guess would make travel look faster than it is.
pub const DEFAULT_ACCURACY_KM: f64 = 100.0;

/// What the databases say about one address. Field names follow `risk`'s
/// `Geo`/`Location`/`Anonymous` (docs/risk-signals-v2.md).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GeoInfo {
    /// ISO 3166-1 alpha-2, upper case (City database).
    pub country: Option<String>,
    /// English city name (City database).
    pub city: Option<String>,
    /// Coordinates and accuracy radius (City database).
    pub location: Option<Location>,
    /// Autonomous system number (ASN database).
    pub asn: Option<u32>,
    /// The autonomous system's organisation (ASN database).
    pub asn_org: Option<String>,
    /// Anonymiser flags (Anonymous IP database).
    pub anonymous: Anonymous,
}

/// A point and `MaxMind`'s `accuracy_radius`, and the Anonymous IP flags: the
/// very values `risk` decides on, so a lookup is handed over unchanged.
pub use risk::signals::{Anonymous, Location};

/// The three kinds of database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    City,
    Asn,
    Anonymous,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::City, Kind::Asn, Kind::Anonymous];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::City => "city",
            Kind::Asn => "asn",
            Kind::Anonymous => "anonymous",
        }
    }

    /// The configuration key that names this kind's file.
    pub fn config_key(self) -> &'static str {
        match self {
            Kind::City => "geo.city_db",
            Kind::Asn => "geo.asn_db",
            Kind::Anonymous => "geo.anonymous_db",
        }
    }

    /// The `database_type` that `geo build` writes, as `MaxMind` names it.
    pub fn database_type(self) -> &'static str {
        match self {
            Kind::City => "GeoIP2-City",
            Kind::Asn => "GeoLite2-ASN",
            Kind::Anonymous => "GeoIP2-Anonymous-IP",
        }
    }

    /// The sample compiled into the binary.
    fn bundled(self) -> &'static [u8] {
        match self {
            Kind::City => BUNDLED_CITY,
            Kind::Asn => BUNDLED_ASN,
            Kind::Anonymous => BUNDLED_ANONYMOUS,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

static BUNDLED_CITY: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../data/geo/sample-city.mmdb"
));
static BUNDLED_ASN: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../data/geo/sample-asn.mmdb"
));
static BUNDLED_ANONYMOUS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../data/geo/sample-anonymous.mmdb"
));

/// Where a database comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The sample compiled into the binary (`data/geo/sample-*.mmdb`).
    Bundled,
    /// A file, read whole at (re)load.
    File(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Bundled => f.write_str("bundled sample"),
            Source::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Which database of each kind to open; `None` = none of that kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    pub city: Option<Source>,
    pub asn: Option<Source>,
    pub anonymous: Option<Source>,
}

impl Sources {
    /// All three bundled samples.
    pub fn bundled() -> Self {
        Self {
            city: Some(Source::Bundled),
            asn: Some(Source::Bundled),
            anonymous: Some(Source::Bundled),
        }
    }

    /// The configured files; an unset key is the bundled sample.
    pub fn from_config(geo: &config::Geo) -> Self {
        let pick =
            |path: &Option<PathBuf>| Some(path.clone().map_or(Source::Bundled, Source::File));
        Self {
            city: pick(&geo.city_db),
            asn: pick(&geo.asn_db),
            anonymous: pick(&geo.anonymous_db),
        }
    }

    /// A city database file and whichever of its `geo build` siblings
    /// (`<base>-asn.mmdb`, `<base>-anonymous.mmdb`, see [`sibling_paths`]) exist.
    pub fn from_city_file(city: PathBuf) -> Self {
        let (asn, anonymous) = sibling_paths(&city);
        let existing = |p: PathBuf| p.is_file().then_some(Source::File(p));
        Self {
            asn: existing(asn),
            anonymous: existing(anonymous),
            city: Some(Source::File(city)),
        }
    }

    pub fn get(&self, kind: Kind) -> Option<&Source> {
        match kind {
            Kind::City => self.city.as_ref(),
            Kind::Asn => self.asn.as_ref(),
            Kind::Anonymous => self.anonymous.as_ref(),
        }
    }
}

/// Why a database cannot be opened, or a CSV cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// The file is missing, unreadable, not a `MaxMind` DB, of the wrong kind, or
    /// its records do not decode.
    #[error("{kind} database ({from}): {problem}")]
    Open {
        kind: Kind,
        from: String,
        problem: String,
    },
    /// A row of the build CSV is malformed (`line` is 1-based, comments included).
    #[error("line {line}: {problem}")]
    Csv { line: u64, problem: String },
    /// Reading the CSV or writing a database file failed.
    #[error("{path}: {problem}")]
    Io { path: String, problem: String },
}

/// What the reset flow needs from geo: one infallible lookup. [`GeoDb`] and
/// [`ReloadingGeo`] implement it; tests can fake it.
pub trait GeoLookup: Send + Sync {
    fn lookup(&self, ip: IpAddr) -> GeoInfo;
}

impl GeoLookup for GeoDb {
    fn lookup(&self, ip: IpAddr) -> GeoInfo {
        GeoDb::lookup(self, ip)
    }
}

impl GeoLookup for ReloadingGeo {
    fn lookup(&self, ip: IpAddr) -> GeoInfo {
        ReloadingGeo::lookup(self, ip)
    }
}

/// Up to three open databases. Cheap to clone (the readers are shared).
#[derive(Clone, Default)]
pub struct GeoDb {
    city: Option<Arc<Database>>,
    asn: Option<Arc<Database>>,
    anonymous: Option<Arc<Database>>,
}

impl fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for db in self.databases() {
            list.entry(&format_args!("{} ({})", db.kind(), db.source()));
        }
        list.finish()
    }
}

impl GeoDb {
    /// The bundled sample (all three kinds).
    pub fn bundled() -> Self {
        Self::open(&Sources::bundled()).expect("the bundled GeoIP sample opens (tested)")
    }

    /// The databases `[geo]` names, the bundled sample for unset keys.
    pub fn from_config(geo: &config::Geo) -> Result<Self, GeoError> {
        Self::open(&Sources::from_config(geo))
    }

    /// Open every source given.
    pub fn open(sources: &Sources) -> Result<Self, GeoError> {
        let mut db = Self::default();
        for kind in Kind::ALL {
            if let Some(source) = sources.get(kind) {
                db = db.with(kind, Some(Arc::new(Database::open(kind, source)?)));
            }
        }
        Ok(db)
    }

    /// The open database of `kind`, if any.
    pub fn database(&self, kind: Kind) -> Option<&Arc<Database>> {
        match kind {
            Kind::City => self.city.as_ref(),
            Kind::Asn => self.asn.as_ref(),
            Kind::Anonymous => self.anonymous.as_ref(),
        }
    }

    /// Every open database, in [`Kind::ALL`] order.
    pub fn databases(&self) -> impl Iterator<Item = &Arc<Database>> {
        Kind::ALL.into_iter().filter_map(|k| self.database(k))
    }

    /// A copy with the `kind` slot replaced.
    pub(crate) fn with(mut self, kind: Kind, db: Option<Arc<Database>>) -> Self {
        match kind {
            Kind::City => self.city = db,
            Kind::Asn => self.asn = db,
            Kind::Anonymous => self.anonymous = db,
        }
        self
    }

    /// Everything the databases know about `ip`. Never fails: see the module doc.
    pub fn lookup(&self, ip: IpAddr) -> GeoInfo {
        // `::ffff:a.b.c.d` is the IPv4 address; MaxMind's trees alias it anyway,
        // but the canonical form keeps logs and the IPv4-only databases right.
        let ip = ip.to_canonical();
        let mut info = GeoInfo::default();
        if let Some(city) = decode::<geoip2::City<'_>>(self.city.as_deref(), ip) {
            info.country = city
                .country
                .iso_code
                .filter(|c| c.len() == 2)
                .map(str::to_ascii_uppercase);
            info.city = city.city.names.english.map(str::to_owned);
            info.location = location(&city.location);
        }
        if let Some(asn) = decode::<geoip2::Asn<'_>>(self.asn.as_deref(), ip) {
            info.asn = asn.autonomous_system_number;
            info.asn_org = asn.autonomous_system_organization.map(str::to_owned);
        }
        if let Some(a) = decode::<geoip2::AnonymousIp>(self.anonymous.as_deref(), ip) {
            info.anonymous = Anonymous {
                vpn: a.is_anonymous_vpn.unwrap_or(false),
                tor: a.is_tor_exit_node.unwrap_or(false),
                hosting: a.is_hosting_provider.unwrap_or(false),
                residential_proxy: a.is_residential_proxy.unwrap_or(false),
                public_proxy: a.is_public_proxy.unwrap_or(false),
            };
        }
        info
    }
}

/// Decode `ip`'s record, or `None` on a miss, an absent database or a bad record.
fn decode<'a, T: Deserialize<'a>>(db: Option<&'a Database>, ip: IpAddr) -> Option<T> {
    let db = db?;
    match db.reader().lookup(ip).and_then(|r| r.decode::<T>()) {
        Ok(found) => found,
        Err(e) => {
            // Only a database that passed its probe at load is ever served, so
            // this is a corrupt region of it: loud, but the request goes on.
            tracing::warn!(kind = %db.kind(), source = %db.source(), %ip, error = %e, "geo record does not decode");
            None
        }
    }
}

/// Coordinates only when both are present and on the globe.
fn location(loc: &geoip2::city::Location<'_>) -> Option<Location> {
    let (lat, lon) = (loc.latitude?, loc.longitude?);
    if !((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)) {
        return None;
    }
    let accuracy_km = loc.accuracy_radius.map_or(DEFAULT_ACCURACY_KM, f64::from);
    Some(Location {
        lat,
        lon,
        accuracy_km,
    })
}
