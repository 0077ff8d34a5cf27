//! One method per Notion endpoint used by the sync.

use reqwest::Method;
use serde_json::{Map, Value as Json, json};

use super::client::NotionClient;
use super::model::{DataSource, DataSourceRef, Database, ListPage, Page, User};
use super::query::Query;
use crate::clients::api_error::{ApiError, Vendor};

/// Property write bodies by property name or id (see `property::write`).
pub type PropertyWrites = Map<String, Json>;

/// One page of query results.
#[derive(Debug, Clone)]
pub struct QueryPage {
    pub pages: Vec<Page>,
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

impl QueryPage {
    /// The cursor of the next page of results, if there is one.
    pub fn next(&self) -> Option<String> {
        next_cursor(self.has_more, self.next_cursor.clone())
    }
}

/// Why a configured id did not lead to exactly one data source.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(
        "Notion database {database_id} has several data sources ({}); configure one of them by its data source id",
        list_sources(.data_sources)
    )]
    Ambiguous {
        database_id: String,
        data_sources: Vec<DataSourceRef>,
    },
    #[error("Notion database {database_id} has no data source")]
    NoDataSource { database_id: String },
}

fn list_sources(sources: &[DataSourceRef]) -> String {
    let names: Vec<String> = sources
        .iter()
        .map(|s| format!("{} \"{}\"", s.id, s.name))
        .collect();
    names.join(", ")
}

impl NotionClient {
    /// `GET /v1/users/me`: the integration's bot user.
    pub async fn me(&self) -> Result<User, ApiError> {
        self.get(&["users", "me"], &[]).await
    }

