//! `check` for `[pair.body]`: the long text field against the live table
//! (the same rule `serve` resolves it by, `sync::body::resolve`), and one
//! content read, so a missing "Read content" capability shows here.

use crate::{
    airtable::TableSchema,
    config::PairConfig,
    notion::{DataSource, NotionClient, Query},
    sync::body::{self, LONG_TEXT_TYPES},
};

use super::Report;

/// Check the pair's body mapping, if it has one.
pub(super) async fn check_body(
    config: &PairConfig,
    ds: &DataSource,
    table: &TableSchema,
    notion: &NotionClient,
    report: &mut Report,
) {
    let Some(mapping) = &config.body else {
        return;
    };
    let pair = &config.name;
    match body::resolve(mapping, table) {
        Ok(field) => report.ok(format!(
            "pair \"{pair}\": the page content syncs with \"{}\" (`{}`), direction {:?}, \
             conflict {:?}; at most {} characters (Airtable's long text limit)",
            field.airtable,
            field.airtable_type,
            mapping.direction,
            mapping.conflict,
            body::AIRTABLE_LIMIT
        )),
        Err(problem) => {
            report.problem(format!("pair \"{pair}\": {problem}"), fix(table));
            return;
        }
    }
    probe_content(pair, ds, notion, report).await;
}

/// The long text fields the table has, as a fix.
fn fix(table: &TableSchema) -> String {
    let long: Vec<String> = table
        .fields
        .iter()
        .filter(|f| LONG_TEXT_TYPES.contains(&f.kind.as_str()))
        .map(|f| format!("\"{}\"", f.name))
        .collect();
    let create = "create a \"Long text\" field in Airtable (rich text formatting on keeps \
                  Markdown formatting) and name it in [pair.body] airtable";
    match long.as_slice() {
        [] => create.to_owned(),
        names => format!(
            "name a long text field of table \"{}\" ({}), or {create}",
            table.name,
            names.join(", ")
        ),
    }
}

/// Read one page's content: the markdown endpoint needs the integration's
/// "Read content" capability (403 without).
async fn probe_content(pair: &str, ds: &DataSource, notion: &NotionClient, report: &mut Report) {
    let query = Query {
        page_size: 1,
        ..Query::default()
    };
    let page = match notion.query_data_source(&ds.id, &query).await {
        Ok(found) => found.pages.into_iter().next(),
        // The database read is reported by the read probe.
        Err(_) => return,
    };
    let Some(page) = page else {
        report.note(format!(
            "pair \"{pair}\": the database has no page yet, so reading page content was not tried"
        ));
        return;
    };
    match notion.retrieve_markdown(&page.id).await {
        Ok(_) => report.ok(format!(
            "pair \"{pair}\": the integration can read page content"
        )),
        Err(e) if e.status() == Some(403) => report.problem(
            format!("pair \"{pair}\": Notion refused to read page content (403): {e}"),
            "give the integration the \"Read content\" capability (Notion: the integration's \
             Capabilities), or remove [pair.body]",
        ),
        Err(e) => report.problem(
            format!("pair \"{pair}\": reading page content failed: {e}"),
            "a temporary failure: run `check` again",
        ),
    }
}
