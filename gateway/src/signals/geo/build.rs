//! `resetgate geo build`: a CSV of networks in, MaxMind DB files out, with records
//! shaped exactly like MaxMind's (they are `maxminddb::geoip2` values, serialised
//! with `mmdb-writer`), so the gateway reads them as it reads GeoIP2/GeoLite2.
//!
//! # CSV format
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
//! has a flag (with `is_anonymous` set too, as MaxMind does); a row with none of
//! these is an error. Networks may not overlap: with three databases a "more
//! specific row wins" rule would be ambiguous for the columns it leaves empty.
//!
//! # Outputs
//!
//! | kind | `database_type` | file |
//! |---|---|---|
//! | city | `GeoIP2-City` | `--out FILE.mmdb` |
//! | asn | `GeoLite2-ASN` | `<base>-asn.mmdb` beside it |
//! | anonymous | `GeoIP2-Anonymous-IP` | `<base>-anonymous.mmdb` beside it |
//!
//! `<base>` is `FILE` without a trailing `-city` ([`sibling_paths`]). With
//! `--kind city|asn|anonymous` only that database is written, to `--out` itself.
//! Every database is IPv6 with IPv4 under `::/96` (and aliased at `::ffff:0:0/96`).
//! Files are written to a temporary name and renamed, so a running gateway's
//! watcher never reads half a file; nothing is written when any row is wrong.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use ipnet::IpNet;
use maxminddb::geoip2::{self, city, country};
use mmdb_writer::Writer;
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
    fn has(&self, kind: Kind) -> bool {
        match kind {
            Kind::City => {
                self.country.is_some() || self.city.is_some() || self.coordinates.is_some()
            }
            Kind::Asn => self.asn.is_some(),
            Kind::Anonymous => self.anonymous.any(),
        }
    }
}

/// Metadata for the built databases.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// `build_epoch`; pass a fixed time for byte-identical rebuilds.
    pub build_epoch: SystemTime,
    /// The English `description`.
    pub description: String,
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
    let newlines = bytes[..start].iter().filter(|&&b| b == b'\n').count();
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

/// `(family, first, last)` as integers, for ordering and containment.
fn span(net: IpNet) -> (u8, u128, u128) {
    match (net.network(), net.broadcast()) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (4, u32::from(a).into(), u32::from(b).into()),
        (IpAddr::V6(a), IpAddr::V6(b)) => (6, a.into(), b.into()),
        _ => unreachable!("network and broadcast share a family"),
    }
}

/// CIDRs either nest or are disjoint, so after sorting by first address a row
/// overlaps an earlier one exactly when it starts before the furthest end so far.
fn check_overlaps(rows: &[CsvRow]) -> Result<(), GeoError> {
    let mut sorted: Vec<_> = rows.iter().map(|r| (span(r.network), r)).collect();
    sorted.sort_by_key(|((family, first, last), _)| (*family, *first, std::cmp::Reverse(*last)));
    let mut furthest: Option<(u8, u128, &CsvRow)> = None;
    for ((family, first, last), row) in sorted {
        if let Some((f_family, f_last, earlier)) = furthest
            && f_family == family
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
        furthest = Some((family, last, row));
    }
    Ok(())
}

/// The `kind` database of `rows`, as bytes. Returns the bytes and how many
/// networks went in.
pub fn build_database(
    rows: &[CsvRow],
    kind: Kind,
    options: &BuildOptions,
) -> Result<(Vec<u8>, usize), GeoError> {
    let fail = |e: mmdb_writer::Error| GeoError::Io {
        path: format!("{kind} database"),
        problem: e.to_string(),
    };
    let mut writer = Writer::builder(kind.database_type())
        .description(&[("en", options.description.as_str())])
        .build_epoch(options.build_epoch)
        .build();
    let mut count = 0;
    for row in rows.iter().filter(|r| r.has(kind)) {
        match kind {
            Kind::City => writer.insert(row.network, &city_record(row)),
            Kind::Asn => writer.insert(
                row.network,
                &geoip2::Asn {
                    autonomous_system_number: row.asn,
                    autonomous_system_organization: row.asn_org.as_deref(),
                },
            ),
            Kind::Anonymous => writer.insert(row.network, &anonymous_record(row.anonymous)),
        }
        .map_err(fail)?;
        count += 1;
    }
    Ok((writer.to_bytes().map_err(fail)?, count))
}

fn city_record(row: &CsvRow) -> geoip2::City<'_> {
    let mut record = geoip2::City::default();
    record.city = city::City {
        names: geoip2::Names {
            english: row.city.as_deref(),
            ..geoip2::Names::default()
        },
        ..city::City::default()
    };
    record.country = country::Country {
        iso_code: row.country.as_deref(),
        ..country::Country::default()
    };
    if let Some((latitude, longitude)) = row.coordinates {
        record.location = city::Location {
            latitude: Some(latitude),
            longitude: Some(longitude),
            accuracy_radius: row.accuracy_radius,
            ..city::Location::default()
        };
    }
    record
}

fn anonymous_record(a: Anonymous) -> geoip2::AnonymousIp {
    // MaxMind writes only the flags that are true.
    let flag = |set: bool| set.then_some(true);
    geoip2::AnonymousIp {
        is_anonymous: flag(a.any()),
        is_anonymous_vpn: flag(a.vpn),
        is_hosting_provider: flag(a.hosting),
        is_public_proxy: flag(a.public_proxy),
        is_residential_proxy: flag(a.residential_proxy),
        is_tor_exit_node: flag(a.tor),
    }
}

/// The ASN and Anonymous IP files that go with a City file: `<base>-asn.mmdb`
/// and `<base>-anonymous.mmdb` in the same directory, `<base>` being the file
/// stem without a trailing `-city` (`sample-city.mmdb` -> `sample-asn.mmdb`).
pub fn sibling_paths(city: &Path) -> (PathBuf, PathBuf) {
    let stem = city
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = match stem.len().checked_sub(5) {
        Some(cut) if stem.is_char_boundary(cut) && stem[cut..].eq_ignore_ascii_case("-city") => {
            &stem[..cut]
        }
        _ => &stem,
    };
    let dir = city.parent().unwrap_or(Path::new(""));
    (
        dir.join(format!("{base}-asn.mmdb")),
        dir.join(format!("{base}-anonymous.mmdb")),
    )
}

/// Build every `(kind, path)` target from the CSV file and write them (each via
/// a temporary file and a rename). Returns the networks written per target.
/// Nothing is written unless the whole CSV is valid.
pub fn write_databases(
    csv: &Path,
    targets: &[(Kind, PathBuf)],
    options: &BuildOptions,
) -> Result<Vec<usize>, GeoError> {
    let io = |path: &Path, e: std::io::Error| GeoError::Io {
        path: path.display().to_string(),
        problem: e.to_string(),
    };
    let text = std::fs::read_to_string(csv).map_err(|e| io(csv, e))?;
    let rows = parse_csv(&text)?;
    let built = targets
        .iter()
        .map(|(kind, _)| build_database(&rows, *kind, options))
        .collect::<Result<Vec<_>, _>>()?;
    let mut counts = Vec::with_capacity(targets.len());
    for ((_, path), (bytes, count)) in targets.iter().zip(built) {
        let tmp = path.with_extension(format!("mmdb.tmp{}", std::process::id()));
        std::fs::write(&tmp, &bytes)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                io(path, e)
            })?;
        counts.push(count);
    }
    Ok(counts)
}
