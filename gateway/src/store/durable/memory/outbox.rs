//! [`OutboxStore`] for [`MemoryDurable`]: the tables of
//! `migrations/sqlite/0003_webhooks.sql` as maps, answering as
//! `sqlite/outbox.rs`'s queries do. Every call is one critical section under
//! the outbox lock (which the audit appends also take, after the audit lock,
//! to queue their records' alerts with them).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use async_trait::async_trait;

use super::{MemoryDurable, lock};
use crate::store::durable::outbox::{
    AttemptRecord, Claimed, DEAD, DeliveryRecord, EndpointRecord, GONE, OutboxMessage, OutboxStore,
    Outcome, PENDING, RouteFn, SOURCE_CONFIG, after,
};
use crate::store::durable::{AuditRecord, DurableError};

/// The outbox tables.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    /// `webhook_endpoints` by id (`ORDER BY id`: bytewise, as `SQLite`'s BINARY).
    endpoints: BTreeMap<String, EndpointRecord>,
    /// `webhook_messages` by id.
    messages: HashMap<String, OutboxMessage>,
    /// The messages with `routed = 0`, as (`created_at`, id).
    unrouted: BTreeSet<(i64, String)>,
    /// `webhook_deliveries` by id.
    deliveries: BTreeMap<i64, Delivery>,
    /// The `UNIQUE (message_id, endpoint_id)` of the deliveries.
    pairs: HashSet<(String, String)>,
    /// Per endpoint: its deliveries' ids.
    by_endpoint: HashMap<String, BTreeSet<i64>>,
    /// Per endpoint: its pending deliveries, as (`next_at`, id).
    pending: HashMap<String, BTreeSet<(i64, i64)>>,
    /// The last delivery id given out (`sqlite_sequence`): AUTOINCREMENT
    /// spends one on every row an INSERT tries, the ones `ON CONFLICT DO
    /// NOTHING` skips included.
    last_delivery: i64,
    /// `webhook_attempts` per delivery, in order.
    attempts: HashMap<i64, Vec<AttemptRecord>>,
}

/// A row of `webhook_deliveries`.
#[derive(Debug, Clone)]
struct Delivery {
    message_id: String,
    endpoint_id: String,
    state: &'static str,
    attempts: i64,
    next_at: i64,
    lease_until: i64,
    lease: Option<String>,
    last_status: Option<i64>,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
}

/// A `LIMIT`: a negative one is none.
fn rows(limit: i64) -> usize {
    usize::try_from(limit).unwrap_or(usize::MAX)
}

impl Outbox {
    /// Check that the alerts of an audit batch can be inserted (no id taken,
    /// none twice), as the `PRIMARY KEY` of `webhook_messages` would.
    pub(super) fn check_alerts(&self, records: &[AuditRecord]) -> Result<(), DurableError> {
        let mut ids = HashSet::new();
        for alert in records.iter().filter_map(|r| r.alert.as_ref()) {
            if self.messages.contains_key(&alert.id) || !ids.insert(alert.id.as_str()) {
                return Err(DurableError(
                    "UNIQUE constraint failed: webhook_messages.id".to_owned(),
                ));
            }
        }
        Ok(())
    }

    /// Queue the alerts of an audit batch, once [`Self::check_alerts`] passed.
    pub(super) fn insert_alerts(&mut self, records: &[AuditRecord]) {
        for alert in records.iter().filter_map(|r| r.alert.as_ref()) {
            self.unrouted.insert((alert.created_at, alert.id.clone()));
            self.messages.insert(alert.id.clone(), alert.clone());
        }
    }

    /// Change a delivery's state and due time, keeping [`Self::pending`] in step.
    fn set_due(&mut self, id: i64, state: &'static str, next_at: i64) {
        let Some(d) = self.deliveries.get_mut(&id) else {
            return;
        };
        if d.state == PENDING
            && let Some(set) = self.pending.get_mut(&d.endpoint_id)
        {
            set.remove(&(d.next_at, id));
        }
        d.state = state;
        d.next_at = next_at;
        if state == PENDING {
            self.pending
                .entry(d.endpoint_id.clone())
                .or_default()
                .insert((next_at, id));
        }
    }

