//! The scripted week. Every edit is made through a sandbox's person API
//! (attributed to a team member, never to the service's bot or token
//! owner), then the other side is polled until the change shows there.
//!
//! Values are written and read with the engine's conversions
//! (`sync::convert`), so "shows" means the canonical values are equal.

use std::{collections::BTreeSet, time::Duration};

use anyhow::Context as _;
use serde_json::{Map, Value as Json, json};

use super::{
    compare::{airtable_value, notion_value},
    stage::Stage,
    timeline::{Origin, STEP_DEADLINE, Timeline, until},
};
use crate::{
    airtable::Record,
    config::{ConflictRule, NotionTrashAction},
    notion::Page,
    store::{LogQuery, Side as LogSide, Store},
    sync::{
        body::canonical,
        convert::{to_airtable, to_notion},
        merge::Side,
        pair::{ResolvedField, ResolvedPair},
        value::Value,
    },
};
use notion_airtable_sandbox::team::{self, Spec};

/// The PM who writes specs in Notion.
const PM: &str = "Priya Raman";
/// The Airtable field the demo maps the page content to (`[pair.body]`).
const BODY_FIELD_IN_DEMO: &str = "Spec";

/// One value a side must show for a step to have arrived.
struct Expect<'p> {
    side: Side,
    page_id: String,
    field: &'p ResolvedField,
    value: Value,
}

pub struct Week<'a> {
    stage: &'a Stage,
    pair: &'a ResolvedPair,
    store: &'a Store,
    pub timeline: Timeline,
    specs: Vec<Spec>,
    /// Specs already used by a step, so each step shows a fresh one.
    used: BTreeSet<usize>,
    pm_id: String,
    /// 429s both sandboxes had answered when the last step ended.
    rate_limited: u64,
}

impl<'a> Week<'a> {
    pub fn new(
        stage: &'a Stage,
        pair: &'a ResolvedPair,
        store: &'a Store,
        timeline: Timeline,
    ) -> anyhow::Result<Self> {
        let specs = team::specs();
        anyhow::ensure!(
            specs.len() == stage.team_notion.page_ids.len(),
            "the Notion sandbox seeded {} pages for {} specs",
            stage.team_notion.page_ids.len(),
            specs.len()
        );
        let pm_id = stage
            .team_notion
            .people
            .iter()
            .find(|(name, _)| name == PM)
            .map(|(_, id)| id.clone())
            .with_context(|| format!("{PM} is not in the Notion workspace"))?;
        Ok(Self {
            stage,
            pair,
            store,
            timeline,
            specs,
            used: BTreeSet::new(),
            pm_id,
            rate_limited: stage.notion.calls().count_status(429)
                + stage.airtable.calls().count_status(429),
        })
    }

    /// Every step of the week, in order.
    pub async fn play(&mut self) -> anyhow::Result<()> {
        self.engineering_plans_delivery().await?;
        self.pm_raises_priorities().await?;
        self.status_conflict().await?;
        self.trash_and_restore().await?;
        self.specs_linked_to_epics().await?;
        self.spec_written_in_both_tools().await?;
        self.new_spec().await
    }

