//! The CSV that `resetgate geo build` reads: parsing and validation, so that
//! [`super::build`] only ever sees well-formed, non-overlapping rows.
//!
//! UTF-8, a header row naming these nine columns (any order), one row per network.
//! Lines starting with `#` are comments; fields are trimmed; an empty field is
//! "no data".
//!
//! | column | example | meaning |
//! |---|---|---|
//! | `network` | `192.0.2.0/26`, `2001:db8:1::/48` | CIDR, IPv4 or IPv6, no host bits set (required) |
//! | `country` | `GB` | ISO 3166-1 alpha-2 (`country.iso_code`) |
//! | `city` | `London` | English city name (`city.names.en`) |
//! | `latitude`, `longitude` | `51.5072`, `-0.1276` | degrees; both or neither (`location.*`) |
//! | `accuracy_radius` | `20` | km, 1-65535; needs coordinates (`location.accuracy_radius`) |
//! | `asn` | `64496` or `AS64496` | `autonomous_system_number` |
//! | `asn_org` | `Example Broadband` | `autonomous_system_organization`; needs `asn` |
//! | `anonymous` | `vpn\|hosting` | `\|`-separated: `vpn`, `tor`, `hosting`, `residential_proxy`, `public_proxy` |
//!
//! A row goes into the City database when it has a country, city or coordinates,
//! into the ASN database when it has an ASN, into the Anonymous IP database when it
//! has a flag (with `is_anonymous` set too, as `MaxMind` does); a row with none of
//! these is an error. Networks may not overlap: with three databases a "more
//! specific row wins" rule would be ambiguous for the columns it leaves empty.
//! The databases are IPv6 trees holding IPv4 at `::a.b.c.d`, so an IPv6 row
//! there overlaps the IPv4 rows it covers; and an IPv6 row inside the networks
//! the tree aliases to IPv4 (`::ffff:0:0/96`, Teredo `2001::/32`, 6to4
//! `2002::/16`) is refused (write the IPv4 network instead).

use std::net::IpAddr;

use ipnet::{IpNet, Ipv6Net};
use serde::Deserialize;

use super::{Anonymous, GeoError, Kind};

const COLUMNS: [&str; 9] = [
    "network",
    "country",
    "city",
    "latitude",
    "longitude",
    "accuracy_radius",
    "asn",
    "asn_org",
    "anonymous",
];

/// One validated CSV row.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvRow {
    /// 1-based line in the CSV file, comments included.
    pub line: u64,
    pub network: IpNet,
    pub country: Option<String>,
    pub city: Option<String>,
    /// `(latitude, longitude)` in degrees.
    pub coordinates: Option<(f64, f64)>,
    pub accuracy_radius: Option<u16>,
    pub asn: Option<u32>,
    pub asn_org: Option<String>,
    pub anonymous: Anonymous,
}

impl CsvRow {
    /// Whether the row has anything for the `kind` database.
    pub(super) fn has(&self, kind: Kind) -> bool {
        match kind {
            Kind::City => {
                self.country.is_some() || self.city.is_some() || self.coordinates.is_some()
            }
            Kind::Asn => self.asn.is_some(),
            Kind::Anonymous => self.anonymous.any(),
        }
    }
}

#[derive(Deserialize)]
struct RawRow {
    network: String,
    country: String,
    city: String,
    latitude: String,
    longitude: String,
    accuracy_radius: String,
    asn: String,
    asn_org: String,
    anonymous: String,
}

/// Parse and validate a whole CSV (see the module doc), overlaps included.
pub fn parse_csv(text: &str) -> Result<Vec<CsvRow>, GeoError> {
    let line_at = |pos: Option<&csv::Position>| {
        pos.map_or(0, |p| {
            line_of(text, usize::try_from(p.byte()).unwrap_or(usize::MAX))
        })
    };
    let csv_error = |e: csv::Error| GeoError::Csv {
        line: line_at(e.position()),
        problem: e.to_string(),
    };
    let mut reader = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(csv_error)?.clone();
    check_headers(&headers, line_at(headers.position()))?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let line = line_at(record.position());
        let raw: RawRow = record
            .deserialize(Some(&headers))
            .map_err(|e| GeoError::Csv {
                line,
                problem: e.to_string(),
            })?;
        let row = validate(line, &raw).map_err(|problem| GeoError::Csv { line, problem })?;
        rows.push(row);
    }
    check_overlaps(&rows)?;
    Ok(rows)
}

/// The 1-based line of the record the csv crate says starts at `byte`. It
/// reports where it began reading, before the comment and blank lines it
/// skipped, and does not count those lines, so both are worked out here.
fn line_of(text: &str, byte: usize) -> u64 {
    let bytes = text.as_bytes();
    let mut start = byte.min(bytes.len());
    while let Some(len) = bytes[start..].iter().position(|&b| b == b'\n') {
        let line = bytes[start..start + len].trim_ascii();
        if !(line.is_empty() || line.starts_with(b"#")) {
            break;
        }
        start += len + 1;
    }
    let newlines = text.get(..start).unwrap_or(text).matches('\n').count();
    1 + u64::try_from(newlines).unwrap_or(u64::MAX)
}

fn check_headers(headers: &csv::StringRecord, line: u64) -> Result<(), GeoError> {
    let problem = if let Some(unknown) = headers.iter().find(|h| !COLUMNS.contains(h)) {
        format!("unknown column {unknown:?}")
    } else if let Some(missing) = COLUMNS.iter().find(|c| !headers.iter().any(|h| h == **c)) {
        format!("missing column {missing:?}")
    } else {
        return Ok(());
    };
    Err(GeoError::Csv {
        line,
        problem: format!("{problem}; the header is {}", COLUMNS.join(",")),
    })
}

