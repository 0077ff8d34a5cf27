//! File hosting both sandboxes share, as the vendors' file hosts behave:
//! stored bytes served at expiring, signed URLs (Notion's for an hour,
//! Airtable's for a few hours), bounded downloads of URLs a client gives
//! (Airtable fetches `{url}` attachments; only loopback hosts, since the
//! sandbox only ever runs beside its tests) and a one-part
//! `multipart/form-data` reader for Notion's file upload `send`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    extract::{Path, Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use time::OffsetDateTime;

use crate::common::{Clock, lock};

/// The largest file the sandboxes download from a URL.
pub const MAX_DOWNLOAD: u64 = 50 * 1024 * 1024;
/// How long a download may take.
pub const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
pub struct StoredFile {
    pub filename: String,
    pub content_type: String,
    pub bytes: Arc<Vec<u8>>,
}

/// Stored files and the key their URLs are signed with.
#[derive(Clone)]
pub struct FileHost {
    inner: Arc<Mutex<HashMap<String, StoredFile>>>,
    key: Arc<[u8; 32]>,
    clock: Clock,
    /// `http://host:port`, the origin the URLs point at.
    base: String,
}

#[derive(Deserialize)]
struct Signed {
    expires: i64,
    sig: String,
}

impl std::fmt::Debug for FileHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileHost")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl FileHost {
    pub fn new(base: &str, clock: Clock) -> Self {
        Self {
            inner: Arc::default(),
            key: Arc::new(rand::random()),
            clock,
            base: base.to_owned(),
        }
    }

    pub fn put(&self, id: &str, file: StoredFile) {
        lock(&self.inner).insert(id.to_owned(), file);
    }

    pub fn get(&self, id: &str) -> Option<StoredFile> {
        lock(&self.inner).get(id).cloned()
    }

    /// A URL for file `id` valid for `ttl`, and when it expires.
    pub fn url(&self, id: &str, ttl: time::Duration) -> (String, OffsetDateTime) {
        let expires = self.clock.now() + ttl;
        let at = expires.unix_timestamp();
        let sig = self.sign(id, at);
        (
            format!("{}/files/{id}?expires={at}&sig={sig}", self.base),
            expires,
        )
    }

    /// The file a URL of this host names, if the URL is still valid.
    pub fn resolve(&self, url: &str) -> Option<(String, StoredFile)> {
        let url = url::Url::parse(url).ok()?;
        let id = url.path().strip_prefix("/files/")?.to_owned();
        if !url.as_str().starts_with(&self.base) {
            return None;
        }
        let q: HashMap<_, _> = url.query_pairs().into_owned().collect();
        let signed = Signed {
            expires: q.get("expires")?.parse().ok()?,
            sig: q.get("sig")?.clone(),
        };
        self.check(&id, &signed).ok()?;
        Some((id.clone(), self.get(&id)?))
    }

    fn sign(&self, id: &str, expires: i64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key[..]).expect("any key length");
        mac.update(format!("{id}\n{expires}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn check(&self, id: &str, signed: &Signed) -> Result<(), StatusCode> {
        if self.sign(id, signed.expires) != signed.sig {
            return Err(StatusCode::FORBIDDEN);
        }
        if self.clock.now().unix_timestamp() > signed.expires {
            return Err(StatusCode::FORBIDDEN);
        }
        Ok(())
    }

    /// `GET /files/{id}?expires=…&sig=…`, outside the API (no token, as a
    /// presigned file URL needs none).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/files/{id}", get(serve_file))
            .with_state(self.clone())
    }
}

