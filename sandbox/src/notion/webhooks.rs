//! Integration webhooks (api-facts §1): subscriptions with the one-time
//! verification request, signed event envelopes, aggregation per entity,
//! and delivery with Notion's retry schedule through the [`Deliverer`].
//!
//! Aggregation: with `aggregation_window_ms > 0`, the first change to an
//! entity opens a window; when it closes, events of the same type merge into
//! one (union of `updated_properties` / `updated_blocks` and `authors`,
//! latest `timestamp`; a schema event keeps one entry per property id), and
//! lifecycle events collapse to "the most meaningful result": created then
//! trashed → nothing; created then edited → only `page.created`; trashed then
//! restored → neither (the state returned to the original one).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use rand::{Rng, distr::Alphanumeric};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::state::{Actor, dashed};
use crate::common::{
    Deliverer, Delivery, OutboundRequest, RetrySchedule, ShutdownSignal, lock, notion_time,
};
use crate::signing::{NOTION_SIGNATURE_HEADER, notion_signature};

pub const PAGE_CREATED: &str = "page.created";
pub const PAGE_PROPERTIES_UPDATED: &str = "page.properties_updated";
pub const PAGE_CONTENT_UPDATED: &str = "page.content_updated";
pub const PAGE_DELETED: &str = "page.deleted";
pub const PAGE_UNDELETED: &str = "page.undeleted";
pub const DATA_SOURCE_SCHEMA_UPDATED: &str = "data_source.schema_updated";

/// One change, before aggregation and before it is addressed to a subscription.
#[derive(Clone, Debug)]
pub struct ChangeEvent {
    pub kind: &'static str,
    pub entity_id: Uuid,
    /// `page` or `data_source`.
    pub entity_type: &'static str,
    /// `data.parent`.
    pub parent: Value,
    /// `data.updated_properties`: property ids (strings) for
    /// `page.properties_updated`, `{id,name,action}` for schemas; or
    /// `data.updated_blocks` (`{id,type}`) for `page.content_updated`.
    pub updates: Vec<Value>,
    pub authors: Vec<Actor>,
    pub at: OffsetDateTime,
}

/// Returned by `subscribe`: what the user would copy from the Notion UI.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Subscription {
    pub id: String,
    pub verification_token: String,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct SubscriptionState {
    pub id: Uuid,
    pub url: String,
    #[serde(skip)]
    pub token: String,
    pub verified: bool,
    /// `None` = every page.* and data_source.* type.
    pub event_types: Option<Vec<String>>,
}

/// Workspace facts stamped on every envelope.
#[derive(Clone, Debug)]
pub struct Workspace {
    pub id: Uuid,
    pub name: String,
    pub integration_id: Uuid,
}

pub struct Webhooks {
    workspace: Workspace,
    subscriptions: Mutex<Vec<SubscriptionState>>,
    pending: Mutex<HashMap<Uuid, Vec<ChangeEvent>>>,
    deliverer: Deliverer,
    signal: ShutdownSignal,
    runtime: tokio::runtime::Handle,
}

fn new_verification_token() -> String {
    let tail: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(43)
        .map(char::from)
        .collect();
    format!("secret_{tail}")
}