fn optional(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn validate(line: u64, raw: &RawRow) -> Result<CsvRow, String> {
    let network: IpNet = raw
        .network
        .parse()
        .map_err(|_| format!("network {:?} is not a CIDR", raw.network))?;
    if network.trunc() != network {
        return Err(format!(
            "network {network} has host bits set (did you mean {}?)",
            network.trunc()
        ));
    }
    if let IpNet::V6(v6) = network
        && let Some(alias) = aliased(&v6)
    {
        return Err(format!(
            "network {network} is inside {alias}, which GeoIP databases alias to IPv4 \
             (write the IPv4 network)"
        ));
    }
    let country = optional(&raw.country)
        .map(|c| {
            if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) {
                Ok(c.to_ascii_uppercase())
            } else {
                Err(format!("country {c:?} is not an ISO 3166-1 alpha-2 code"))
            }
        })
        .transpose()?;
    let coordinates = match (optional(&raw.latitude), optional(&raw.longitude)) {
        (None, None) => None,
        (Some(lat), Some(lon)) => Some((
            degrees("latitude", lat, 90.0)?,
            degrees("longitude", lon, 180.0)?,
        )),
        _ => return Err("latitude and longitude go together".into()),
    };
    let accuracy_radius = optional(&raw.accuracy_radius)
        .map(|a| match a.parse::<u16>() {
            Ok(km) if km > 0 => Ok(km),
            _ => Err(format!("accuracy_radius {a:?} is not 1-65535 (km)")),
        })
        .transpose()?;
    if accuracy_radius.is_some() && coordinates.is_none() {
        return Err("accuracy_radius needs latitude and longitude".into());
    }
    let asn = optional(&raw.asn)
        .map(|a| {
            let digits = a
                .strip_prefix("AS")
                .or_else(|| a.strip_prefix("as"))
                .unwrap_or(a);
            match digits.parse::<u32>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("asn {a:?} is not an AS number")),
            }
        })
        .transpose()?;
    let asn_org = optional(&raw.asn_org).map(str::to_owned);
    if asn_org.is_some() && asn.is_none() {
        return Err("asn_org needs asn".into());
    }
    let row = CsvRow {
        line,
        network,
        country,
        city: optional(&raw.city).map(str::to_owned),
        coordinates,
        accuracy_radius,
        asn,
        asn_org,
        anonymous: anonymous_flags(&raw.anonymous)?,
    };
    if !Kind::ALL.iter().any(|&k| row.has(k)) {
        return Err(format!("network {network} has no data"));
    }
    Ok(row)
}

fn degrees(name: &str, text: &str, limit: f64) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && (-limit..=limit).contains(&v) => Ok(v),
        _ => Err(format!(
            "{name} {text:?} is not a number in -{limit}..={limit}"
        )),
    }
}

fn anonymous_flags(text: &str) -> Result<Anonymous, String> {
    let mut flags = Anonymous::default();
    for name in text.split('|').map(str::trim).filter(|n| !n.is_empty()) {
        let flag = match name {
            "vpn" => &mut flags.vpn,
            "tor" => &mut flags.tor,
            "hosting" => &mut flags.hosting,
            "residential_proxy" => &mut flags.residential_proxy,
            "public_proxy" => &mut flags.public_proxy,
            other => {
                return Err(format!(
                    "anonymous flag {other:?} is not one of vpn, tor, hosting, residential_proxy, public_proxy"
                ));
            }
        };
        *flag = true;
    }
    Ok(flags)
}

/// The IPv6 network of those a GeoIP database aliases to its IPv4 subtree
/// (IPv4-mapped, Teredo, 6to4) that `net` is inside, if any: the writer
/// refuses to insert there.
fn aliased(net: &Ipv6Net) -> Option<&'static str> {
    let (segments, prefix) = (net.network().segments(), net.prefix_len());
    if prefix >= 96 && segments[..6] == [0, 0, 0, 0, 0, 0xffff] {
        Some("::ffff:0:0/96")
    } else if prefix >= 32 && segments[..2] == [0x2001, 0] {
        Some("2001::/32")
    } else if prefix >= 16 && segments[0] == 0x2002 {
        Some("2002::/16")
    } else {
        None
    }
}

/// `(first, last)` as places in the database's IPv6 tree, for ordering and
/// containment: an IPv4 network sits at `::a.b.c.d`.
fn span(net: IpNet) -> (u128, u128) {
    match (net.network(), net.broadcast()) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a).into(), u32::from(b).into()),
        (IpAddr::V6(a), IpAddr::V6(b)) => (a.into(), b.into()),
        _ => unreachable!("network and broadcast share a family"),
    }
}

/// CIDRs either nest or are disjoint, so after sorting by first address a row
/// overlaps an earlier one exactly when it starts before the furthest end so far.
fn check_overlaps(rows: &[CsvRow]) -> Result<(), GeoError> {
    let mut sorted: Vec<_> = rows.iter().map(|r| (span(r.network), r)).collect();
    sorted.sort_by_key(|((first, last), _)| (*first, std::cmp::Reverse(*last)));
    let mut furthest: Option<(u128, &CsvRow)> = None;
    for ((first, last), row) in sorted {
        if let Some((f_last, earlier)) = furthest
            && first <= f_last
        {
            return Err(GeoError::Csv {
                line: row.line,
                problem: format!(
                    "network {} overlaps {} (line {})",
                    row.network, earlier.network, earlier.line
                ),
            });
        }
        // Disjoint from everything before it, so it also ends furthest.
        furthest = Some((last, row));
    }
    Ok(())
}
