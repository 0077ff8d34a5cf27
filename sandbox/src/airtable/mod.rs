//! A faithful Airtable API sandbox: the REST record endpoints, the metadata endpoints, the
//! webhooks API with its ping + payload-cursor protocol, the per-base rate limit, and fault
//! knobs, written from Airtable's documented behaviour (api-facts §3, §4), including the
//! unpleasant parts. The API lives under `/v0/…`; the control API under `/_sandbox/…`.
//!
//! Module map:
//! - [`schema`], [`table`]: field types, fields, tables, records, bases.
//! - `cells`: cell validation (REST V1) and rendering (V1, V2, string).
//! - `writes`: all-or-nothing create / update / replace / upsert / delete → changes.
//! - `formula`: the `filterByFormula` subset; `listing`: list records and offsets.
//! - `store`, `state`: the state behind one lock; commit = one base transaction.
//! - `webhooks`, `payloads`, `notify`: specifications, payload log, pings.
//! - `records`, `meta`, `webhook_api`: the `/v0` handlers; `guard`: auth, scopes, rate
//!   limit, faults.
//! - `fields`: field-schema changes (create, rename / describe, change type, delete).
//! - `person`, `control`: edits as a person and the `/_sandbox` control API.

mod attachments;
mod body;
mod cells;
pub mod collaborators;
mod computed;
mod control;
mod derived;
mod errors;
mod fields;
mod formula;
mod guard;
mod ids;
mod inverse;
mod limits;
mod linked;
mod links;
mod listing;
mod meta;
mod meta_tables;
mod notify;
mod numbers;
mod payloads;
mod person;
mod records;
pub mod schema;
mod state;
mod store;
mod table;
mod webhook_api;
mod webhooks;
mod writes;

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::Context as _;
use axum::{
    Router,
    middleware::{from_fn_with_state, map_response},
    response::{IntoResponse, Response},
    routing::{get, post},
};

pub use person::{FieldEdit, TeamAirtable};
pub use schema::{FieldSchema, FieldType};

use errors::AtError;
use limits::RateLimiter;
use payloads::Actor;
use state::Shared;
use store::Store;

use crate::common::{
    CallLog, Clock, Deliverer, DeliveryKnobs, DeliveryRecord, FaultInjector, Faults, ShutdownGuard,
    record_calls, serve,
};

pub struct AirtableSandboxConfig {
    /// The personal access token clients must present.
    pub token: String,
    /// The token's owner (`usr…`): API edits are attributed to this user.
    pub user_id: String,
    pub user_email: String,
    /// The token's scopes; a request needing one it lacks is refused with 403 (default:
    /// [`DEFAULT_SCOPES`], everything the service needs).
    pub scopes: Vec<String>,
    /// Enforce the per-base limit (5 req/s by default).
    pub rate_limit: bool,
    pub requests_per_second: f64,
    /// After a 429, every request to that base gets 429 until this has passed.
    pub penalty: Duration,
    pub faults: Faults,
    pub delivery: DeliveryKnobs,
}

/// The scopes a default sandbox token holds.
pub const DEFAULT_SCOPES: [&str; 6] = [
    "data.records:read",
    "data.records:write",
    "schema.bases:read",
    "schema.bases:write",
    "webhook:manage",
    "user.email:read",
];

impl Default for AirtableSandboxConfig {
    fn default() -> Self {
        Self {
            token: "patSandboxAirtable.0000".to_string(),
            user_id: "usrSandboxOwner01".to_string(),
            user_email: "sync-bot@example.com".to_string(),
            scopes: DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
            rate_limit: true,
            requests_per_second: 5.0,
            penalty: Duration::from_secs(30),
            faults: Faults::default(),
            delivery: DeliveryKnobs::default(),
        }
    }
}

/// A running sandbox. Cheap to clone; the server stops when the last clone is dropped.
#[derive(Clone)]
pub struct AirtableSandbox {
    shared: Arc<Shared>,
    addr: SocketAddr,
    _guard: Arc<ShutdownGuard>,
}

/// The person the control API acts as (the first of the team's people).
fn person_actor() -> Actor {
    let person = &crate::team::PEOPLE[0];
    Actor {
        id: "usrPersonMaya0001".to_string(),
        email: person.email.to_string(),
        name: person.name.to_string(),
        source: "client",
    }
}

