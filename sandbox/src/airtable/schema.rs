//! Field types and field definitions, and their `GET /v0/meta/bases/{base}/tables` rendering.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::ids::new_id;

/// The field types the sandbox models (names as in Airtable's field model).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FieldType {
    SingleLineText,
    MultilineText,
    RichText,
    Email,
    Url,
    PhoneNumber,
    Number,
    Checkbox,
    Date,
    DateTime,
    SingleSelect,
    MultipleSelects,
    Currency,
    Percent,
    Rating,
    Duration,
    /// People with access to the base (`collaborators.rs`).
    SingleCollaborator,
    MultipleCollaborators,
    /// Computed by Airtable (see `computed.rs`): read-only, added in the UI only.
    Formula,
    AutoNumber,
    CreatedTime,
    LastModifiedTime,
    /// Computed from linked records (`linked.rs`): a rollup (`options.formula` over the
    /// values of `fieldIdInLinkedTable`), a lookup and a count over `recordLinkFieldId`.
    Rollup,
    MultipleLookupValues,
    Count,
    /// Files (`airtable::attachments`).
    MultipleAttachments,
    /// Link to another record: an array of record ids of `options.linkedTableId` (`links.rs`).
    MultipleRecordLinks,
}

impl FieldType {
    /// The type's name in the API (`singleLineText`, ...).
    pub fn api_name(self) -> &'static str {
        match self {
            Self::SingleLineText => "singleLineText",
            Self::MultilineText => "multilineText",
            Self::RichText => "richText",
            Self::Email => "email",
            Self::Url => "url",
            Self::PhoneNumber => "phoneNumber",
            Self::Number => "number",
            Self::Checkbox => "checkbox",
            Self::Date => "date",
            Self::DateTime => "dateTime",
            Self::SingleSelect => "singleSelect",
            Self::MultipleSelects => "multipleSelects",
            Self::Currency => "currency",
            Self::Percent => "percent",
            Self::Rating => "rating",
            Self::Duration => "duration",
            Self::SingleCollaborator => "singleCollaborator",
            Self::MultipleCollaborators => "multipleCollaborators",
            Self::Formula => "formula",
            Self::AutoNumber => "autoNumber",
            Self::CreatedTime => "createdTime",
            Self::LastModifiedTime => "lastModifiedTime",
            Self::Rollup => "rollup",
            Self::MultipleLookupValues => "multipleLookupValues",
            Self::Count => "count",
            Self::MultipleAttachments => "multipleAttachments",
            Self::MultipleRecordLinks => "multipleRecordLinks",
        }
    }

    /// The type named `name` in the API, if the sandbox models it.
    pub fn from_api_name(name: &str) -> Option<Self> {
        ALL_TYPES.into_iter().find(|t| t.api_name() == name)
    }

    /// Cells holding a plain string.
    pub fn is_text(self) -> bool {
        matches!(
            self,
            Self::SingleLineText
                | Self::MultilineText
                | Self::RichText
                | Self::Email
                | Self::Url
                | Self::PhoneNumber
        )
    }

    /// Values Airtable computes: a write to one is refused.
    pub fn is_computed(self) -> bool {
        matches!(
            self,
            Self::Formula
                | Self::AutoNumber
                | Self::CreatedTime
                | Self::LastModifiedTime
                | Self::Rollup
                | Self::MultipleLookupValues
                | Self::Count
        )
    }

    /// Computed from linked records: stored, refreshed after every write (`linked.rs`).
    pub fn is_linked_computed(self) -> bool {
        matches!(
            self,
            Self::Rollup | Self::MultipleLookupValues | Self::Count
        )
    }

    pub fn is_select(self) -> bool {
        matches!(self, Self::SingleSelect | Self::MultipleSelects)
    }

    /// May be used in `performUpsert.fieldsToMergeOn`: "number, text, long text, single
    /// select, multiple select, date" (update-multiple-records docs).
    pub fn can_merge_on(self) -> bool {
        matches!(
            self,
            Self::SingleLineText
                | Self::MultilineText
                | Self::RichText
                | Self::Email
                | Self::Url
                | Self::PhoneNumber
                | Self::Number
                | Self::SingleSelect
                | Self::MultipleSelects
                | Self::Date
        )
    }
}

