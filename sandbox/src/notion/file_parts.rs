//! Multi-part file uploads, as Notion documents them ("Uploading larger
//! files" guide; create / send / complete a file upload references):
//! - `POST /v1/file_uploads` with `mode: "multi_part"`, `number_of_parts`
//!   (1 ≤ n ≤ 10,000) and a `filename` with an extension, or a
//!   `content_type` one can be inferred from; the upload object then carries
//!   `number_of_parts: {total, sent}`.
//! - `POST /v1/file_uploads/{id}/send` with a `part_number` form field
//!   (1 … number_of_parts) beside the `file` part; every part "must be ≥ 5 and
//!   ≤ 20 (binary) megabytes in size, with the exception of the final part
//!   (the one with the highest part number), which can be less than 5 MB".
//!   Parts may come in any order; the status stays `pending`.
//! - `POST /v1/file_uploads/{id}/complete` "after all parts are sent": the
//!   parts are joined in order and the status becomes `uploaded`; the
//!   workspace's per-file limit applies to the whole file.
//!
//! Refusals are 400 `validation_error`; their wording is the sandbox's [U].
//! A part sent again replaces the earlier one [U: not documented].

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    response::{IntoResponse, Response},
};
use serde_json::Value;
use uuid::Uuid;

use super::Shared;
use super::errors::{NotionError, NotionResult};
use super::files::{expire, upload_json};
use super::state::dashed;
use crate::common::lock;
use crate::files::{FormPart, StoredFile};

/// "each file must be ≥ 5 and ≤ 20 (binary) megabytes", but the last.
pub const MIN_PART: u64 = 5 * 1024 * 1024;
pub const MAX_PART: u64 = 20 * 1024 * 1024;
/// `number_of_parts`: "1 <= x <= 10000" (create-a-file-upload).
pub const MAX_PARTS: u64 = 10_000;

/// The `number_of_parts` of a valid multi-part create body.
pub(super) fn validate_create(body: &Value) -> NotionResult<u32> {
    let parts = &body["number_of_parts"];
    let n = match parts.as_u64() {
        Some(n) if (1..=MAX_PARTS).contains(&n) => n as u32,
        _ if parts.is_null() => {
            return Err(NotionError::validation(
                "body failed validation: body.number_of_parts should be defined when mode is `multi_part`, instead was `undefined`.",
            ));
        }
        _ => {
            return Err(NotionError::validation(format!(
                "body failed validation: body.number_of_parts should be an integer between 1 and {MAX_PARTS}, instead was `{parts}`."
            )));
        }
    };
    let Some(filename) = body["filename"].as_str() else {
        return Err(NotionError::validation(
            "body failed validation: body.filename should be defined when mode is `multi_part`, instead was `undefined`.",
        ));
    };
    let has_extension = filename
        .rsplit_once('.')
        .is_some_and(|(stem, ext)| !stem.is_empty() && !ext.is_empty());
    if !has_extension && body["content_type"].as_str().is_none() {
        return Err(NotionError::validation(format!(
            "The filename `{filename}` has no extension and no content_type was given to infer one."
        )));
    }
    Ok(n)
}

/// `send` for a multi-part upload: one part, checked against its number
/// and the size bounds, kept until `complete`.
pub(super) fn send_part(
    shared: &Shared,
    uuid: Uuid,
    id: &str,
    form: &[FormPart],
    bytes: Vec<u8>,
) -> NotionResult<Response> {
    let now = shared.clock.now();
    let mut world = lock(&shared.world);
    let upload = world
        .files
        .uploads
        .get_mut(&uuid)
        .ok_or_else(|| NotionError::not_found("file_upload", id))?;
    let status = expire(upload, now).status;
    if status != "pending" {
        return Err(NotionError::validation(format!(
            "File upload is `{status}`, not `pending`."
        )));
    }
    let total = upload.number_of_parts.unwrap_or(1);
    let number = part_number(form, total)?;
    let size = bytes.len() as u64;
    if size > MAX_PART || (size < MIN_PART && number != total) {
        return Err(NotionError::validation(format!(
            "Part {number} is {size} bytes: parts must be at least {MIN_PART} and at most {MAX_PART} bytes, except the last (part {total}), which may be smaller."
        )));
    }
    upload.parts.insert(number, Arc::new(bytes));
    Ok(axum::Json(upload_json(uuid, upload)).into_response())
}

/// The form's `part_number`: a stringified integer in 1 ..= total.
fn part_number(form: &[FormPart], total: u32) -> NotionResult<u32> {
    let Some(field) = form.iter().find(|p| p.name == "part_number") else {
        return Err(NotionError::validation(
            "A multi_part file upload needs a `part_number` form field with each part.",
        ));
    };
    let raw = String::from_utf8_lossy(&field.data);
    match raw.trim().parse::<u32>() {
        Ok(n) if (1..=total).contains(&n) => Ok(n),
        _ => Err(NotionError::validation(format!(
            "part_number should be an integer between 1 and {total} (the upload's number_of_parts), instead was `{raw}`."
        ))),
    }
}

/// `POST /v1/file_uploads/{id}/complete`: a multi-part upload whose every
/// part arrived becomes `uploaded`.
pub(super) async fn complete(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> NotionResult<Response> {
    let uuid = super::state::parse_id(&id, "file_upload_id")?;
    let now = shared.clock.now();
    let mut world = lock(&shared.world);
    let limit = world.files.limit();
    let files = &mut world.files;
    let upload = files
        .uploads
        .get(&uuid)
        .map(|u| expire(u, now))
        .ok_or_else(|| NotionError::not_found("file_upload", &id))?;
    let Some(total) = upload.number_of_parts else {
        return Err(NotionError::validation(
            "Only file uploads with mode `multi_part` are completed; a single_part upload is uploaded when its file is sent.",
        ));
    };
    if upload.status != "pending" {
        return Err(NotionError::validation(format!(
            "File upload is `{}`, not `pending`.",
            upload.status
        )));
    }
    let missing: Vec<String> = (1..=total)
        .filter(|n| !upload.parts.contains_key(n))
        .map(|n| n.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(NotionError::validation(format!(
            "File upload {} expects {total} parts; not sent yet: {}.",
            dashed(uuid),
            missing.join(", ")
        )));
    }
    let size: u64 = upload.parts.values().map(|p| p.len() as u64).sum();
    if size > limit {
        return Err(NotionError::validation(format!(
            "The file is {size} bytes, larger than the workspace's limit of {limit} bytes."
        )));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    for part in upload.parts.values() {
        bytes.extend_from_slice(part);
    }
    let stored = StoredFile {
        filename: upload.filename.clone().unwrap_or_else(|| "file".into()),
        content_type: upload
            .content_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".into()),
        bytes: Arc::new(bytes),
    };
    let done = super::files::Upload {
        status: "uploaded",
        content_length: Some(size),
        parts: Default::default(),
        ..upload
    };
    files.put(uuid, stored, done)
}
