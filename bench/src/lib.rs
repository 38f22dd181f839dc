//! `bench/`: performance measurements for resetgate.
//!
//! - `benches/risk_evaluate.rs`: criterion micro-benchmarks of `risk::evaluate` on
//!   the bundled policy (a quiet attempt and a noisy one); figures in `RESULTS.md`.
//! - `benches/geo_lookup.rs`: criterion micro-benchmarks of a City + ASN + Anonymous IP
//!   lookup (`resetgate::signals::geo::ReloadingGeo::lookup`) on the bundled sample and on
//!   synthetic GeoIP2-sized databases; figures in `RESULTS.md`.
//! - `src/bin/load.rs`: the HTTP load driver: `POST /v1/reset` throughput and latency
//!   against the release binary on memory + `SQLite` and on Redis + `PostgreSQL`, and
//!   the Redis commands per reset step counted with `MONITOR`; figures in `RESULTS.md`.