    /// `GET /v1/users`, every page.
    pub async fn list_users(&self) -> Result<Vec<User>, ApiError> {
        let mut users = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("page_size", "100")];
            if let Some(c) = cursor.as_deref() {
                query.push(("start_cursor", c));
            }
            let page: ListPage<User> = self.get(&["users"], &query).await?;
            users.extend(page.results);
            match next_cursor(page.has_more, page.next_cursor) {
                Some(next) => cursor = Some(next),
                None => return Ok(users),
            }
        }
    }

    /// `GET /v1/databases/{id}`: title and data sources, no schema.
    pub async fn retrieve_database(&self, database_id: &str) -> Result<Database, ApiError> {
        self.get(&["databases", database_id], &[]).await
    }

    /// `GET /v1/data_sources/{id}`: the schema.
    pub async fn retrieve_data_source(&self, data_source_id: &str) -> Result<DataSource, ApiError> {
        self.get(&["data_sources", data_source_id], &[]).await
    }

    /// The data source for a configured id, which may be a data source id or
    /// the id of a database holding exactly one data source (the id a user
    /// copies from the browser is the database's).
    pub async fn resolve_data_source(&self, id: &str) -> Result<DataSource, ResolveError> {
        // `notion_database_id` usually names a database (what Notion's UI
        // shows): asking for it first costs two calls, where asking for a
        // data source first would cost three (a 404, then both).
        let database = match self.retrieve_database(id).await {
            Err(e) if e.is_not_found() => return Ok(self.retrieve_data_source(id).await?),
            other => other?,
        };
        match database.data_sources.as_slice() {
            [one] => Ok(self.retrieve_data_source(&one.id).await?),
            [] => Err(ResolveError::NoDataSource {
                database_id: database.id,
            }),
            _ => Err(ResolveError::Ambiguous {
                database_id: database.id,
                data_sources: database.data_sources,
            }),
        }
    }

    /// `POST /v1/data_sources/{id}/query`: one page of results. Results that
    /// are not pages (a wiki's data sources) are skipped.
    pub async fn query_data_source(
        &self,
        data_source_id: &str,
        query: &Query,
    ) -> Result<QueryPage, ApiError> {
        let segments = ["data_sources", data_source_id, "query"];
        let page: ListPage<Json> = self.send(Method::POST, &segments, &query.body()).await?;
        let pages = page
            .results
            .into_iter()
            .filter(|r| r["object"] == "page")
            .map(parse_page)
            .collect::<Result<_, _>>()?;
        Ok(QueryPage {
            pages,
            next_cursor: page.next_cursor,
            has_more: page.has_more,
        })
    }

    /// Every page matching `filter`, following `next_cursor` until
    /// `has_more` is false (a page may hold fewer than `page_size` results).
    pub async fn query_all(
        &self,
        data_source_id: &str,
        filter: Option<Json>,
    ) -> Result<Vec<Page>, ApiError> {
        let mut query = Query {
            filter,
            ..Query::default()
        };
        let mut pages = Vec::new();
        loop {
            let page = self.query_data_source(data_source_id, &query).await?;
            pages.extend(page.pages);
            match next_cursor(page.has_more, page.next_cursor) {
                Some(next) => query.start_cursor = Some(next),
                None => return Ok(pages),
            }
        }
    }

    /// `GET /v1/pages/{id}`.
    pub async fn retrieve_page(&self, page_id: &str) -> Result<Page, ApiError> {
        self.get(&["pages", page_id], &[]).await
    }

    /// Every page id of a relation property: page reads carry at most 25
    /// references (`has_more` says there are more).
    pub async fn relation_ids(
        &self,
        page_id: &str,
        property_id: &str,
    ) -> Result<Vec<String>, ApiError> {
        let items = self.property_items(page_id, property_id).await?;
        Ok(items
            .iter()
            .filter_map(|item| item["relation"]["id"].as_str().map(str::to_owned))
            .collect())
    }

    /// The whole list of a people property: user objects, as a page read
    /// shows them (page reads stop at 25).
    pub async fn people(&self, page_id: &str, property_id: &str) -> Result<Vec<Json>, ApiError> {
        let items = self.property_items(page_id, property_id).await?;
        Ok(items
            .into_iter()
            .filter_map(|mut item| match item["people"].take() {
                Json::Null => None,
                user => Some(user),
            })
            .collect())
    }

    /// `GET /v1/pages/{id}/properties/{property_id}`, every page of the
    /// paginated `property_item` list (title, rich_text, relation, people;
    /// 100 items a page at most, one reference per item).
    async fn property_items(
        &self,
        page_id: &str,
        property_id: &str,
    ) -> Result<Vec<Json>, ApiError> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("page_size", "100")];
            if let Some(c) = cursor.as_deref() {
                query.push(("start_cursor", c));
            }
            let page: ListPage<Json> = self
                .get_encoded(&["pages", page_id, "properties"], property_id, &query)
                .await?;
            items.extend(page.results);
            match next_cursor(page.has_more, page.next_cursor) {
                Some(next) => cursor = Some(next),
                None => return Ok(items),
            }
        }
    }

    /// `POST /v1/pages` under a data source.
    pub async fn create_page(
        &self,
        data_source_id: &str,
        properties: &PropertyWrites,
    ) -> Result<Page, ApiError> {
        let body = json!({
            "parent": { "type": "data_source_id", "data_source_id": data_source_id },
            "properties": properties,
        });
        self.send(Method::POST, &["pages"], &body).await
    }

    /// `PATCH /v1/pages/{id}`: only the properties sent change.
    pub async fn update_page(
        &self,
        page_id: &str,
        properties: &PropertyWrites,
    ) -> Result<Page, ApiError> {
        let body = json!({ "properties": properties });
        self.send(Method::PATCH, &["pages", page_id], &body).await
    }

    /// Move a page to the trash (the API cannot delete permanently).
    pub async fn trash_page(&self, page_id: &str) -> Result<Page, ApiError> {
        self.set_in_trash(page_id, true).await
    }

    /// Bring a page back from the trash.
    pub async fn restore_page(&self, page_id: &str) -> Result<Page, ApiError> {
        self.set_in_trash(page_id, false).await
    }

    async fn set_in_trash(&self, page_id: &str, in_trash: bool) -> Result<Page, ApiError> {
        let body = json!({ "in_trash": in_trash });
        self.send(Method::PATCH, &["pages", page_id], &body).await
    }
}

/// The cursor to continue with, if any. `has_more` without a cursor would
/// loop forever, so it ends the walk (with a warning).
fn next_cursor(has_more: bool, next: Option<String>) -> Option<String> {
    if has_more && next.is_none() {
        tracing::warn!("Notion said has_more without a next_cursor; stopping pagination");
    }
    next.filter(|_| has_more)
}

fn parse_page(value: Json) -> Result<Page, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError::Fatal {
        vendor: Vendor::Notion,
        status: 200,
        code: "unexpected_response".into(),
        message: format!("cannot read a page in the query results: {e}"),
    })
}
