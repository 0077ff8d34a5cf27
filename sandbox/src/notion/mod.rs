//! The Notion API sandbox, API version 2025-09-03 (api-facts §1, §2).
//!
//! - REST under `/v1/` ([`routes`]): bearer auth, `Notion-Version`, Notion's
//!   error envelope, a token-bucket rate limit (~3 req/s, bursts of 10),
//!   injected faults and latency; databases resolve to data sources; pages
//!   with faithful property validation; minute-rounded timestamps.
//! - Webhooks ([`webhooks`]): subscriptions made here (Notion has no REST API
//!   for them), the unsigned verification request, signed events with
//!   aggregation, delivered with Notion's retry schedule.
//! - Control API under `/_sandbox/` ([`control`]) and the Rust API below, for
//!   person edits, seeding, knobs and inspection.
//!
//! Dropping the last [`NotionSandbox`] clone stops the server, pending
//! aggregation windows and every delivery.

mod computed;
mod control;
mod create_database;
mod dates;
mod errors;
mod file_parts;
mod files;
mod formula;
mod limits;
mod markdown;
mod ops;
mod properties;
mod query;
mod relation;
mod render;
mod rollup;
mod routes;
mod schema;
mod schema_update;
mod state;
mod webhooks;

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

pub use errors::NotionError;
pub use limits::RateLimitSettings;
pub use schema::{PropertyKind, PropertySchema, StatusGroupSchema};
pub use state::UserInformation;
pub use webhooks::{Subscription, SubscriptionState};

use crate::common::{
    CallLog, Clock, Deliverer, DeliveryKnobs, DeliveryRecord, FaultInjector, Faults, ShutdownGuard,
    lock, serve,
};
use crate::team::{self, NotionStatus, TeamOptions};
use ops::{PagePatch, ParentRef};
use schema_update::Editor;
use state::{World, dashed, parse_id};

#[derive(Clone, Debug)]
pub struct NotionSandboxConfig {
    /// The integration token clients send as `Authorization: Bearer`.
    pub token: String,
    pub bot_name: String,
    /// Enforce the per-token rate limit (429 `rate_limited` + `Retry-After`).
    pub rate_limit: bool,
    pub requests_per_second: f64,
    pub burst: u32,
    pub faults: Faults,
    pub delivery: DeliveryKnobs,
    /// The integration's user capability (changeable later through
    /// `POST /_sandbox/capabilities`).
    pub user_information: UserInformation,
}

impl Default for NotionSandboxConfig {
    fn default() -> Self {
        Self {
            token: "secret_sandbox_notion".to_string(),
            bot_name: "Sandbox Sync".to_string(),
            rate_limit: true,
            requests_per_second: 3.0,
            burst: 10,
            faults: Faults::default(),
            delivery: DeliveryKnobs::default(),
            user_information: UserInformation::default(),
        }
    }
}

/// The seeded "Product Specs" workspace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamNotion {
    pub database_id: String,
    pub data_source_id: String,
    pub page_ids: Vec<String>,
    /// `(name, user_id)` of every person of the workspace.
    pub people: Vec<(String, String)>,
    /// The type of the "Status" column.
    #[serde(default)]
    pub status: NotionStatus,
}

/// State shared by the handlers, the control API and the Rust handle.
pub(crate) struct Shared {
    world: Mutex<World>,
    token: String,
    base_url: String,
    calls: CallLog,
    faults: FaultInjector,
    rate: limits::RateLimiter,
    clock: Clock,
    webhooks: Arc<webhooks::Webhooks>,
}

/// A running Notion sandbox. Cheap to clone.
#[derive(Clone)]
pub struct NotionSandbox {
    shared: Arc<Shared>,
    _guard: Arc<ShutdownGuard>,
}

