//! Data source schemas: the public [`PropertySchema`] used to create a
//! database, the stored [`PropertyDef`]s, property ids, and the schema JSON
//! of `GET /v1/data_sources/{id}`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Property types the sandbox stores and validates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PropertyKind {
    Title,
    RichText,
    Number,
    Select,
    MultiSelect,
    Status,
    Date,
    People,
    Checkbox,
    Url,
    Email,
    PhoneNumber,
    CreatedTime,
    LastEditedTime,
    CreatedBy,
    LastEditedBy,
    /// `SPEC-12`: a number Notion assigns each page, with the property's prefix.
    UniqueId,
    /// Files and media: Notion-hosted files (uploaded through the File
    /// Upload API) and external links.
    Files,
    /// Pages of one data source (`relation.rs`).
    Relation,
    /// Computed from the page's properties (`formula.rs`).
    Formula,
    /// Computed from a relation's pages (`computed.rs`, `rollup.rs`).
    Rollup,
}

impl PropertyKind {
    /// The Notion type name (`rich_text`, `multi_select`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Title => "title",
            Self::RichText => "rich_text",
            Self::Number => "number",
            Self::Select => "select",
            Self::MultiSelect => "multi_select",
            Self::Status => "status",
            Self::Date => "date",
            Self::People => "people",
            Self::Checkbox => "checkbox",
            Self::Url => "url",
            Self::Email => "email",
            Self::PhoneNumber => "phone_number",
            Self::CreatedTime => "created_time",
            Self::LastEditedTime => "last_edited_time",
            Self::CreatedBy => "created_by",
            Self::LastEditedBy => "last_edited_by",
            Self::UniqueId => "unique_id",
            Self::Files => "files",
            Self::Relation => "relation",
            Self::Formula => "formula",
            Self::Rollup => "rollup",
        }
    }

    /// Computed by Notion; writing them is an error.
    pub fn is_read_only(self) -> bool {
        matches!(
            self,
            Self::CreatedTime
                | Self::LastEditedTime
                | Self::CreatedBy
                | Self::LastEditedBy
                | Self::UniqueId
                | Self::Formula
                | Self::Rollup
        )
    }

    pub fn has_options(self) -> bool {
        matches!(self, Self::Select | Self::MultiSelect | Self::Status)
    }
}

/// One property of a new database: `{"name","type","options"?}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertySchema {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: PropertyKind,
    /// Option names for select / multi_select / status.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// Status only: the groups and the option names in each. Empty means
    /// every option in "To-do" but the last, which is "Complete".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<StatusGroupSchema>,
}

/// One group of a new status property: `{"name", "options": [option names]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusGroupSchema {
    pub name: String,
    pub options: Vec<String>,
}

impl PropertySchema {
    pub fn new(name: &str, kind: PropertyKind) -> Self {
        Self {
            name: name.to_string(),
            kind,
            options: Vec::new(),
            groups: Vec::new(),
        }
    }

    pub fn title(name: &str) -> Self {
        Self::new(name, PropertyKind::Title)
    }

    pub fn rich_text(name: &str) -> Self {
        Self::new(name, PropertyKind::RichText)
    }

    pub fn date(name: &str) -> Self {
        Self::new(name, PropertyKind::Date)
    }

    pub fn people(name: &str) -> Self {
        Self::new(name, PropertyKind::People)
    }

    pub fn with_options(name: &str, kind: PropertyKind, options: &[&str]) -> Self {
        Self {
            options: options.iter().map(|o| o.to_string()).collect(),
            ..Self::new(name, kind)
        }
    }

    pub fn select(name: &str, options: &[&str]) -> Self {
        Self::with_options(name, PropertyKind::Select, options)
    }

    /// A status property whose options are given group by group, in order.
    pub fn status(name: &str, groups: &[(&str, &[&str])]) -> Self {
        let options: Vec<&str> = groups.iter().flat_map(|(_, o)| o.iter().copied()).collect();
        Self {
            groups: groups
                .iter()
                .map(|(group, options)| StatusGroupSchema {
                    name: group.to_string(),
                    options: options.iter().map(|o| o.to_string()).collect(),
                })
                .collect(),
            ..Self::with_options(name, PropertyKind::Status, &options)
        }
    }
}

