//! Which pair a relation field points to. A Notion relation names its data
//! source (`relation.data_source_id` in the schema) and an Airtable link
//! field its table (`options.linkedTableId`); both must be the two sides of
//! one pair of the same mapping file (the same pair for a self-relation),
//! or the field cannot sync: its ids could not be translated.

use super::pair::ResolvedPair;
use crate::{airtable::FieldSchema, notion::PropertySchema};

/// A pair's two ids, as read from the live schemas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairIds {
    pub name: String,
    pub data_source_id: String,
    pub table_id: String,
}

impl PairIds {
    pub fn of(pair: &ResolvedPair) -> Self {
        Self {
            name: pair.name().to_owned(),
            data_source_id: pair.data_source_id.clone(),
            table_id: pair.table_id.clone(),
        }
    }
}

fn same_id(a: &str, b: &str) -> bool {
    a.replace('-', "").eq_ignore_ascii_case(&b.replace('-', ""))
}

/// The data source a Notion relation property points to.
pub fn notion_target(property: &PropertySchema) -> Option<&str> {
    property.raw["relation"]["data_source_id"].as_str()
}

/// The table an Airtable link field points to.
pub fn airtable_target(field: &FieldSchema) -> Option<&str> {
    field.options.as_ref()?["linkedTableId"].as_str()
}

/// The name of the pair both sides of a relation field point to, or why
/// there is none (naming both ends).
pub fn target_pair(
    label: &str,
    data_source_id: Option<&str>,
    table_id: Option<&str>,
    pairs: &[PairIds],
) -> Result<String, String> {
    let by_source =
        data_source_id.and_then(|ds| pairs.iter().find(|p| same_id(&p.data_source_id, ds)));
    let by_table = table_id.and_then(|t| pairs.iter().find(|p| p.table_id == t));
    let ds = data_source_id.unwrap_or("(none)");
    let table = table_id.unwrap_or("(none)");
    match (by_source, by_table) {
        (Some(a), Some(b)) if a.name == b.name => Ok(a.name.clone()),
        (Some(a), Some(b)) => Err(format!(
            "{label}: the Notion relation points to data source {ds} (pair \"{}\") but the Airtable \
             link field to table {table} (pair \"{}\"): both must point to the same pair",
            a.name, b.name
        )),
        (None, Some(b)) => Err(format!(
            "{label}: the Notion relation points to data source {ds}, which is not a pair of \
             this mapping file; the Airtable link field points to table {table} (pair \"{}\"): \
             relate the Notion property to that pair's data source, or add a pair for {ds}",
            b.name
        )),
        (Some(a), None) => Err(format!(
            "{label}: the Airtable link field points to table {table}, which is not a pair of \
             this mapping file; the Notion relation points to data source {ds} (pair \"{}\"): \
             link the field to that pair's table, or add a pair for {table}",
            a.name
        )),
        (None, None) => Err(format!(
            "{label}: the Notion relation points to data source {ds} and the Airtable link field \
             to table {table}; neither is a pair of this mapping file: add a pair syncing them \
             (related records are translated through that pair's links)"
        )),
    }
}

/// Set the target pair of every relation field of `pairs` (all the pairs
/// of one mapping file); the problems found, one per field.
pub fn link_targets(pairs: &mut [ResolvedPair]) -> Vec<String> {
    let ids: Vec<PairIds> = pairs.iter().map(PairIds::of).collect();
    let mut problems = Vec::new();
    for pair in &mut *pairs {
        let name = pair.name().to_owned();
        for field in &mut pair.fields {
            if field.kind != super::convert::Kind::Relation {
                continue;
            }
            let label = format!(
                "pair \"{name}\", field \"{}\" ↔ \"{}\"",
                field.notion, field.airtable
            );
            let table = field
                .airtable_options
                .as_ref()
                .and_then(|o| o["linkedTableId"].as_str());
            match target_pair(&label, notion_target(&field.notion_schema), table, &ids) {
                Ok(target) => field.relation_target = Some(target),
                Err(why) => problems.push(why),
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs() -> Vec<PairIds> {
        let p = |name: &str, ds: &str, t: &str| PairIds {
            name: name.into(),
            data_source_id: ds.into(),
            table_id: t.into(),
        };
        vec![
            p("specs", "ds-specs", "tblSpecs"),
            p("epics", "ds-epics", "tblEpics"),
        ]
    }

    #[test]
    fn both_ends_in_one_pair_name_it() {
        let t = target_pair("f", Some("ds-epics"), Some("tblEpics"), &pairs());
        assert_eq!(t.unwrap(), "epics");
        // A self-relation points to its own pair.
        let t = target_pair("f", Some("ds-specs"), Some("tblSpecs"), &pairs());
        assert_eq!(t.unwrap(), "specs");
    }

    #[test]
    fn ends_in_different_pairs_or_outside_the_mapping_are_refused_with_both_named() {
        let e = target_pair("f", Some("ds-specs"), Some("tblEpics"), &pairs()).unwrap_err();
        assert!(e.contains("\"specs\"") && e.contains("\"epics\""), "{e}");
        assert!(e.contains("same pair"), "{e}");
        let e = target_pair("f", Some("ds-other"), Some("tblEpics"), &pairs()).unwrap_err();
        assert!(e.contains("ds-other") && e.contains("not a pair"), "{e}");
        let e = target_pair("f", Some("ds-epics"), Some("tblOther"), &pairs()).unwrap_err();
        assert!(e.contains("tblOther") && e.contains("not a pair"), "{e}");
        let e = target_pair("f", None, None, &pairs()).unwrap_err();
        assert!(e.contains("neither"), "{e}");
    }

    #[test]
    fn data_source_ids_match_with_or_without_dashes() {
        let p = vec![PairIds {
            name: "epics".into(),
            data_source_id: "0a1b2c3d-0000-0000-0000-000000000001".into(),
            table_id: "tblE".into(),
        }];
        let t = target_pair(
            "f",
            Some("0A1B2C3D000000000000000000000001"),
            Some("tblE"),
            &p,
        );
        assert_eq!(t.unwrap(), "epics");
    }
}
