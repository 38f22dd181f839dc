//! One opened database: its bytes, a check that it is the kind it is configured
//! as, and a probe decode before it is ever served.
//!
//! The kind check catches the commonest mistake (the ASN file under
//! `geo.city_db`): a wrong-kind database would otherwise decode into all-`None`
//! records and silently switch every geo signal off. It matches loosely, on a
//! word in `database_type`, so that `GeoIP2`, `GeoLite2` and compatible databases
//! (DB-IP's `DBIP-City-Lite`, `DBIP-ASN-Lite`) all pass.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::SystemTime;

use maxminddb::{LookupResult, MaxMindDbError, Reader, WithinOptions, geoip2};

use super::{GeoError, Kind, Source};

/// Records decoded from the start of the tree when a database is opened.
const PROBE_RECORDS: usize = 64;

/// Addresses looked up and decoded when a database is opened: the sample's
/// ranges and a few busy public ones (a miss is fine; a decode error is not).
const PROBE_ADDRESSES: [IpAddr; 5] = [
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
    IpAddr::V4(Ipv4Addr::new(203, 0, 113, 17)),
    IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1)),
    IpAddr::V6(Ipv6Addr::new(0x2606, 0x4700, 0, 0, 0, 0, 0, 0x1111)),
];

/// The database bytes: compiled in, or read from a file.
pub(super) enum Bytes {
    Static(&'static [u8]),
    Owned(Vec<u8>),
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            Bytes::Static(b) => b,
            Bytes::Owned(b) => b,
        }
    }
}

/// An open, probed database of one [`Kind`].
pub struct Database {
    kind: Kind,
    source: Source,
    reader: Reader<Bytes>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("kind", &self.kind)
            .field("source", &self.source)
            .field("database_type", &self.metadata().database_type)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Read, check and probe `source` as a `kind` database.
    pub fn open(kind: Kind, source: &Source) -> Result<Self, GeoError> {
        let bytes = match source {
            Source::Bundled => Bytes::Static(kind.bundled()),
            Source::File(path) => Bytes::Owned(
                std::fs::read(path).map_err(|e| open_error(kind, source, e.to_string()))?,
            ),
        };
        Self::from_bytes(kind, source.clone(), bytes)
    }

    pub(super) fn from_bytes(kind: Kind, source: Source, bytes: Bytes) -> Result<Self, GeoError> {
        let reader = Reader::from_source(bytes)
            .map_err(|e| open_error(kind, &source, format!("not a MaxMind DB: {e}")))?;
        let database_type = &reader.metadata().database_type;
        if !accepts(kind, database_type) {
            return Err(open_error(
                kind,
                &source,
                format!(
                    "database_type {database_type:?} is not a {kind} database (expected one like {:?})",
                    kind.database_type()
                ),
            ));
        }
        let db = Self {
            kind,
            source,
            reader,
        };
        db.probe()
            .map_err(|e| open_error(kind, &db.source, format!("records do not decode: {e}")))?;
        Ok(db)
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The database's own metadata (`database_type`, `build_epoch`, …).
    pub fn metadata(&self) -> &maxminddb::Metadata {
        self.reader.metadata()
    }

    /// When the database was built, from its metadata.
    pub fn built_at(&self) -> Option<SystemTime> {
        self.metadata().build_time().ok()
    }

    pub(super) fn reader(&self) -> &Reader<Bytes> {
        &self.reader
    }

    /// Decode the first records of the tree and the probe addresses as this
    /// database's kind: a truncated or garbled file fails here, not on a request.
    fn probe(&self) -> Result<(), MaxMindDbError> {
        for found in self
            .reader
            .networks(WithinOptions::default())?
            .take(PROBE_RECORDS)
        {
            decode_as(self.kind, &found?)?;
        }
        for ip in PROBE_ADDRESSES {
            decode_as(self.kind, &self.reader.lookup(ip)?)?;
        }
        Ok(())
    }
}

fn decode_as<S: AsRef<[u8]>>(
    kind: Kind,
    found: &LookupResult<'_, S>,
) -> Result<(), MaxMindDbError> {
    match kind {
        Kind::City => found.decode::<geoip2::City<'_>>().map(drop),
        Kind::Asn => found.decode::<geoip2::Asn<'_>>().map(drop),
        Kind::Anonymous => found.decode::<geoip2::AnonymousIp>().map(drop),
    }
}

/// Whether a `database_type` is plausibly of `kind` (see the module doc).
fn accepts(kind: Kind, database_type: &str) -> bool {
    let t = database_type.to_ascii_lowercase();
    match kind {
        Kind::City => ["city", "country", "enterprise"]
            .iter()
            .any(|w| t.contains(w)),
        Kind::Asn => ["asn", "isp"].iter().any(|w| t.contains(w)),
        Kind::Anonymous => t.contains("anonymous"),
    }
}

fn open_error(kind: Kind, source: &Source, problem: String) -> GeoError {
    GeoError::Open {
        kind,
        from: source.to_string(),
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_check_is_loose_but_catches_swaps() {
        let table = [
            (Kind::City, "GeoIP2-City", true),
            (Kind::City, "GeoLite2-City", true),
            (Kind::City, "GeoLite2-Country", true),
            (Kind::City, "DBIP-City-Lite", true),
            (Kind::City, "GeoLite2-ASN", false),
            (Kind::City, "GeoIP2-Anonymous-IP", false),
            (Kind::Asn, "GeoLite2-ASN", true),
            (Kind::Asn, "GeoIP2-ISP", true),
            (Kind::Asn, "GeoIP2-City", false),
            (Kind::Anonymous, "GeoIP2-Anonymous-IP", true),
            (Kind::Anonymous, "GeoLite2-ASN", false),
        ];
        for (kind, database_type, expected) in table {
            assert_eq!(
                accepts(kind, database_type),
                expected,
                "{kind} {database_type}"
            );
        }
    }
}
