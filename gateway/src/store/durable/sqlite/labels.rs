//! [`LabelStore`] on `SQLite`.

use async_trait::async_trait;

use super::SqliteStore;
use crate::store::durable::DurableError;
use crate::store::durable::labels::{LabelRecord, LabelStore};

#[async_trait]
impl LabelStore for SqliteStore {
    async fn set_label(&self, l: &LabelRecord) -> Result<(), DurableError> {
        let _turn = self.turn().await?;
        sqlx::query(
            "INSERT INTO decision_labels (seq, label, note, labelled_by, labelled_at)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (seq) DO UPDATE SET label = excluded.label, note = excluded.note,
                 labelled_by = excluded.labelled_by, labelled_at = excluded.labelled_at",
        )
        .bind(l.seq)
        .bind(&l.label)
        .bind(&l.note)
        .bind(&l.labelled_by)
        .bind(l.labelled_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn labels(&self, seqs: &[i64]) -> Result<Vec<LabelRecord>, DurableError> {
        // `IN ()` is not SQL.
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        // One parameter per seq: at most 1,000, well under `SQLite`'s limit.
        let mut query = sqlx::QueryBuilder::new(
            "SELECT seq, label, note, labelled_by, labelled_at FROM decision_labels WHERE seq IN (",
        );
        let mut list = query.separated(", ");
        for seq in seqs {
            list.push_bind(*seq);
        }
        query.push(")");
        Ok(query
            .build_query_as::<LabelRecord>()
            .fetch_all(&self.pool)
            .await?)
    }
}
