//! Geo tests: CSV in, three databases out, read back with `maxminddb` and with
//! [`GeoDb`]; the bundled sample; the lookup's text and JSON forms.
//! [`csv_rows`]: CSV validation; [`reload`]: configuration and hot reload.

mod csv_rows;
mod reload;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use maxminddb::{Reader, geoip2};

use super::*;

const CSV: &str = "\
# a comment line
network,country,city,latitude,longitude,accuracy_radius,asn,asn_org,anonymous
192.0.2.0/26,GB,London,51.5072,-0.1276,20,64496,Example Broadband UK,
192.0.2.64/28,nl,,52.3676,4.9041,100,AS64503,,tor|hosting
198.51.100.0/24,,,,,,64501,Example Corp,
203.0.113.0/28,,,,,,,,vpn
2001:db8:1::/48,DE,Berlin,52.52,13.405,,64497,Beispiel Netz DE,residential_proxy|public_proxy
";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn options() -> BuildOptions {
    BuildOptions {
        build_epoch: SystemTime::UNIX_EPOCH + Duration::from_hours(20_783 * 24), // 2026-11-26
        description: "test".into(),
    }
}

/// Write `csv` and build all three databases into `dir`; returns the City path.
fn build_all(dir: &Path, csv: &str) -> PathBuf {
    let csv_path = dir.join("nets.csv");
    std::fs::write(&csv_path, csv).unwrap();
    let city = dir.join("test-city.mmdb");
    let (asn, anonymous) = sibling_paths(&city);
    let counts = write_databases(
        &csv_path,
        &[
            (Kind::City, city.clone()),
            (Kind::Asn, asn),
            (Kind::Anonymous, anonymous),
        ],
        &options(),
    )
    .unwrap();
    assert_eq!(counts, [3, 4, 3]);
    city
}

#[test]
fn built_databases_decode_as_maxmind_types() {
    let dir = tempfile::tempdir().unwrap();
    let city_path = build_all(dir.path(), CSV);
    let (asn_path, anonymous_path) = sibling_paths(&city_path);
    assert_eq!(asn_path, dir.path().join("test-asn.mmdb"));
    assert_eq!(anonymous_path, dir.path().join("test-anonymous.mmdb"));

    let city_db = Reader::open_readfile(&city_path).unwrap();
    assert_eq!(city_db.metadata().database_type, "GeoIP2-City");
    let city: geoip2::City<'_> = city_db
        .lookup(ip("192.0.2.7"))
        .unwrap()
        .decode()
        .unwrap()
        .unwrap();
    assert_eq!(city.city.names.english, Some("London"));
    assert_eq!(city.country.iso_code, Some("GB"));
    assert_eq!(city.location.latitude, Some(51.5072));
    assert_eq!(city.location.longitude, Some(-0.1276));
    assert_eq!(city.location.accuracy_radius, Some(20));
    let v6: geoip2::City<'_> = city_db
        .lookup(ip("2001:db8:1:ffff::1"))
        .unwrap()
        .decode()
        .unwrap()
        .unwrap();
    assert_eq!(v6.city.names.english, Some("Berlin"));
    assert!(
        city_db
            .lookup(ip("192.0.2.200"))
            .unwrap()
            .decode::<geoip2::City<'_>>()
            .unwrap()
            .is_none()
    );
    assert!(
        city_db
            .lookup(ip("2001:db8:2::1"))
            .unwrap()
            .decode::<geoip2::City<'_>>()
            .unwrap()
            .is_none()
    );

    let asn_db = Reader::open_readfile(&asn_path).unwrap();
    assert_eq!(asn_db.metadata().database_type, "GeoLite2-ASN");
    let asn: geoip2::Asn<'_> = asn_db
        .lookup(ip("198.51.100.255"))
        .unwrap()
        .decode()
        .unwrap()
        .unwrap();
    assert_eq!(asn.autonomous_system_number, Some(64501));
    assert_eq!(asn.autonomous_system_organization, Some("Example Corp"));
    assert!(
        asn_db
            .lookup(ip("203.0.113.1"))
            .unwrap()
            .decode::<geoip2::Asn<'_>>()
            .unwrap()
            .is_none()
    );

    let anon_db = Reader::open_readfile(&anonymous_path).unwrap();
    assert_eq!(anon_db.metadata().database_type, "GeoIP2-Anonymous-IP");
    let anon: geoip2::AnonymousIp = anon_db
        .lookup(ip("192.0.2.70"))
        .unwrap()
        .decode()
        .unwrap()
        .unwrap();
    assert_eq!(anon.is_anonymous, Some(true));
    assert_eq!(anon.is_tor_exit_node, Some(true));
    assert_eq!(anon.is_hosting_provider, Some(true));
    assert_eq!(anon.is_anonymous_vpn, None, "only true flags are written");
    assert!(
        anon_db
            .lookup(ip("192.0.2.7"))
            .unwrap()
            .decode::<geoip2::AnonymousIp>()
            .unwrap()
            .is_none()
    );
}