impl NotionSandbox {
    pub async fn start(
        config: NotionSandboxConfig,
        listener: tokio::net::TcpListener,
    ) -> anyhow::Result<Self> {
        let addr = listener.local_addr()?;
        let (guard, signal) = ShutdownGuard::new();
        let clock = Clock::new();
        let mut world = World::new(&config.bot_name);
        world.user_info = config.user_information;
        let file_host = crate::files::FileHost::new(&format!("http://{addr}"), clock.clone());
        world.files.host = Some(file_host.clone());
        let workspace = webhooks::Workspace {
            id: world.workspace_id,
            name: world.workspace_name.clone(),
            integration_id: world.integration_id,
        };
        let deliverer = Deliverer::new(
            config.delivery.clone(),
            config.faults.seed,
            clock.clone(),
            signal.clone(),
        );
        let shared = Arc::new(Shared {
            world: Mutex::new(world),
            token: config.token.clone(),
            base_url: format!("http://{addr}"),
            calls: CallLog::new(),
            faults: FaultInjector::new(config.faults.clone()),
            rate: limits::RateLimiter::new(RateLimitSettings {
                enabled: config.rate_limit,
                requests_per_second: config.requests_per_second,
                burst: config.burst,
            }),
            clock,
            webhooks: Arc::new(webhooks::Webhooks::new(
                workspace,
                deliverer,
                signal.clone(),
            )),
        });
        let router = routes::api_router(shared.clone())
            .merge(control::control_router(shared.clone()))
            .merge(file_host.router());
        serve(listener, router, signal);
        Ok(Self {
            shared,
            _guard: Arc::new(guard),
        })
    }