impl AirtableSandbox {
    /// Serve on `listener` (must be called inside a Tokio runtime).
    pub async fn start(
        config: AirtableSandboxConfig,
        listener: tokio::net::TcpListener,
    ) -> anyhow::Result<Self> {
        let addr = listener
            .local_addr()
            .context("sandbox listener has no address")?;
        let (guard, signal) = ShutdownGuard::new();
        let clock = Clock::new();
        let files = crate::files::FileHost::new(&format!("http://{addr}"), clock.clone());
        let deliverer = Deliverer::new(
            config.delivery.clone(),
            config.faults.seed,
            clock.clone(),
            signal.clone(),
        );
        let shared = Arc::new(Shared {
            token: config.token.clone(),
            scopes: config.scopes.clone(),
            api_actor: Actor {
                id: config.user_id.clone(),
                email: config.user_email.clone(),
                name: "Sandbox Token Owner".to_string(),
                source: "publicApi",
            },
            person_actor: person_actor(),
            rate_limit: config.rate_limit,
            limiter: RateLimiter::new(config.requests_per_second, config.penalty),
            store: Mutex::new(Store::default()),
            calls: CallLog::new(),
            faults: FaultInjector::new(config.faults.clone()),
            clock,
            deliverer,
            runtime: tokio::runtime::Handle::current(),
            files: files.clone(),
        });
        serve(
            listener,
            router(shared.clone()).merge(files.router()),
            signal,
        );
        Ok(Self {
            shared,
            addr,
            _guard: Arc::new(guard),
        })
    }

    /// Serve on `127.0.0.1` on a free port.
    pub async fn start_local(config: AirtableSandboxConfig) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the Airtable sandbox")?;
        Self::start(config, listener).await
    }

    /// `http://127.0.0.1:PORT`; the API is under `/v0/…`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn token(&self) -> &str {
        &self.shared.token
    }

    pub fn user_id(&self) -> &str {
        &self.shared.api_actor.id
    }

    /// Seed the team's base and (empty) "Delivery Tracker" table; idempotent.
    pub fn seed_team(&self) -> TeamAirtable {
        person::seed_team(&self.shared)
    }

    pub fn create_base(&self, name: &str) -> String {
        person::create_base(&self.shared, name)
    }

    /// Give exactly these people (email, name) access to the base → them with their ids.
    ///
    /// # Panics
    /// If the base does not exist: a test bug.
    pub fn set_collaborators(
        &self,
        base_id: &str,
        people: &[(&str, &str)],
    ) -> Vec<collaborators::Collaborator> {
        let people: Vec<(String, String)> = people
            .iter()
            .map(|(e, n)| (e.to_string(), n.to_string()))
            .collect();
        match person::set_collaborators(&self.shared, base_id, &people) {
            Ok(list) => list,
            Err(e) => panic!("set_collaborators({base_id}): {}", describe(&e)),
        }
    }

    /// Create a table (the first field is the primary field).
    ///
    /// # Panics
    /// If the base does not exist, `fields` is empty or the name is taken: a test bug.
    pub fn create_table(&self, base_id: &str, name: &str, fields: Vec<FieldSchema>) -> String {
        match person::create_table(&self.shared, base_id, name, &fields) {
            Ok((id, _)) => id,
            Err(e) => panic!("create_table({base_id}, {name}): {}", describe(&e)),
        }
    }

    /// A person creates a record (REST cell JSON, keyed by field name or id).
    pub fn insert_record_as_person(
        &self,
        base_id: &str,
        table: &str,
        fields: serde_json::Value,
    ) -> anyhow::Result<String> {
        person::create_record(&self.shared, base_id, table, &fields).map_err(to_anyhow)
    }

    pub fn update_record_as_person(
        &self,
        base_id: &str,
        table: &str,
        record_id: &str,
        fields: serde_json::Value,
    ) -> anyhow::Result<()> {
        person::update_record(&self.shared, base_id, table, record_id, &fields).map_err(to_anyhow)
    }

    /// A person pastes over many rows at once: one action, one payload.
    pub fn update_records_as_person(
        &self,
        base_id: &str,
        table: &str,
        records: &[(String, serde_json::Value)],
    ) -> anyhow::Result<()> {
        person::update_records(&self.shared, base_id, table, records).map_err(to_anyhow)
    }

    pub fn delete_record_as_person(
        &self,
        base_id: &str,
        table: &str,
        record_id: &str,
    ) -> anyhow::Result<()> {
        person::delete_record(&self.shared, base_id, table, record_id).map_err(to_anyhow)
    }

    /// A person restores a deleted record from the base's trash: the same
    /// id and cells come back (Airtable's "Restore" in the trash dialog).
    pub fn restore_record_as_person(
        &self,
        base_id: &str,
        table: &str,
        record_id: &str,
    ) -> anyhow::Result<()> {
        person::restore_record(&self.shared, base_id, table, record_id).map_err(to_anyhow)
    }

    /// A person adds a field → the field model (`{id, name, type, ...}`).
    pub fn create_field_as_person(
        &self,
        base_id: &str,
        table: &str,
        field: FieldSchema,
    ) -> anyhow::Result<serde_json::Value> {
        person::create_field(&self.shared, base_id, table, &field, None).map_err(to_anyhow)
    }

    /// A person renames / describes / changes the type of a field (id or name).
    pub fn edit_field_as_person(
        &self,
        base_id: &str,
        table: &str,
        field: &str,
        edit: FieldEdit,
    ) -> anyhow::Result<serde_json::Value> {
        person::edit_field(&self.shared, base_id, table, field, &edit).map_err(to_anyhow)
    }

    /// A person deletes a field (id or name); its cells disappear from every record.
    pub fn delete_field_as_person(
        &self,
        base_id: &str,
        table: &str,
        field: &str,
    ) -> anyhow::Result<()> {
        person::delete_field(&self.shared, base_id, table, field)
            .map(|_| ())
            .map_err(to_anyhow)
    }

    /// A person adds a grid view keeping the records `filter` (a formula
    /// standing for the UI's conditions) keeps → its id.
    pub fn create_view_as_person(
        &self,
        base_id: &str,
        table: &str,
        name: &str,
        filter: Option<&str>,
    ) -> anyhow::Result<String> {
        person::create_view(
            &self.shared,
            base_id,
            table,
            name,
            filter.map(str::to_owned),
        )
        .map_err(to_anyhow)
    }

    /// One record in the REST shape (not counted).
    pub fn record(&self, base_id: &str, table: &str, record_id: &str) -> Option<serde_json::Value> {
        person::one_record(&self.shared, base_id, table, record_id)
    }

    /// Every record of a table in the REST shape (empty if the table does not exist).
    pub fn records(&self, base_id: &str, table: &str) -> Vec<serde_json::Value> {
        person::all_records(&self.shared, base_id, table).unwrap_or_default()
    }

    /// A file a person attaches in Airtable's app: its attachment id, to
    /// write as `[{"id": …}]` through [`Self::update_record_as_person`].
    pub fn upload_attachment_as_person(
        &self,
        filename: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> String {
        attachments::store(&self.shared.files, filename, content_type, bytes)
    }

    pub fn calls(&self) -> &CallLog {
        &self.shared.calls
    }

    pub fn set_faults(&self, f: Faults) {
        self.shared.faults.set(f);
    }

    pub fn set_delivery(&self, d: DeliveryKnobs) {
        self.shared.deliverer.set_knobs(d);
    }

    /// Every ping delivery attempt so far (knob-dropped ones included).
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.shared.deliverer.deliveries()
    }

    /// Delete every payload of transactions before `transaction_number` from the base's
    /// webhooks (the 7-day retention, on demand).
    pub fn purge_payloads_before(&self, base_id: &str, transaction_number: u64) {
        let mut store = self.shared.store();
        if let Ok(base) = store.base_mut(base_id) {
            for hook in &mut base.webhooks {
                hook.purge_before(transaction_number);
            }
        }
    }
}