const ALL_TYPES: [FieldType; 27] = [
    FieldType::MultipleAttachments,
    FieldType::SingleLineText,
    FieldType::MultilineText,
    FieldType::RichText,
    FieldType::Email,
    FieldType::Url,
    FieldType::PhoneNumber,
    FieldType::Number,
    FieldType::Checkbox,
    FieldType::Date,
    FieldType::DateTime,
    FieldType::SingleSelect,
    FieldType::MultipleSelects,
    FieldType::Currency,
    FieldType::Percent,
    FieldType::Rating,
    FieldType::Duration,
    FieldType::SingleCollaborator,
    FieldType::MultipleCollaborators,
    FieldType::Formula,
    FieldType::AutoNumber,
    FieldType::CreatedTime,
    FieldType::LastModifiedTime,
    FieldType::Rollup,
    FieldType::MultipleLookupValues,
    FieldType::Count,
    FieldType::MultipleRecordLinks,
];

/// A field to create: name, type and (for selects) the initial options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldSchema {
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// The write-format options of a number-like field (`precision`, `symbol`, `max`,
    /// `durationFormat`, ...), kept as given; `None` takes the defaults of
    /// [`Field::options_json`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Value>,
}

impl FieldSchema {
    pub fn new(name: impl Into<String>, field_type: FieldType) -> Self {
        Self {
            name: name.into(),
            field_type,
            choices: Vec::new(),
            options: None,
        }
    }

    /// A field of a number-like type with its options (`{"max": 5, ...}` for a rating).
    pub fn with_options(name: impl Into<String>, field_type: FieldType, options: Value) -> Self {
        Self {
            options: Some(options),
            ..Self::new(name, field_type)
        }
    }

    pub fn single_select(name: impl Into<String>, choices: &[&str]) -> Self {
        Self::with_choices(name, FieldType::SingleSelect, choices)
    }

    pub fn multiple_selects(name: impl Into<String>, choices: &[&str]) -> Self {
        Self::with_choices(name, FieldType::MultipleSelects, choices)
    }

    fn with_choices(name: impl Into<String>, field_type: FieldType, choices: &[&str]) -> Self {
        Self {
            name: name.into(),
            field_type,
            choices: choices.iter().map(|c| c.to_string()).collect(),
            options: None,
        }
    }
}

/// The colours Airtable gives new select options, in turn.
const COLORS: [&str; 10] = [
    "blueLight2",
    "cyanLight2",
    "tealLight2",
    "greenLight2",
    "yellowLight2",
    "orangeLight2",
    "redLight2",
    "pinkLight2",
    "purpleLight2",
    "grayLight2",
];

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Choice {
    pub id: String,
    pub name: String,
    pub color: &'static str,
}

