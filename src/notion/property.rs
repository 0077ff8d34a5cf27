//! Page property values: the typed read model and the write-body builders.
//!
//! A read value keeps the JSON Notion sent (`raw`, the `{id, type, <type>}`
//! object) next to its typed form, so code that works on the vendor JSON
//! (the converters in `sync::convert`) and code that wants types both have
//! what they need, and re-serialising a page loses nothing.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Value as Json, json};

use super::rich_text::{RichText, plain_text, rich_text_objects};
use super::user::User;

/// One property of a page as read.
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyValue {
    /// The property id (short, URL-encoded, stable across renames).
    pub id: String,
    pub value: PropertyData,
    /// The property object exactly as Notion sent it.
    pub raw: Json,
}

/// The typed value of a property; types the sync does not handle are `Other`.
#[derive(Debug, Clone, PartialEq)]
pub enum PropertyData {
    Title(Vec<RichText>),
    RichText(Vec<RichText>),
    Select(Option<SelectOption>),
    Status(Option<SelectOption>),
    MultiSelect(Vec<SelectOption>),
    People(Vec<User>),
    Date(Option<DateValue>),
    Url(Option<String>),
    Email(Option<String>),
    PhoneNumber(Option<String>),
    Number(Option<f64>),
    Checkbox(bool),
    /// Any other type (formula, relation, rollup, files, ...), by type name.
    Other(String),
}

/// A select, status or multi-select option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectOption {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub color: Option<String>,
}

/// A date property: `start` is a date (`2023-02-23`) or a datetime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateValue {
    pub start: String,
    #[serde(default)]
    pub end: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
}

impl PropertyValue {
    /// Parse a property object; a value whose shape does not match its type
    /// becomes `Other` instead of failing the whole page.
    pub fn from_json(raw: Json) -> Self {
        let id = raw["id"].as_str().unwrap_or_default().to_owned();
        let ty = raw["type"].as_str().unwrap_or_default();
        let value = PropertyData::parse(ty, &raw[ty]).unwrap_or_else(|| {
            tracing::debug!(
                property_type = ty,
                "unexpected property shape; kept as other"
            );
            PropertyData::Other(ty.to_owned())
        });
        Self { id, value, raw }
    }

    /// The type name (`title`, `select`, ...).
    pub fn kind(&self) -> &str {
        self.raw["type"].as_str().unwrap_or_default()
    }

    /// The value as text: rich text joined, an option's name, a URL, email or
    /// phone number; empty for other types and for no value.
    pub fn plain_text(&self) -> String {
        match &self.value {
            PropertyData::Title(t) | PropertyData::RichText(t) => plain_text(t),
            PropertyData::Select(o) | PropertyData::Status(o) => {
                o.as_ref().map(|o| o.name.clone()).unwrap_or_default()
            }
            PropertyData::Url(s) | PropertyData::Email(s) | PropertyData::PhoneNumber(s) => {
                s.clone().unwrap_or_default()
            }
            _ => String::new(),
        }
    }

    /// The option names of a multi-select (or the one of a select/status).
    pub fn option_names(&self) -> Vec<String> {
        match &self.value {
            PropertyData::MultiSelect(options) => options.iter().map(|o| o.name.clone()).collect(),
            PropertyData::Select(Some(o)) | PropertyData::Status(Some(o)) => vec![o.name.clone()],
            _ => Vec::new(),
        }
    }

    /// The user ids of a people property.
    pub fn user_ids(&self) -> Vec<String> {
        match &self.value {
            PropertyData::People(users) => users.iter().map(|u| u.id.clone()).collect(),
            _ => Vec::new(),
        }
    }
}

impl PropertyData {
    fn parse(ty: &str, inner: &Json) -> Option<Self> {
        let value = match ty {
            "title" => Self::Title(from(inner)?),
            "rich_text" => Self::RichText(from(inner)?),
            "select" => Self::Select(from(inner)?),
            "status" => Self::Status(from(inner)?),
            "multi_select" => Self::MultiSelect(from(inner)?),
            "people" => Self::People(from(inner)?),
            "date" => Self::Date(from(inner)?),
            "url" => Self::Url(from(inner)?),
            "email" => Self::Email(from(inner)?),
            "phone_number" => Self::PhoneNumber(from(inner)?),
            "number" => Self::Number(from(inner)?),
            "checkbox" => Self::Checkbox(from(inner)?),
            other => Self::Other(other.to_owned()),
        };
        Some(value)
    }
}

fn from<T: for<'de> Deserialize<'de>>(inner: &Json) -> Option<T> {
    T::deserialize(inner).ok()
}

