//! From events to outbox messages, and the endpoints they are routed to.
//!
//! An event becomes an [`OutboxMessage`] (its `webhook-id`, type, level and the
//! exact body) that the caller hands to the audit log with the event's record
//! (`AuditEvent::with_alert`): both are committed in one transaction, so an
//! alert is queued if and only if its event is on record. A message is made
//! only when some active endpoint wants it, so a gateway without endpoints
//! writes nothing extra.
//!
//! Endpoints live in the durable store (`webhook_endpoints`), where the
//! dispatcher of every node reads them: those of `[[webhooks]]` are written
//! there at start ([`Webhooks::sync_config`]), the admin API adds others. Their
//! secrets are not: a config endpoint's stay in the config, which every node
//! reads.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use risk::Level;
use tokio::sync::Notify;
use url::Url;

use super::sign::{self, WebhookSecret};
use super::{Envelope, Event, EventType, Producer, Subscription};
use crate::config::{Config, WebhookDelivery};
use crate::crypto::ServerKey;
use crate::store::durable::outbox::{EndpointRecord, SOURCE_CONFIG};
use crate::store::durable::{Durable, DurableError, OutboxMessage};
use crate::time::unix_millis;

/// An endpoint as the dispatcher uses it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub url: Url,
    pub events: Vec<Subscription>,
    pub min_level: Level,
    /// Current first; empty when this node does not hold them (an endpoint
    /// from another node's configuration): it then sends nothing to it.
    pub secrets: Vec<WebhookSecret>,
    /// Enabled, and not disabled by a 410.
    pub active: bool,
}

impl Endpoint {
    /// Whether it gets an event of type `kind` whose assessment is at `level`
    /// (`None`: no assessment, past any `min_level`).
    pub fn wants(&self, kind: EventType, level: Option<Level>) -> bool {
        self.active
            && Subscription::any_matches(&self.events, kind)
            && level.is_none_or(|level| level >= self.min_level)
    }

    /// Read a stored endpoint; a config endpoint's secrets from `secrets` by
    /// id, an API endpoint's unsealed with `key`.
    fn from_record(
        record: &EndpointRecord,
        secrets: &HashMap<String, Vec<WebhookSecret>>,
        key: &ServerKey,
    ) -> Result<Self, String> {
        let url = Url::parse(&record.url).map_err(|e| format!("url: {e}"))?;
        let events: Vec<Subscription> =
            serde_json::from_str(&record.events).map_err(|e| format!("events: {e}"))?;
        let min_level: Level = record
            .min_level
            .parse()
            .map_err(|e| format!("min_level: {e}"))?;
        Ok(Self {
            id: record.id.clone(),
            url,
            events,
            min_level,
            secrets: match &record.secrets {
                Some(sealed) => open_secrets(key, &record.id, sealed)?,
                None => secrets.get(&record.id).cloned().unwrap_or_default(),
            },
            active: record.active(),
        })
    }
}

fn secrets_context(id: &str) -> Vec<u8> {
    [b"webhook-secrets:".as_slice(), id.as_bytes()].concat()
}

/// An API endpoint's signing secrets as stored: sealed with the server key,
/// bound to the endpoint's id.
pub fn seal_secrets(key: &ServerKey, id: &str, secrets: &[WebhookSecret]) -> Vec<u8> {
    let texts: Vec<String> = secrets.iter().map(WebhookSecret::expose).collect();
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(&texts).expect("strings serialise"));
    key.seal(&plain, &secrets_context(id))
}

fn open_secrets(key: &ServerKey, id: &str, sealed: &[u8]) -> Result<Vec<WebhookSecret>, String> {
    let plain = key
        .open(sealed, &secrets_context(id))
        .ok_or("its secrets do not open with this server key")?;
    let texts: Vec<zeroize::Zeroizing<String>> =
        serde_json::from_slice(&plain).map_err(|e| format!("secrets: {e}"))?;
    texts
        .iter()
        .map(|t| WebhookSecret::parse(t).map_err(|e| format!("secrets: {e}")))
        .collect()
}