impl Choice {
    /// The V2 (webhook) and schema rendering: `{id, name, color}`.
    pub fn to_json(&self) -> Value {
        json!({"id": self.id, "name": self.name, "color": self.color})
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Field {
    pub id: String,
    pub name: String,
    pub field_type: FieldType,
    pub choices: Vec<Choice>,
    /// The field's description (Meta API `description`); `None` when empty.
    pub description: Option<String>,
    /// Options of a number-like field as created (`None`: the type's defaults).
    pub options: Option<Value>,
}

impl Field {
    pub fn from_schema(schema: &FieldSchema) -> Self {
        let mut field = Self {
            id: new_id("fld"),
            name: schema.name.clone(),
            field_type: schema.field_type,
            choices: Vec::new(),
            description: None,
            options: schema.options.clone(),
        };
        for name in &schema.choices {
            field.add_choice(name);
        }
        field
    }

    pub fn choice(&self, name: &str) -> Option<&Choice> {
        self.choices.iter().find(|c| c.name == name)
    }

    /// Add an option (what `typecast: true` does for an unknown select value).
    pub fn add_choice(&mut self, name: &str) {
        if self.choice(name).is_none() {
            let color = COLORS[self.choices.len() % COLORS.len()];
            self.choices.push(Choice {
                id: new_id("sel"),
                name: name.to_string(),
                color,
            });
        }
    }

    /// Position of an option, for sorting (Airtable sorts selects by option order).
    pub fn choice_rank(&self, name: &str) -> usize {
        self.choices
            .iter()
            .position(|c| c.name == name)
            .unwrap_or(usize::MAX)
    }

    /// `{id, name, type, description?, options?}` as in the base schema (the field model).
    pub fn to_schema_json(&self) -> Value {
        let mut v = json!({"id": self.id, "name": self.name, "type": self.field_type.api_name()});
        if let Some(description) = &self.description {
            v["description"] = json!(description);
        }
        if let Some(options) = self.options_json() {
            v["options"] = options;
        }
        v
    }

    fn options_json(&self) -> Option<Value> {
        let iso = json!({"name": "iso", "format": "YYYY-MM-DD"});
        match self.field_type {
            FieldType::SingleSelect | FieldType::MultipleSelects => Some(json!({
                "choices": self.choices.iter().map(Choice::to_json).collect::<Vec<_>>()
            })),
            FieldType::Checkbox => Some(json!({"color": "greenBright", "icon": "check"})),
            FieldType::Date => Some(json!({"dateFormat": iso})),
            FieldType::DateTime => Some(json!({
                "timeZone": "utc",
                "dateFormat": iso,
                "timeFormat": {"name": "24hour", "format": "HH:mm"}
            })),
            FieldType::Currency | FieldType::Percent | FieldType::Rating | FieldType::Duration => {
                Some(self.numeric_options())
            }
            t if t.is_computed() => Some(super::computed::options_json(self)),
            FieldType::MultipleRecordLinks => Some(super::links::options_json(self)),
            _ => None,
        }
    }

    /// The options of a number-like field: as created, over the defaults the field model
    /// documents for a field created without them.
    pub fn numeric_options(&self) -> Value {
        let mut options = match self.field_type {
            FieldType::Currency => json!({"precision": 2, "symbol": "$"}),
            FieldType::Percent => json!({"precision": 0}),
            FieldType::Rating => json!({"max": 5, "icon": "star", "color": "yellowBright"}),
            FieldType::Duration => json!({"durationFormat": "h:mm"}),
            _ => json!({}),
        };
        if let (Some(given), Some(out)) = (
            self.options.as_ref().and_then(Value::as_object),
            options.as_object_mut(),
        ) {
            for (k, v) in given {
                out.insert(k.clone(), v.clone());
            }
        }
        options
    }

    /// A rating field's highest value (`options.max`, 1 to 10).
    pub fn rating_max(&self) -> u64 {
        self.numeric_options()["max"].as_u64().unwrap_or(5)
    }

    /// The decimals of seconds a duration field keeps: none for `h:mm` and `h:mm:ss`,
    /// 1 to 3 for `h:mm:ss.S`, `.SS`, `.SSS`.
    pub fn duration_decimals(&self) -> i32 {
        let format = self.numeric_options()["durationFormat"]
            .as_str()
            .unwrap_or("h:mm")
            .to_owned();
        format
            .split_once('.')
            .map_or(0, |(_, frac)| frac.len() as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_schema_round_trips_with_the_api_type_names() {
        let f = FieldSchema::single_select("Status", &["Draft", "Ready"]);
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v["type"], "singleSelect");
        assert_eq!(serde_json::from_value::<FieldSchema>(v).unwrap(), f);
    }

    #[test]
    fn typecast_options_are_added_once_with_a_colour() {
        let mut field = Field::from_schema(&FieldSchema::single_select("S", &["A"]));
        field.add_choice("B");
        field.add_choice("B");
        assert_eq!(field.choices.len(), 2);
        assert_eq!(field.choice_rank("B"), 1);
        let schema = field.to_schema_json();
        assert_eq!(schema["options"]["choices"][1]["name"], "B");
        assert!(
            schema["options"]["choices"][1]["id"]
                .as_str()
                .unwrap()
                .starts_with("sel")
        );
    }
}
