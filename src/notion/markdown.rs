//! Page content as enhanced markdown: `GET` and `PATCH
//! /v1/pages/{page_id}/markdown` (Notion's "Retrieve a page as markdown" and
//! "Update a page's content as markdown"). Both need the integration's read
//! content capability (403 without it).

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::client::NotionClient;
use crate::clients::api_error::ApiError;

/// A `page_markdown` object. `truncated` pages (beyond about 20,000 blocks)
/// hold `<unknown>` tags for the blocks in `unknown_block_ids`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PageMarkdown {
    pub markdown: String,
    #[serde(default)]
    pub truncated: bool,
    #[serde(default)]
    pub unknown_block_ids: Vec<String>,
}

impl NotionClient {
    /// `GET /v1/pages/{page_id}/markdown`.
    pub async fn retrieve_markdown(&self, page_id: &str) -> Result<PageMarkdown, ApiError> {
        self.get(&["pages", page_id, "markdown"], &[]).await
    }

    /// `PATCH /v1/pages/{page_id}/markdown` with `replace_content`: the whole
    /// content becomes `markdown`. Child pages and databases are never
    /// deleted (`allow_deleting_content` is left off: Notion refuses such a
    /// replacement with a `validation_error` instead).
    pub async fn replace_markdown(
        &self,
        page_id: &str,
        markdown: &str,
    ) -> Result<PageMarkdown, ApiError> {
        let body = replace_body(markdown);
        self.send(Method::PATCH, &["pages", page_id, "markdown"], &body)
            .await
    }
}

/// The request body of a whole-content replacement.
pub fn replace_body(markdown: &str) -> serde_json::Value {
    json!({ "type": "replace_content", "replace_content": { "new_str": markdown } })
}