impl<'de> Deserialize<'de> for PropertyValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Json::deserialize(deserializer).map(PropertyValue::from_json)
    }
}

impl Serialize for PropertyValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}

/// Builders for property write bodies (`properties.<name or id>` values).
/// `None` and empty text write `null`/`[]`, which clears the property:
/// Notion refuses empty strings.
pub mod write {
    use super::*;

    pub fn title(text: &str) -> Json {
        json!({ "title": rich_text_objects(text) })
    }

    pub fn rich_text(text: &str) -> Json {
        json!({ "rich_text": rich_text_objects(text) })
    }

    pub fn select(name: Option<&str>) -> Json {
        json!({ "select": name.map(|n| json!({ "name": n })) })
    }

    pub fn status(name: Option<&str>) -> Json {
        json!({ "status": name.map(|n| json!({ "name": n })) })
    }

    /// Replaces the whole set of options.
    pub fn multi_select<S: AsRef<str>>(names: &[S]) -> Json {
        let options: Vec<Json> = names
            .iter()
            .map(|n| json!({ "name": n.as_ref() }))
            .collect();
        json!({ "multi_select": options })
    }

    pub fn people<S: AsRef<str>>(user_ids: &[S]) -> Json {
        let users: Vec<Json> = user_ids
            .iter()
            .map(|id| json!({ "object": "user", "id": id.as_ref() }))
            .collect();
        json!({ "people": users })
    }

    /// `start` is `YYYY-MM-DD` or an RFC 3339 datetime.
    pub fn date(start: Option<&str>) -> Json {
        json!({ "date": start.map(|s| json!({ "start": s })) })
    }

    pub fn url(value: Option<&str>) -> Json {
        json!({ "url": non_empty(value) })
    }

    pub fn email(value: Option<&str>) -> Json {
        json!({ "email": non_empty(value) })
    }

    pub fn phone_number(value: Option<&str>) -> Json {
        json!({ "phone_number": non_empty(value) })
    }

    pub fn number(value: Option<f64>) -> Json {
        json!({ "number": value })
    }

    pub fn checkbox(value: bool) -> Json {
        json!({ "checkbox": value })
    }

    fn non_empty(value: Option<&str>) -> Option<&str> {
        value.filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_typed_values_and_keeps_the_raw_json() {
        let raw = json!({"id": "a%3Ab", "type": "select",
            "select": {"id": "x", "name": "Ready", "color": "green"}});
        let p = PropertyValue::from_json(raw.clone());
        assert_eq!(p.id, "a%3Ab");
        assert_eq!(p.kind(), "select");
        assert_eq!(p.plain_text(), "Ready");
        assert_eq!(serde_json::to_value(&p).unwrap(), raw);
    }

    #[test]
    fn reads_title_people_and_empty_values() {
        let title = PropertyValue::from_json(json!({"id": "title", "type": "title",
            "title": [{"plain_text": "Spec ", "href": null}, {"plain_text": "one"}]}));
        assert_eq!(title.plain_text(), "Spec one");
        let people = PropertyValue::from_json(json!({"id": "p", "type": "people",
            "people": [{"object": "user", "id": "u1"}]}));
        assert_eq!(people.user_ids(), ["u1"]);
        let empty = PropertyValue::from_json(json!({"id": "s", "type": "select", "select": null}));
        assert_eq!(empty.value, PropertyData::Select(None));
        let date = PropertyValue::from_json(json!({"id": "d", "type": "date", "date": null}));
        assert_eq!(date.value, PropertyData::Date(None));
    }

    #[test]
    fn unknown_types_and_odd_shapes_become_other() {
        let formula = PropertyValue::from_json(json!({"id": "f", "type": "formula",
            "formula": {"type": "number", "number": 3}}));
        assert_eq!(formula.value, PropertyData::Other("formula".into()));
        let odd = PropertyValue::from_json(json!({"id": "n", "type": "number", "number": "x"}));
        assert_eq!(odd.value, PropertyData::Other("number".into()));
    }

    #[test]
    fn builders_match_the_documented_write_bodies() {
        assert_eq!(
            write::select(Some("Marketing")),
            json!({"select": {"name": "Marketing"}})
        );
        assert_eq!(write::select(None), json!({"select": null}));
        assert_eq!(
            write::multi_select(&["TypeScript", "Python"]),
            json!({"multi_select": [{"name": "TypeScript"}, {"name": "Python"}]})
        );
        assert_eq!(write::url(Some("")), json!({"url": null}));
        assert_eq!(
            write::date(Some("2023-02-23")),
            json!({"date": {"start": "2023-02-23"}})
        );
        assert_eq!(write::title("")["title"], json!([]));
    }
}