#[test]
fn geodb_lookup_hits_and_misses_all_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let geo = GeoDb::open(&Sources::from_city_file(build_all(dir.path(), CSV))).unwrap();
    assert_eq!(geo.databases().count(), 3);

    let london = geo.lookup(ip("192.0.2.63"));
    assert_eq!(london.country.as_deref(), Some("GB"));
    assert_eq!(london.city.as_deref(), Some("London"));
    assert_eq!(
        london.location,
        Some(Location {
            lat: 51.5072,
            lon: -0.1276,
            accuracy_km: 20.0
        })
    );
    assert_eq!(
        (london.asn, london.asn_org.as_deref()),
        (Some(64496), Some("Example Broadband UK"))
    );
    assert_eq!(london.anonymous, Anonymous::default());

    let tor = geo.lookup(ip("192.0.2.64"));
    assert_eq!(
        tor.country.as_deref(),
        Some("NL"),
        "country is upper-cased at build"
    );
    assert_eq!((tor.city, tor.asn, tor.asn_org), (None, Some(64503), None));
    assert!(tor.anonymous.tor && tor.anonymous.hosting && !tor.anonymous.vpn);

    let vpn_only = geo.lookup(ip("203.0.113.15"));
    assert_eq!(
        (vpn_only.country.as_deref(), vpn_only.asn, vpn_only.location),
        (None, None, None)
    );
    assert_eq!(vpn_only.anonymous.names(), ["vpn"]);

    let berlin = geo.lookup(ip("2001:db8:1::42"));
    assert_eq!(berlin.city.as_deref(), Some("Berlin"));
    let accuracy = berlin.location.unwrap().accuracy_km;
    assert!(
        (accuracy - DEFAULT_ACCURACY_KM).abs() < f64::EPSILON,
        "no radius: the default"
    );
    assert_eq!(
        berlin.anonymous.names(),
        ["residential_proxy", "public_proxy"]
    );

    for miss in [
        "192.0.2.80",
        "203.0.113.16",
        "10.0.0.1",
        "2001:db8:2::1",
        "::1",
    ] {
        assert_eq!(geo.lookup(ip(miss)), GeoInfo::default(), "{miss}");
    }
    assert_eq!(
        geo.lookup(ip("::ffff:192.0.2.1")),
        london,
        "IPv4-mapped is IPv4"
    );
    let as_trait: &dyn GeoLookup = &geo;
    assert_eq!(as_trait.lookup(ip("192.0.2.63")), london);
}

#[test]
fn absent_databases_are_misses() {
    let dir = tempfile::tempdir().unwrap();
    let city = build_all(dir.path(), CSV);
    let only_city = GeoDb::open(&Sources {
        city: Some(Source::File(city)),
        ..Sources::default()
    })
    .unwrap();
    let info = only_city.lookup(ip("192.0.2.70"));
    assert_eq!((info.country.as_deref(), info.asn), (Some("NL"), None));
    assert!(!info.anonymous.any());
    assert_eq!(GeoDb::default().lookup(ip("192.0.2.1")), GeoInfo::default());
}

#[test]
fn wrong_kind_and_garbage_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let city = build_all(dir.path(), CSV);
    let (asn, _) = sibling_paths(&city);
    let err = Database::open(Kind::City, &Source::File(asn))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"GeoLite2-ASN\" is not a city database"),
        "{err}"
    );
    let garbage = dir.path().join("garbage.mmdb");
    std::fs::write(&garbage, b"not a database").unwrap();
    let err = Database::open(Kind::Asn, &Source::File(garbage))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a MaxMind DB"), "{err}");
    let missing = Database::open(Kind::Asn, &Source::File(dir.path().join("nope.mmdb")));
    assert!(missing.is_err());
}

