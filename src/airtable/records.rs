//! Record, schema and identity endpoints.
//!
//! Writes are cut into requests of at most 10 records (Airtable's limit),
//! several in flight at once (each still waits for its slot in the base's
//! budget: under real latency one request at a time cannot use the budget);
//! the records come back in input order. A failure stops the requests not yet
//! sent, and leaves the chunks already answered written: callers make writes
//! idempotent (upsert on a key field) rather than relying on all-or-nothing.

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value as Json, json};
use url::Url;

use super::client::{AirtableClient, Idempotent};
use super::model::{
    DeletedRecord, FieldSchema, Fields, ListParams, Record, RecordPage, TableSchema, UpsertResult,
    WhoAmI,
};
use crate::clients::{api_error::ApiError, pipeline::pipelined};

/// Most records per page of a listing (the default `pageSize`).
pub const MAX_PAGE_SIZE: usize = 100;
/// Most records per create, update, upsert or delete request.
pub const MAX_RECORDS_PER_WRITE: usize = 10;
/// URLs must be shorter than this; longer listings go through POST `listRecords`.
pub const MAX_URL_LEN: usize = 16_000;
/// Restarts of a listing whose iterator expired (422 `LIST_RECORDS_ITERATOR_NOT_AVAILABLE`).
const LIST_RESTARTS: u32 = 2;

/// `items` in chunks of at most 10 (the write limit).
pub fn chunks_of_10<T>(items: &[T]) -> std::slice::Chunks<'_, T> {
    items.chunks(MAX_RECORDS_PER_WRITE)
}

#[derive(Deserialize)]
struct Records<T> {
    records: Vec<T>,
}

#[derive(Deserialize)]
struct Tables {
    tables: Vec<TableSchema>,
}

impl AirtableClient {
    /// One page of records. Uses POST `listRecords` when the GET URL would
    /// be too long (long formulas, many fields).
    pub async fn list_records(
        &self,
        base: &str,
        table: &str,
        params: &ListParams,
    ) -> Result<RecordPage, ApiError> {
        let mut url = self.url(&[base, table]);
        list_query(&mut url, params);
        if url.as_str().len() < MAX_URL_LEN {
            return self.get(Some(base), url).await;
        }
        let url = self.url(&[base, table, "listRecords"]);
        let body = list_body(params);
        self.send(Some(base), Method::POST, url, Some(&body), Idempotent::Yes)
            .await
    }

    /// Every record, following `offset` until none is returned. An expired
    /// iterator restarts the listing from the beginning.
    pub async fn list_all(
        &self,
        base: &str,
        table: &str,
        params: &ListParams,
    ) -> Result<Vec<Record>, ApiError> {
        let mut restarts = 0;
        loop {
            match self.list_from_start(base, table, params).await {
                Err(e)
                    if e.code() == "LIST_RECORDS_ITERATOR_NOT_AVAILABLE"
                        && restarts < LIST_RESTARTS =>
                {
                    tracing::info!(base, table, "listing iterator expired; restarting");
                    restarts += 1;
                }
                result => return result,
            }
        }
    }

    async fn list_from_start(
        &self,
        base: &str,
        table: &str,
        params: &ListParams,
    ) -> Result<Vec<Record>, ApiError> {
        let mut params = ListParams {
            offset: None,
            ..params.clone()
        };
        let mut records = Vec::new();
        loop {
            let page = self.list_records(base, table, &params).await?;
            records.extend(page.records);
            match page.offset {
                Some(offset) => params.offset = Some(offset),
                None => return Ok(records),
            }
        }
    }

    /// `GET /v0/{base}/{table}/{id}`.
    pub async fn get_record(&self, base: &str, table: &str, id: &str) -> Result<Record, ApiError> {
        self.get(Some(base), self.url(&[base, table, id])).await
    }

    /// Create records, 10 per request.
    pub async fn create_records(
        &self,
        base: &str,
        table: &str,
        records: Vec<Fields>,
        typecast: bool,
    ) -> Result<Vec<Record>, ApiError> {
        self.create(base, table, records, Write::typecast(typecast))
            .await
    }

    async fn create(
        &self,
        base: &str,
        table: &str,
        records: Vec<Fields>,
        how: Write,
    ) -> Result<Vec<Record>, ApiError> {
        let answers = pipelined(chunks_of_10(&records), |chunk| {
            let records: Vec<Json> = chunk.iter().map(|f| json!({ "fields": f })).collect();
            let body = how.body(json!({ "records": records }));
            async move {
                self.write::<Records<Record>>(base, table, Method::POST, &body)
                    .await
            }
        })
        .await?;
        Ok(answers.into_iter().flat_map(|a| a.records).collect())
    }

