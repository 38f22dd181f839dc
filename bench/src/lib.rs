//! `bench/`: performance measurements for resetgate.
//!
//! - `benches/risk_evaluate.rs`: criterion micro-benchmarks of `risk::evaluate` on
//!   the bundled policy (a quiet attempt and a noisy one); figures in `RESULTS.md`.
//! - `benches/geo_lookup.rs`: criterion micro-benchmarks of a City + ASN + Anonymous IP
//!   lookup (`resetgate::signals::geo::ReloadingGeo::lookup`) on the bundled sample and on
//!   synthetic GeoIP2-sized databases; figures in `RESULTS.md`.
//! - The HTTP load driver for the running gateway comes in a later issue and will
//!   live in this crate.