    /// The PM links two specs to an epic in Notion: the rows' `Epic` cells
    /// link the epic's row. Then engineering links a third spec's row to
    /// another epic in Airtable: the page's relation points at its page.
    async fn specs_linked_to_epics(&mut self) -> anyhow::Result<()> {
        let epics = &self.stage.epics;
        let (checkout, mobile) = (epics.page_ids[0].clone(), epics.page_ids[2].clone());
        let field = self.field("Epic")?;
        let mut expect = Vec::new();
        let mut titles = Vec::new();
        for _ in 0..2 {
            let i = self.pick(|s| s.status == "In Progress")?;
            let page_id = self.page_id(i);
            let relation = Map::from_iter([(
                field.notion.clone(),
                json!({ "relation": [{ "id": checkout }] }),
            )]);
            self.stage.notion.update_page_as_person(
                &page_id,
                &self.pm_id,
                Json::Object(relation),
            )?;
            let row = self.epic_row(&checkout)?;
            expect.push(self.expect(Side::Airtable, &page_id, "Epic", Value::set([row]))?);
            titles.push(format!("\"{}\"", self.specs[i].title));
        }
        let what = format!(
            "{PM} linked {} to the epic \"{}\" → rows' Epic cells link its row",
            titles.join(" and "),
            super::stage::EPIC_TITLES[0]
        );
        self.arrive(Origin::Notion, &what, &expect).await;

        let i = self.pick(|s| s.status == "In Progress")?;
        let page_id = self.page_id(i);
        let row = self.epic_row(&mobile)?;
        let cells = Map::from_iter([(field.airtable.clone(), json!([row]))]);
        self.edit_airtable(&page_id, Json::Object(cells))?;
        let expect = [self.expect(Side::Notion, &page_id, "Epic", Value::set([mobile]))?];
        let what = format!(
            "{} (engineering) linked \"{}\" to \"{}\" in Airtable → the page's Epic relation",
            team::PEOPLE[0].name,
            self.specs[i].title,
            super::stage::EPIC_TITLES[2]
        );
        self.arrive(Origin::Airtable, &what, &expect).await;
        Ok(())
    }

    /// The PM writes a spec's page content in Notion: it shows in the row's
    /// `Spec` field as Markdown. Then engineering adds a section in
    /// Airtable: the page's content shows it.
    async fn spec_written_in_both_tools(&mut self) -> anyhow::Result<()> {
        let i = self.pick(|s| s.status == "Draft")?;
        let page_id = self.page_id(i);
        let title = self.specs[i].title.clone();
        let draft = format!(
            "## Problem\n\n{title} is tracked by hand today.\n\n## Proposal\n\n- sync both tools\n- log every change\n"
        );
        self.stage
            .notion
            .set_content_as_person(&page_id, &self.pm_id, &draft)?;
        let what =
            format!("{PM} wrote the spec of \"{title}\" in the page → Airtable's Spec field");
        self.arrive_body(Origin::Notion, &what, &page_id, &draft)
            .await;

        let revised = format!("{draft}\n## Rollout\n\nBehind a flag in Sprint 43.\n");
        let cells = Map::from_iter([(BODY_FIELD_IN_DEMO.to_owned(), json!(revised))]);
        self.edit_airtable(&page_id, Json::Object(cells))?;
        let what = format!(
            "{} (engineering) added a rollout section in Airtable → the Notion page's content",
            team::PEOPLE[0].name
        );
        self.arrive_body(Origin::Airtable, &what, &page_id, &revised)
            .await;
        Ok(())
    }

    /// Engineering sets sprints, ship dates and blockers in Airtable on the
    /// specs in progress (one-way fields: Airtable → Notion).
    async fn engineering_plans_delivery(&mut self) -> anyhow::Result<()> {
        let plan = [
            (
                "Sprint 42",
                "2026-12-04",
                "Waiting on the payments provider's sandbox",
            ),
            ("Sprint 42", "2026-12-11", "Needs a design review"),
            ("Sprint 43", "2026-12-18", "Blocked by the SSO migration"),
        ];
        let mut expect = Vec::new();
        for (sprint, ship, blockers) in plan {
            let i = self.pick(|s| s.status == "In Progress")?;
            let page_id = self.page_id(i);
            let values = [
                ("Sprint", Value::text(sprint)),
                ("Ship Date", Value::Date(ship.to_owned())),
                ("Blockers", Value::text(blockers)),
            ];
            let mut cells = Map::new();
            for (name, value) in values {
                let field = self.field(name)?;
                cells.insert(field.airtable.clone(), to_airtable(&value, field.kind));
                expect.push(self.expect(Side::Notion, &page_id, name, value)?);
            }
            self.edit_airtable(&page_id, Json::Object(cells))?;
        }
        let what = format!(
            "{} (engineering) set sprint, ship date and blockers on 3 specs",
            team::PEOPLE[0].name
        );
        self.arrive(Origin::Airtable, &what, &expect).await;
        Ok(())
    }

