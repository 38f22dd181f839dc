//! `resetgate geo build`: a CSV of networks in, `MaxMind` DB files out, with records
//! shaped exactly like `MaxMind`'s (they are `maxminddb::geoip2` values, serialised
//! with `mmdb-writer`), so the gateway reads them as it reads `GeoIP2`/`GeoLite2`.
//!
//! The CSV format is in [`super::csv_rows`].
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

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use maxminddb::geoip2::{self, city, country};
use mmdb_writer::Writer;

use super::csv_rows::{CsvRow, parse_csv};
use super::{Anonymous, GeoError, Kind};

/// Metadata for the built databases.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// `build_epoch`; pass a fixed time for byte-identical rebuilds.
    pub build_epoch: SystemTime,
    /// The English `description`.
    pub description: String,
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
    geoip2::City {
        city: city::City {
            names: geoip2::Names {
                english: row.city.as_deref(),
                ..geoip2::Names::default()
            },
            ..city::City::default()
        },
        country: country::Country {
            iso_code: row.country.as_deref(),
            ..country::Country::default()
        },
        location: row
            .coordinates
            .map_or_else(city::Location::default, |(lat, lon)| city::Location {
                latitude: Some(lat),
                longitude: Some(lon),
                accuracy_radius: row.accuracy_radius,
                ..city::Location::default()
            }),
        ..geoip2::City::default()
    }
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
