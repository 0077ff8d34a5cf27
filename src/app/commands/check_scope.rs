//! `check` for `[pair.scope]`: the scope against both live schemas (the
//! same rules `serve` resolves it by, `sync::scope`), then one scoped read
//! on each side, so a formula or view Airtable refuses shows here.

use crate::{
    airtable::{AirtableClient, ListParams, TableSchema},
    config::PairConfig,
    notion::{DataSource, NotionClient, Query},
    sync::scope::{ResolvedScope, resolve_scope},
};

use super::Report;

/// Check the pair's scope, if it has one.
pub(super) async fn check_scope(
    config: &PairConfig,
    ds: &DataSource,
    table: &TableSchema,
    notion: &NotionClient,
    airtable: &AirtableClient,
    report: &mut Report,
) {
    let Some(cfg) = &config.scope else {
        return;
    };
    let pair = &config.name;
    let scope = match resolve_scope(cfg, ds, table) {
        Ok(scope) => scope,
        Err(problems) => {
            for p in problems {
                report.problem(
                    format!("pair \"{pair}\": {p}"),
                    "name an existing property or field of a supported type, and an operator the \
                     message lists (README: Selective sync)",
                );
            }
            return;
        }
    };
    let before = report.problems();
    probe_notion(pair, &scope, ds, notion, report).await;
    probe_airtable(config, &scope, table, airtable, report).await;
    if report.problems() == before {
        report.ok(format!("pair \"{pair}\": scope: {}", describe(&scope)));
    }
}

async fn probe_notion(
    pair: &str,
    scope: &ResolvedScope,
    ds: &DataSource,
    notion: &NotionClient,
    report: &mut Report,
) {
    let Some(filter) = &scope.notion_filter else {
        return;
    };
    let query = Query {
        filter: Some(filter.clone()),
        page_size: 1,
        ..Query::default()
    };
    if let Err(e) = notion.query_data_source(&ds.id, &query).await {
        report.problem(
            format!("pair \"{pair}\": Notion refused the scope's filter {filter}: {e}"),
            "correct [pair.scope] notion_filter / notion / notion_gate",
        );
    }
}

async fn probe_airtable(
    config: &PairConfig,
    scope: &ResolvedScope,
    table: &TableSchema,
    airtable: &AirtableClient,
    report: &mut Report,
) {
    if !scope.judges_airtable() {
        return;
    }
    let params = ListParams {
        page_size: Some(1),
        filter_by_formula: scope.airtable_formula.clone(),
        view: scope.airtable_view.clone(),
        ..ListParams::default()
    };
    if let Err(e) = airtable
        .list_records(&config.airtable_base_id, &table.id, &params)
        .await
    {
        report.problem(
            format!(
                "pair \"{}\": Airtable refused the scope (view {:?}, formula {:?}): {e}",
                config.name, scope.airtable_view, scope.airtable_formula
            ),
            "correct [pair.scope] airtable_view / airtable_formula / airtable_gate",
        );
    }
}

fn describe(scope: &ResolvedScope) -> String {
    let mut sides = Vec::new();
    if let Some(f) = &scope.notion_filter {
        sides.push(format!("Notion pages matching {f}"));
    }
    let mut airtable = Vec::new();
    if let Some(v) = &scope.airtable_view {
        airtable.push(format!("in view \"{v}\""));
    }
    if let Some(f) = &scope.airtable_formula {
        airtable.push(format!("where {f}"));
    }
    if !airtable.is_empty() {
        sides.push(format!("Airtable rows {}", airtable.join(" and ")));
    }
    format!("{} (either side keeps a record in)", sides.join("; or "))
}
