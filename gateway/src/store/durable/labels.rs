//! Analysts' labels of recorded decisions (`crate::decisions`): the latest
//! label of each, by the number of its `reset.started` audit record.

use async_trait::async_trait;

use super::DurableError;

/// A decision's label as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LabelRecord {
    /// The decision: its `reset.started` audit record's number.
    pub seq: i64,
    /// `attack` or `legitimate`.
    pub label: String,
    /// The analyst's note.
    pub note: String,
    /// Who labelled it.
    pub labelled_by: String,
    /// Unix seconds.
    pub labelled_at: i64,
}

#[async_trait]
pub trait LabelStore: Send + Sync {
    /// Store a decision's label; it replaces the decision's earlier one.
    async fn set_label(&self, label: &LabelRecord) -> Result<(), DurableError>;
    /// The labels of those of the decisions `seqs` that have one, in any
    /// order; none for an empty slice. Callers pass at most 1,000.
    async fn labels(&self, seqs: &[i64]) -> Result<Vec<LabelRecord>, DurableError>;
}
