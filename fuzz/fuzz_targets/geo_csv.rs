//! `resetgate geo build`'s CSV parser (`resetgate::signals::geo::parse_csv`)
//! on arbitrary text, and the databases built from what it accepts.
//!
//! Properties: parsing never panics; every accepted row has a network without
//! host bits, a line inside the text, data for at least one database, a
//! two-letter upper-case country or none, coordinates on the globe; no two
//! networks overlap; building the three databases from the rows never fails
//! or panics, and the City database gives each row's country back.
#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use maxminddb::{Reader, geoip2};
use resetgate::signals::geo::{BuildOptions, CsvRow, Kind, build_database, parse_csv};

fuzz_target!(|text: &str| {
    let Ok(rows) = parse_csv(text) else {
        return;
    };
    let lines = u64::try_from(text.split('\n').count()).unwrap_or(u64::MAX);
    for row in &rows {
        assert!(
            (1..=lines).contains(&row.line),
            "line {} of {lines}",
            row.line
        );
        assert_eq!(row.network.trunc(), row.network);
        assert!(
            row.country.is_some()
                || row.city.is_some()
                || row.coordinates.is_some()
                || row.asn.is_some()
                || row.anonymous.any()
        );
        if let Some(country) = &row.country {
            assert!(country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase()));
        }
        if let Some((lat, lon)) = row.coordinates {
            assert!((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon));
        }
        assert!(row.accuracy_radius.is_none() || row.coordinates.is_some());
        assert!(row.asn_org.is_none() || row.asn.is_some());
    }
    for (i, a) in rows.iter().enumerate() {
        for b in &rows[i + 1..] {
            assert!(
                !(a.network.contains(&b.network) || b.network.contains(&a.network)),
                "{} overlaps {}",
                a.network,
                b.network
            );
        }
    }
    build_and_look_up(&rows);
});

fn build_and_look_up(rows: &[CsvRow]) {
    let options = BuildOptions {
        build_epoch: SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000),
        description: "fuzz".into(),
    };
    for kind in [Kind::City, Kind::Asn, Kind::Anonymous] {
        let (bytes, _count) = build_database(rows, kind, &options)
            .unwrap_or_else(|e| panic!("{kind:?} database of accepted rows: {e}"));
        if kind != Kind::City {
            continue;
        }
        let reader = Reader::from_source(bytes).expect("a built database opens");
        for row in rows.iter().filter(|r| r.country.is_some()) {
            let city: Option<geoip2::City<'_>> = reader
                .lookup(row.network.network())
                .and_then(|found| found.decode())
                .expect("a built record decodes");
            let iso = city.and_then(|c| c.country.iso_code);
            assert_eq!(iso, row.country.as_deref(), "country of {}", row.network);
        }
    }
}
