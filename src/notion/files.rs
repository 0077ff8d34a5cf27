//! Files: the File Upload API (`POST /v1/file_uploads`, then
//! `POST /v1/file_uploads/{id}/send` with the bytes as `multipart/form-data`;
//! files over 20 MB in `multi_part` mode: several sends with a `part_number`,
//! then `POST /v1/file_uploads/{id}/complete`) and plain, bounded reads of
//! file URLs (Notion's own expiring file URLs, and the URLs of files being
//! copied into Notion).

use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::NotionClient;
use crate::clients::api_error::{ApiError, Vendor};
use crate::clients::http::{join_path, read_json, send};

/// A file URL read takes at most this long (connect to last byte).
pub const FILE_TIMEOUT: Duration = Duration::from_secs(60);

/// What a send says about its bytes.
#[derive(Debug, Clone, Copy)]
pub struct FilePart<'a> {
    pub filename: &'a str,
    pub content_type: &'a str,
    /// 1-based, in multi-part mode only.
    pub part_number: Option<usize>,
}

/// A file upload object (only what the service uses).
#[derive(Debug, Clone, Deserialize)]
pub struct FileUpload {
    pub id: String,
    pub status: String,
}

impl NotionClient {
    /// `POST /v1/file_uploads` in single-part mode.
    pub async fn create_file_upload(
        &self,
        filename: &str,
        content_type: Option<&str>,
    ) -> Result<FileUpload, ApiError> {
        let mut body = json!({ "mode": "single_part", "filename": filename });
        if let Some(ct) = content_type {
            body["content_type"] = json!(ct);
        }
        self.send(Method::POST, &["file_uploads"], &body).await
    }

    /// `POST /v1/file_uploads` in multi-part mode (files over 20 MB):
    /// `filename` must carry an extension or `content_type` be given.
    pub async fn create_multi_part_upload(
        &self,
        filename: &str,
        content_type: &str,
        number_of_parts: usize,
    ) -> Result<FileUpload, ApiError> {
        let body = json!({
            "mode": "multi_part",
            "number_of_parts": number_of_parts,
            "filename": filename,
            "content_type": content_type,
        });
        self.send(Method::POST, &["file_uploads"], &body).await
    }

    /// `POST /v1/file_uploads/{id}/complete`, once every part is sent.
    pub async fn complete_file_upload(&self, id: &str) -> Result<FileUpload, ApiError> {
        self.send(Method::POST, &["file_uploads", id, "complete"], &json!({}))
            .await
    }

    /// `POST /v1/file_uploads/{id}/send`: the bytes as the form's `file` part,
    /// with `part_number` in multi-part mode. Sent once (a repeat after a
    /// lost answer is refused by Notion once the upload is no longer
    /// pending, so the job plans again instead).
    pub async fn send_file_upload(
        &self,
        id: &str,
        file: FilePart<'_>,
        bytes: Vec<u8>,
    ) -> Result<FileUpload, ApiError> {
        let url = join_path(&self.root, &["file_uploads", id, "send"]);
        let (boundary, body) = multipart_file(&file, bytes);
        let request = self
            .authorized(Method::POST, url.clone())
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        let method = Method::POST;
        let response = send(
            Vendor::Notion,
            &self.budget,
            self.penalty_wait_limit,
            request,
            (&method, &url),
        )
        .await?;
        if response.status().is_success() {
            return read_json(Vendor::Notion, response).await;
        }
        Err(self.error_from(response).await)
    }

    /// The workspace's per-file upload limit, from the bot user
    /// (`GET /v1/users/me`: `bot.workspace_limits.max_file_upload_size_in_bytes`,
    /// 5 MiB on the free plan); `None` when Notion does not say.
    pub async fn max_upload_bytes(&self) -> Result<Option<u64>, ApiError> {
        let me: serde_json::Value = self.get(&["users", "me"], &[]).await?;
        Ok(me["bot"]["workspace_limits"]["max_file_upload_size_in_bytes"].as_u64())
    }

    /// The size in bytes of the file at `url` (a file URL Notion gave), from
    /// the response's `Content-Length`; the body is not read. A GET, not a
    /// HEAD: presigned file URLs are signed for GET only.
    pub async fn file_size(&self, url: &str) -> Result<u64, String> {
        let response = self.file_response(url).await?;
        response
            .content_length()
            .ok_or_else(|| "the file host gave no Content-Length".to_owned())
    }

    /// The bytes at `url`, refused beyond `max` bytes (before reading when
    /// the host says so, else as soon as the body passes it).
    pub async fn download(&self, url: &str, max: u64) -> Result<Vec<u8>, String> {
        let mut response = self.file_response(url).await?;
        if let Some(len) = response.content_length().filter(|len| *len > max) {
            return Err(format!("the file has {len} bytes, more than {max}"));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > max {
                return Err(format!("the file has more than {max} bytes"));
            }
        }
        Ok(bytes)
    }

    /// A GET of a file URL: no token (the URL carries its own signature, and
    /// a token must never go to a file host), a bounded time.
    async fn file_response(&self, url: &str) -> Result<reqwest::Response, String> {
        let url = url::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("not an http(s) URL: {}", url.scheme()));
        }
        let response = self
            .http
            .get(url)
            .timeout(FILE_TIMEOUT)
            .send()
            .await
            .map_err(|e| format!("the file could not be read: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("the file host answered {}", response.status()));
        }
        Ok(response)
    }
}

/// A `multipart/form-data` body: `part_number` (when given), then `file`
/// (hand-built: two parts need no crate).
fn multipart_file(file: &FilePart<'_>, bytes: Vec<u8>) -> (String, Vec<u8>) {
    let boundary = format!("sync-{}", uuid::Uuid::new_v4().simple());
    let name = file.filename.replace(['"', '\r', '\n'], "_");
    let content_type = file.content_type;
    let mut head = String::new();
    if let Some(n) = file.part_number {
        head.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"part_number\"\r\n\r\n{n}\r\n"
        ));
    }
    head.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n"
    ));
    let mut body = head.into_bytes();
    body.extend(bytes);
    body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    (boundary, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_body_frames_the_bytes() {
        let file = FilePart {
            filename: "a\"b.png",
            content_type: "image/png",
            part_number: None,
        };
        let (b, body) = multipart_file(&file, vec![1, 2, 3]);
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{b}\r\n")));
        assert!(!text.contains("part_number"));
        assert!(text.contains("filename=\"a_b.png\""));
        assert!(body.ends_with(format!("\r\n--{b}--\r\n").as_bytes()));
        assert!(body.windows(3).any(|w| w == [1, 2, 3]));
        let part = FilePart {
            part_number: Some(2),
            ..file
        };
        let (b, body) = multipart_file(&part, vec![1]);
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"part_number\"\r\n\r\n2\r\n--{b}\r\n"
        )));
    }
}
