//! The record endpoints (api-facts §4.1, §4.2): list, get, create, update / replace /
//! upsert, delete. Table by name or `tbl` id; cells in the REST (V1) format.

use std::sync::Arc;

use axum::{
    Json,
    extract::{Path, RawQuery, State},
};
use serde_json::{Map, Value, json};

use super::body::JsonBody;
use super::errors::{AtError, AtResult};
use super::listing::{self, ListParams};
use super::state::Shared;
use super::table::{RenderOptions, Table};
use super::writes::{self, RecordInput, UpdateMode};

/// "Up to 10 records" per create, update or delete request.
pub(crate) const MAX_RECORDS_PER_REQUEST: usize = 10;

type St = State<Arc<Shared>>;
type TablePath = Path<(String, String)>;
type RecordPath = Path<(String, String, String)>;

fn query_pairs(q: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

pub(crate) async fn list_get(
    State(s): St,
    Path((base, table)): TablePath,
    RawQuery(q): RawQuery,
) -> AtResult<Json<Value>> {
    let params = ListParams::from_query(&query_pairs(q.as_deref()))?;
    run_list(&s, &base, &table, &params)
}

pub(crate) async fn list_post(
    State(s): St,
    Path((base, table)): TablePath,
    JsonBody(body): JsonBody,
) -> AtResult<Json<Value>> {
    let params = ListParams::from_body(&body)?;
    run_list(&s, &base, &table, &params)
}

fn run_list(s: &Shared, base: &str, table: &str, params: &ListParams) -> AtResult<Json<Value>> {
    let now = s.now();
    let mut store = s.store();
    let location = store.locate(base, table)?;
    listing::list(&mut store, location, params, now).map(Json)
}

pub(crate) async fn get_one(
    State(s): St,
    Path((base, table, rec)): RecordPath,
    RawQuery(q): RawQuery,
) -> AtResult<Json<Value>> {
    let params = ListParams::from_query(&query_pairs(q.as_deref()))?;
    let opts = listing::render_options(&params)?;
    let store = s.store();
    let (bi, ti) = store.locate(&base, &table)?;
    let table = &store.bases[bi].tables[ti];
    let record = table.record(&rec).ok_or_else(AtError::not_found)?;
    Ok(Json(table.render(record, opts, None)))
}

fn object(body: &Value) -> AtResult<&Map<String, Value>> {
    body.as_object()
        .ok_or_else(|| AtError::invalid_request("the body must be a JSON object"))
}

fn check_keys(obj: &Map<String, Value>, allowed: &[&str]) -> AtResult<()> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(AtError::invalid_request(format!(
            "unknown parameter \"{k}\""
        ))),
        None => Ok(()),
    }
}

fn flag(obj: &Map<String, Value>, key: &str) -> AtResult<bool> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(AtError::invalid_request(format!("{key} must be a boolean"))),
    }
}

fn fields_of(record: &Value) -> AtResult<Map<String, Value>> {
    record
        .get("fields")
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| AtError::invalid_request("each record needs a \"fields\" object"))
}

fn render_options(obj: &Map<String, Value>) -> AtResult<RenderOptions> {
    Ok(RenderOptions {
        by_field_id: flag(obj, "returnFieldsByFieldId")?,
        as_strings: false,
    })
}

/// 422 `INVALID_RECORDS` for more than 10 records [S: the message as quoted from the API by
/// pyairtable's maintainer, gtalarico/pyairtable#144]; none at all is invalid too.
fn check_count(n: usize, verb: &str) -> AtResult<()> {
    if n > MAX_RECORDS_PER_REQUEST {
        return Err(AtError::unprocessable(
            "INVALID_RECORDS",
            format!("A maximum of 10 records can be {verb} per request but you have provided {n}."),
        ));
    }
    if n == 0 {
        return Err(AtError::invalid_request("records must not be empty"));
    }
    Ok(())
}

fn render_ids(table: &Table, ids: &[String], opts: RenderOptions) -> Vec<Value> {
    ids.iter()
        .filter_map(|id| table.record(id))
        .map(|r| table.render(r, opts, None))
        .collect()
}

pub(crate) async fn create(
    State(s): St,
    Path((base, table)): TablePath,
    JsonBody(mut body): JsonBody,
) -> AtResult<Json<Value>> {
    super::attachments::fetch_urls(&s.files, &mut body).await?;
    let obj = object(&body)?;
    check_keys(
        obj,
        &["records", "fields", "typecast", "returnFieldsByFieldId"],
    )?;
    let typecast = flag(obj, "typecast")?;
    let opts = render_options(obj)?;
    let (inputs, single) = match (obj.get("records"), obj.get("fields")) {
        (Some(Value::Array(records)), None) => {
            check_count(records.len(), "created")?;
            (
                records
                    .iter()
                    .map(fields_of)
                    .collect::<AtResult<Vec<_>>>()?,
                false,
            )
        }
        (None, Some(_)) => (vec![fields_of(&body)?], true),
        _ => {
            return Err(AtError::invalid_request(
                "send either \"records\" or \"fields\"",
            ));
        }
    };
    let actor = s.api_actor.clone();
    s.write(&base, &table, &actor, |t, now| {
        let out = writes::create(t, &inputs, typecast, now)?;
        let records = render_ids(t, &out.record_ids, opts);
        let response = if single {
            records.into_iter().next().unwrap_or(Value::Null)
        } else {
            json!({ "records": records })
        };
        Ok((Json(response), out.changes))
    })
}

