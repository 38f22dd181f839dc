//! The resetgate anomaly model: features shared by training and serving,
//! training with linfa, calibration, save/load and scoring — and the seeded
//! generator of realistic reset/sign-in traffic it is trained and evaluated on.
//!
//! # Layout
//!
//! - [`dataset`]: one attempt ([`dataset::Attempt`]) and its CSV formats: the
//!   project's own and the public RBA dataset of Wiefling et al.
//! - [`generate`]: the seeded traffic generator (accounts, habits, travel,
//!   labelled attacks).
//! - [`features`]: [`risk::Signals`] → a fixed feature vector; the one code path
//!   for training and serving.
//! - [`model`], [`train`], [`calibrate`]: estimators, training, the score in
//!   `[0, 1]`, the saved file with its schema.
//! - [`evaluate`]: detection figures of scored attempts (ROC AUC, TPR at a
//!   fixed FPR, the legitimate step-up cost of catching 99 % of attacks) and
//!   ROC plots as SVG.
//!
//! Like `risk`, this crate never reads the clock or an unseeded RNG (enforced by
//! `clippy.toml`'s `disallowed-methods`): time and randomness are arguments.
#![deny(clippy::disallowed_methods)]

pub mod calibrate;
pub mod dataset;
pub mod evaluate;
pub mod features;
pub mod generate;
pub mod model;
pub mod train;
