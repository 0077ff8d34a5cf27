//! `[pair.scope]`: which records a pair syncs (selective sync).
//!
//! Each side may carry conditions: Notion a filter in Notion's own JSON
//! (`notion_filter`, the `filter` object of the data source query),
//! `property = value` shorthands (`notion`) and a checkbox gate
//! (`notion_gate`); Airtable a view (`airtable_view`), a formula
//! (`airtable_formula`) and a checkbox gate (`airtable_gate`). What the
//! conditions mean against the live schemas is decided in
//! `sync::scope`; here they are only read and checked for shape.

use serde::Deserialize;

/// What happens to a linked record that leaves the scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnLeave {
    /// Forget the link; both sides stay exactly as they are.
    Unlink,
    /// Forget the link after setting the pair's `on_notion_trash` values
    /// on the Airtable row (e.g. Status = Archived). Never a delete.
    Archive,
}

/// One `property = value` (or `property != value`) shorthand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shorthand {
    pub property: String,
    /// `=` (true) or `!=` (false).
    pub equals: bool,
    pub value: String,
}

/// A pair's scope, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeConfig {
    /// Notion's filter JSON (a string of JSON in the file, or a TOML table).
    pub notion_filter: Option<serde_json::Value>,
    pub notion: Vec<Shorthand>,
    pub notion_gate: Option<String>,
    pub airtable_view: Option<String>,
    pub airtable_formula: Option<String>,
    pub airtable_gate: Option<String>,
    pub on_leave: OnLeave,
}

impl ScopeConfig {
    /// Whether Notion pages are judged (some Notion condition is given).
    pub fn judges_notion(&self) -> bool {
        self.notion_filter.is_some() || !self.notion.is_empty() || self.notion_gate.is_some()
    }

