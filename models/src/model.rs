//! The trained model: its saved file, loading it safely, and scoring an attempt.
//!
//! A model is only as good as the agreement between the features it was trained
//! on and the features the running build computes. So the file carries its
//! feature schema (names, order, [`crate::features::SCHEMA_VERSION`]) and
//! [`load`] refuses a file whose schema differs from this build's, naming the
//! differences, rather than scoring garbage. It also refuses another format,
//! wrong dimensions, non-finite parameters, and a file edited after training:
//! [`SavedModel::version`] ends with 12 hex digits of the SHA-256 of everything
//! that affects scores (schema, scaler, estimator, calibration), recomputed on
//! load, so a version seen in an audit log names exactly one behaviour.
//!
//! The file is JSON (`serde_json`, pretty, fields in declaration order): the same
//! model gives the same bytes, which is what makes training reproducible to check.
//!
//! [`Model::score`] = [`crate::features::features`] → [`Scaler`] → the
//! estimator's anomaly value → [`Calibration`], all without allocating.

mod estimator;

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub(crate) use estimator::Eval;
pub use estimator::{Estimator, Gmm, KMeans, STD_FLOOR, Scaler};

use crate::calibrate::Calibration;
use crate::features::{self, N, SCHEMA, SCHEMA_VERSION};

/// The `format` of the files this build writes and reads.
pub const FORMAT: &str = "resetgate-anomaly/1";

/// Every error of this crate.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The bytes are not a model file (or not one this build can read).
    #[error("model file is not valid: {0}")]
    Json(#[from] serde_json::Error),
    /// A model file of another format.
    #[error("model file format is {found:?}, this build reads {FORMAT:?}")]
    Format {
        /// The file's `format`.
        found: String,
    },
    /// The model was trained on other features than this build computes.
    #[error("{0}")]
    Schema(String),
    /// Parameters with wrong dimensions or values.
    #[error("model file is not valid: {0}")]
    Invalid(String),
    /// Training data that cannot be trained on.
    #[error("training data: {0}")]
    Data(String),
    /// No estimator could be trained.
    #[error("training failed: {0}")]
    Training(String),
    /// Reading or writing a dataset file.
    #[error(transparent)]
    Dataset(#[from] crate::dataset::Error),
    /// Reading or writing a model file.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedModel {
    /// [`FORMAT`].
    pub format: String,
    /// `<winner>-<12 hex digits of the content hash>`, e.g. `gmm8-3f2a…`.
    pub version: String,
    /// The feature names, in order ([`features::SCHEMA`] when trained).
    pub schema: Vec<String>,
    /// [`features::SCHEMA_VERSION`] when trained.
    pub schema_version: u32,
    /// Standardisation applied before the estimator.
    pub scaler: Scaler,
    /// The fitted estimator.
    pub estimator: Estimator,
    /// Anomaly value → score in `[0, 1]`.
    pub calibration: Calibration,
    /// Where the model came from.
    pub training: TrainingInfo,
}

/// How a model was trained: enough to reproduce it and to judge it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingInfo {
    /// Rows given to training (legitimate and labelled attacks).
    pub rows: u64,
    /// Rows the estimators and the calibration learnt from (the legitimate ones).
    pub legit_rows: u64,
    /// SHA-256 (hex) of the training matrix and labels (see `crate::train`).
    pub data_sha256: String,
    /// The seed every random choice of training derived from.
    pub seed: u64,
    /// When it was trained (RFC 3339), as given to training.
    pub trained_at: String,
    /// The winning candidate's name.
    pub winner: String,
    /// Every candidate with its validation figures.
    pub candidates: Vec<CandidateReport>,
}

/// One candidate estimator and how it did on the validation split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CandidateReport {
    /// E.g. `gmm8`, `kmeans16`.
    pub name: String,
    /// Mean log-likelihood per held-out legitimate row (k-means: of the
    /// spherical mixture its clusters define); higher is better.
    pub heldout_log_likelihood: Option<f64>,
    /// ROC AUC, attacks against held-out legitimate rows (labelled data only).
    pub auc: Option<f64>,
    /// Share of attacks above the held-out legitimate rows' 99th percentile.
    pub tpr_at_1pct_fpr: Option<f64>,
    /// Why the candidate could not be trained, if it could not.
    pub error: Option<String>,
}

/// A loaded, checked model, ready to score.
#[derive(Debug, Clone)]
pub struct Model {
    saved: SavedModel,
    mean: [f64; N],
    inv_std: [f64; N],
    eval: Eval,
}

/// The default model's file, compiled in: trained by `resetgate train` on the
/// generator's default traffic (`models/README.md` has the command).
pub const BUNDLED: &[u8] = include_bytes!("../default-model.json");

/// The default model ([`BUNDLED`]), loaded and checked like any other file.
pub fn bundled() -> Result<Model, ModelError> {
    load(BUNDLED)
}

/// Reads a model file, refusing anything this build cannot score faithfully.
pub fn load(bytes: &[u8]) -> Result<Model, ModelError> {
    #[derive(Deserialize)]
    struct Header {
        format: Option<String>,
    }
    let header: Header = serde_json::from_slice(bytes)?;
    if header.format.as_deref() != Some(FORMAT) {
        return Err(ModelError::Format {
            found: header.format.unwrap_or_else(|| "(none)".into()),
        });
    }
    let saved: SavedModel = serde_json::from_slice(bytes)?;
    let expected = content_version(&saved);
    let version = saved.version.clone();
    let model = Model::new(saved)?;
    if version != expected {
        return Err(ModelError::Invalid(format!(
            "version {version:?} does not match its content (expected {expected:?}): the file \
             was changed after training"
        )));
    }
    Ok(model)
}