pub(crate) async fn patch_many(
    State(s): St,
    path: TablePath,
    JsonBody(mut body): JsonBody,
) -> AtResult<Json<Value>> {
    super::attachments::fetch_urls(&s.files, &mut body).await?;
    update_many(&s, path.0, &body, false)
}

pub(crate) async fn put_many(
    State(s): St,
    path: TablePath,
    JsonBody(mut body): JsonBody,
) -> AtResult<Json<Value>> {
    super::attachments::fetch_urls(&s.files, &mut body).await?;
    update_many(&s, path.0, &body, true)
}

fn record_input(v: &Value) -> AtResult<RecordInput> {
    let id = match v.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => return Err(AtError::invalid_request("record ids must be strings")),
    };
    Ok(RecordInput {
        id,
        fields: fields_of(v)?,
    })
}

fn merge_on(obj: &Map<String, Value>) -> AtResult<Option<Vec<String>>> {
    let Some(upsert) = obj.get("performUpsert").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    upsert["fieldsToMergeOn"]
        .as_array()
        .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect())
        .map(Some)
        .ok_or_else(|| {
            AtError::invalid_request(
                "performUpsert.fieldsToMergeOn must be an array of field names or ids",
            )
        })
}

fn update_many(
    s: &Arc<Shared>,
    (base, table): (String, String),
    body: &Value,
    replace: bool,
) -> AtResult<Json<Value>> {
    let obj = object(body)?;
    check_keys(
        obj,
        &[
            "records",
            "typecast",
            "returnFieldsByFieldId",
            "performUpsert",
        ],
    )?;
    let records = obj
        .get("records")
        .and_then(Value::as_array)
        .ok_or_else(|| AtError::invalid_request("\"records\" must be an array"))?;
    check_count(records.len(), "updated")?;
    let inputs = records
        .iter()
        .map(record_input)
        .collect::<AtResult<Vec<_>>>()?;
    let mode = UpdateMode {
        replace,
        merge_on: merge_on(obj)?,
        typecast: flag(obj, "typecast")?,
    };
    let opts = render_options(obj)?;
    let actor = s.api_actor.clone();
    s.write(&base, &table, &actor, |t, now| {
        let out = writes::update(t, &inputs, &mode, now)?;
        let mut response = json!({ "records": render_ids(t, &out.record_ids, opts) });
        if mode.merge_on.is_some() {
            response["createdRecords"] = json!(out.created);
            response["updatedRecords"] = json!(out.updated);
        }
        Ok((Json(response), out.changes))
    })
}

pub(crate) async fn patch_one(
    State(s): St,
    path: RecordPath,
    JsonBody(mut body): JsonBody,
) -> AtResult<Json<Value>> {
    super::attachments::fetch_urls(&s.files, &mut body).await?;
    update_one(&s, path.0, &body, false)
}

pub(crate) async fn put_one(
    State(s): St,
    path: RecordPath,
    JsonBody(mut body): JsonBody,
) -> AtResult<Json<Value>> {
    super::attachments::fetch_urls(&s.files, &mut body).await?;
    update_one(&s, path.0, &body, true)
}

fn update_one(
    s: &Arc<Shared>,
    (base, table, rec): (String, String, String),
    body: &Value,
    replace: bool,
) -> AtResult<Json<Value>> {
    let obj = object(body)?;
    check_keys(obj, &["fields", "typecast", "returnFieldsByFieldId"])?;
    let input = RecordInput {
        id: Some(rec.clone()),
        fields: fields_of(body)?,
    };
    let mode = UpdateMode {
        replace,
        merge_on: None,
        typecast: flag(obj, "typecast")?,
    };
    let opts = render_options(obj)?;
    let actor = s.api_actor.clone();
    s.write(&base, &table, &actor, |t, now| {
        if t.record(&rec).is_none() {
            return Err(AtError::not_found());
        }
        let out = writes::update(t, &[input], &mode, now)?;
        let record = render_ids(t, &out.record_ids, opts)
            .pop()
            .unwrap_or(Value::Null);
        Ok((Json(record), out.changes))
    })
}

pub(crate) async fn delete_many(
    State(s): St,
    Path((base, table)): TablePath,
    RawQuery(q): RawQuery,
) -> AtResult<Json<Value>> {
    let ids: Vec<String> = query_pairs(q.as_deref())
        .into_iter()
        .filter(|(k, _)| k == "records[]" || k == "records")
        .map(|(_, v)| v)
        .collect();
    check_count(ids.len(), "deleted")?;
    let actor = s.api_actor.clone();
    s.write(&base, &table, &actor, |t, _now| {
        let out = writes::delete(t, &ids)?;
        let records: Vec<Value> = out
            .record_ids
            .iter()
            .map(|id| json!({"id": id, "deleted": true}))
            .collect();
        Ok((Json(json!({ "records": records })), out.changes))
    })
}

pub(crate) async fn delete_one(
    State(s): St,
    Path((base, table, rec)): RecordPath,
) -> AtResult<Json<Value>> {
    let actor = s.api_actor.clone();
    s.write(&base, &table, &actor, |t, _now| {
        let out = writes::delete(t, std::slice::from_ref(&rec))?;
        Ok((Json(json!({"id": rec, "deleted": true})), out.changes))
    })
}