    /// Start on `127.0.0.1:0`.
    pub async fn start_local(config: NotionSandboxConfig) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        Self::start(config, listener).await
    }

    /// `http://127.0.0.1:PORT`; the API lives under `/v1/…`.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn token(&self) -> &str {
        &self.shared.token
    }

    pub fn bot_user_id(&self) -> String {
        dashed(lock(&self.shared.world).bot_id)
    }

    /// Create the team's "Product Specs" database with its 47 specs, written
    /// by their owners, Status a `select`. Idempotent: later calls return the
    /// same workspace.
    pub fn seed_team(&self) -> TeamNotion {
        self.shared.seed_team(TeamOptions::default())
    }

    /// [`Self::seed_team`] with options, e.g. Status as a `status` property:
    /// `seed_team_with(TeamOptions { status: NotionStatus::Status })`. If the
    /// workspace is already seeded, returns it as it is (its `status` field
    /// says which type it has).
    pub fn seed_team_with(&self, options: TeamOptions) -> TeamNotion {
        self.shared.seed_team(options)
    }

    /// Change a data source's schema as a person in Notion's UI: the body of
    /// `PATCH /v1/data_sources/{id}` (`{"properties": {"<name or id>": null |
    /// {"name": …} | {"<type>": {…}}}, "title": […]}`), with what only the UI
    /// can do allowed too (status options, a type change to status).
    pub fn update_data_source_as_person(
        &self,
        data_source_id: &str,
        person_user_id: &str,
        body: Value,
    ) -> anyhow::Result<()> {
        let ds = parse_id(data_source_id, "data_source_id")?;
        let actor = self.shared.person(person_user_id)?;
        ops::update_data_source(&self.shared, ds, &body, actor, Editor::Person)?;
        Ok(())
    }

    /// The integration's user capability (403 on `GET /v1/users` under
    /// [`UserInformation::None`]).
    pub fn set_user_information(&self, info: UserInformation) {
        lock(&self.shared.world).user_info = info;
    }

    /// A person joins the workspace (an admin's invitation in Notion's UI;
    /// the API cannot add members). Returns the new user's id.
    pub fn add_member(&self, name: &str, email: &str) -> String {
        let id = Uuid::new_v4();
        lock(&self.shared.world).users.push(state::User {
            id,
            name: name.to_string(),
            kind: state::UserKind::Person {
                email: email.to_string(),
            },
        });
        dashed(id)
    }

    /// Every user of the workspace as `GET /v1/users` shows them with the
    /// email capability (what a person sees in the workspace's settings).
    pub fn users(&self) -> Vec<Value> {
        let world = lock(&self.shared.world);
        world
            .users
            .iter()
            .map(|u| properties::user_json(u, UserInformation::WithEmail))
            .collect()
    }

    pub fn user_information(&self) -> UserInformation {
        lock(&self.shared.world).user_info
    }

    /// A database with one data source; returns (database_id, data_source_id).
    pub fn create_database(&self, title: &str, schema: Vec<PropertySchema>) -> (String, String) {
        self.shared.create_database(title, &schema)
    }

    /// Create a page as a person (the property JSON of the API write body).
    pub fn insert_page_as_person(
        &self,
        data_source_id: &str,
        person_user_id: &str,
        properties: Value,
    ) -> anyhow::Result<String> {
        let ds = parse_id(data_source_id, "data_source_id")?;
        let actor = self.shared.person(person_user_id)?;
        let id = ops::create_page(
            &self.shared,
            ParentRef::DataSource(ds),
            &properties,
            actor,
            Value::Null,
            Value::Null,
        )?;
        Ok(dashed(id))
    }

    /// Edit a page's properties as a person (only the sent properties change).
    pub fn update_page_as_person(
        &self,
        page_id: &str,
        person_user_id: &str,
        properties: Value,
    ) -> anyhow::Result<()> {
        let patch = PagePatch {
            properties: Some(properties),
            ..PagePatch::default()
        };
        self.shared.patch_as_person(page_id, person_user_id, patch)
    }

    /// Replace a page's content as a person (as typing in Notion would):
    /// emits `page.content_updated`.
    pub fn set_content_as_person(
        &self,
        page_id: &str,
        person_user_id: &str,
        markdown: &str,
    ) -> anyhow::Result<()> {
        let id = parse_id(page_id, "page_id")?;
        let actor = self.shared.person(person_user_id)?;
        let command = markdown::Command::Replace(markdown.to_owned());
        markdown::update(&self.shared, id, command, actor)?;
        Ok(())
    }

    /// A page's content as stored (whatever the integration may read).
    pub fn content(&self, page_id: &str) -> anyhow::Result<String> {
        let id = parse_id(page_id, "page_id")?;
        Ok(lock(&self.shared.world).page(id)?.content.clone())
    }

    /// The integration's "read content" capability (403 on the markdown
    /// endpoints without it).
    pub fn set_read_content(&self, allowed: bool) {
        lock(&self.shared.world).read_content = allowed;
    }

    /// A file a person uploads in Notion's app: an `uploaded` file upload,
    /// to attach with `{"type": "file_upload", "file_upload": {"id"}}`
    /// through [`Self::update_page_as_person`].
    pub fn upload_file_as_person(
        &self,
        filename: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> String {
        let id = Uuid::new_v4();
        let mut world = lock(&self.shared.world);
        let size = bytes.len() as u64;
        let stored = crate::files::StoredFile {
            filename: filename.to_owned(),
            content_type: content_type.to_owned(),
            bytes: Arc::new(bytes),
        };
        world
            .files
            .host
            .as_ref()
            .expect("set at start")
            .put(&dashed(id), stored);
        world.files.uploads.insert(
            id,
            files::Upload {
                filename: Some(filename.to_owned()),
                content_type: Some(content_type.to_owned()),
                status: "uploaded",
                created: self.shared.clock.now(),
                content_length: Some(size),
                number_of_parts: None,
                parts: Default::default(),
            },
        );
        dashed(id)
    }

    /// The workspace's per-file upload limit (default: the free plan's 5 MiB).
    pub fn set_max_upload_bytes(&self, bytes: u64) {
        lock(&self.shared.world).files.max_upload = Some(bytes);
    }

    /// Move a page to the trash (or restore it) as a person.
    pub fn set_trashed_as_person(
        &self,
        page_id: &str,
        person_user_id: &str,
        in_trash: bool,
    ) -> anyhow::Result<()> {
        let patch = PagePatch {
            in_trash: Some(in_trash),
            ..PagePatch::default()
        };
        self.shared.patch_as_person(page_id, person_user_id, patch)
    }

    /// The API's page object, without counting a call.
    pub fn page(&self, page_id: &str) -> Option<Value> {
        let id = parse_id(page_id, "page_id").ok()?;
        let world = lock(&self.shared.world);
        let page = world.pages.get(&id)?;
        Some(render::page_json(&world, page, None))
    }

    pub fn calls(&self) -> &CallLog {
        &self.shared.calls
    }

    pub fn faults(&self) -> Faults {
        self.shared.faults.get()
    }

    pub fn set_faults(&self, f: Faults) {
        self.shared.faults.set(f);
    }

    pub fn delivery(&self) -> DeliveryKnobs {
        self.shared.webhooks.deliverer().knobs()
    }

    pub fn set_delivery(&self, d: DeliveryKnobs) {
        self.shared.webhooks.deliverer().set_knobs(d);
    }

    pub fn set_rate_limit(&self, settings: RateLimitSettings) {
        self.shared.rate.set(settings);
    }

    /// Every webhook delivery attempt so far (verification requests included).
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.shared.webhooks.deliverer().deliveries()
    }

    /// Moves the sandbox clock (timestamps of pages and events).
    pub fn set_clock_offset_seconds(&self, offset: i64) {
        self.shared.clock.set_offset_seconds(offset);
    }

    /// Create a subscription for every page.* / data_source.* event and send
    /// the one-time verification request; events flow only after
    /// [`Self::verify_subscription`].
    pub fn subscribe(&self, url: &str) -> Subscription {
        self.shared.webhooks.subscribe(url, None)
    }

    /// Like [`Self::subscribe`], limited to the given event types.
    pub fn subscribe_to(&self, url: &str, event_types: &[&str]) -> Subscription {
        let types = event_types.iter().map(|t| t.to_string()).collect();
        self.shared.webhooks.subscribe(url, Some(types))
    }

    pub fn verify_subscription(&self, id: &str, token: &str) -> anyhow::Result<()> {
        self.shared
            .webhooks
            .verify(id, token)
            .map_err(anyhow::Error::msg)
    }
}

