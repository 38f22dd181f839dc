//! Criterion benchmarks of a geo lookup: City + ASN + Anonymous IP in one call of
//! `ReloadingGeo::lookup` (read lock, `Arc` clone, three tree walks and decodes),
//! which is what a reset start pays.
//!
//! - `sample/*`: the bundled sample (tiny trees, English-only records).
//! - `realistic/*`: synthetic databases shaped like the commercial ones: 100 000
//!   IPv4 /24s (ASN: 100 000, Anonymous IP: 10 000) and City records as full as
//!   `GeoIP2`'s (names in eight languages for city, subdivision, country, registered
//!   country and continent; postal code, time zone), 1 000 distinct records.
//!
//! Run with `cargo bench -p resetgate-bench --bench geo_lookup`; figures in
//! `bench/RESULTS.md`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::SystemTime;

use criterion::{Criterion, criterion_group, criterion_main};
use ipnet::{IpNet, Ipv4Net};
use maxminddb::geoip2::{self, city, country};
use mmdb_writer::Writer;
use resetgate::signals::geo::{Kind, ReloadingGeo, Source, Sources};

const NETWORKS: u32 = 100_000;
const ANONYMOUS_EVERY: u32 = 10;
const DISTINCT_RECORDS: u32 = 1_000;

/// The i-th synthetic /24, scattered over the unicast IPv4 space.
fn network(i: u32) -> Ipv4Net {
    let slot = i.wrapping_mul(2_654_435_761) % (200 << 16);
    Ipv4Net::new(Ipv4Addr::from((slot + (1 << 16)) << 8), 24).expect("valid /24")
}

fn names(word: &str) -> geoip2::Names<'_> {
    geoip2::Names {
        german: Some(word),
        english: Some(word),
        spanish: Some(word),
        french: Some(word),
        japanese: Some(word),
        brazilian_portuguese: Some(word),
        russian: Some(word),
        simplified_chinese: Some(word),
    }
}

fn city_record(i: u32, word: &str) -> geoip2::City<'_> {
    let country = country::Country {
        geoname_id: Some(2_635_167),
        is_in_european_union: Some(false),
        iso_code: Some("GB"),
        names: names(word),
    };
    geoip2::City {
        city: city::City {
            geoname_id: Some(i),
            names: names(word),
        },
        continent: country::Continent {
            code: Some("EU"),
            geoname_id: Some(6_255_148),
            names: names(word),
        },
        registered_country: country.clone(),
        country,
        location: city::Location {
            accuracy_radius: Some(20),
            latitude: Some(51.5 + f64::from(i) / 1e4),
            longitude: Some(-0.12),
            metro_code: None,
            time_zone: Some("Europe/London"),
        },
        postal: city::Postal { code: Some("EC2V") },
        subdivisions: vec![city::Subdivision {
            geoname_id: Some(6_269_131),
            iso_code: Some("ENG"),
            names: names(word),
        }],
        ..geoip2::City::default()
    }
}

fn write(path: &Path, kind: Kind, fill: impl Fn(&mut Writer)) {
    let mut writer = Writer::builder(kind.database_type())
        .build_epoch(SystemTime::UNIX_EPOCH)
        .build();
    fill(&mut writer);
    std::fs::write(path, writer.to_bytes().expect("builds")).expect("writes");
}

/// Build the realistic databases into `dir`; returns their sources.
fn realistic(dir: &Path) -> Sources {
    let words: Vec<String> = (0..DISTINCT_RECORDS)
        .map(|i| format!("Place {i:04}"))
        .collect();
    let file = |name: &str| dir.join(name);
    write(&file("city.mmdb"), Kind::City, |w| {
        for i in 0..NETWORKS {
            let r = i % DISTINCT_RECORDS;
            w.insert(IpNet::V4(network(i)), &city_record(r, &words[r as usize]))
                .expect("inserts");
        }
    });
    write(&file("asn.mmdb"), Kind::Asn, |w| {
        for i in 0..NETWORKS {
            let r = i % DISTINCT_RECORDS;
            let record = geoip2::Asn {
                autonomous_system_number: Some(64_496 + r),
                autonomous_system_organization: Some(&words[r as usize]),
            };
            w.insert(IpNet::V4(network(i)), &record).expect("inserts");
        }
    });
    write(&file("anonymous.mmdb"), Kind::Anonymous, |w| {
        for i in (0..NETWORKS).step_by(ANONYMOUS_EVERY as usize) {
            let record = geoip2::AnonymousIp {
                is_anonymous: Some(true),
                is_anonymous_vpn: Some(true),
                is_hosting_provider: Some(true),
                is_public_proxy: None,
                is_residential_proxy: None,
                is_tor_exit_node: None,
            };
            w.insert(IpNet::V4(network(i)), &record).expect("inserts");
        }
    });
    Sources {
        city: Some(Source::File(file("city.mmdb"))),
        asn: Some(Source::File(file("asn.mmdb"))),
        anonymous: Some(Source::File(file("anonymous.mmdb"))),
    }
}

fn host(net: Ipv4Net) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(u32::from(net.network()) + 77))
}

fn geo_lookup(c: &mut Criterion) {
    let sample = ReloadingGeo::open(&Sources::bundled()).expect("bundled sample");
    let dir = tempfile::tempdir().expect("tempdir");
    let real = ReloadingGeo::open(&realistic(dir.path())).expect("realistic databases");
    // The last network written for each slot wins, so pick one no later network overwrites.
    let all_three = (0..NETWORKS)
        .step_by(ANONYMOUS_EVERY as usize)
        .rev()
        .map(network)
        .next()
        .expect("a network");
    let cases: [(&str, &ReloadingGeo, IpAddr, bool); 5] = [
        (
            "sample/all_three_v4",
            &sample,
            "203.0.113.50".parse().unwrap(),
            true,
        ),
        (
            "sample/all_three_v6",
            &sample,
            "2001:db8:12::1".parse().unwrap(),
            true,
        ),
        ("sample/miss", &sample, "8.8.8.8".parse().unwrap(), false),
        ("realistic/all_three_v4", &real, host(all_three), true),
        ("realistic/miss", &real, "223.1.1.1".parse().unwrap(), false),
    ];

    let mut group = c.benchmark_group("geo_lookup");
    for (name, geo, ip, hit) in cases {
        // Check that each case exercises the path its name promises.
        let info = geo.lookup(ip);
        assert_eq!(
            (info.city.is_some(), info.asn.is_some(), info.anonymous.vpn),
            (hit, hit, hit),
            "{name}: {info:?}"
        );
        group.bench_function(name, |b| b.iter(|| geo.lookup(black_box(ip))));
    }
    group.finish();
}

criterion_group!(benches, geo_lookup);
criterion_main!(benches);