    fn record(&self, id: i64, d: &Delivery) -> DeliveryRecord {
        DeliveryRecord {
            id,
            message_id: d.message_id.clone(),
            endpoint_id: d.endpoint_id.clone(),
            kind: self
                .messages
                .get(&d.message_id)
                .map(|m| m.kind.clone())
                .unwrap_or_default(),
            state: d.state.to_owned(),
            attempts: d.attempts,
            next_at: d.next_at,
            last_status: d.last_status,
            last_error: d.last_error.clone(),
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[async_trait]
impl OutboxStore for MemoryDurable {
    async fn endpoints(&self) -> Result<Vec<EndpointRecord>, DurableError> {
        Ok(lock(&self.outbox).endpoints.values().cloned().collect())
    }

    async fn insert_endpoint(&self, e: &EndpointRecord) -> Result<bool, DurableError> {
        let mut outbox = lock(&self.outbox);
        if outbox.endpoints.contains_key(&e.id) {
            return Ok(false);
        }
        outbox.endpoints.insert(e.id.clone(), e.clone());
        Ok(true)
    }

    async fn put_endpoint(&self, e: &EndpointRecord) -> Result<(), DurableError> {
        let mut outbox = lock(&self.outbox);
        match outbox.endpoints.get_mut(&e.id) {
            Some(stored) => {
                // `created_at` stays; `disabled_*` stay with the URL.
                let (disabled_reason, disabled_at) = if stored.url == e.url {
                    (stored.disabled_reason.take(), stored.disabled_at)
                } else {
                    (None, None)
                };
                *stored = EndpointRecord {
                    disabled_reason,
                    disabled_at,
                    created_at: stored.created_at,
                    ..e.clone()
                };
            }
            None => {
                outbox.endpoints.insert(e.id.clone(), e.clone());
            }
        }
        Ok(())
    }

    async fn retire_config_endpoints(&self, ids: &[String]) -> Result<(), DurableError> {
        let mut outbox = lock(&self.outbox);
        for e in outbox.endpoints.values_mut() {
            if e.source == SOURCE_CONFIG && !ids.contains(&e.id) {
                e.enabled = false;
            }
        }
        Ok(())
    }

    async fn delete_endpoint(&self, id: &str) -> Result<bool, DurableError> {
        let mut guard = lock(&self.outbox);
        let outbox = &mut *guard;
        for delivery in outbox.by_endpoint.remove(id).unwrap_or_default() {
            if let Some(d) = outbox.deliveries.remove(&delivery) {
                outbox.pairs.remove(&(d.message_id, d.endpoint_id));
            }
            outbox.attempts.remove(&delivery);
        }
        outbox.pending.remove(id);
        Ok(outbox.endpoints.remove(id).is_some())
    }

    async fn enable_endpoint(&self, id: &str) -> Result<bool, DurableError> {
        Ok(match lock(&self.outbox).endpoints.get_mut(id) {
            Some(e) => {
                e.disabled_reason = None;
                e.disabled_at = None;
                true
            }
            None => false,
        })
    }

    async fn disable_endpoint(&self, id: &str, reason: &str, at: i64) -> Result<(), DurableError> {
        if let Some(e) = lock(&self.outbox).endpoints.get_mut(id) {
            e.disabled_reason = Some(reason.to_owned());
            e.disabled_at = Some(at);
        }
        Ok(())
    }

    async fn route(
        &self,
        route: &RouteFn<'_>,
        now: i64,
        due: i64,
        limit: i64,
    ) -> Result<usize, DurableError> {
        let mut outbox = lock(&self.outbox);
        // Ask `route` first, so that a panic in it changes nothing.
        let plan: Vec<(String, Vec<String>)> = outbox
            .unrouted
            .iter()
            .take(rows(limit))
            .map(|(_, id)| {
                let m = &outbox.messages[id];
                (id.clone(), route(&m.kind, m.level.as_deref()))
            })
            .collect();
        for (message_id, endpoints) in &plan {
            for endpoint in endpoints {
                outbox.last_delivery += 1;
                let id = outbox.last_delivery;
                if !outbox.pairs.insert((message_id.clone(), endpoint.clone())) {
                    continue;
                }
                outbox.deliveries.insert(
                    id,
                    Delivery {
                        message_id: message_id.clone(),
                        endpoint_id: endpoint.clone(),
                        state: PENDING,
                        attempts: 0,
                        next_at: due,
                        lease_until: 0,
                        lease: None,
                        last_status: None,
                        last_error: None,
                        created_at: now,
                        updated_at: now,
                    },
                );
                outbox
                    .by_endpoint
                    .entry(endpoint.clone())
                    .or_default()
                    .insert(id);
                outbox
                    .pending
                    .entry(endpoint.clone())
                    .or_default()
                    .insert((due, id));
            }
            let created_at = outbox.messages[message_id].created_at;
            outbox.unrouted.remove(&(created_at, message_id.clone()));
        }
        Ok(plan.len())
    }

    async fn claim(
        &self,
        endpoint: &str,
        now: i64,
        until: i64,
        lease: &str,
        limit: i64,
    ) -> Result<Vec<Claimed>, DurableError> {
        let mut guard = lock(&self.outbox);
        let outbox = &mut *guard;
        if !outbox
            .endpoints
            .get(endpoint)
            .is_some_and(EndpointRecord::active)
        {
            return Ok(Vec::new());
        }
        let Some(pending) = outbox.pending.get(endpoint) else {
            return Ok(Vec::new());
        };
        let due: Vec<i64> = pending
            .iter()
            .take_while(|(next_at, _)| *next_at <= now)
            .map(|(_, id)| *id)
            .filter(|id| outbox.deliveries[id].lease_until <= now)
            .take(rows(limit))
            .collect();
        let mut claimed: Vec<Claimed> = due
            .into_iter()
            .map(|id| {
                let d = outbox.deliveries.get_mut(&id).expect("a pending delivery");
                d.lease_until = until;
                d.lease = Some(lease.to_owned());
                Claimed {
                    id,
                    message_id: d.message_id.clone(),
                    attempts: d.attempts,
                    body: outbox
                        .messages
                        .get(&d.message_id)
                        .map(|m| m.body.clone())
                        .unwrap_or_default(),
                }
            })
            .collect();
        claimed.sort_by_key(|c| c.id);
        Ok(claimed)
    }

    async fn finish(
        &self,
        delivery: i64,
        lease: &str,
        attempt: &AttemptRecord,
        outcome: Outcome,
    ) -> Result<bool, DurableError> {
        let (state, next_at) = after(outcome, attempt.at);
        let mut outbox = lock(&self.outbox);
        let Some(d) = outbox.deliveries.get_mut(&delivery) else {
            return Ok(false);
        };
        if d.lease.as_deref() != Some(lease) {
            return Ok(false);
        }
        d.attempts += 1;
        d.lease_until = 0;
        d.lease = None;
        d.last_status = attempt.status;
        d.last_error.clone_from(&attempt.error);
        d.updated_at = attempt.at;
        let endpoint = d.endpoint_id.clone();
        outbox.set_due(delivery, state, next_at);
        outbox
            .attempts
            .entry(delivery)
            .or_default()
            .push(attempt.clone());
        if outcome == Outcome::Gone
            && let Some(e) = outbox.endpoints.get_mut(&endpoint)
        {
            e.disabled_reason = Some(GONE.to_owned());
            e.disabled_at = Some(attempt.at);
        }
        Ok(true)
    }

    async fn deliveries(
        &self,
        endpoint: &str,
        state: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DeliveryRecord>, DurableError> {
        let outbox = lock(&self.outbox);
        let Some(ids) = outbox.by_endpoint.get(endpoint) else {
            return Ok(Vec::new());
        };
        Ok(ids
            .iter()
            .rev()
            .map(|id| (*id, &outbox.deliveries[id]))
            .filter(|(_, d)| state.is_none_or(|s| d.state == s))
            .take(rows(limit))
            .map(|(id, d)| outbox.record(id, d))
            .collect())
    }

    async fn attempts(&self, delivery: i64) -> Result<Vec<AttemptRecord>, DurableError> {
        Ok(lock(&self.outbox)
            .attempts
            .get(&delivery)
            .cloned()
            .unwrap_or_default())
    }

    async fn redeliver(
        &self,
        endpoint: &str,
        ids: Option<&[i64]>,
        now: i64,
    ) -> Result<u64, DurableError> {
        let mut outbox = lock(&self.outbox);
        let Some(own) = outbox.by_endpoint.get(endpoint) else {
            return Ok(0);
        };
        // A delivery being sent right now (leased) is left to finish.
        let chosen: Vec<i64> = match ids {
            None => own
                .iter()
                .copied()
                .filter(|id| outbox.deliveries[id].state == DEAD)
                .collect(),
            Some(ids) => ids
                .iter()
                .copied()
                .filter(|id| own.contains(id))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        };
        let chosen: Vec<i64> = chosen
            .into_iter()
            .filter(|id| outbox.deliveries[id].lease_until <= now)
            .collect();
        for &id in &chosen {
            let d = outbox
                .deliveries
                .get_mut(&id)
                .expect("an endpoint's delivery");
            d.attempts = 0;
            d.lease_until = 0;
            d.lease = None;
            d.updated_at = now;
            outbox.set_due(id, PENDING, now);
        }
        Ok(u64::try_from(chosen.len()).unwrap_or(u64::MAX))
    }

    async fn purge(&self, before: i64) -> Result<u64, DurableError> {
        let mut guard = lock(&self.outbox);
        let outbox = &mut *guard;
        let gone: Vec<i64> = outbox
            .deliveries
            .iter()
            .filter(|(_, d)| d.state != PENDING && d.updated_at < before)
            .map(|(id, _)| *id)
            .collect();
        for id in &gone {
            let d = outbox.deliveries.remove(id).expect("listed above");
            outbox.attempts.remove(id);
            outbox
                .pairs
                .remove(&(d.message_id.clone(), d.endpoint_id.clone()));
            if let Some(ids) = outbox.by_endpoint.get_mut(&d.endpoint_id) {
                ids.remove(id);
            }
        }
        let referenced: HashSet<&str> = outbox
            .deliveries
            .values()
            .map(|d| d.message_id.as_str())
            .collect();
        let unrouted: HashSet<&str> = outbox.unrouted.iter().map(|(_, id)| id.as_str()).collect();
        let drop: Vec<String> = outbox
            .messages
            .values()
            .filter(|m| {
                m.created_at < before
                    && !unrouted.contains(m.id.as_str())
                    && !referenced.contains(m.id.as_str())
            })
            .map(|m| m.id.clone())
            .collect();
        for id in drop {
            outbox.messages.remove(&id);
        }
        Ok(u64::try_from(gone.len()).unwrap_or(u64::MAX))
    }

    async fn backlog(&self) -> Result<i64, DurableError> {
        let outbox = lock(&self.outbox);
        let pending: usize = outbox
            .pending
            .iter()
            .filter(|(endpoint, _)| {
                outbox
                    .endpoints
                    .get(endpoint.as_str())
                    .is_some_and(EndpointRecord::active)
            })
            .map(|(_, set)| set.len())
            .sum();
        Ok(i64::try_from(pending + outbox.unrouted.len()).unwrap_or(i64::MAX))
    }
}
