//! Which pair a Notion database or data source belongs to.

use std::collections::HashMap;

use crate::sync::pair::ResolvedPair;

/// Maps Notion database ids and data source ids to pair names. Built once at
/// start from the resolved pairs; an id it does not know is "not ours".
/// Several pairs may sync one data source (to different Airtable tables):
/// an id then names all of them, in configuration order.
#[derive(Debug, Clone, Default)]
pub struct PairDirectory {
    by_id: HashMap<String, Vec<String>>,
    names: Vec<String>,
    /// Pair name → (Airtable base id, table id), for links to records.
    airtable: HashMap<String, (String, String)>,
    /// Pair name → what people call it, for the status page.
    labels: HashMap<String, PairLabel>,
}

/// What the status page calls a pair and its records, as read at start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PairLabel {
    /// The Notion data source's title.
    pub notion: String,
    /// The Airtable table's name.
    pub airtable: String,
    /// The mapping's name of the title field, whose snapshot value names a
    /// record (None when the title is not mapped).
    pub title_field: Option<String>,
}

impl PairDirectory {
    /// `(pair name, database id, data source id)` per pair; ids in any
    /// spelling (dashed or not, any case), empty ids skipped.
    pub fn new(entries: Vec<(String, String, String)>) -> Self {
        let mut directory = Self::default();
        for (name, database_id, data_source_id) in entries {
            for id in [database_id, data_source_id] {
                if id.trim().is_empty() {
                    continue;
                }
                let pairs = directory.by_id.entry(normalize_id(&id)).or_default();
                if !pairs.contains(&name) {
                    pairs.push(name.clone());
                }
            }
            if !directory.names.contains(&name) {
                directory.names.push(name);
            }
        }
        directory
    }

    pub fn from_resolved(pairs: &[ResolvedPair]) -> Self {
        let directory = Self::new(
            pairs
                .iter()
                .map(|p| {
                    let name = p.name().to_owned();
                    (name, p.database_id.clone(), p.data_source_id.clone())
                })
                .collect(),
        );
        pairs.iter().fold(directory, |d, p| {
            let label = PairLabel {
                notion: p.wire.names.notion.clone(),
                airtable: p.wire.names.airtable.clone(),
                title_field: p.title_field().map(str::to_owned),
            };
            d.with_airtable_table(p.name(), &p.config.airtable_base_id, &p.table_id)
                .with_label(p.name(), label)
        })
    }

    /// What people call the pair's two sides and its records' title field.
    pub fn with_label(mut self, pair: &str, label: PairLabel) -> Self {
        self.labels.insert(pair.to_owned(), label);
        self
    }

    /// The pair's label, if it was resolved at start.
    pub fn label(&self, pair: &str) -> Option<&PairLabel> {
        self.labels.get(pair)
    }

    /// Where the pair's Airtable table is (the status page links records).
    pub fn with_airtable_table(mut self, pair: &str, base_id: &str, table_id: &str) -> Self {
        let location = (base_id.to_owned(), table_id.to_owned());
        self.airtable.insert(pair.to_owned(), location);
        self
    }

    /// `(base id, table id)` of the pair's Airtable table, if known.
    pub fn airtable_table(&self, pair: &str) -> Option<(&str, &str)> {
        self.airtable
            .get(pair)
            .map(|(base, table)| (base.as_str(), table.as_str()))
    }

    /// Every pair whose database or data source has this id (none: not ours).
    pub fn pairs_for(&self, notion_id: &str) -> &[String] {
        self.by_id
            .get(&normalize_id(notion_id))
            .map_or(&[], Vec::as_slice)
    }

    /// Every pair, in configuration order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn contains(&self, pair: &str) -> bool {
        self.names.iter().any(|n| n == pair)
    }
}

/// Notion ids are UUIDs written with or without dashes.
pub(crate) fn normalize_id(id: &str) -> String {
    id.trim()
        .chars()
        .filter(|c| *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_in_any_spelling_and_unknown_ids_are_not_ours() {
        let dir = PairDirectory::new(vec![(
            "specs".into(),
            "36cc9195-760f-4fff-a67e-3a46c559b176".into(),
            "98024F3CB1D34AECA301F01E0DACF023".into(),
        )]);
        assert_eq!(dir.pairs_for("36cc9195760f4fffa67e3a46c559b176"), ["specs"]);
        assert_eq!(
            dir.pairs_for("98024f3c-b1d3-4aec-a301-f01e0dacf023"),
            ["specs"]
        );
        assert!(
            dir.pairs_for("00000000-0000-0000-0000-000000000000")
                .is_empty()
        );
        assert_eq!(dir.names(), ["specs".to_owned()]);
        assert!(dir.contains("specs") && !dir.contains("tasks"));
    }

    #[test]
    fn one_data_source_can_name_several_pairs() {
        let dir = PairDirectory::new(vec![
            ("specs".into(), "db-1".into(), "ds-1".into()),
            ("roadmap".into(), "db-1".into(), "DS-1".into()),
            ("tasks".into(), "db-2".into(), "ds-2".into()),
        ]);
        assert_eq!(dir.pairs_for("ds1"), ["specs", "roadmap"]);
        assert_eq!(dir.pairs_for("db-1"), ["specs", "roadmap"]);
        assert_eq!(dir.pairs_for("ds-2"), ["tasks"]);
    }
}
