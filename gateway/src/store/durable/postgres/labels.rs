//! [`LabelStore`] on `PostgreSQL`.

use async_trait::async_trait;

use super::{PostgresStore, bounded};
use crate::store::durable::DurableError;
use crate::store::durable::labels::{LabelRecord, LabelStore};

#[async_trait]
impl LabelStore for PostgresStore {
    async fn set_label(&self, l: &LabelRecord) -> Result<(), DurableError> {
        bounded(async {
            sqlx::query(
                "INSERT INTO decision_labels (seq, label, note, labelled_by, labelled_at)
                 VALUES ($1, $2, $3, $4, $5)
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
        })
        .await
    }

    async fn labels(&self, seqs: &[i64]) -> Result<Vec<LabelRecord>, DurableError> {
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        bounded(async {
            Ok(sqlx::query_as(
                "SELECT seq, label, note, labelled_by, labelled_at
                 FROM decision_labels WHERE seq = ANY($1::BIGINT[])",
            )
            .bind(seqs)
            .fetch_all(&self.pool)
            .await?)
        })
        .await
    }
}
