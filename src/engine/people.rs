//! The I/O behind people fields ([`crate::sync::convert::people`]): Notion's
//! page reads (and data source queries) show at most 25 people per property
//! and, unlike relations, carry no `has_more`; "the 26th reference and
//! beyond might be returned as Untitled, Anonymous, or not be returned at
//! all" (retrieve-a-page, Limits). So a list of 25 or more is read whole
//! through the property-item endpoint before it is converted, and marked
//! `has_more: false` (the relation's own signal) so that the conversion
//! knows it is complete; a list that was not completed is refused there,
//! never synced cut.

use serde_json::Value as Json;

use super::Engine;
use crate::{
    clients::api_error::ApiError, notion::Page, sync::convert::people::NOTION_READ_CAP,
    sync::pair::ResolvedPair,
};

impl Engine {
    /// Replace every people list of `page` that may have been cut (25
    /// people or more) by its whole list.
    pub(super) async fn complete_people(
        &self,
        pair: &ResolvedPair,
        page: &mut Page,
    ) -> Result<(), ApiError> {
        for field in pair.fields.iter().filter(|f| f.kind.is_people()) {
            let Some(property) = page.properties.get(&field.notion) else {
                continue;
            };
            let shown = property.raw["people"].as_array().map_or(0, Vec::len);
            if shown < NOTION_READ_CAP || property.raw["has_more"] == Json::Bool(false) {
                continue;
            }
            let people = self.notion.people(&page.id, &property.id).await?;
            if let Some(property) = page.properties.get_mut(&field.notion) {
                property.raw["people"] = Json::Array(people);
                property.raw["has_more"] = Json::Bool(false);
            }
        }
        Ok(())
    }
}
