//! The engine's calls to both APIs for one pair, keyed by id on the wire.
//!
//! Airtable rows are read and written with `returnFieldsByFieldId` and cells
//! keyed by field id, and every read names the fields it needs by id
//! (`fields[]`): a field deleted since the pair was resolved then fails the
//! read (`UNKNOWN_FIELD_NAME`) instead of reading as an empty cell, which the
//! merge would take for a person's edit and copy into Notion. Notion pages
//! are read and written by property id. Inside the service, cells and
//! properties are keyed by the mapping's names ([`crate::sync::pair::Wire`]), so a
//! rename on either side changes nothing the planner sees.

use serde_json::Value as Json;

use super::Engine;
use crate::sync::{convert::Kind, pair::ResolvedPair};
use crate::{
    airtable::{Fields, ListParams, Record, RecordPage, UpsertResult},
    clients::api_error::{ApiError, Vendor},
    notion::{Page, Query, QueryPage},
};

/// The Airtable error of a read or write naming a field that does not exist.
pub const UNKNOWN_FIELD: &str = "UNKNOWN_FIELD_NAME";

impl Engine {
    /// One row, by field id. Read as a one-row listing rather than a GET,
    /// because only a listing names its fields (`fields[]`): a mapped field
    /// deleted a moment ago then fails the read instead of reading as an
    /// emptied cell. A row that does not exist is a 404, as a GET would be.
    pub async fn read_row(&self, pair: &ResolvedPair, id: &str) -> Result<Record, ApiError> {
        if pair.wire.airtable_read_ids(&pair.fields).is_empty() {
            let base = &pair.config.airtable_base_id;
            return self.airtable.get_record(base, &pair.table_id, id).await;
        }
        let params = ListParams {
            filter_by_formula: Some(format!("RECORD_ID() = '{}'", formula_string(id))),
            page_size: Some(1),
            ..ListParams::default()
        };
        let page = self.list_rows_page(pair, &params).await?;
        page.records
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| ApiError::Fatal {
                vendor: Vendor::Airtable,
                status: 404,
                code: "NOT_FOUND".into(),
                message: format!("record {id} does not exist in table {}", pair.table_id),
            })
    }

    /// Every row matching `params`, by field id, only the fields the pair uses.
    pub async fn list_rows(
        &self,
        pair: &ResolvedPair,
        params: &ListParams,
    ) -> Result<Vec<Record>, ApiError> {
        let base = &pair.config.airtable_base_id;
        let params = by_field_id(pair, params);
        let rows = self
            .airtable
            .list_all(base, &pair.table_id, &params)
            .await?;
        Ok(self.rows_in(pair, rows))
    }

    /// One page of rows matching `params`, by field id.
    pub async fn list_rows_page(
        &self,
        pair: &ResolvedPair,
        params: &ListParams,
    ) -> Result<RecordPage, ApiError> {
        let base = &pair.config.airtable_base_id;
        let params = by_field_id(pair, params);
        let mut page = self
            .airtable
            .list_records(base, &pair.table_id, &params)
            .await?;
        page.records = self.rows_in(pair, std::mem::take(&mut page.records));
        Ok(page)
    }

    /// Upsert rows (cells by the mapping's names) merging on the page-id field.
    pub async fn upsert_rows(
        &self,
        pair: &ResolvedPair,
        rows: Vec<Fields>,
    ) -> Result<UpsertResult, ApiError> {
        let base = &pair.config.airtable_base_id;
        let merge_on = [pair.wire.airtable_key(pair.page_id_field())];
        let rows = rows
            .iter()
            .map(|r| pair.wire.airtable_out(&pair.fields, r))
            .collect();
        let mut result = self
            .airtable
            .upsert_records_by_field_id(base, &pair.table_id, &merge_on, rows, true)
            .await?;
        result.records = self.rows_in(pair, std::mem::take(&mut result.records));
        Ok(result)
    }

    /// Update rows (cells by the mapping's names).
    pub async fn update_rows(
        &self,
        pair: &ResolvedPair,
        rows: Vec<(String, Fields)>,
    ) -> Result<Vec<Record>, ApiError> {
        let base = &pair.config.airtable_base_id;
        let rows = rows
            .into_iter()
            .map(|(id, cells)| (id, pair.wire.airtable_out(&pair.fields, &cells)))
            .collect();
        let rows = self
            .airtable
            .update_records_by_field_id(base, &pair.table_id, rows, true)
            .await?;
        Ok(self.rows_in(pair, rows))
    }

    /// One page, its properties by the mapping's names.
    /// With `[pair.body]`, the page's content is read at the same time
    /// (see `engine::body`). Either way its files are sized and its long
    /// relations read whole, as a query's pages are.
    pub async fn read_page(&self, pair: &ResolvedPair, id: &str) -> Result<Page, ApiError> {
        let mut page = if super::body::body_field(pair).is_some() {
            let (page, content) = tokio::join!(
                self.notion.retrieve_page(id),
                self.notion.retrieve_markdown(id)
            );
            let mut page = pair.wire.notion_in(&pair.fields, page?);
            super::body::attach_read(&mut page, content)?;
            page
        } else {
            let page = self.notion.retrieve_page(id).await?;
            pair.wire.notion_in(&pair.fields, page)
        };
        // With the content or without: files need their sizes, and long
        // relations and people lists their whole lists, before the page can
        // be planned.
        self.size_notion_files(pair, &mut page).await;
        self.complete_relations(pair, &mut page).await?;
        self.complete_people(pair, &mut page).await?;
        Ok(page)
    }

    /// One page of the pair's data source query.
    pub async fn query_pages(
        &self,
        pair: &ResolvedPair,
        query: &Query,
    ) -> Result<QueryPage, ApiError> {
        let mut found = self
            .notion
            .query_data_source(&pair.data_source_id, query)
            .await?;
        found.pages = std::mem::take(&mut found.pages)
            .into_iter()
            .map(|p| pair.wire.notion_in(&pair.fields, p))
            .collect();
        for page in &mut found.pages {
            self.size_notion_files(pair, page).await;
            self.complete_relations(pair, page).await?;
            self.complete_people(pair, page).await?;
        }
        Ok(found)
    }

    /// Every page of the pair's data source matching `filter`.
    pub async fn query_all_pages(
        &self,
        pair: &ResolvedPair,
        filter: Option<Json>,
    ) -> Result<Vec<Page>, ApiError> {
        let pages = self.notion.query_all(&pair.data_source_id, filter).await?;
        let mut pages: Vec<Page> = pages
            .into_iter()
            .map(|p| pair.wire.notion_in(&pair.fields, p))
            .collect();
        for page in &mut pages {
            self.size_notion_files(pair, page).await;
            self.complete_relations(pair, page).await?;
            self.complete_people(pair, page).await?;
        }
        Ok(pages)
    }

    /// Update a page's properties (by the mapping's names).
    pub async fn write_page(
        &self,
        pair: &ResolvedPair,
        page_id: &str,
        properties: &Fields,
    ) -> Result<Page, ApiError> {
        let properties = pair.wire.notion_out(properties);
        let page = self.notion.update_page(page_id, &properties).await?;
        Ok(pair.wire.notion_in(&pair.fields, page))
    }

    /// Create a page in the pair's data source (properties by the mapping's names).
    pub async fn create_page_in(
        &self,
        pair: &ResolvedPair,
        properties: &Fields,
    ) -> Result<Page, ApiError> {
        let properties = pair.wire.notion_out(properties);
        let page = self
            .notion
            .create_page(&pair.data_source_id, &properties)
            .await?;
        Ok(pair.wire.notion_in(&pair.fields, page))
    }

    /// Rows read by field id → by the mapping's names; a people name no
    /// known user carries asks for a fresh user list.
    fn rows_in(&self, pair: &ResolvedPair, rows: Vec<Record>) -> Vec<Record> {
        let rows: Vec<Record> = rows
            .into_iter()
            .map(|r| pair.wire.airtable_in(&pair.fields, r))
            .collect();
        if rows.iter().any(|r| names_unknown_person(pair, r)) {
            pair.wire.people.mark_unmatched();
        }
        rows
    }
}