impl Shared {
    fn person(&self, user_id: &str) -> anyhow::Result<state::Actor> {
        let id = parse_id(user_id, "user_id")?;
        Ok(lock(&self.world).person_actor(id)?)
    }

    fn patch_as_person(
        &self,
        page_id: &str,
        user_id: &str,
        patch: PagePatch,
    ) -> anyhow::Result<()> {
        let id = parse_id(page_id, "page_id")?;
        let actor = self.person(user_id)?;
        ops::update_page(self, id, patch, actor)?;
        Ok(())
    }

    fn create_database(&self, title: &str, schema: &[PropertySchema]) -> (String, String) {
        let (db, ds) = ops::create_database(self, title, schema);
        (dashed(db), dashed(ds))
    }

    fn people(&self) -> Vec<(String, Uuid)> {
        lock(&self.world)
            .users
            .iter()
            .filter(|u| !u.is_bot())
            .map(|u| (u.name.clone(), u.id))
            .collect()
    }

    fn seed_team(&self, options: TeamOptions) -> TeamNotion {
        if let Some(team) = lock(&self.world).team.clone() {
            return team;
        }
        let (database_id, data_source_id) =
            self.create_database(team::NOTION_DATABASE_TITLE, &team_schema(options.status));
        let people = self.people();
        let ds = parse_id(&data_source_id, "data_source_id").unwrap_or_default();
        let page_ids = team::specs()
            .iter()
            .filter_map(|spec| {
                let (_, owner) = people.get(spec.owner)?;
                let actor = state::Actor {
                    id: *owner,
                    is_bot: false,
                };
                let props = spec_properties(spec, *owner, options.status);
                ops::create_page(
                    self,
                    ParentRef::DataSource(ds),
                    &props,
                    actor,
                    Value::Null,
                    Value::Null,
                )
                .ok()
            })
            .map(dashed)
            .collect();
        let team = TeamNotion {
            database_id,
            data_source_id,
            page_ids,
            people: people.into_iter().map(|(n, id)| (n, dashed(id))).collect(),
            status: options.status,
        };
        let mut world = lock(&self.world);
        world.team.get_or_insert(team).clone()
    }
}

/// The "Product Specs" schema of the design brief.
fn team_schema(status: NotionStatus) -> Vec<PropertySchema> {
    let status = match status {
        NotionStatus::Select => PropertySchema::select("Status", &team::STATUSES),
        NotionStatus::Status => PropertySchema::status("Status", &team::STATUS_GROUPS),
    };
    vec![
        PropertySchema::title("Name"),
        status,
        PropertySchema::select("Priority", &team::PRIORITIES),
        PropertySchema::people("Owner"),
        PropertySchema::select("Target Quarter", &team::QUARTERS),
        PropertySchema::rich_text("Sprint"),
        PropertySchema::date("Ship Date"),
        PropertySchema::rich_text("Blockers"),
        PropertySchema::rich_text("Airtable Record ID"),
    ]
}

fn spec_properties(spec: &team::Spec, owner: Uuid, status: NotionStatus) -> Value {
    let status_type = match status {
        NotionStatus::Select => "select",
        NotionStatus::Status => "status",
    };
    json!({
        "Name": {"title": [{"type": "text", "text": {"content": spec.title}}]},
        "Status": {status_type: {"name": spec.status}},
        "Priority": {"select": {"name": spec.priority}},
        "Owner": {"people": [{"object": "user", "id": dashed(owner)}]},
        "Target Quarter": {"select": {"name": spec.quarter}},
    })
}
