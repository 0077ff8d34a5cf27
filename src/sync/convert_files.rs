//! Notion `files` ↔ Airtable `multipleAttachments` ([`super::Kind::Files`]),
//! in pure code.
//!
//! A file's identity is its name and its size in bytes ([`FileRef`]), never
//! its URL: Notion's file URLs expire after an hour and Airtable's after a
//! few hours, so a URL is neither stored nor compared, only used to copy a
//! file in the request that needs it.
//!
//! Airtable cells carry `size`; Notion's files property value does not. The
//! engine (`engine::files`) fills it before planning: it asks Notion's file
//! host for the file (the URL Notion just gave) and takes the response's
//! `Content-Length`, the size of the bytes Notion stores, and puts it in
//! the file object under [`SIZE_KEY`] (or, when that fails, why under
//! [`SIZE_ERROR_KEY`]). A Notion file without a size cannot be compared, so
//! the whole field is refused for that read (never a partial list).
//!
//! Writes are built from both sides as read, so nothing is duplicated:
//! - to Airtable, a file the row already has is kept by its attachment id
//!   (`{id}`), a new one is given by the URL Notion just returned
//!   (`{url, filename}`) and Airtable downloads it;
//! - to Notion, a file the page already has is passed back as read, a new
//!   one is a file upload the engine makes from Airtable's URL before the
//!   write: the body carries it under [`PENDING_KEY`] until then.

use serde_json::{Value as Json, json};

use super::ConvertError;
use crate::sync::value::{FileRef, Value};

/// The key under which the engine puts a Notion file's size in bytes.
pub const SIZE_KEY: &str = "size";
/// The key under which the engine says why a Notion file's size is unknown.
pub const SIZE_ERROR_KEY: &str = "size_error";
/// The key of a file the engine must upload to Notion before the write:
/// `{url, size}` of the Airtable attachment to copy.
pub const PENDING_KEY: &str = "pending_upload";
/// Notion's single-part upload takes files up to 20 MB; bigger ones go in
/// multi-part mode (paid workspaces, up to their limit, 5 GB at most). The
/// workspace's own limit (5 MiB on the free plan) is checked by the engine
/// before a file is downloaded.
pub const NOTION_SINGLE_PART_LIMIT: u64 = 20 * 1024 * 1024;
/// The size of each part of a multi-part upload but the last: parts must
/// be 5 to 20 MiB ("we recommend using a part size of 10 MB").
pub const NOTION_PART_SIZE: u64 = 10 * 1024 * 1024;

/// A Notion files property value (`[{name, type, file|external}]`) as files.
/// External links are refused: they are links to someone else's host, not
/// files Notion holds, and copying a snapshot of one into Airtable would
/// turn a link into a stale copy.
pub fn read_notion(files: &Json) -> Result<Value, ConvertError> {
    let mut refs = Vec::new();
    for item in files.as_array().into_iter().flatten() {
        let name = item["name"].as_str().unwrap_or_default();
        if item["type"] == "external" {
            return Err(ConvertError::BadValue(format!(
                "`{name}` is an external link, not a file Notion holds: links do not sync to attachments"
            )));
        }
        let Some(size) = item[SIZE_KEY].as_u64() else {
            let why = item[SIZE_ERROR_KEY]
                .as_str()
                .unwrap_or("Notion gave no size");
            return Err(ConvertError::BadValue(format!(
                "the size of Notion's file `{name}` could not be read: {why}"
            )));
        };
        refs.push(FileRef::new(name, size));
    }
    Ok(Value::files(refs))
}

/// An Airtable attachment cell (`[{id, url, filename, size, …}]`) as files.
pub fn read_airtable(cell: &Json) -> Value {
    Value::files(cell.as_array().into_iter().flatten().map(airtable_ref))
}

fn airtable_ref(attachment: &Json) -> FileRef {
    FileRef::new(
        attachment["filename"].as_str().unwrap_or_default(),
        attachment["size"].as_u64().unwrap_or_default(),
    )
}

fn notion_ref(file: &Json) -> Option<FileRef> {
    Some(FileRef::new(
        file["name"].as_str()?,
        file[SIZE_KEY].as_u64()?,
    ))
}

/// The items of a side's value that are still unused, each with its identity.
struct Pool<'a>(Vec<(FileRef, &'a Json)>);

impl<'a> Pool<'a> {
    fn new(items: Option<&'a Json>, identity: impl Fn(&Json) -> Option<FileRef>) -> Self {
        Pool(
            items
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(|item| Some((identity(item)?, item)))
                .collect(),
        )
    }

    /// Take one unused item with this identity (a multiset: two copies of a
    /// file need two items).
    fn take(&mut self, file: &FileRef) -> Option<&'a Json> {
        let at = self.0.iter().position(|(id, _)| id == file)?;
        Some(self.0.remove(at).1)
    }
}

fn targets(value: &Value) -> Result<&[FileRef], ConvertError> {
    match value {
        Value::Empty => Ok(&[]),
        Value::Files(files) => Ok(files),
        other => Err(ConvertError::BadValue(format!(
            "{} is not a list of files",
            other.display()
        ))),
    }
}

fn missing(file: &FileRef) -> ConvertError {
    ConvertError::BadValue(format!(
        "`{}` ({} bytes) is on neither side as read",
        file.name, file.size
    ))
}

/// The Airtable cell holding `value`: attachments the row has (`current`,
/// its cell as read) are kept by id, the others are copied from the Notion
/// files (`notion`, the page's files array as read, sizes filled in).
pub fn airtable_cell(
    value: &Value,
    current: Option<&Json>,
    notion: Option<&Json>,
) -> Result<Json, ConvertError> {
    let mut kept = Pool::new(current, |a| Some(airtable_ref(a)));
    let mut sources = Pool::new(notion, notion_ref);
    let mut cell = Vec::new();
    for file in targets(value)? {
        if let Some(a) = kept.take(file) {
            cell.push(json!({ "id": a["id"] }));
        } else if let Some(n) = sources.take(file) {
            let url = n[n["type"].as_str().unwrap_or("file")]["url"].clone();
            cell.push(json!({ "url": url, "filename": file.name }));
        } else {
            return Err(missing(file));
        }
    }
    Ok(Json::Array(cell))
}

/// The Notion write body (`{"files": [...]}`) holding `value`: files the
/// page has (`current`, its files array as read) are passed back as read,
/// the others become uploads of the Airtable attachments (`airtable`, the
/// row's cell as read) marked [`PENDING_KEY`] for the engine (which sends a
/// file over [`NOTION_SINGLE_PART_LIMIT`] in parts, and refuses one over the
/// workspace's limit).
pub fn notion_body(
    value: &Value,
    current: Option<&Json>,
    airtable: Option<&Json>,
) -> Result<Json, ConvertError> {
    let mut kept = Pool::new(current, notion_ref);
    let mut sources = Pool::new(airtable, |a| Some(airtable_ref(a)));
    let mut files = Vec::new();
    for file in targets(value)? {
        if let Some(n) = kept.take(file) {
            let ty = n["type"].as_str().unwrap_or("file");
            files.push(json!({ "name": file.name, "type": ty, ty: { "url": n[ty]["url"] } }));
        } else if let Some(a) = sources.take(file) {
            files.push(json!({
                "name": file.name,
                "type": "file_upload",
                "file_upload": { "id": null },
                PENDING_KEY: { "url": a["url"], "size": file.size, "content_type": a["type"] },
            }));
        } else {
            return Err(missing(file));
        }
    }
    Ok(json!({ "files": files }))
}

#[cfg(test)]
#[path = "convert_files_tests.rs"]
mod tests;
