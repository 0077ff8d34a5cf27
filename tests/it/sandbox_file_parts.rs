//! The Notion sandbox's multi-part file uploads as Notion documents them
//! ("Uploading larger files"; create / send / complete a file upload), over
//! HTTP: the create body's rules (`number_of_parts` 1 to 10,000, a
//! `filename` with an extension or a `content_type`), parts numbered
//! within `number_of_parts` and of 5 to 20 MiB but the last, sent in any
//! order, `complete` only once every part arrived and within the
//! workspace's limit, and the completed file attached and read back whole.

use notion_airtable_sandbox::notion::{
    NotionSandbox, NotionSandboxConfig, PropertyKind, PropertySchema,
};
use serde_json::{Value, json};

const MIB: usize = 1024 * 1024;

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

struct Api {
    sb: NotionSandbox,
    http: reqwest::Client,
}

impl Api {
    async fn new() -> Self {
        let sb = NotionSandbox::start_local(NotionSandboxConfig {
            rate_limit: false,
            ..NotionSandboxConfig::default()
        })
        .await
        .unwrap();
        Self {
            sb,
            http: reqwest::Client::new(),
        }
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.sb.base_url()))
            .bearer_auth(self.sb.token())
            .header("Notion-Version", "2025-09-03")
    }

    async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn create(&self, body: Value) -> (u16, Value) {
        Self::answer(self.post("/v1/file_uploads").json(&body)).await
    }

    /// Send `bytes` as part `part_number` (`None`: no such field).
    async fn send(&self, id: &str, part_number: Option<&str>, bytes: &[u8]) -> (u16, Value) {
        let mut body = Vec::new();
        if let Some(n) = part_number {
            body.extend(
                format!(
                    "--b0\r\nContent-Disposition: form-data; name=\"part_number\"\r\n\r\n{n}\r\n"
                )
                .into_bytes(),
            );
        }
        body.extend(b"--b0\r\nContent-Disposition: form-data; name=\"file\"; filename=\"movie.mov\"\r\nContent-Type: video/quicktime\r\n\r\n");
        body.extend_from_slice(bytes);
        body.extend(b"\r\n--b0--\r\n");
        let request = self
            .post(&format!("/v1/file_uploads/{id}/send"))
            .header("Content-Type", "multipart/form-data; boundary=b0")
            .body(body);
        Self::answer(request).await
    }

    async fn complete(&self, id: &str) -> (u16, Value) {
        Self::answer(self.post(&format!("/v1/file_uploads/{id}/complete"))).await
    }
}

fn refused(answer: &(u16, Value), says: &str) {
    assert_eq!(answer.0, 400, "{}", answer.1);
    assert_eq!(answer.1["code"], "validation_error", "{}", answer.1);
    let message = answer.1["message"].as_str().unwrap();
    assert!(message.contains(says), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_part_create_is_validated() {
    let api = Api::new().await;
    let body = |extra: Value| {
        let mut b = json!({ "mode": "multi_part", "filename": "movie.mov", "number_of_parts": 3 });
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    refused(
        &api.create(body(json!({ "number_of_parts": null }))).await,
        "number_of_parts",
    );
    refused(
        &api.create(body(json!({ "number_of_parts": 0 }))).await,
        "between 1 and 10000",
    );
    refused(
        &api.create(body(json!({ "number_of_parts": 10_001 }))).await,
        "between 1 and 10000",
    );
    refused(
        &api.create(body(json!({ "filename": null }))).await,
        "filename",
    );
    refused(
        &api.create(body(json!({ "filename": "movie" }))).await,
        "no extension",
    );
    let (status, ok) = api
        .create(body(
            json!({ "filename": "movie", "content_type": "video/quicktime" }),
        ))
        .await;
    assert_eq!(status, 200, "{ok}");
    let (status, ok) = api.create(body(json!({}))).await;
    assert_eq!(status, 200, "{ok}");
    assert_eq!(ok["status"], "pending");
    assert_eq!(ok["number_of_parts"], json!({ "total": 3, "sent": 0 }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_are_checked_and_complete_waits_for_all_of_them() {
    let api = Api::new().await;
    api.sb.set_max_upload_bytes(64 * MIB as u64);
    let (_, created) = api
        .create(json!({ "mode": "multi_part", "filename": "movie.mov", "number_of_parts": 3 }))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (first, second, last) = (pattern(5 * MIB, 1), pattern(6 * MIB, 2), pattern(10, 3));

    refused(&api.send(&id, None, &first).await, "part_number");
    refused(&api.send(&id, Some("0"), &first).await, "between 1 and 3");
    refused(&api.send(&id, Some("4"), &first).await, "between 1 and 3");
    refused(&api.send(&id, Some("two"), &first).await, "between 1 and 3");
    refused(
        &api.send(&id, Some("1"), &first[..5 * MIB - 1]).await,
        "at least",
    );
    refused(
        &api.send(&id, Some("1"), &pattern(20 * MIB + 1, 0)).await,
        "at most",
    );

    // Out of order; the last part may be small.
    let (status, sent) = api.send(&id, Some("3"), &last).await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["status"], "pending");
    assert_eq!(sent["number_of_parts"], json!({ "total": 3, "sent": 1 }));
    assert_eq!(api.send(&id, Some("1"), &first).await.0, 200);
    refused(&api.complete(&id).await, "not sent yet: 2");
    assert_eq!(api.send(&id, Some("2"), &second).await.0, 200);
    let (status, done) = api.complete(&id).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "uploaded");
    let whole = [first, second, last].concat();
    assert_eq!(done["content_length"], json!(whole.len()));
    refused(&api.complete(&id).await, "not `pending`");
    refused(
        &api.send(&id, Some("1"), &whole[..5 * MIB]).await,
        "not `pending`",
    );

    // Attached to a page, it reads back whole, parts in order.
    let (_, ds) = api.sb.create_database(
        "Media",
        vec![
            PropertySchema::title("Name"),
            PropertySchema::new("Clip", PropertyKind::Files),
        ],
    );
    let files =
        json!([{ "name": "movie.mov", "type": "file_upload", "file_upload": { "id": id } }]);
    let (status, page) = Api::answer(api.post("/v1/pages").json(&json!({
        "parent": { "data_source_id": ds },
        "properties": { "Clip": { "files": files } },
    })))
    .await;
    assert_eq!(status, 200, "{page}");
    let url = page["properties"]["Clip"]["files"][0]["file"]["url"]
        .as_str()
        .unwrap();
    let bytes = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    assert!(
        bytes.as_ref() == whole.as_slice(),
        "the parts joined in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workspace_limit_applies_to_the_whole_file_and_single_parts_do_not_complete() {
    let api = Api::new().await; // the free plan: 5 MiB a file
    let (_, created) = api
        .create(json!({ "mode": "multi_part", "filename": "movie.mov", "number_of_parts": 2 }))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(api.send(&id, Some("1"), &pattern(5 * MIB, 1)).await.0, 200);
    assert_eq!(api.send(&id, Some("2"), &pattern(1, 2)).await.0, 200);
    refused(
        &api.complete(&id).await,
        "larger than the workspace's limit",
    );

    let (_, single) = api.create(json!({ "filename": "a.txt" })).await;
    let single = single["id"].as_str().unwrap().to_owned();
    refused(&api.complete(&single).await, "multi_part");
}