impl Model {
    /// Checks `saved` against this build (schema, dimensions, values) and
    /// prepares it for scoring. Does not check `version` (see [`load`]).
    pub fn new(saved: SavedModel) -> Result<Self, ModelError> {
        if saved.format != FORMAT {
            return Err(ModelError::Format {
                found: saved.format,
            });
        }
        check_schema(&saved.schema, saved.schema_version)?;
        let (mean, inv_std) = scaler_arrays(&saved.scaler)?;
        let eval = Eval::new(&saved.estimator)?;
        saved.calibration.check()?;
        Ok(Self {
            saved,
            mean,
            inv_std,
            eval,
        })
    }

    /// The anomaly score of an attempt at `now`, in `[0, 1]` (1 = most unusual).
    pub fn score(&self, signals: &risk::Signals, now: SystemTime) -> f64 {
        self.score_features(&features::features(signals, now))
    }

    /// The score of a feature vector.
    pub fn score_features(&self, x: &[f64; N]) -> f64 {
        self.saved.calibration.score(self.anomaly(x))
    }

    /// The estimator's raw anomaly value of a feature vector, before calibration.
    pub fn anomaly(&self, x: &[f64; N]) -> f64 {
        self.eval.anomaly(&self.standardise(x))
    }

    pub(crate) fn standardise(&self, x: &[f64; N]) -> [f64; N] {
        standardise(&self.mean, &self.inv_std, x)
    }

    /// `<winner>-<12 hex digits of the content hash>`.
    pub fn version(&self) -> &str {
        &self.saved.version
    }

    /// The saved form.
    pub fn saved(&self) -> &SavedModel {
        &self.saved
    }

    /// The model file's bytes (pretty JSON; the same model gives the same bytes).
    pub fn save(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(&self.saved).expect("a model serialises to JSON");
        bytes.push(b'\n');
        bytes
    }
}

pub(crate) fn standardise(mean: &[f64; N], inv_std: &[f64; N], x: &[f64; N]) -> [f64; N] {
    let mut z = [0.0; N];
    for (((z, x), m), s) in z.iter_mut().zip(x).zip(mean).zip(inv_std) {
        *z = (x - m) * s;
    }
    z
}

/// The scaler as arrays of means and reciprocal standard deviations.
pub(crate) fn scaler_arrays(scaler: &Scaler) -> Result<([f64; N], [f64; N]), ModelError> {
    let (Ok(mean), Ok(std)) = (
        <[f64; N]>::try_from(scaler.mean.as_slice()),
        <[f64; N]>::try_from(scaler.std.as_slice()),
    ) else {
        return Err(ModelError::Invalid(format!(
            "scaler has {} means and {} deviations, expected {N} of each",
            scaler.mean.len(),
            scaler.std.len()
        )));
    };
    if mean.iter().any(|m| !m.is_finite()) || std.iter().any(|s| !s.is_finite() || *s <= 0.0) {
        return Err(ModelError::Invalid(
            "scaler means must be finite and deviations finite and positive".into(),
        ));
    }
    Ok((mean, std.map(|s| 1.0 / s)))
}

/// The content version of `saved`: its estimator's name (from the version it
/// carries, up to the last `-`) and a hash of what affects scores.
pub fn content_version(saved: &SavedModel) -> String {
    let name = saved
        .version
        .rsplit_once('-')
        .map_or(saved.version.as_str(), |(name, _)| name);
    version_for(name, saved)
}

/// `<name>-<12 hex digits>` of the SHA-256 of the schema, scaler, estimator and
/// calibration of `saved`.
pub(crate) fn version_for(name: &str, saved: &SavedModel) -> String {
    let content = (
        &saved.schema,
        saved.schema_version,
        &saved.scaler,
        &saved.estimator,
        &saved.calibration,
    );
    let json = serde_json::to_vec(&content).expect("a model serialises to JSON");
    let digest = hex::encode(Sha256::digest(&json));
    format!("{name}-{}", &digest[..12])
}

/// Refuses a schema other than this build's, listing both and the differences.
pub fn check_schema(schema: &[String], version: u32) -> Result<(), ModelError> {
    if version == SCHEMA_VERSION && schema.iter().map(String::as_str).eq(SCHEMA.iter().copied()) {
        return Ok(());
    }
    let only_model: Vec<&str> = schema
        .iter()
        .map(String::as_str)
        .filter(|name| !SCHEMA.contains(name))
        .collect();
    let only_here: Vec<&str> = SCHEMA
        .iter()
        .copied()
        .filter(|name| !schema.iter().any(|s| s == name))
        .collect();
    let mut differences = Vec::new();
    if version != SCHEMA_VERSION {
        differences.push(format!(
            "schema version {version} in the model, {SCHEMA_VERSION} here"
        ));
    }
    if !only_model.is_empty() {
        differences.push(format!("only in the model: [{}]", only_model.join(", ")));
    }
    if !only_here.is_empty() {
        differences.push(format!("only in this build: [{}]", only_here.join(", ")));
    }
    if only_model.is_empty() && only_here.is_empty() && schema.len() == SCHEMA.len() {
        if let Some(at) = schema.iter().zip(SCHEMA).position(|(a, b)| a != b) {
            differences.push(format!(
                "same features in another order (first difference at position {at}: {} vs {})",
                schema[at], SCHEMA[at]
            ));
        }
    } else if only_model.is_empty() && only_here.is_empty() {
        differences.push("a feature is listed twice in the model".into());
    }
    Err(ModelError::Schema(format!(
        "the model's feature schema does not match this build: model expects features [{}] \
         (schema version {version}), this build computes [{}] (schema version \
         {SCHEMA_VERSION}); {}. Retrain the model with this build.",
        schema.join(", "),
        SCHEMA.join(", "),
        differences.join("; ")
    )))
}

#[cfg(test)]
mod tests;