/// A group of a status property (`To-do`, `In progress`, `Complete`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusGroup {
    pub id: String,
    pub name: String,
    pub color: String,
    pub option_ids: Vec<String>,
}

/// Notion's three status groups, in order, with their colours.
const GROUPS: [(&str, &str); 3] = [
    ("To-do", "gray"),
    ("In progress", "blue"),
    ("Complete", "green"),
];

/// Groups for `options`: by name from `spec`, or (empty spec) every option
/// in "To-do" but the last, which is "Complete". Options no group names go
/// to "To-do", as new options do in Notion.
pub fn status_groups(options: &[SelectOption], spec: &[StatusGroupSchema]) -> Vec<StatusGroup> {
    let mut groups: Vec<StatusGroup> = GROUPS
        .iter()
        .map(|(name, color)| StatusGroup {
            id: group_id(name),
            name: name.to_string(),
            color: color.to_string(),
            option_ids: Vec::new(),
        })
        .collect();
    for (i, option) in options.iter().enumerate() {
        let named = spec
            .iter()
            .find(|g| g.options.contains(&option.name))
            .and_then(|g| groups.iter().position(|x| x.name == g.name));
        let index = match named {
            Some(index) => index,
            None if spec.is_empty() && i + 1 == options.len() && i > 0 => 2,
            None => 0,
        };
        groups[index].option_ids.push(option.id.clone());
    }
    groups
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectOption {
    pub id: String,
    pub name: String,
    pub color: String,
}

impl SelectOption {
    pub fn to_json(&self) -> Value {
        json!({"id": self.id, "name": self.name, "color": self.color})
    }
}

/// A stored property of a data source.
#[derive(Clone, Debug)]
pub struct PropertyDef {
    /// Short URL-encoded id (`title` for the title property), stable across renames.
    pub id: String,
    pub name: String,
    pub kind: PropertyKind,
    pub options: Vec<SelectOption>,
    /// Status only.
    pub groups: Vec<StatusGroup>,
    /// Unique id only: the prefix shown before the number (`SPEC`).
    pub prefix: Option<String>,
    /// Relation only: the related data source.
    pub relation: Option<super::relation::Target>,
    /// Formula and rollup only: what they compute.
    pub computed: Option<super::computed::Computed>,
}

const COLORS: [&str; 10] = [
    "default", "gray", "brown", "orange", "yellow", "green", "blue", "purple", "pink", "red",
];

/// Colour for the `n`th option of a property.
pub fn option_color(n: usize) -> &'static str {
    COLORS[n % COLORS.len()]
}

/// A new select option id (Notion uses UUID-like ids for options).
pub fn new_option(name: &str, index: usize) -> SelectOption {
    SelectOption {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_string(),
        color: option_color(index).to_string(),
    }
}

impl PropertyDef {
    pub fn option_by_name(&self, name: &str) -> Option<&SelectOption> {
        self.options.iter().find(|o| o.name == name)
    }

    pub fn option_by_id(&self, id: &str) -> Option<&SelectOption> {
        self.options.iter().find(|o| o.id == id)
    }

    /// The schema entry: `{id, name, type, <type>: {...}}`.
    pub fn schema_json(&self) -> Value {
        let kind = self.kind.as_str();
        let config = match self.kind {
            PropertyKind::Select | PropertyKind::MultiSelect => {
                json!({"options": self.options_json()})
            }
            PropertyKind::Status => {
                json!({"options": self.options_json(), "groups": self.status_groups()})
            }
            PropertyKind::Number => json!({"format": "number"}),
            PropertyKind::UniqueId => json!({"prefix": self.prefix}),
            PropertyKind::Relation => super::relation::schema_json(self.relation.as_ref()),
            PropertyKind::Formula | PropertyKind::Rollup => {
                super::computed::schema_json(self.computed.as_ref())
            }
            _ => json!({}),
        };
        json!({"id": self.id, "name": self.name, "type": kind, kind: config})
    }

    fn options_json(&self) -> Vec<Value> {
        self.options
            .iter()
            .map(|o| json!({"id": o.id, "name": o.name, "color": o.color, "description": null}))
            .collect()
    }