    /// Whether Airtable rows are judged (some Airtable condition is given).
    pub fn judges_airtable(&self) -> bool {
        self.airtable_view.is_some()
            || self.airtable_formula.is_some()
            || self.airtable_gate.is_some()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScope {
    notion_filter: Option<RawFilter>,
    #[serde(default)]
    notion: Vec<String>,
    notion_gate: Option<String>,
    airtable_view: Option<String>,
    airtable_formula: Option<String>,
    airtable_gate: Option<String>,
    on_leave: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawFilter {
    Json(String),
    Table(serde_json::Value),
}

/// Check a `[pair.scope]` table's shape; the caller names the pair.
pub(super) fn validate_scope(raw: RawScope) -> Result<ScopeConfig, String> {
    let notion_filter = match raw.notion_filter {
        None => None,
        Some(RawFilter::Json(text)) => Some(serde_json::from_str(&text).map_err(|e| {
            format!("[pair.scope] notion_filter is not JSON ({e}): give Notion's filter object")
        })?),
        Some(RawFilter::Table(v)) => Some(v),
    };
    if let Some(f) = &notion_filter {
        if !f.is_object() {
            return Err(format!(
                "[pair.scope] notion_filter must be a filter object (e.g. {{\"property\": \
                 \"Status\", \"status\": {{\"equals\": \"Ready\"}}}}), not {f}"
            ));
        }
    }
    let notion = raw
        .notion
        .iter()
        .map(|s| parse_shorthand(s).map_err(|e| format!("[pair.scope] notion: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let nonblank = |key: &str, v: Option<String>| match v {
        Some(s) if s.trim().is_empty() => Err(format!("[pair.scope] {key} is empty")),
        other => Ok(other),
    };
    let on_leave = match raw.on_leave.as_deref().unwrap_or("unlink") {
        "unlink" => OnLeave::Unlink,
        "archive" => OnLeave::Archive,
        other => {
            return Err(format!(
                "[pair.scope] on_leave: unknown action \"{other}\" (expected \"unlink\" or \"archive\")"
            ));
        }
    };
    let scope = ScopeConfig {
        notion_filter,
        notion,
        notion_gate: nonblank("notion_gate", raw.notion_gate)?,
        airtable_view: nonblank("airtable_view", raw.airtable_view)?,
        airtable_formula: nonblank("airtable_formula", raw.airtable_formula)?,
        airtable_gate: nonblank("airtable_gate", raw.airtable_gate)?,
        on_leave,
    };
    if !scope.judges_notion() && !scope.judges_airtable() {
        return Err(
            "[pair.scope] names no condition: give notion_filter, notion, notion_gate, \
                    airtable_view, airtable_formula or airtable_gate (or remove the table)"
                .into(),
        );
    }
    Ok(scope)
}

/// `Property = value` or `Property != value`. The property name is
/// everything before the operator (trimmed), the value everything after
/// (trimmed; surrounding double quotes are removed, so a value may keep
/// spaces at its ends or contain `=`).
pub fn parse_shorthand(text: &str) -> Result<Shorthand, String> {
    let (at, equals, len) = match (text.find("!="), text.find('=')) {
        (Some(ne), Some(eq)) if ne < eq => (ne, false, 2),
        (_, Some(eq)) => (eq, true, 1),
        _ => {
            return Err(format!(
                "\"{text}\" is not `Property = value` or `Property != value`"
            ));
        }
    };
    let property = text[..at].trim();
    let mut value = text[at + len..].trim();
    if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
        value = &value[1..value.len() - 1];
    }
    if property.is_empty() {
        return Err(format!("\"{text}\" names no property before the operator"));
    }
    Ok(Shorthand {
        property: property.to_owned(),
        equals,
        value: value.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(p: &str, equals: bool, v: &str) -> Shorthand {
        Shorthand {
            property: p.into(),
            equals,
            value: v.into(),
        }
    }

    #[test]
    fn shorthands_split_on_the_first_operator() {
        assert_eq!(
            parse_shorthand("Status = Ready").unwrap(),
            sh("Status", true, "Ready")
        );
        assert_eq!(
            parse_shorthand("  Team   !=Payments ").unwrap(),
            sh("Team", false, "Payments")
        );
        assert_eq!(
            parse_shorthand("Due date = a=b").unwrap(),
            sh("Due date", true, "a=b")
        );
        assert_eq!(
            parse_shorthand("Name = \" padded \"").unwrap(),
            sh("Name", true, " padded ")
        );
        assert_eq!(parse_shorthand("Owner =").unwrap(), sh("Owner", true, ""));
        assert_eq!(
            parse_shorthand("Done = true").unwrap(),
            sh("Done", true, "true")
        );
    }

    #[test]
    fn bad_shorthands_are_refused_with_the_text() {
        let err = parse_shorthand("Status Ready").unwrap_err();
        assert!(err.contains("\"Status Ready\""), "{err}");
        let err = parse_shorthand(" = Ready").unwrap_err();
        assert!(err.contains("no property"), "{err}");
    }

    fn raw(toml_text: &str) -> Result<ScopeConfig, String> {
        let raw: RawScope = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        validate_scope(raw)
    }

    #[test]
    fn a_filter_may_be_json_text_or_a_table() {
        let text = r#"notion_filter = '{"property": "Status", "status": {"equals": "Ready"}}'"#;
        let a = raw(text).unwrap();
        let b = raw(r#"notion_filter = { property = "Status", status = { equals = "Ready" } }"#)
            .unwrap();
        assert_eq!(a.notion_filter, b.notion_filter);
        assert!(a.judges_notion() && !a.judges_airtable());
        assert_eq!(a.on_leave, OnLeave::Unlink);
    }

    #[test]
    fn bad_scopes_say_what_is_wrong() {
        assert!(
            raw("notion_filter = '{not json'")
                .unwrap_err()
                .contains("not JSON")
        );
        assert!(
            raw("notion_filter = '[1]'")
                .unwrap_err()
                .contains("filter object")
        );
        assert!(
            raw("on_leave = \"unlink\"")
                .unwrap_err()
                .contains("no condition")
        );
        assert!(
            raw("airtable_gate = \"Sync\"\non_leave = \"delete\"")
                .unwrap_err()
                .contains("\"delete\"")
        );
        assert!(
            raw("airtable_view = \" \"")
                .unwrap_err()
                .contains("airtable_view")
        );
        assert!(
            raw("notion = [\"Status\"]")
                .unwrap_err()
                .contains("notion:")
        );
        assert!(raw("gate = \"Sync\"").is_err());
        let both = raw("airtable_gate = \"Sync\"\nnotion_gate = \"Sync\"\non_leave = \"archive\"")
            .unwrap();
        assert!(both.judges_airtable() && both.judges_notion());
        assert_eq!(both.on_leave, OnLeave::Archive);
    }
}
