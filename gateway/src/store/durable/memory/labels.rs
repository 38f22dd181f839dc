//! [`LabelStore`] in memory, as `SQLite`'s `decision_labels`.

use async_trait::async_trait;

use super::{MemoryDurable, lock};
use crate::store::durable::DurableError;
use crate::store::durable::labels::{LabelRecord, LabelStore};

#[async_trait]
impl LabelStore for MemoryDurable {
    async fn set_label(&self, label: &LabelRecord) -> Result<(), DurableError> {
        lock(&self.labels).insert(label.seq, label.clone());
        Ok(())
    }

    async fn labels(&self, seqs: &[i64]) -> Result<Vec<LabelRecord>, DurableError> {
        let labels = lock(&self.labels);
        let mut found: Vec<_> = seqs
            .iter()
            .filter_map(|seq| labels.get(seq))
            .cloned()
            .collect();
        // A seq asked for twice is one row, as `IN (…)`.
        found.sort_by_key(|l| l.seq);
        found.dedup_by_key(|l| l.seq);
        Ok(found)
    }
}
