//! The resetgate anomaly model: features shared by training and serving,
//! training with linfa, evaluation, save/load and scoring.
//!
//! # Status
//!
//! Empty on purpose: the model arrives with its own issue ("The ML anomaly
//! model"). Until then the gateway decides on the velocity signals alone and
//! `serve` loads no model. Nothing here pretends to score.
//!
//! # Layout (planned, see `../shared/DESIGN.md`)
//!
//! `features`, `model`, `train`, `calibrate`, `evaluate`, `dataset/{attempts,rba}`,
//! `generate`. Like `risk`, this crate never reads the clock or an unseeded RNG
//! (enforced by `clippy.toml`'s `disallowed-methods`).
#![deny(clippy::disallowed_methods)]