fn describe(e: &AtError) -> String {
    match &e.body {
        errors::ErrorBody::Json(v) => format!("{} {v}", e.status),
        errors::ErrorBody::Text(t) => format!("{} {t}", e.status),
    }
}

fn to_anyhow(e: AtError) -> anyhow::Error {
    anyhow::anyhow!("Airtable sandbox refused the change: {}", describe(&e))
}

/// The `/v0` API (guarded) plus the control API, with call counting around both (the call
/// log skips `/_sandbox`).
fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/v0/meta/whoami", get(meta::whoami))
        .route(
            "/v0/meta/bases/{base}/tables",
            get(meta::base_schema).post(meta_tables::create_table),
        )
        .route(
            "/v0/meta/bases/{base}/tables/{table}/fields",
            post(meta::create_field),
        )
        .route(
            "/v0/meta/bases/{base}/tables/{table}/fields/{field}",
            axum::routing::patch(meta::update_field),
        )
        .route(
            "/v0/bases/{base}/webhooks",
            get(webhook_api::list).post(webhook_api::create),
        )
        .route(
            "/v0/bases/{base}/webhooks/{id}",
            axum::routing::delete(webhook_api::delete),
        )
        .route(
            "/v0/bases/{base}/webhooks/{id}/refresh",
            post(webhook_api::refresh),
        )
        .route(
            "/v0/bases/{base}/webhooks/{id}/enableNotifications",
            post(webhook_api::enable_notifications),
        )
        .route(
            "/v0/bases/{base}/webhooks/{id}/payloads",
            get(webhook_api::payloads),
        )
        .route(
            "/v0/{base}/{table}",
            get(records::list_get)
                .post(records::create)
                .patch(records::patch_many)
                .put(records::put_many)
                .delete(records::delete_many),
        )
        .route("/v0/{base}/{table}/listRecords", post(records::list_post))
        .route(
            "/v0/{base}/{table}/{record}",
            get(records::get_one)
                .patch(records::patch_one)
                .put(records::put_one)
                .delete(records::delete_one),
        )
        .route_layer(from_fn_with_state(shared.clone(), guard::guard));
    api.merge(control::routes())
        .fallback(not_found)
        .layer(map_response(method_not_allowed_as_not_found))
        .layer(from_fn_with_state(shared.calls.clone(), record_calls))
        .with_state(shared)
}

async fn not_found() -> Response {
    AtError::not_found().into_response()
}

/// Airtable answers an undefined route with 404 `NOT_FOUND`, whatever the method.
async fn method_not_allowed_as_not_found(response: Response) -> Response {
    if response.status() == axum::http::StatusCode::METHOD_NOT_ALLOWED {
        return AtError::not_found().into_response();
    }
    response
}
