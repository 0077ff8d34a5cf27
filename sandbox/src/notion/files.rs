//! Files and media as Notion documents them: the `files` property value
//! (`[{name, type: "file", file: {url, expiry_time}}]` for Notion-hosted
//! files, whose URLs expire after an hour, or `{name, type: "external",
//! external: {url}}`), and the File Upload API: `POST /v1/file_uploads`
//! (status `pending`), `POST /v1/file_uploads/{id}/send` with the bytes as
//! `multipart/form-data` (single part: status `uploaded`, refused over the
//! workspace's size limit; multi-part mode, files over 20 MB, in
//! `notion::file_parts`), `GET /v1/file_uploads/{id}`; an upload not
//! attached within an hour expires.
//! A files property is written with `{type: "file_upload", file_upload:
//! {id}}` for an uploaded file, or with a Notion-hosted file passed back
//! as read (its current URL).

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use axum::{
    Extension,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, header::CONTENT_TYPE},
    response::Response,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::Shared;
use super::errors::{NotionError, NotionResult};
use super::routes::{ApiVersion, parse_body};
use super::state::{World, dashed, parse_id};
use crate::common::{lock, notion_time};
use crate::files::{FileHost, FormPart, StoredFile, multipart_form};

/// Notion's free plan limit per file (5 MiB); paid plans allow 5 GiB.
pub const FREE_PLAN_MAX_UPLOAD: u64 = 5 * 1024 * 1024;
/// Single-part uploads take at most 20 MB.
pub const SINGLE_PART_MAX: u64 = 20 * 1024 * 1024;

#[derive(Clone, Debug)]
pub struct Upload {
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub status: &'static str,
    pub created: OffsetDateTime,
    pub content_length: Option<u64>,
    /// `multi_part` mode: how many parts were announced (`None`: single part).
    pub number_of_parts: Option<u32>,
    /// The parts sent so far, by part number (multi-part mode).
    pub parts: BTreeMap<u32, Arc<Vec<u8>>>,
}

/// The workspace's files: the host serving them, the uploads, the limit.
#[derive(Debug, Default)]
pub struct Files {
    pub host: Option<FileHost>,
    pub uploads: HashMap<Uuid, Upload>,
    /// The workspace's per-file limit; `None`: the free plan's.
    pub max_upload: Option<u64>,
}

impl Files {
    fn host(&self) -> &FileHost {
        self.host.as_ref().expect("the file host is set at start")
    }

    pub fn max_upload_bytes(&self) -> u64 {
        self.limit()
    }

    pub(super) fn limit(&self) -> u64 {
        self.max_upload.unwrap_or(FREE_PLAN_MAX_UPLOAD)
    }
}

pub(super) fn upload_json(id: Uuid, u: &Upload) -> Value {
    let expiry = u.created + time::Duration::hours(1);
    let mut json = json!({
        "object": "file_upload",
        "id": dashed(id),
        "created_time": notion_time(u.created),
        "last_edited_time": notion_time(u.created),
        "expiry_time": notion_time(expiry),
        "upload_url": format!("/v1/file_uploads/{}/send", dashed(id)),
        "archived": false,
        "status": u.status,
        "filename": u.filename,
        "content_type": u.content_type,
        "content_length": u.content_length,
    });
    if let Some(total) = u.number_of_parts {
        json["number_of_parts"] = json!({"total": total, "sent": u.parts.len()});
    }
    json
}

/// `POST /v1/file_uploads`: `single_part` (the default) or `multi_part`
/// (`external_url` is not modelled [gap]).
pub(super) async fn create(
    State(shared): State<Arc<Shared>>,
    Extension(_v): Extension<ApiVersion>,
    body: Bytes,
) -> NotionResult<axum::Json<Value>> {
    let body = parse_body(&body)?;
    let mode = body["mode"].as_str().unwrap_or("single_part");
    let number_of_parts = match mode {
        "single_part" => None,
        "multi_part" => Some(super::file_parts::validate_create(&body)?),
        _ => {
            return Err(NotionError::validation(format!(
                "body.mode `{mode}` is not supported by this sandbox (single_part or multi_part)."
            )));
        }
    };
    let upload = Upload {
        filename: body["filename"].as_str().map(str::to_owned),
        content_type: body["content_type"].as_str().map(str::to_owned),
        status: "pending",
        created: shared.clock.now(),
        content_length: None,
        number_of_parts,
        parts: BTreeMap::new(),
    };
    let id = Uuid::new_v4();
    let json = upload_json(id, &upload);
    lock(&shared.world).files.uploads.insert(id, upload);
    Ok(axum::Json(json))
}

