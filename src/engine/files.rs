//! The I/O behind `Kind::Files` (`sync::convert::files`): Notion files'
//! sizes before planning, and the uploads a Notion write needs before it
//! is sent: up to 20 MB in one part, larger files (up to the workspace's
//! limit) in parts of 10 MiB, Notion's recommended size. The file is held in
//! memory while it is sent (at most the workspace's limit).

use serde_json::{Value as Json, json};

use super::Engine;
use crate::{
    clients::api_error::ApiError,
    notion::{
        Page,
        files::{FilePart, FileUpload},
    },
    sync::{
        convert::{
            Kind,
            files::{
                NOTION_PART_SIZE, NOTION_SINGLE_PART_LIMIT, PENDING_KEY, SIZE_ERROR_KEY, SIZE_KEY,
            },
        },
        pair::ResolvedPair,
        plan::{NotionWrite, Plan},
    },
};

impl Engine {
    /// Put each Notion file's size into its file object (`SIZE_KEY`), or why
    /// it is unknown (`SIZE_ERROR_KEY`). Notion's files property carries no
    /// size, and a file's identity is its name and size: the file host's
    /// `Content-Length` for the URL Notion just gave is the size of the bytes
    /// Notion holds. One GET per file (body not read), only for mapped files
    /// properties; the API budget is not spent (the host is not the API).
    /// Public so that a test can plan a record exactly as the engine does.
    pub async fn size_notion_files(&self, pair: &ResolvedPair, page: &mut Page) {
        for field in pair.fields.iter().filter(|f| f.kind == Kind::Files) {
            let Some(property) = page.properties.get_mut(&field.notion) else {
                continue;
            };
            let Some(files) = property.raw["files"].as_array_mut() else {
                continue;
            };
            for file in files.iter_mut() {
                let ty = file["type"].as_str().unwrap_or_default().to_owned();
                let Some(url) = file[&ty]["url"].as_str().map(str::to_owned) else {
                    continue;
                };
                if ty == "external" {
                    continue; // refused as a link by the conversion, never fetched
                }
                match self.notion.file_size(&url).await {
                    Ok(size) => file[SIZE_KEY] = json!(size),
                    Err(why) => file[SIZE_ERROR_KEY] = json!(why),
                }
            }
        }
    }

    /// Make the file uploads a planned Notion update waits for (files the
    /// page gains from Airtable), putting their ids into the body. A file
    /// that cannot cross (its download fails, Notion refuses it: too large
    /// for the workspace) refuses its whole property, which is dropped from
    /// the write and reported; the page keeps its files. Rate limits and
    /// vendor faults fail the job to be retried. Public so that a test can
    /// write a plan exactly as the engine does.
    pub async fn upload_pending_files(
        &self,
        pair: &ResolvedPair,
        plan: &mut Plan,
    ) -> Result<(), ApiError> {
        let NotionWrite::Update { properties, .. } = &mut plan.notion else {
            return Ok(());
        };
        let pending = |body: &Json| {
            body["files"]
                .as_array()
                .is_some_and(|files| files.iter().any(|f| f.get(PENDING_KEY).is_some()))
        };
        if !properties.values().any(pending) {
            return Ok(());
        }
        // Asked before anything is downloaded, so a file the workspace
        // cannot take costs one call per attempt, not a download and two.
        let limit = self
            .notion
            .max_upload_bytes()
            .await?
            .unwrap_or(NOTION_SINGLE_PART_LIMIT);
        let mut refused = Vec::new();
        for (key, body) in properties.iter_mut() {
            if let Err(why) = self.upload_into(body, limit).await? {
                refused.push((key.clone(), why));
            }
        }
        for (key, why) in refused {
            if let NotionWrite::Update { properties, .. } = &mut plan.notion {
                properties.remove(&key);
                if properties.is_empty() {
                    plan.notion = NotionWrite::None;
                }
            }
            super::write::refuse(pair, plan, &key, &why);
        }
        Ok(())
    }

    /// Upload every pending file of one property body; `Ok(Err(why))` when
    /// a file cannot cross.
    async fn upload_into(
        &self,
        body: &mut Json,
        limit: u64,
    ) -> Result<Result<(), String>, ApiError> {
        let Some(files) = body["files"].as_array_mut() else {
            return Ok(Ok(()));
        };
        for file in files.iter_mut() {
            let Some(pending) = file.as_object_mut().and_then(|o| o.remove(PENDING_KEY)) else {
                continue;
            };
            let name = file["name"].as_str().unwrap_or("file").to_owned();
            let size = pending["size"].as_u64().unwrap_or_default();
            if size > limit {
                return Ok(Err(format!(
                    "`{name}` has {size} bytes; the Notion workspace takes files of at most {limit} bytes"
                )));
            }
            match self.upload_one(&name, &pending, limit).await? {
                Ok(id) => file["file_upload"] = json!({ "id": id }),
                Err(why) => return Ok(Err(format!("`{name}` could not be copied: {why}"))),
            }
        }
        Ok(Ok(()))
    }

    async fn upload_one(
        &self,
        name: &str,
        pending: &Json,
        limit: u64,
    ) -> Result<Result<String, String>, ApiError> {
        let url = pending["url"].as_str().unwrap_or_default();
        let content_type = pending["content_type"]
            .as_str()
            .unwrap_or("application/octet-stream");
        let bytes = match self.notion.download(url, limit).await {
            Ok(bytes) => bytes,
            Err(why) => return Ok(Err(format!("the Airtable file could not be read: {why}"))),
        };
        let refused = |e: ApiError| match e {
            ApiError::Fatal { message, .. } => Ok(Err(format!("Notion refused it: {message}"))),
            other => Err(other),
        };
        let file = FilePart {
            filename: name,
            content_type,
            part_number: None,
        };
        let sent = if bytes.len() as u64 <= NOTION_SINGLE_PART_LIMIT {
            self.send_single_part(file, bytes).await
        } else {
            self.send_multi_part(file, bytes).await
        };
        match sent {
            Ok(done) if done.status == "uploaded" => Ok(Ok(done.id)),
            Ok(done) => Ok(Err(format!("the upload is {}, not uploaded", done.status))),
            Err(e) => refused(e),
        }
    }

    async fn send_single_part(
        &self,
        file: FilePart<'_>,
        bytes: Vec<u8>,
    ) -> Result<FileUpload, ApiError> {
        let upload = self
            .notion
            .create_file_upload(file.filename, Some(file.content_type))
            .await?;
        self.notion.send_file_upload(&upload.id, file, bytes).await
    }

    /// A file over 20 MB: parts of [`NOTION_PART_SIZE`] (the last smaller),
    /// sent in order, then the upload completed.
    async fn send_multi_part(
        &self,
        file: FilePart<'_>,
        bytes: Vec<u8>,
    ) -> Result<FileUpload, ApiError> {
        let parts: Vec<&[u8]> = bytes.chunks(NOTION_PART_SIZE as usize).collect();
        let upload = self
            .notion
            .create_multi_part_upload(file.filename, file.content_type, parts.len())
            .await?;
        for (i, part) in parts.iter().enumerate() {
            let numbered = FilePart {
                part_number: Some(i + 1),
                ..file
            };
            self.notion
                .send_file_upload(&upload.id, numbered, part.to_vec())
                .await?;
        }
        self.notion.complete_file_upload(&upload.id).await
    }
}