    /// The PM raises two priorities in Notion.
    async fn pm_raises_priorities(&mut self) -> anyhow::Result<()> {
        let mut expect = Vec::new();
        let mut titles = Vec::new();
        for (from, to) in [("P3", "P0"), ("P2", "P1")] {
            let i = self.pick(|s| s.priority == from)?;
            let page_id = self.page_id(i);
            let value = Value::text(to);
            self.edit_notion(&page_id, &[("Priority", &value)])?;
            expect.push(self.expect(Side::Airtable, &page_id, "Priority", value)?);
            titles.push(format!("\"{}\" {from}→{to}", self.specs[i].title));
        }
        let what = format!("{PM} (PM) raised {}", titles.join(", "));
        self.arrive(Origin::Notion, &what, &expect).await;
        Ok(())
    }

    /// The same spec's status changed in both tools before the service saw
    /// either edit: a conflict, decided by the Status field's rule.
    async fn status_conflict(&mut self) -> anyhow::Result<()> {
        let i = self.pick(|s| s.status == "Ready")?;
        let page_id = self.page_id(i);
        let (in_notion, in_airtable) = (Value::text("In Review"), Value::text("Shipped"));
        let field = self.field("Status")?;
        // The merge's rule: `airtable` keeps Airtable's value; `notion`
        // keeps Notion's, and so does `latest` here (the table has no
        // modification-time field, so the edits cannot be ordered: a tie).
        let winner = match field.conflict {
            ConflictRule::Airtable => in_airtable.clone(),
            ConflictRule::Notion | ConflictRule::Latest => in_notion.clone(),
        };
        self.edit_notion(&page_id, &[("Status", &in_notion)])?;
        let cells = Map::from_iter([(
            field.airtable.clone(),
            to_airtable(&in_airtable, field.kind),
        )]);
        self.edit_airtable(&page_id, Json::Object(cells))?;
        let expect = [
            self.expect(Side::Notion, &page_id, "Status", winner.clone())?,
            self.expect(Side::Airtable, &page_id, "Status", winner)?,
        ];
        let what = format!(
            "Status of \"{}\": Notion \"{}\", Airtable \"{}\", at once",
            self.specs[i].title,
            in_notion.display(),
            in_airtable.display()
        );
        let took = until(STEP_DEADLINE, async || {
            self.all_show(&expect) && self.conflict_logged(&page_id, "Status").await.is_some()
        })
        .await;
        self.timeline.step(Origin::Both, &what, took);
        self.note_rate_limits();
        if let Some((winner, rule)) = self.conflict_logged(&page_id, "Status").await {
            self.timeline.note(&format!(
                "conflict logged: {winner} won by the rule conflict = \"{rule}\" for Status; \
                 both tools now say \"{}\"",
                expect[0].value.display()
            ));
        }
        Ok(())
    }