/// `GET /v1/file_uploads/{id}`.
pub(super) async fn retrieve(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> NotionResult<axum::Json<Value>> {
    let uuid = parse_id(&id, "file_upload_id")?;
    let world = lock(&shared.world);
    let upload = world
        .files
        .uploads
        .get(&uuid)
        .ok_or_else(|| NotionError::not_found("file_upload", &id))?;
    Ok(axum::Json(upload_json(
        uuid,
        &expire(upload, shared.clock.now()),
    )))
}

pub(super) fn expire(u: &Upload, now: OffsetDateTime) -> Upload {
    let mut u = u.clone();
    if u.status == "pending" && now > u.created + time::Duration::hours(1) {
        u.status = "expired";
    }
    u
}

/// `POST /v1/file_uploads/{id}/send`: the form's `file` part.
pub(super) async fn send(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> NotionResult<Response> {
    let uuid = parse_id(&id, "file_upload_id")?;
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(form) = multipart_form(content_type, &body) else {
        return Err(NotionError::validation(
            "Send file upload requests must be multipart/form-data with a `file` part.",
        ));
    };
    let Some(FormPart {
        filename: name,
        content_type: part_type,
        data: bytes,
        ..
    }) = form.iter().find(|p| p.name == "file").cloned()
    else {
        return Err(NotionError::validation(
            "Send file upload requests must be multipart/form-data with a `file` part.",
        ));
    };
    let multi_part = lock(&shared.world)
        .files
        .uploads
        .get(&uuid)
        .is_some_and(|u| u.number_of_parts.is_some());
    if multi_part {
        return super::file_parts::send_part(&shared, uuid, &id, &form, bytes);
    }
    let now = shared.clock.now();
    let mut world = lock(&shared.world);
    let limit = world.files.limit().min(SINGLE_PART_MAX);
    let files = &mut world.files;
    let upload = files
        .uploads
        .get(&uuid)
        .map(|u| expire(u, now))
        .ok_or_else(|| NotionError::not_found("file_upload", &id))?;
    if upload.status != "pending" {
        return Err(NotionError::validation(format!(
            "File upload is `{}`, not `pending`.",
            upload.status
        )));
    }
    if bytes.len() as u64 > limit {
        return Err(NotionError::validation(format!(
            "The file is {} bytes, larger than the workspace's limit of {limit} bytes.",
            bytes.len()
        )));
    }
    let stored = StoredFile {
        filename: upload
            .filename
            .clone()
            .or(name)
            .unwrap_or_else(|| "file".into()),
        content_type: upload
            .content_type
            .clone()
            .or(part_type)
            .unwrap_or_else(|| "application/octet-stream".into()),
        bytes: Arc::new(bytes),
    };
    let done = Upload {
        filename: Some(stored.filename.clone()),
        content_type: Some(stored.content_type.clone()),
        status: "uploaded",
        content_length: Some(stored.bytes.len() as u64),
        ..upload
    };
    files.put(uuid, stored, done)
}

impl Files {
    /// Keep the bytes of a finished upload (status `uploaded`) and answer
    /// its upload object.
    pub(super) fn put(
        &mut self,
        uuid: Uuid,
        stored: StoredFile,
        done: Upload,
    ) -> NotionResult<Response> {
        self.host().put(&dashed(uuid), stored);
        let json = upload_json(uuid, &done);
        self.uploads.insert(uuid, done);
        Ok(axum::response::IntoResponse::into_response(axum::Json(
            json,
        )))
    }
}

/// A files property write → the stored value (`[{name, type, file: {id}}]`
/// or external links as given).
pub fn validate(world: &World, path: &str, inner: &Value) -> NotionResult<Value> {
    let Some(items) = inner.as_array() else {
        return Err(NotionError::validation(format!(
            "{path} should be an array."
        )));
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("{path}[{i}]");
        let ty = item["type"].as_str().unwrap_or_else(|| {
            ["file_upload", "external", "file"]
                .into_iter()
                .find(|t| item.get(*t).is_some())
                .unwrap_or_default()
        });
        let stored = match ty {
            "file_upload" => uploaded(world, &at, item)?,
            "file" => hosted(world, &at, item)?,
            "external" => match item["external"]["url"].as_str() {
                Some(url) => {
                    json!({"name": item["name"].as_str().unwrap_or(url), "type": "external", "external": {"url": url}})
                }
                None => {
                    return Err(NotionError::validation(format!(
                        "{at}.external.url should be a string."
                    )));
                }
            },
            _ => {
                return Err(NotionError::validation(format!(
                    "{at} should have `type` file_upload, external or file."
                )));
            }
        };
        out.push(stored);
    }
    Ok(Value::Array(out))
}

fn uploaded(world: &World, at: &str, item: &Value) -> NotionResult<Value> {
    let raw = item["file_upload"]["id"].as_str().unwrap_or_default();
    let id = parse_id(raw, &format!("{at}.file_upload.id"))?;
    let upload = world
        .files
        .uploads
        .get(&id)
        .ok_or_else(|| NotionError::not_found("file_upload", raw))?;
    if upload.status != "uploaded" {
        return Err(NotionError::validation(format!(
            "File upload {raw} is `{}`; only uploaded files can be attached.",
            upload.status
        )));
    }
    let name = item["name"]
        .as_str()
        .or(upload.filename.as_deref())
        .unwrap_or("file");
    Ok(json!({"name": name, "type": "file", "file": {"id": dashed(id)}}))
}

/// A Notion-hosted file passed back as read: its URL must be one this
/// workspace issued and still valid.
fn hosted(world: &World, at: &str, item: &Value) -> NotionResult<Value> {
    let url = item["file"]["url"].as_str().unwrap_or_default();
    let Some((id, file)) = world.files.host().resolve(url) else {
        return Err(NotionError::validation(format!(
            "{at}.file.url is not a valid, unexpired Notion-hosted file URL."
        )));
    };
    let name = item["name"].as_str().unwrap_or(&file.filename);
    Ok(json!({"name": name, "type": "file", "file": {"id": id}}))
}

/// The read shape: each hosted file with a fresh URL valid for an hour.
pub fn read(world: &World, stored: Option<&Value>) -> Value {
    let items = stored
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let host = world.files.host();
    Value::Array(
        items
            .into_iter()
            .map(|item| match item["file"]["id"].as_str() {
                Some(id) => {
                    let (url, expires) = host.url(id, time::Duration::hours(1));
                    json!({"name": item["name"], "type": "file",
                           "file": {"url": url, "expiry_time": notion_time(expires)}})
                }
                None => item,
            })
            .collect(),
    )
}