async fn serve_file(
    State(host): State<FileHost>,
    Path(id): Path<String>,
    Query(signed): Query<Signed>,
) -> Response {
    if let Err(status) = host.check(&id, &signed) {
        return (status, "Request has expired or is not signed").into_response();
    }
    match host.get(&id) {
        Some(file) => (
            [(header::CONTENT_TYPE, file.content_type.clone())],
            file.bytes.to_vec(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Download `url` (loopback hosts only), at most [`MAX_DOWNLOAD`] bytes.
pub async fn download(url: &str) -> Result<(Vec<u8>, Option<String>), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("invalid url: {e}"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    if !loopback || !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "the sandbox only downloads from loopback hosts: {url}"
        ));
    }
    let client = reqwest::Client::builder()
        .timeout(DOWNLOAD_TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    let mut response = client.get(parsed).send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("the file host answered {}", response.status()));
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() as u64 > MAX_DOWNLOAD {
            return Err(format!("the file is larger than {MAX_DOWNLOAD} bytes"));
        }
    }
    Ok((bytes, content_type))
}

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormPart {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// Every part of a `multipart/form-data` body (RFC 7578), or `None` when
/// the body is not one.
pub fn multipart_form(content_type: &str, body: &[u8]) -> Option<Vec<FormPart>> {
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let closing = format!("\r\n{delimiter}");
    let mut rest = &body[find(body, delimiter.as_bytes())? + delimiter.len()..];
    let mut parts = Vec::new();
    while !rest.starts_with(b"--") {
        rest = rest.strip_prefix(b"\r\n")?;
        let head_end = find(rest, b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&rest[..head_end]).to_string();
        let data = &rest[head_end + 4..];
        let end = find(data, closing.as_bytes())?;
        let param = |key: &str| {
            head.split(&format!("{key}=\""))
                .nth(1)
                .and_then(|s| s.split('"').next())
                .map(str::to_owned)
        };
        let part_type = head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        });
        parts.push(FormPart {
            name: param(" name").or_else(|| param(";name"))?,
            filename: param("filename"),
            content_type: part_type,
            data: data[..end].to_vec(),
        });
        rest = &data[end + closing.len()..];
    }
    Some(parts)
}

/// The `file` part of a `multipart/form-data` body: `(filename, content
/// type, bytes)`.
pub fn multipart_file(
    content_type: &str,
    body: &[u8],
) -> Option<(Option<String>, Option<String>, Vec<u8>)> {
    let part = multipart_form(content_type, body)?
        .into_iter()
        .find(|p| p.name == "file")?;
    Some((part.filename, part.content_type, part.data))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    // Jump between occurrences of the first byte: parts are megabytes long.
    let first = *needle.first()?;
    let mut from = 0;
    while let Some(p) = haystack[from..].iter().position(|b| *b == first) {
        let at = from + p;
        if haystack[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_reads_the_file_part() {
        let body = b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x01\x02\r\n\x03\r\n--xyz--\r\n";
        let (name, ty, bytes) = multipart_file("multipart/form-data; boundary=xyz", body).unwrap();
        assert_eq!(name.as_deref(), Some("a.png"));
        assert_eq!(ty.as_deref(), Some("image/png"));
        assert_eq!(bytes, b"\x01\x02\r\n\x03");
    }

    #[test]
    fn multipart_reads_every_part() {
        let body = b"--b\r\nContent-Disposition: form-data; name=\"part_number\"\r\n\r\n2\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.bin\"\r\n\r\nab\r\n--b--\r\n";
        let parts = multipart_form("multipart/form-data; boundary=b", body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[0].name.as_str(), parts[0].data.as_slice()),
            ("part_number", &b"2"[..])
        );
        assert_eq!(parts[1].filename.as_deref(), Some("x.bin"));
        assert_eq!(parts[1].data, b"ab");
        assert!(multipart_form("multipart/form-data; boundary=b", b"nothing").is_none());
    }

    #[test]
    fn urls_expire_and_cannot_be_forged() {
        let clock = Clock::new();
        let host = FileHost::new("http://127.0.0.1:1", clock.clone());
        let file = StoredFile {
            filename: "a".into(),
            content_type: "text/plain".into(),
            bytes: Arc::new(b"hi".to_vec()),
        };
        host.put("f1", file);
        let (url, _) = host.url("f1", time::Duration::hours(1));
        assert!(host.resolve(&url).is_some());
        assert!(host.resolve(&url.replace("f1", "f2")).is_none());
        clock.set_offset_seconds(3601);
        assert!(host.resolve(&url).is_none());
    }

    #[tokio::test]
    async fn downloads_only_from_loopback() {
        let e = download("http://example.com/x").await.unwrap_err();
        assert!(e.contains("loopback"), "{e}");
    }
}
