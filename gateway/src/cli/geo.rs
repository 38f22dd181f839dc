//! `resetgate geo build CSV --out FILE.mmdb [--kind …]` and
//! `resetgate geo lookup IP [--db FILE] [--json]`.
//!
//! The CSV format and the files `build` writes are documented in the `csv_rows`
//! and `build` modules of [`crate::signals::geo`] and in `data/geo/README.md`.
//! `build` stamps the databases with `SOURCE_DATE_EPOCH` when it is set
//! (reproducible builds: the bundled sample is rebuilt byte for byte), else with
//! the time now.
//! Neither verb needs the configuration, except `lookup` without `--db`, which
//! opens the configured databases (the bundled sample by default).

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use serde::Serialize;

use crate::config::Config;
use crate::signals::geo::{
    BuildOptions, GeoDb, GeoError, GeoInfo, Kind, Sources, sibling_paths, write_databases,
};

#[derive(Debug, Subcommand)]
pub enum GeoVerb {
    /// Build .mmdb databases (City, ASN, Anonymous IP) from a CSV; format in data/geo/README.md.
    Build {
        /// Networks, one per row; header:
        /// `network,country,city,latitude,longitude,accuracy_radius,asn,asn_org,anonymous`
        csv: PathBuf,
        /// The City database to write; the ASN and Anonymous IP ones go beside it as
        /// <base>-asn.mmdb and <base>-anonymous.mmdb (<base> = FILE without .mmdb and a trailing -city).
        #[arg(long, value_name = "FILE.mmdb")]
        out: PathBuf,
        /// Build only one database, written to --out itself.
        #[arg(long, value_enum, default_value_t = BuildKind::All)]
        kind: BuildKind,
    },
    /// Look an address up: country, city, coordinates, accuracy radius, ASN, anonymous flags.
    Lookup {
        ip: IpAddr,
        /// A City database; its <base>-asn.mmdb and <base>-anonymous.mmdb siblings are used
        /// when they exist. Default: the configured databases (the bundled sample).
        #[arg(long, value_name = "FILE")]
        db: Option<PathBuf>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BuildKind {
    All,
    City,
    Asn,
    Anonymous,
}

pub fn run(verb: GeoVerb, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    match verb {
        GeoVerb::Build { csv, out, kind } => build(&csv, &out, kind),
        GeoVerb::Lookup { ip, db, json } => {
            let geo = match db {
                Some(city) => GeoDb::open(&Sources::from_city_file(city))?,
                None => open_configured(&Config::load(config).context("configuration")?)?,
            };
            let info = geo.lookup(ip);
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&JsonLookup { ip, info: &info })?
                );
            } else {
                print!("{}", render_text(ip, &info, &geo));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn build(csv: &Path, out: &Path, kind: BuildKind) -> anyhow::Result<ExitCode> {
    let targets = match kind {
        BuildKind::All => {
            let (asn, anonymous) = sibling_paths(out);
            vec![
                (Kind::City, out.to_path_buf()),
                (Kind::Asn, asn),
                (Kind::Anonymous, anonymous),
            ]
        }
        BuildKind::City => vec![(Kind::City, out.to_path_buf())],
        BuildKind::Asn => vec![(Kind::Asn, out.to_path_buf())],
        BuildKind::Anonymous => vec![(Kind::Anonymous, out.to_path_buf())],
    };
    let name = csv.file_name().map_or_else(
        || csv.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let options = BuildOptions {
        build_epoch: build_epoch()?,
        description: format!("resetgate geo build from {name}"),
    };
    let counts = write_databases(csv, &targets, &options).map_err(|e| match e {
        GeoError::Csv { .. } => anyhow::anyhow!("{}: {e}", csv.display()),
        e => e.into(),
    })?;
    for ((kind, path), count) in targets.iter().zip(counts) {
        println!(
            "wrote {} ({}, {count} networks)",
            path.display(),
            kind.database_type()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `SOURCE_DATE_EPOCH` (reproducible-builds.org) when set, else now.
fn build_epoch() -> anyhow::Result<SystemTime> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(text) => {
            let secs: u64 = text
                .trim()
                .parse()
                .with_context(|| format!("SOURCE_DATE_EPOCH {text:?} is not unix seconds"))?;
            Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
        }
        Err(_) => Ok(SystemTime::now()),
    }
}

/// Open `[geo]`'s databases; an error names the configuration key.
pub fn open_configured(config: &Config) -> anyhow::Result<GeoDb> {
    GeoDb::from_config(&config.geo).map_err(|e| match &e {
        GeoError::Open { kind, .. } => anyhow::anyhow!("{}: {e}", kind.config_key()),
        _ => e.into(),
    })
}

/// `check-config` lines: one per database, its source, type and build date.
pub fn describe(geo: &GeoDb) -> Vec<String> {
    Kind::ALL
        .into_iter()
        .map(|kind| {
            let what = geo.database(kind).map_or_else(
                || "-".to_owned(),
                |db| {
                    let built = db
                        .built_at()
                        .and_then(|t| jiff::Timestamp::try_from(t).ok())
                        .map_or_else(|| "?".to_owned(), |t| t.strftime("%Y-%m-%d").to_string());
                    format!(
                        "{} ({}, built {built})",
                        db.source(),
                        db.metadata().database_type
                    )
                },
            );
            format!("  {:<16}{what}", format!("geo {kind}"))
        })
        .collect()
}

#[derive(Serialize)]
struct JsonLookup<'a> {
    ip: IpAddr,
    #[serde(flatten)]
    info: &'a GeoInfo,
}

/// The text form of a lookup: one `label value` line per field, `-` for unknown.
pub fn render_text(ip: IpAddr, info: &GeoInfo, geo: &GeoDb) -> String {
    let dash = || "-".to_owned();
    let location = info.location.map_or_else(dash, |l| {
        format!(
            "{}, {} (accuracy radius {} km)",
            l.lat, l.lon, l.accuracy_km
        )
    });
    let asn = info.asn.map_or_else(dash, |n| match &info.asn_org {
        Some(org) => format!("AS{n} {org}"),
        None => format!("AS{n}"),
    });
    let flags = info.anonymous.names();
    let anonymous = if flags.is_empty() {
        "none".to_owned()
    } else {
        flags.join(", ")
    };
    let sources = Kind::ALL
        .into_iter()
        .map(|k| {
            let from = geo
                .database(k)
                .map_or_else(dash, |db| db.source().to_string());
            format!("{k}: {from}")
        })
        .collect::<Vec<_>>()
        .join("; ");
    let lines = [
        ("address", ip.to_string()),
        ("country", info.country.clone().unwrap_or_else(dash)),
        ("city", info.city.clone().unwrap_or_else(dash)),
        ("location", location),
        ("asn", asn),
        ("anonymous", anonymous),
        ("databases", sources),
    ];
    let mut text = String::new();
    for (label, value) in lines {
        let _ = writeln!(text, "{label:<10} {value}");
    }
    text
}