/// The webhook side of the gateway: which endpoints exist (as last read from
/// the store), how to deliver, and the bell that wakes the dispatcher.
#[derive(Debug)]
pub struct Webhooks {
    endpoints: RwLock<Arc<Vec<Endpoint>>>,
    /// Secrets of the config's endpoints, by id.
    config_secrets: HashMap<String, Vec<WebhookSecret>>,
    config_records: Vec<EndpointRecord>,
    key: ServerKey,
    pub delivery: WebhookDelivery,
    pub producer: Producer,
    /// Rung after a commit that queued messages (the audit writer's).
    pub wake: Arc<Notify>,
}

impl Webhooks {
    /// The endpoints of `config`, not yet written to the store.
    pub fn new(
        config: &Config,
        key: ServerKey,
        wake: Arc<Notify>,
        now: std::time::SystemTime,
    ) -> Self {
        let mut config_secrets = HashMap::new();
        let mut config_records = Vec::new();
        for hook in &config.webhooks {
            let id = hook.effective_id();
            config_secrets.insert(id.clone(), hook.signing_secrets());
            config_records.push(EndpointRecord {
                id,
                url: hook.url.to_string(),
                events: serde_json::to_string(&hook.events).unwrap_or_else(|_| "[]".into()),
                min_level: hook.min_level.as_str().to_owned(),
                source: SOURCE_CONFIG.to_owned(),
                secrets: None,
                enabled: hook.enabled,
                disabled_reason: None,
                disabled_at: None,
                created_at: unix_millis(now),
            });
        }
        Self {
            endpoints: RwLock::new(Arc::new(Vec::new())),
            config_secrets,
            config_records,
            key,
            delivery: config.webhook_delivery.clone(),
            producer: Producer::default(),
            wake,
        }
    }

    /// Write the config's endpoints to the store (a receiver that said it is
    /// gone stays disabled while its URL is the same), mark config endpoints
    /// that left the config as not enabled, and read them all back.
    pub async fn sync_config(&self, store: &dyn Durable) -> Result<(), DurableError> {
        for record in &self.config_records {
            store.put_endpoint(record).await?;
        }
        let ids: Vec<String> = self.config_records.iter().map(|r| r.id.clone()).collect();
        store.retire_config_endpoints(&ids).await?;
        self.refresh(store).await
    }

    /// Re-read the endpoints from the store.
    pub async fn refresh(&self, store: &dyn Durable) -> Result<(), DurableError> {
        let records = store.endpoints().await?;
        let endpoints = records
            .iter()
            .filter_map(
                |record| match Endpoint::from_record(record, &self.config_secrets, &self.key) {
                    Ok(endpoint) => Some(endpoint),
                    Err(problem) => {
                        tracing::warn!(endpoint = %record.id, %problem, "unreadable webhook endpoint skipped");
                        None
                    }
                },
            )
            .collect();
        *self
            .endpoints
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(endpoints);
        Ok(())
    }

    /// The endpoints as last read.
    pub fn endpoints(&self) -> Arc<Vec<Endpoint>> {
        self.endpoints
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The ids of the active endpoints that want a message of `kind` at
    /// `level` (both as stored; an unknown name matches nothing).
    pub fn route(&self, kind: &str, level: Option<&str>) -> Vec<String> {
        let Ok(kind) = kind.parse::<EventType>() else {
            return Vec::new();
        };
        let level = match level.map(str::parse::<Level>) {
            None => None,
            Some(Ok(level)) => Some(level),
            Some(Err(_)) => return Vec::new(),
        };
        self.endpoints()
            .iter()
            .filter(|e| e.wants(kind, level))
            .map(|e| e.id.clone())
            .collect()
    }

    /// The outbox message of `event`, or `None` when no endpoint wants it.
    pub fn message(&self, event: &Event) -> Option<OutboxMessage> {
        let kind = event.event_type();
        let level = event.level();
        if !self.endpoints().iter().any(|e| e.wants(kind, level)) {
            return None;
        }
        Some(message(event, &self.producer))
    }
}

/// The outbox message of `event`: a new `webhook-id` and the body every
/// attempt will send.
pub fn message(event: &Event, producer: &Producer) -> OutboxMessage {
    let body = Envelope::new(event, producer).to_body();
    OutboxMessage {
        id: sign::message_id(),
        kind: event.event_type().as_str().to_owned(),
        level: event.level().map(|l| l.as_str().to_owned()),
        created_at: unix_millis(event.time()),
        body: String::from_utf8(body).expect("serde_json writes UTF-8"),
    }
}