    fn status_groups(&self) -> Value {
        self.groups
            .iter()
            .map(|g| json!({"id": g.id, "name": g.name, "color": g.color, "option_ids": g.option_ids}))
            .collect()
    }

    /// Put options no group holds into "To-do" and drop ids of removed
    /// options (after an options edit).
    pub fn regroup(&mut self) {
        if self.kind != PropertyKind::Status {
            self.groups.clear();
            return;
        }
        if self.groups.is_empty() {
            self.groups = status_groups(&[], &[]);
        }
        let ids: Vec<String> = self.options.iter().map(|o| o.id.clone()).collect();
        for group in &mut self.groups {
            group.option_ids.retain(|id| ids.contains(id));
        }
        for id in ids {
            if !self.groups.iter().any(|g| g.option_ids.contains(&id)) {
                self.groups[0].option_ids.push(id);
            }
        }
    }
}

fn group_id(name: &str) -> String {
    encode_property_id(&format!("{:04}", fnv1a(name) % 10_000))
}

/// Build the stored definitions for a new data source, with ids unique
/// within it. The title property always has id `title`.
pub fn build_defs(schema: &[PropertySchema]) -> Vec<PropertyDef> {
    let mut defs: Vec<PropertyDef> = Vec::with_capacity(schema.len());
    for p in schema {
        let id = if p.kind == PropertyKind::Title {
            "title".to_string()
        } else {
            unique_property_id(&p.name, &defs)
        };
        let options: Vec<SelectOption> = p
            .options
            .iter()
            .enumerate()
            .map(|(i, name)| new_option(name, i))
            .collect();
        let groups = if p.kind == PropertyKind::Status {
            status_groups(&options, &p.groups)
        } else {
            Vec::new()
        };
        defs.push(PropertyDef {
            id,
            name: p.name.clone(),
            kind: p.kind,
            options,
            groups,
            prefix: None,
            relation: None,
            computed: None,
        });
    }
    defs
}

/// Characters Notion draws property ids from (4 of them, then URL-encoded).
const ID_CHARS: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:;<=>?@[]^_`{|}~";

/// Deterministic per name (so seeded workspaces look the same every run),
/// re-drawn on a collision.
pub fn unique_property_id(name: &str, existing: &[PropertyDef]) -> String {
    let mut h = fnv1a(name);
    loop {
        let raw: String = (0..4)
            .map(|i| ID_CHARS[((h >> (i * 8)) % ID_CHARS.len() as u64) as usize] as char)
            .collect();
        let id = encode_property_id(&raw);
        if id != "title" && existing.iter().all(|d| d.id != id) {
            return id;
        }
        h = h.wrapping_mul(0x100_0000_01b3).wrapping_add(1);
    }
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Percent-encode everything but ASCII letters and digits, like Notion's ids
/// (`:UPp` → `%3AUPp`).
pub fn encode_property_id(raw: &str) -> String {
    raw.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Decode `%XX` sequences (property ids arrive encoded or not).
pub fn decode_property_id(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Find a property by name or by id (encoded or decoded).
pub fn find_def<'a>(defs: &'a [PropertyDef], key: &str) -> Option<&'a PropertyDef> {
    defs.iter()
        .find(|d| d.name == key)
        .or_else(|| defs.iter().find(|d| d.id == key))
        .or_else(|| {
            let decoded = decode_property_id(key);
            defs.iter().find(|d| decode_property_id(&d.id) == decoded)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_ids_are_short_encoded_and_stable() {
        let schema = vec![
            PropertySchema::title("Name"),
            PropertySchema::rich_text("Sprint"),
            PropertySchema::rich_text("Blockers"),
        ];
        let a = build_defs(&schema);
        let b = build_defs(&schema);
        assert_eq!(a[0].id, "title");
        assert_eq!(a[1].id, b[1].id);
        assert_ne!(a[1].id, a[2].id);
        assert_eq!(decode_property_id(&a[1].id).chars().count(), 4);
        assert_eq!(encode_property_id(":UPp"), "%3AUPp");
        assert_eq!(decode_property_id("%3AUPp"), ":UPp");
    }
}