    /// The PM trashes a spec (its row is archived), then restores it (the
    /// row gets its synced values back).
    async fn trash_and_restore(&mut self) -> anyhow::Result<()> {
        let i = self.pick(|s| s.status == "Draft")?;
        let page_id = self.page_id(i);
        let pair = self.pair;
        let NotionTrashAction::Set(archive) = &pair.config.options.on_notion_trash else {
            anyhow::bail!(
                "the demo's config must archive rows (on_notion_trash = {{ set = ... }})"
            );
        };
        let mut archived = Vec::new();
        let mut restored = Vec::new();
        for (airtable_name, marker) in archive {
            let field = pair
                .fields
                .iter()
                .find(|f| &f.airtable == airtable_name)
                .with_context(|| format!("on_notion_trash sets unmapped field {airtable_name}"))?;
            let page = self.notion_page(&page_id).context("the spec's page")?;
            let synced = notion_value(&page, field).map_err(anyhow::Error::msg)?;
            archived.push(self.expect(
                Side::Airtable,
                &page_id,
                &field.notion,
                Value::text(marker),
            )?);
            restored.push(self.expect(Side::Airtable, &page_id, &field.notion, synced)?);
        }
        let title = self.specs[i].title.clone();
        let shown = |e: &[Expect]| {
            e.iter()
                .map(|e| format!("{} \"{}\"", e.field.airtable, e.value.display()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        self.stage
            .notion
            .set_trashed_as_person(&page_id, &self.pm_id, true)?;
        let what = format!("\"{title}\" trashed → row archived ({})", shown(&archived));
        self.arrive(Origin::Notion, &what, &archived).await;
        self.stage
            .notion
            .set_trashed_as_person(&page_id, &self.pm_id, false)?;
        let what = format!("\"{title}\" restored → row back to {}", shown(&restored));
        self.arrive(Origin::Notion, &what, &restored).await;
        Ok(())
    }

    /// The PM writes a new spec in Notion; it becomes a row.
    async fn new_spec(&mut self) -> anyhow::Result<()> {
        let title = "Bulk Edit v1";
        let values = [
            ("Name", Value::text(title)),
            ("Status", Value::text("Draft")),
            ("Priority", Value::text("P1")),
            ("Owner", Value::text(PM)),
            ("Target Quarter", Value::text(team::QUARTERS[2])),
        ];
        let refs: Vec<(&str, &Value)> = values.iter().map(|(n, v)| (*n, v)).collect();
        let properties = self.notion_properties(&refs)?;
        let page_id = self.stage.notion.insert_page_as_person(
            &self.stage.team_notion.data_source_id,
            &self.pm_id,
            properties,
        )?;
        let expect = values
            .into_iter()
            .map(|(name, value)| self.expect(Side::Airtable, &page_id, name, value))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let what = format!("{PM} wrote a new spec \"{title}\" → new row");
        self.arrive(Origin::Notion, &what, &expect).await;
        Ok(())
    }

    // ------------------------------------------------------------ helpers

    /// Wait for every expectation and print the step's line.
    async fn arrive(
        &mut self,
        origin: Origin,
        what: &str,
        expect: &[Expect<'_>],
    ) -> Option<Duration> {
        let took = until(STEP_DEADLINE, async || self.all_show(expect)).await;
        self.timeline.step(origin, what, took);
        self.note_rate_limits();
        took
    }

    /// Wait until both the page's content and the row's `Spec` field show
    /// `markdown` (compared in the form the merge compares them).
    async fn arrive_body(&mut self, origin: Origin, what: &str, page_id: &str, markdown: &str) {
        let want = canonical(markdown);
        let took = until(STEP_DEADLINE, async || {
            let page = self
                .stage
                .notion
                .content(page_id)
                .ok()
                .map(|c| canonical(&c));
            let row = self.airtable_row(page_id).map(|r| {
                let cell = r.fields.get(BODY_FIELD_IN_DEMO);
                canonical(cell.and_then(Json::as_str).unwrap_or_default())
            });
            page.as_ref() == Some(&want) && row.as_ref() == Some(&want)
        })
        .await;
        self.timeline.step(origin, what, took);
        self.note_rate_limits();
    }

    /// The row the epics pair linked to `epic_page` (the initial sync made it).
    fn epic_row(&self, epic_page: &str) -> anyhow::Result<String> {
        let epics = &self.stage.epics;
        let base = &self.stage.team_airtable.base_id;
        self.stage
            .airtable
            .records(base, &epics.table_id)
            .into_iter()
            .find(|r| r["fields"]["Notion Page ID"] == epic_page)
            .and_then(|r| r["id"].as_str().map(str::to_owned))
            .with_context(|| format!("no Airtable row for the epic page {epic_page}"))
    }

    /// Say so when the service hit a rate limit during the step (Airtable
    /// then refuses every call on the base for 30 s, which the step waited).
    fn note_rate_limits(&mut self) {
        let now = self.stage.notion.calls().count_status(429)
            + self.stage.airtable.calls().count_status(429);
        if now > self.rate_limited {
            self.timeline.note(&format!(
                "(slowed by {} rate-limited call(s): the service backs off as the vendor asks)",
                now - self.rate_limited
            ));
        }
        self.rate_limited = now;
    }

    fn all_show(&self, expect: &[Expect<'_>]) -> bool {
        expect.iter().all(|e| self.shows(e))
    }

    fn shows(&self, e: &Expect<'_>) -> bool {
        let seen = match e.side {
            Side::Notion => self
                .notion_page(&e.page_id)
                .map(|page| notion_value(&page, e.field)),
            Side::Airtable => self
                .airtable_row(&e.page_id)
                .map(|row| airtable_value(&row, e.field)),
        };
        seen == Some(Ok(e.value.clone()))
    }

    /// The winner and rule of the service's logged conflict on `field`.
    async fn conflict_logged(&self, page_id: &str, field: &str) -> Option<(&'static str, String)> {
        let query = LogQuery {
            pair: Some(self.pair.name().to_owned()),
            record: Some(page_id.to_owned()),
            conflicts_only: true,
            limit: 10,
            ..LogQuery::default()
        };
        let entries = self.store.query_log(&query).await.ok()?;
        let entry = entries.iter().find(|e| e.field.as_deref() == Some(field))?;
        let winner = match entry.winner? {
            LogSide::Notion => "Notion",
            LogSide::Airtable => "Airtable",
        };
        let rule = match self.field(field).ok()?.conflict {
            ConflictRule::Notion => "notion",
            ConflictRule::Airtable => "airtable",
            ConflictRule::Latest => "latest",
        };
        Some((winner, rule.to_owned()))
    }

    fn expect(
        &self,
        side: Side,
        page_id: &str,
        notion_name: &str,
        value: Value,
    ) -> anyhow::Result<Expect<'a>> {
        Ok(Expect {
            side,
            page_id: page_id.to_owned(),
            field: self.field(notion_name)?,
            value,
        })
    }

    /// The mapped field with this Notion property name.
    fn field(&self, notion_name: &str) -> anyhow::Result<&'a ResolvedField> {
        self.pair
            .fields
            .iter()
            .find(|f| f.notion == notion_name)
            .with_context(|| format!("the demo's config does not map \"{notion_name}\""))
    }

    /// The first spec not used yet that matches.
    fn pick(&mut self, matches: impl Fn(&Spec) -> bool) -> anyhow::Result<usize> {
        let i = (0..self.specs.len())
            .find(|i| !self.used.contains(i) && matches(&self.specs[*i]))
            .context("the seed has no unused spec for this step")?;
        self.used.insert(i);
        Ok(i)
    }

    fn page_id(&self, spec: usize) -> String {
        self.stage.team_notion.page_ids[spec].clone()
    }

    fn notion_properties(&self, values: &[(&str, &Value)]) -> anyhow::Result<Json> {
        let mut props = Map::new();
        for (name, value) in values {
            let field = self.field(name)?;
            let body = to_notion(value, &field.notion_type, &self.pair.users)?;
            props.insert(field.notion.clone(), body);
        }
        Ok(Json::Object(props))
    }

    fn edit_notion(&self, page_id: &str, values: &[(&str, &Value)]) -> anyhow::Result<()> {
        let props = self.notion_properties(values)?;
        self.stage
            .notion
            .update_page_as_person(page_id, &self.pm_id, props)
    }

    /// A person edits the row linked to `page_id` in the Airtable app.
    fn edit_airtable(&self, page_id: &str, cells: Json) -> anyhow::Result<()> {
        let row = self
            .airtable_row(page_id)
            .with_context(|| format!("no Airtable row for page {page_id}"))?;
        let team = &self.stage.team_airtable;
        self.stage
            .airtable
            .update_record_as_person(&team.base_id, &team.table_id, &row.id, cells)
    }

    /// What the page looks like now (read without counting an API call).
    fn notion_page(&self, page_id: &str) -> Option<Page> {
        serde_json::from_value(self.stage.notion.page(page_id)?).ok()
    }

    /// The row carrying `page_id` in its link field, as a person sees it.
    fn airtable_row(&self, page_id: &str) -> Option<Record> {
        let team = &self.stage.team_airtable;
        let link = self.pair.page_id_field();
        let row = self
            .stage
            .airtable
            .records(&team.base_id, &team.table_id)
            .into_iter()
            .find(|r| r["fields"][link] == page_id)?;
        serde_json::from_value(row).ok()
    }
}
