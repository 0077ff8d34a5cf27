//! Attachment cells as Airtable documents them: read as `[{id, url,
//! filename, size, type}]` with URLs that expire after a few hours (served
//! by the sandbox's own file host), written as `[{url, filename?}]`, which
//! Airtable downloads, or `[{id}]` to keep an attachment the base has.
//!
//! The download happens before the write takes the store's lock
//! ([`fetch_urls`]): each `{url}` object becomes the `{id}` of a stored
//! file. A URL that cannot be downloaded (or is not on a loopback host, the
//! only hosts the sandbox reaches) refuses the write with 422
//! `INVALID_ATTACHMENT_OBJECT` (Airtable's documentation does not say what
//! it does then; refusing keeps the cell as it was).

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, Mutex},
};

use serde_json::{Value, json};

use super::errors::{AtError, AtResult};
use super::ids::new_id;
use super::schema::Field;
use crate::common::lock;
use crate::files::{FileHost, StoredFile, download};

/// Attachment ids are random, so one index serves every sandbox in the
/// process: id → the host that stores its bytes.
static INDEX: LazyLock<Mutex<HashMap<String, FileHost>>> = LazyLock::new(Mutex::default);

/// Airtable's attachment URLs stay valid for a few hours.
const URL_TTL: time::Duration = time::Duration::hours(2);

/// Store `bytes` as a new attachment of `host`; its id.
pub fn store(host: &FileHost, filename: &str, content_type: &str, bytes: Vec<u8>) -> String {
    let id = new_id("att");
    host.put(
        &id,
        StoredFile {
            filename: filename.to_owned(),
            content_type: content_type.to_owned(),
            bytes: Arc::new(bytes),
        },
    );
    lock(&INDEX).insert(id.clone(), host.clone());
    id
}

/// Download every `{url, filename?}` object of the request's cells and put
/// `{id, filename}` in its place.
pub(crate) async fn fetch_urls(host: &FileHost, body: &mut Value) -> AtResult<()> {
    let records: Vec<&mut Value> = match body.get_mut("records") {
        Some(Value::Array(records)) => records.iter_mut().collect(),
        _ => vec![body],
    };
    for record in records {
        let Some(fields) = record.get_mut("fields").and_then(Value::as_object_mut) else {
            continue;
        };
        for cell in fields.values_mut() {
            for item in cell.as_array_mut().into_iter().flatten() {
                if item.get("id").is_some() {
                    continue;
                }
                let Some(url) = item.get("url").and_then(Value::as_str).map(str::to_owned) else {
                    continue;
                };
                let (bytes, content_type) = download(&url).await.map_err(|why| {
                    AtError::unprocessable(
                        "INVALID_ATTACHMENT_OBJECT",
                        format!("Could not download the attachment at {url}: {why}"),
                    )
                })?;
                let filename = item["filename"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| url_filename(&url));
                let content_type =
                    content_type.unwrap_or_else(|| "application/octet-stream".into());
                let id = store(host, &filename, &content_type, bytes);
                *item = json!({ "id": id });
            }
        }
    }
    Ok(())
}

fn url_filename(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.path_segments()?.next_back().map(str::to_owned))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "file".into())
}

/// A written attachment cell (`[{id}]` after [`fetch_urls`]) → the stored
/// `[{id, filename, size, type}]`; an unknown id is refused.
pub(crate) fn validate(field: &Field, value: &Value) -> AtResult<Option<Value>> {
    let Some(items) = value.as_array() else {
        return Err(AtError::invalid_value(&field.name));
    };
    let mut out = Vec::new();
    for item in items {
        let id = item["id"].as_str().unwrap_or_default();
        let file = lock(&INDEX).get(id).and_then(|host| host.get(id));
        let Some(file) = file else {
            return Err(AtError::unprocessable(
                "INVALID_ATTACHMENT_OBJECT",
                format!(
                    "Field \"{}\" cannot accept the attachment {item}",
                    field.name
                ),
            ));
        };
        out.push(json!({
            "id": id,
            "filename": file.filename,
            "size": file.bytes.len(),
            "type": file.content_type,
        }));
    }
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

/// A stored cell as read: each attachment with a fresh, expiring URL.
pub(crate) fn render(stored: &Value) -> Value {
    let Some(items) = stored.as_array() else {
        return stored.clone();
    };
    Value::Array(
        items
            .iter()
            .map(|item| {
                let mut item = item.clone();
                let id = item["id"].as_str().unwrap_or_default().to_owned();
                if let Some(host) = lock(&INDEX).get(&id) {
                    item["url"] = json!(host.url(&id, URL_TTL).0);
                }
                item
            })
            .collect(),
    )
}
