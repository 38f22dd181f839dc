//! `bench/`: performance measurements for resetgate.
//!
//! - `benches/risk_evaluate.rs`: criterion micro-benchmarks of `risk::evaluate` on
//!   the bundled policy (a quiet attempt and a noisy one); figures in `RESULTS.md`.
//! - `benches/geo_lookup.rs`: criterion micro-benchmarks of a City + ASN + Anonymous IP
//!   lookup (`resetgate::signals::geo::ReloadingGeo::lookup`) on the bundled sample and on
//!   synthetic GeoIP2-sized databases; figures in `RESULTS.md`.
//! - `src/bin/load/`: the HTTP load driver against the release binary (`main.rs`;
//!   `--scenario`): `stores`, `POST /v1/reset` throughput and latency on memory +
//!   `SQLite` and on Redis + `PostgreSQL` and the Redis commands per reset step
//!   counted with `MONITOR`; `ceiling` (`ceiling.rs`), the gateway against bare axum
//!   (`src/bin/bare.rs`) and `redis-benchmark`, closed-loop peak and an open-loop run
//!   at a fixed rate (`drive.rs`, latency from the intended send time); `mix`
//!   (`mix.rs`), legitimate flows end to end with real SMS codes (`sms.rs`) next to
//!   attack traffic; `hashing` (`hashing.rs`), `POST /v1/reset` latency alone and
//!   next to 50 concurrent completes; `flood` (`flood.rs`), the gateway's RSS under
//!   one start from each of a million addresses. Figures in `RESULTS.md`.