impl Webhooks {
    /// Must be called inside a Tokio runtime.
    pub fn new(workspace: Workspace, deliverer: Deliverer, signal: ShutdownSignal) -> Self {
        Self {
            workspace,
            subscriptions: Mutex::new(Vec::new()),
            pending: Mutex::new(HashMap::new()),
            deliverer,
            signal,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    pub fn deliverer(&self) -> &Deliverer {
        &self.deliverer
    }

    pub fn subscriptions(&self) -> Vec<SubscriptionState> {
        lock(&self.subscriptions).clone()
    }

    /// Create a subscription and POST the unsigned one-time
    /// `{"verification_token":"secret_…"}` to `url`.
    pub fn subscribe(&self, url: &str, event_types: Option<Vec<String>>) -> Subscription {
        let state = SubscriptionState {
            id: Uuid::new_v4(),
            url: url.to_string(),
            token: new_verification_token(),
            verified: false,
            event_types,
        };
        let body = json!({"verification_token": state.token})
            .to_string()
            .into_bytes();
        let request = OutboundRequest {
            url: state.url.clone(),
            headers: vec![("content-type".into(), "application/json".into())],
            body,
        };
        let label = format!("verification {}", state.id);
        self.deliverer
            .send_unconditionally(Delivery::fixed(label, RetrySchedule::none(), request));
        let subscription = Subscription {
            id: dashed(state.id),
            verification_token: state.token.clone(),
        };
        lock(&self.subscriptions).push(state);
        subscription
    }

    /// What the user does by pasting the token into the UI.
    pub fn verify(&self, id: &str, token: &str) -> Result<(), String> {
        let id = super::state::parse_id(id, "subscription_id").map_err(|e| e.message)?;
        let mut subs = lock(&self.subscriptions);
        let sub = subs
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or_else(|| format!("no subscription {id}"))?;
        if sub.token != token {
            return Err("the verification token does not match".into());
        }
        sub.verified = true;
        Ok(())
    }

    /// Record changes; they go out now or when their aggregation window closes.
    pub fn emit(self: &Arc<Self>, events: Vec<ChangeEvent>) {
        if events.is_empty() {
            return;
        }
        let window = self.deliverer.knobs().aggregation_window_ms;
        if window == 0 {
            self.deliver(events);
            return;
        }
        let mut pending = lock(&self.pending);
        for event in events {
            let entity = event.entity_id;
            let queue = pending.entry(entity).or_default();
            let opened = queue.is_empty();
            queue.push(event);
            if opened {
                self.close_window_later(entity, Duration::from_millis(window));
            }
        }
    }

    fn close_window_later(self: &Arc<Self>, entity: Uuid, window: Duration) {
        let this = self.clone();
        let signal = self.signal.clone();
        self.runtime.spawn(async move {
            tokio::select! {
                _ = signal.wait() => {}
                _ = tokio::time::sleep(window) => {
                    let events = lock(&this.pending).remove(&entity).unwrap_or_default();
                    this.deliver(aggregate(events));
                }
            }
        });
    }

    /// One envelope per (event, verified subscription that wants its type).
    fn deliver(&self, events: Vec<ChangeEvent>) {
        let subs: Vec<SubscriptionState> = lock(&self.subscriptions)
            .iter()
            .filter(|s| s.verified)
            .cloned()
            .collect();
        let mut batch = Vec::new();
        for event in &events {
            for sub in subs.iter().filter(|s| wants(s, event.kind)) {
                batch.push(self.delivery_for(event, sub));
            }
        }
        if !batch.is_empty() {
            self.deliverer.send_batch(batch);
        }
    }

    fn delivery_for(&self, event: &ChangeEvent, sub: &SubscriptionState) -> Delivery {
        let envelope = self.envelope(event, sub);
        let label = format!(
            "{} {} {}",
            envelope["id"].as_str().unwrap_or_default(),
            event.kind,
            dashed(event.entity_id)
        );
        let (url, token) = (sub.url.clone(), sub.token.clone());
        Delivery::new(label, RetrySchedule::notion(), move |attempt| {
            let mut body = envelope.clone();
            body["attempt_number"] = json!(attempt);
            let bytes = body.to_string().into_bytes();
            let signature = notion_signature(&token, &bytes);
            OutboundRequest {
                url: url.clone(),
                headers: vec![
                    ("content-type".into(), "application/json".into()),
                    (NOTION_SIGNATURE_HEADER.into(), signature),
                ],
                body: bytes,
            }
        })
    }

    fn envelope(&self, event: &ChangeEvent, sub: &SubscriptionState) -> Value {
        let authors: Vec<Value> = event
            .authors
            .iter()
            .map(|a| json!({"id": dashed(a.id), "type": if a.is_bot { "bot" } else { "person" }}))
            .collect();
        let mut data = json!({"parent": event.parent});
        if event.kind == PAGE_PROPERTIES_UPDATED || event.kind == DATA_SOURCE_SCHEMA_UPDATED {
            data["updated_properties"] = json!(event.updates);
        }
        if event.kind == PAGE_CONTENT_UPDATED {
            data["updated_blocks"] = json!(event.updates);
        }
        let mut envelope = json!({
            "id": Uuid::new_v4().to_string(),
            "timestamp": notion_time(event.at),
            "workspace_id": dashed(self.workspace.id),
            "workspace_name": self.workspace.name,
            "subscription_id": dashed(sub.id),
            "integration_id": dashed(self.workspace.integration_id),
            "type": event.kind,
            "authors": authors,
            "attempt_number": 1,
            "entity": {"id": dashed(event.entity_id), "type": event.entity_type},
            "data": data,
        });
        // The docs' examples carry api_version only on data_source.* events.
        if event.kind.starts_with("data_source.") {
            envelope["api_version"] = json!("2025-09-03");
        }
        envelope
    }
}

fn wants(sub: &SubscriptionState, kind: &str) -> bool {
    sub.event_types
        .as_ref()
        .is_none_or(|types| types.iter().any(|t| t == kind))
}

/// Merge one entity's events from one window (see the module comment).
pub fn aggregate(events: Vec<ChangeEvent>) -> Vec<ChangeEvent> {
    let mut merged: Vec<ChangeEvent> = Vec::new();
    for event in &events {
        match merged.iter_mut().find(|m| m.kind == event.kind) {
            Some(m) => merge_into(m, event),
            None => merged.push(event.clone()),
        }
    }
    let has = |kind: &str| events.iter().any(|e| e.kind == kind);
    let last_lifecycle = events
        .iter()
        .rev()
        .map(|e| e.kind)
        .find(|k| [PAGE_CREATED, PAGE_DELETED, PAGE_UNDELETED].contains(k));
    if has(PAGE_CREATED) {
        if last_lifecycle == Some(PAGE_DELETED) {
            return Vec::new();
        }
        merged.retain(|e| e.kind == PAGE_CREATED || e.kind == DATA_SOURCE_SCHEMA_UPDATED);
    } else if has(PAGE_DELETED) && has(PAGE_UNDELETED) {
        let drop = if last_lifecycle == Some(PAGE_DELETED) {
            vec![PAGE_UNDELETED]
        } else {
            vec![PAGE_DELETED, PAGE_UNDELETED]
        };
        merged.retain(|e| !drop.contains(&e.kind));
    }
    merged.sort_by_key(|e| e.at);
    merged
}

fn merge_into(into: &mut ChangeEvent, event: &ChangeEvent) {
    for p in &event.updates {
        if into.kind == DATA_SOURCE_SCHEMA_UPDATED {
            merge_schema_change(&mut into.updates, p);
        } else if !into.updates.contains(p) {
            into.updates.push(p.clone());
        }
    }
    for a in &event.authors {
        if !into.authors.contains(a) {
            into.authors.push(*a);
        }
    }
    into.at = into.at.max(event.at);
}

/// One entry per property id: the latest name; created then deleted
/// leaves nothing, created then updated stays created, anything then
/// deleted is deleted.
fn merge_schema_change(into: &mut Vec<Value>, change: &Value) {
    let Some(pos) = into.iter().position(|c| c["id"] == change["id"]) else {
        into.push(change.clone());
        return;
    };
    let (was, now) = (into[pos]["action"].clone(), &change["action"]);
    match (was.as_str(), now.as_str()) {
        (Some("created"), Some("deleted")) => {
            into.remove(pos);
        }
        (Some("created"), _) => into[pos]["name"] = change["name"].clone(),
        _ => into[pos] = change.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &'static str, prop: &str, at_s: i64) -> ChangeEvent {
        ChangeEvent {
            kind,
            entity_id: Uuid::nil(),
            entity_type: "page",
            parent: json!({}),
            updates: vec![json!(prop)],
            authors: vec![Actor {
                id: Uuid::nil(),
                is_bot: false,
            }],
            at: OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(at_s),
        }
    }

    #[test]
    fn same_type_events_merge_their_properties() {
        let out = aggregate(vec![
            ev(PAGE_PROPERTIES_UPDATED, "a", 1),
            ev(PAGE_PROPERTIES_UPDATED, "b", 2),
        ]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].updates, vec![json!("a"), json!("b")]);
        assert_eq!(out[0].authors.len(), 1);
    }

    #[test]
    fn schema_changes_merge_per_property() {
        let change = |id: &str, name: Value, action: &str| {
            let mut e = ev(DATA_SOURCE_SCHEMA_UPDATED, "", 1);
            e.updates = vec![json!({"id": id, "name": name, "action": action})];
            e
        };
        let out = aggregate(vec![
            change("a", json!("A"), "created"),
            change("a", json!("A2"), "updated"),
            change("b", json!("B"), "updated"),
            change("b", Value::Null, "deleted"),
            change("c", json!("C"), "created"),
            change("c", Value::Null, "deleted"),
        ]);
        assert_eq!(
            out[0].updates,
            vec![
                json!({"id": "a", "name": "A2", "action": "created"}),
                json!({"id": "b", "name": null, "action": "deleted"}),
            ]
        );
    }

    #[test]
    fn lifecycle_collapses_to_the_meaningful_result() {
        let created_then_trashed =
            aggregate(vec![ev(PAGE_CREATED, "", 1), ev(PAGE_DELETED, "", 2)]);
        assert!(created_then_trashed.is_empty());
        let created_then_edited = aggregate(vec![
            ev(PAGE_CREATED, "", 1),
            ev(PAGE_PROPERTIES_UPDATED, "a", 2),
        ]);
        assert_eq!(created_then_edited.len(), 1);
        assert_eq!(created_then_edited[0].kind, PAGE_CREATED);
        let round_trip = aggregate(vec![ev(PAGE_DELETED, "", 1), ev(PAGE_UNDELETED, "", 2)]);
        assert!(round_trip.is_empty());
    }
}