    /// Update the given fields of records (PATCH: other cells are kept).
    pub async fn update_records(
        &self,
        base: &str,
        table: &str,
        records: Vec<(String, Fields)>,
        typecast: bool,
    ) -> Result<Vec<Record>, ApiError> {
        self.update(base, table, records, Write::typecast(typecast))
            .await
    }

    /// [`Self::update_records`] with cells keyed by field id both ways.
    pub async fn update_records_by_field_id(
        &self,
        base: &str,
        table: &str,
        records: Vec<(String, Fields)>,
        typecast: bool,
    ) -> Result<Vec<Record>, ApiError> {
        self.update(base, table, records, Write::by_field_id(typecast))
            .await
    }

    async fn update(
        &self,
        base: &str,
        table: &str,
        records: Vec<(String, Fields)>,
        how: Write,
    ) -> Result<Vec<Record>, ApiError> {
        let answers = pipelined(chunks_of_10(&records), |chunk| {
            let records: Vec<Json> = chunk
                .iter()
                .map(|(id, fields)| json!({ "id": id, "fields": fields }))
                .collect();
            let body = how.body(json!({ "records": records }));
            async move {
                self.write::<Records<Record>>(base, table, Method::PATCH, &body)
                    .await
            }
        })
        .await?;
        Ok(answers.into_iter().flat_map(|a| a.records).collect())
    }

    /// Upsert on `fields_to_merge_on` (1-3 fields): no match creates, one
    /// match updates, several fail the request.
    pub async fn upsert_records(
        &self,
        base: &str,
        table: &str,
        fields_to_merge_on: &[&str],
        records: Vec<Fields>,
        typecast: bool,
    ) -> Result<UpsertResult, ApiError> {
        let how = Write::typecast(typecast);
        self.upsert(base, table, fields_to_merge_on, records, how)
            .await
    }

    /// [`Self::upsert_records`] with cells (and `fields_to_merge_on`) keyed
    /// by field id both ways.
    pub async fn upsert_records_by_field_id(
        &self,
        base: &str,
        table: &str,
        fields_to_merge_on: &[&str],
        records: Vec<Fields>,
        typecast: bool,
    ) -> Result<UpsertResult, ApiError> {
        let how = Write::by_field_id(typecast);
        self.upsert(base, table, fields_to_merge_on, records, how)
            .await
    }

    async fn upsert(
        &self,
        base: &str,
        table: &str,
        fields_to_merge_on: &[&str],
        records: Vec<Fields>,
        how: Write,
    ) -> Result<UpsertResult, ApiError> {
        let answers = pipelined(chunks_of_10(&records), |chunk| {
            let records: Vec<Json> = chunk.iter().map(|f| json!({ "fields": f })).collect();
            let body = how.body(json!({
                "performUpsert": { "fieldsToMergeOn": fields_to_merge_on },
                "records": records,
            }));
            async move {
                self.write::<UpsertResult>(base, table, Method::PATCH, &body)
                    .await
            }
        })
        .await?;
        let mut result = UpsertResult::default();
        for part in answers {
            result.records.extend(part.records);
            result.created_records.extend(part.created_records);
            result.updated_records.extend(part.updated_records);
        }
        Ok(result)
    }

    /// Delete records by id, 10 per request.
    pub async fn delete_records(
        &self,
        base: &str,
        table: &str,
        ids: &[String],
    ) -> Result<Vec<DeletedRecord>, ApiError> {
        let answers = pipelined(chunks_of_10(ids), |chunk| {
            let mut url = self.url(&[base, table]);
            url.query_pairs_mut()
                .extend_pairs(chunk.iter().map(|id| ("records[]", id)));
            async move {
                self.send::<Records<DeletedRecord>>(
                    Some(base),
                    Method::DELETE,
                    url,
                    None,
                    Idempotent::No,
                )
                .await
            }
        })
        .await?;
        Ok(answers.into_iter().flat_map(|a| a.records).collect())
    }

    async fn write<T: serde::de::DeserializeOwned>(
        &self,
        base: &str,
        table: &str,
        method: Method,
        body: &Json,
    ) -> Result<T, ApiError> {
        let url = self.url(&[base, table]);
        self.send(Some(base), method, url, Some(body), Idempotent::No)
            .await
    }

    /// `GET /v0/meta/bases/{base}/tables`.
    pub async fn base_schema(&self, base: &str) -> Result<Vec<TableSchema>, ApiError> {
        let url = self.url(&["meta", "bases", base, "tables"]);
        Ok(self.get::<Tables>(Some(base), url).await?.tables)
    }

