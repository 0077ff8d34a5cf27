//! A Notion `status` property's group ("To-do", "In progress",
//! "Complete", or groups a person named) as a value of its own, one way
//! into an Airtable single select or text field (`value = "group"` in the
//! mapping). Pure code.
//!
//! Notion's page reads carry only the status's option (`{id, name,
//! color}`); which group an option belongs to is in the data source's
//! schema (`status.groups[].option_ids`). So the group is derived when a
//! page is read ([`derive`], called by `Wire::notion_in`): the page gets a
//! pseudo property under the field's own name (`"Status (group)"`, see
//! [`crate::config::mapping::status_group_name`]) holding the group as a
//! select value, and from there the field syncs like any select. A group
//! cannot be written: it follows from the option, and Notion has no way to
//! set one without choosing an option, so the mapping is refused in any
//! direction but Notion → Airtable.

use serde_json::{Value as Json, json};

use super::{convert::Kind, pair::ResolvedField};
use crate::{
    airtable::FieldSchema,
    config::{Direction, FieldMapping},
    notion::{Page, PropertyData, PropertySchema, PropertyValue, SelectOption},
};

/// The `notion_type` of a resolved group field (no Notion type has it).
pub const NOTION_TYPE: &str = "status_group";

/// Resolve a `value = "group"` mapping against the live schemas.
pub fn resolve(
    m: &FieldMapping,
    notion: &PropertySchema,
    airtable: &FieldSchema,
) -> Result<ResolvedField, String> {
    if notion.kind != "status" {
        return Err(format!(
            "value = \"group\" needs a Notion `status` property (its groups); \"{}\" is `{}`",
            m.notion, notion.kind
        ));
    }
    if m.direction != Direction::NotionToAirtable {
        return Err(
            "a status's group follows from its option and cannot be written to Notion: \
             use direction = \"notion_to_airtable\""
                .into(),
        );
    }
    // The group crosses as a select value: a single select or a text field.
    let kind = Kind::for_types("select", &airtable.kind).map_err(|_| {
        format!(
            "a status's group goes into an Airtable single select or text field, not `{}`",
            airtable.kind
        )
    })?;
    if kind != Kind::Select {
        return Err(format!(
            "a status's group goes into an Airtable single select or text field, not `{}`",
            airtable.kind
        ));
    }
    Ok(ResolvedField {
        notion: m.key(),
        notion_type: NOTION_TYPE.to_owned(),
        airtable: m.airtable.clone(),
        airtable_id: airtable.id.clone(),
        airtable_type: airtable.kind.clone(),
        kind,
        direction: m.direction,
        conflict: m.conflict,
        notion_schema: notion.clone(),
        airtable_options: airtable.options.clone(),
        relation_target: None,
    })
}

/// Whether `field` is a status's group.
pub fn is_group(field: &ResolvedField) -> bool {
    field.notion_type == NOTION_TYPE
}

/// Give `page` the group of each mapped status group, as a select-like
/// pseudo property under the field's name. A page without the status
/// property (not read, or removed) gets none, so the field is not planned;
/// an option in no group (a schema read before the option was added) reads
/// as empty only if the status is empty, otherwise the field is left out
/// until the schema is read again.
pub fn derive<'f>(page: &mut Page, fields: impl Iterator<Item = &'f ResolvedField>) {
    for field in fields.filter(|f| is_group(f)) {
        let status = page
            .properties
            .values()
            .find(|p| p.id == field.notion_schema.id)
            .map(|p| p.raw["status"].clone());
        let Some(status) = status else { continue };
        let group = match &status {
            Json::Null => None,
            option => match group_of(&field.notion_schema, option) {
                Some(name) => Some(name),
                None => continue,
            },
        };
        page.properties
            .insert(field.notion.clone(), pseudo(field, group));
    }
}

/// The name of the group whose `option_ids` hold `option` (by id, or by
/// name when the option carries no id).
fn group_of(schema: &PropertySchema, option: &Json) -> Option<String> {
    let id = option["id"].as_str();
    let option_id = id.map(str::to_owned).or_else(|| {
        let name = option["name"].as_str()?;
        schema
            .options
            .iter()
            .find(|o| o.name == name)
            .and_then(|o| o.id.clone())
    })?;
    schema.raw["status"]["groups"]
        .as_array()?
        .iter()
        .find(|g| {
            g["option_ids"]
                .as_array()
                .is_some_and(|ids| ids.iter().any(|i| i.as_str() == Some(&option_id)))
        })
        .and_then(|g| g["name"].as_str())
        .map(str::to_owned)
}

fn pseudo(field: &ResolvedField, group: Option<String>) -> PropertyValue {
    let option = group.as_ref().map(|name| SelectOption {
        id: None,
        name: name.clone(),
        color: None,
    });
    let select = group.map_or(Json::Null, |name| json!({ "name": name }));
    PropertyValue {
        id: field.notion_schema.id.clone(),
        value: PropertyData::Select(option),
        raw: json!({ "id": field.notion_schema.id, "type": "select", "select": select }),
    }
}

#[cfg(test)]
#[path = "status_group_tests.rs"]
mod tests;