/// The listing parameters, asking for cells by field id and for exactly the
/// fields the pair uses.
fn by_field_id(pair: &ResolvedPair, params: &ListParams) -> ListParams {
    let mut params = params.clone();
    let ids = pair.wire.airtable_read_ids(&pair.fields);
    if ids.is_empty() {
        // A pair resolved without ids (a test's) reads by name.
        return params;
    }
    if params.fields.is_empty() {
        params.fields = ids;
    }
    params.return_fields_by_field_id = true;
    params
}

/// `s` inside a single-quoted formula string.
pub(super) fn formula_string(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "\\'")
}

/// A row's people cell names someone no known user matches, or its
/// collaborator cell someone whose email no known user has.
fn names_unknown_person(pair: &ResolvedPair, row: &Record) -> bool {
    unknown_collaborator(pair, row) || unknown_name(pair, row)
}

fn unknown_collaborator(pair: &ResolvedPair, row: &Record) -> bool {
    pair.live_fields()
        .filter(|f| matches!(f.kind, Kind::Collaborators(_)))
        .filter_map(|f| row.fields.get(&f.airtable))
        .flat_map(|cell| match cell {
            Json::Array(items) => items.clone(),
            one => vec![one.clone()],
        })
        .filter_map(|c| c["email"].as_str().map(str::to_lowercase))
        .any(|email| {
            !pair.users.iter().any(|u| {
                u.email
                    .as_deref()
                    .is_some_and(|e| e.to_lowercase() == email)
            })
        })
}

fn unknown_name(pair: &ResolvedPair, row: &Record) -> bool {
    pair.live_fields()
        .filter(|f| f.kind == Kind::People)
        .filter_map(|f| row.fields.get(&f.airtable).and_then(Json::as_str))
        .flat_map(|cell| cell.split(','))
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .any(|name| {
            !pair
                .users
                .iter()
                .any(|u| u.name.as_deref() == Some(name) || u.email.as_deref() == Some(name))
        })
}
