//! `check` for relation fields: each Notion relation ↔ Airtable link field
//! must point to the two sides of one pair of the mapping file (the same
//! pair for a self-relation), the rule `serve` resolves them by
//! (`sync::relation_target`). Needs every pair's schemas, so it runs once
//! after the per-pair checks.

use crate::{
    airtable::{AirtableClient, TableSchema},
    config::SyncConfig,
    notion::{DataSource, NotionClient},
    sync::relation_target::{PairIds, airtable_target, notion_target, target_pair},
};

use super::Report;

/// Check every relation field of every pair.
pub(super) async fn check_relations(
    config: &SyncConfig,
    notion: &NotionClient,
    airtable: &AirtableClient,
    report: &mut Report,
) {
    let mut schemas: Vec<(String, DataSource, TableSchema)> = Vec::new();
    for pair in &config.pairs {
        // A pair whose schemas cannot be read was reported above.
        if let Ok((ds, table)) = crate::engine::read_schemas(pair, notion, airtable).await {
            schemas.push((pair.name.clone(), ds, table));
        }
    }
    let ids: Vec<PairIds> = schemas
        .iter()
        .map(|(name, ds, table)| PairIds {
            name: name.clone(),
            data_source_id: ds.id.clone(),
            table_id: table.id.clone(),
        })
        .collect();
    for (name, ds, table) in &schemas {
        let Some(pair) = config.pair(name) else {
            continue;
        };
        for m in &pair.fields {
            let (Some(n), Some(a)) = (ds.properties.get(&m.notion), table.field(&m.airtable))
            else {
                continue;
            };
            if n.kind != "relation" || a.kind != "multipleRecordLinks" {
                continue;
            }
            let label = format!(
                "pair \"{name}\", field \"{}\" ↔ \"{}\"",
                m.notion, m.airtable
            );
            match target_pair(&label, notion_target(n), airtable_target(a), &ids) {
                Ok(target) => report.ok(format!(
                    "{label}: related records are translated through pair \"{target}\"'s links"
                )),
                Err(why) => report.problem(
                    why,
                    "point the Notion relation at one pair's data source and the Airtable link \
                     field at the same pair's table (add that pair to sync.toml if it is missing), \
                     or remove the field from the mapping",
                ),
            }
        }
    }
}