    /// `POST /v0/meta/bases/{base}/tables/{table}/fields`: add a field
    /// (`schema.bases:write`); `field` is `{name, type, description?, options?}`.
    /// Answers the new field.
    pub async fn create_field(
        &self,
        base: &str,
        table: &str,
        field: &Json,
    ) -> Result<FieldSchema, ApiError> {
        let url = self.url(&["meta", "bases", base, "tables", table, "fields"]);
        self.send(Some(base), Method::POST, url, Some(field), Idempotent::No)
            .await
    }

    /// `GET /v0/meta/whoami`: the token's user id (and email/scopes when granted).
    pub async fn whoami(&self) -> Result<WhoAmI, ApiError> {
        self.get(None, self.url(&["meta", "whoami"])).await
    }
}

/// The options every write body carries.
#[derive(Debug, Clone, Copy)]
struct Write {
    typecast: bool,
    by_field_id: bool,
}

impl Write {
    fn typecast(typecast: bool) -> Self {
        Self {
            typecast,
            by_field_id: false,
        }
    }

    fn by_field_id(typecast: bool) -> Self {
        Self {
            typecast,
            by_field_id: true,
        }
    }

    fn body(self, mut body: Json) -> Json {
        body["typecast"] = json!(self.typecast);
        if self.by_field_id {
            body["returnFieldsByFieldId"] = json!(true);
        }
        body
    }
}

/// The listing parameters as a query string (`fields[]`, `sort[0][field]`, ...).
fn list_query(url: &mut Url, params: &ListParams) {
    let mut query = url.query_pairs_mut();
    if let Some(size) = params.page_size {
        query.append_pair("pageSize", &size.clamp(1, 100).to_string());
    }
    if let Some(offset) = &params.offset {
        query.append_pair("offset", offset);
    }
    if let Some(formula) = &params.filter_by_formula {
        query.append_pair("filterByFormula", formula);
    }
    for field in &params.fields {
        query.append_pair("fields[]", field);
    }
    for (i, sort) in params.sort.iter().enumerate() {
        query.append_pair(&format!("sort[{i}][field]"), &sort.field);
        query.append_pair(&format!("sort[{i}][direction]"), &sort.direction);
    }
    if let Some(view) = &params.view {
        query.append_pair("view", view);
    }
    if params.return_fields_by_field_id {
        query.append_pair("returnFieldsByFieldId", "true");
    }
}

/// The same parameters as a `listRecords` JSON body.
fn list_body(params: &ListParams) -> Json {
    let mut body = json!({});
    let mut set = |key: &str, value: Json| body[key] = value;
    if let Some(size) = params.page_size {
        set("pageSize", json!(size.clamp(1, 100)));
    }
    if let Some(offset) = &params.offset {
        set("offset", json!(offset));
    }
    if let Some(formula) = &params.filter_by_formula {
        set("filterByFormula", json!(formula));
    }
    if !params.fields.is_empty() {
        set("fields", json!(params.fields));
    }
    if !params.sort.is_empty() {
        set("sort", json!(params.sort));
    }
    if let Some(view) = &params.view {
        set("view", json!(view));
    }
    if params.return_fields_by_field_id {
        set("returnFieldsByFieldId", json!(true));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::airtable::model::Sort;

    fn params() -> ListParams {
        ListParams {
            page_size: Some(50),
            filter_by_formula: Some("{Status} = 'Ready'".into()),
            fields: vec!["Name".into(), "Status".into()],
            sort: vec![Sort {
                field: "Name".into(),
                direction: "asc".into(),
            }],
            ..ListParams::default()
        }
    }

    #[test]
    fn chunks_hold_at_most_ten() {
        let items: Vec<u32> = (0..23).collect();
        let sizes: Vec<usize> = chunks_of_10(&items).map(<[u32]>::len).collect();
        assert_eq!(sizes, [10, 10, 3]);
    }

    #[test]
    fn query_string_uses_airtable_parameter_names() {
        let mut url = Url::parse("https://api.airtable.com/v0/app/tbl").unwrap();
        list_query(&mut url, &params());
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let expected = [
            ("pageSize", "50"),
            ("filterByFormula", "{Status} = 'Ready'"),
            ("fields[]", "Name"),
            ("fields[]", "Status"),
            ("sort[0][field]", "Name"),
            ("sort[0][direction]", "asc"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(pairs, expected);
    }

    #[test]
    fn post_body_carries_the_same_parameters() {
        let body = list_body(&params());
        assert_eq!(body["pageSize"], 50);
        assert_eq!(body["fields"], json!(["Name", "Status"]));
        assert_eq!(body["sort"], json!([{"field": "Name", "direction": "asc"}]));
        assert!(body.get("offset").is_none());
    }
}