#[test]
fn bundled_sample_decodes() {
    // address, country, city, ASN, anonymous flags
    type Case = (
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<u32>,
        &'static [&'static str],
    );
    let geo = GeoDb::bundled();
    let table: [Case; 13] = [
        ("192.0.2.10", Some("GB"), Some("London"), Some(64496), &[]),
        ("192.0.2.70", Some("DE"), Some("Berlin"), Some(64497), &[]),
        (
            "192.0.2.130",
            Some("US"),
            Some("New York"),
            Some(64498),
            &[],
        ),
        ("192.0.2.200", Some("FR"), Some("Paris"), Some(64499), &[]),
        (
            "198.51.100.10",
            Some("GB"),
            Some("London"),
            Some(64501),
            &[],
        ),
        ("198.51.100.70", Some("US"), None, Some(64508), &[]),
        ("203.0.113.5", Some("AU"), Some("Sydney"), Some(64500), &[]),
        (
            "203.0.113.20",
            Some("NL"),
            Some("Amsterdam"),
            Some(64503),
            &["tor"],
        ),
        (
            "203.0.113.40",
            Some("DE"),
            Some("Frankfurt am Main"),
            Some(64504),
            &["hosting"],
        ),
        (
            "203.0.113.50",
            Some("CH"),
            Some("Zurich"),
            Some(64505),
            &["vpn"],
        ),
        (
            "203.0.113.70",
            Some("BR"),
            Some("Sao Paulo"),
            Some(64506),
            &["residential_proxy"],
        ),
        (
            "2001:db8:5::1",
            Some("AU"),
            Some("Sydney"),
            Some(64500),
            &[],
        ),
        (
            "2001:db8:12::1",
            Some("CH"),
            Some("Zurich"),
            Some(64505),
            &["vpn"],
        ),
    ];
    for (addr, country, city, asn, flags) in table {
        let info = geo.lookup(ip(addr));
        assert_eq!(
            (
                info.country.as_deref(),
                info.city.as_deref(),
                info.asn,
                info.anonymous.names().as_slice()
            ),
            (country, city, asn, flags),
            "{addr}"
        );
        assert!(info.location.is_some(), "{addr}");
    }
    for miss in [
        "198.51.100.200",
        "203.0.113.100",
        "2001:db8:ffff::1",
        "8.8.8.8",
    ] {
        assert_eq!(geo.lookup(ip(miss)), GeoInfo::default(), "{miss}");
    }
}

/// The committed `.mmdb` files are what `geo build` makes of `sample.csv`.
#[test]
fn bundled_sample_is_built_from_sample_csv() {
    let csv = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/geo/sample.csv"
    ));
    let rows = parse_csv(csv).unwrap();
    let geo = GeoDb::bundled();
    for kind in Kind::ALL {
        let db = geo.database(kind).unwrap();
        let meta = db.metadata();
        assert_eq!(meta.database_type, kind.database_type());
        let options = BuildOptions {
            build_epoch: db.built_at().unwrap(),
            description: meta.description["en"].clone(),
        };
        let (bytes, _) = build_database(&rows, kind, &options).unwrap();
        assert!(
            bytes == kind.bundled(),
            "data/geo/sample-{kind}.mmdb is stale: rebuild it (data/geo/README.md)"
        );
    }
}

#[test]
fn lookup_text_and_json() {
    let geo = GeoDb::bundled();
    let addr = ip("203.0.113.50");
    let text = crate::cli::geo::render_text(addr, &geo.lookup(addr), &geo);
    assert_eq!(
        text,
        "address    203.0.113.50\n\
         country    CH\n\
         city       Zurich\n\
         location   47.3769, 8.5417 (accuracy radius 100 km)\n\
         asn        AS64505 Example VPN AG\n\
         anonymous  vpn\n\
         databases  city: bundled sample; asn: bundled sample; anonymous: bundled sample\n"
    );
    let miss = ip("2001:db8:ffff::1");
    let text = crate::cli::geo::render_text(miss, &geo.lookup(miss), &GeoDb::default());
    assert!(
        text.contains("country    -\n") && text.contains("location   -\n"),
        "{text}"
    );
    assert!(
        text.contains("anonymous  none\n")
            && text.contains("databases  city: -; asn: -; anonymous: -\n")
    );
    let json = serde_json::to_value(geo.lookup(addr)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "country": "CH", "city": "Zurich",
            "location": {"lat": 47.3769, "lon": 8.5417, "accuracy_km": 100.0},
            "asn": 64505, "asn_org": "Example VPN AG",
            "anonymous": {"vpn": true, "tor": false, "hosting": false, "residential_proxy": false, "public_proxy": false}
        })
    );
}
