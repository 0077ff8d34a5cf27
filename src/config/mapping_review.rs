//! `[pair.options] review_deletes`: whether a delete the pair's policies
//! would make waits for an operator in the delete review queue.

use super::{AirtableDeleteAction, NotionTrashAction};

/// The option's value: as written, or by default `true` exactly when a
/// policy deletes or trashes (`on_notion_trash = "delete"`,
/// `on_airtable_delete = "trash"`); with neither there is nothing to review.
pub(super) fn review_deletes(
    raw: Option<toml::Value>,
    on_notion_trash: &NotionTrashAction,
    on_airtable_delete: AirtableDeleteAction,
) -> Result<bool, String> {
    match raw {
        None => Ok(*on_notion_trash == NotionTrashAction::Delete
            || on_airtable_delete == AirtableDeleteAction::Trash),
        Some(toml::Value::Boolean(on)) => Ok(on),
        Some(other) => Err(format!(
            "[pair.options] review_deletes must be true or false, not {other}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::SyncConfig;

    /// One pair with `options` as its `[pair.options]` body.
    fn parse(options: &str) -> Result<bool, String> {
        let text = format!(
            "[[pair]]\nname = \"specs\"\n[pair.notion]\ndatabase_id = \"db-1\"\n\
             [pair.airtable]\nbase_id = \"appX\"\ntable = \"T\"\npage_id_field = \"Page\"\n\
             [pair.options]\n{options}\n[[pair.field]]\nnotion = \"Name\"\nairtable = \"Name\"\n"
        );
        SyncConfig::parse(&text).map(|c| c.pairs[0].options.review_deletes)
    }

    #[test]
    fn review_is_on_by_default_only_when_a_policy_deletes_or_trashes() {
        assert_eq!(parse(""), Ok(false), "the defaults archive and ignore");
        assert_eq!(parse("on_notion_trash = \"delete\""), Ok(true));
        assert_eq!(parse("on_airtable_delete = \"trash\""), Ok(true));
        assert_eq!(
            parse("on_notion_trash = \"delete\"\non_airtable_delete = \"trash\""),
            Ok(true)
        );
        assert_eq!(parse("on_notion_trash = \"ignore\""), Ok(false));
        assert_eq!(parse("on_airtable_delete = \"recreate\""), Ok(false));
    }

    #[test]
    fn an_explicit_value_wins() {
        assert_eq!(
            parse("on_notion_trash = \"delete\"\nreview_deletes = false"),
            Ok(false),
            "explicit false turns review off"
        );
        assert_eq!(parse("review_deletes = true"), Ok(true));
        assert_eq!(
            parse("on_airtable_delete = \"trash\"\nreview_deletes = true"),
            Ok(true)
        );
    }

    #[test]
    fn a_wrong_value_names_the_pair_and_the_key() {
        let err = parse("review_deletes = \"yes\"").unwrap_err();
        assert!(
            err.contains("pair \"specs\"") && err.contains("review_deletes"),
            "{err}"
        );
        let err = parse("review_deletes = 1").unwrap_err();
        assert!(
            err.contains("pair \"specs\": [pair.options] review_deletes"),
            "{err}"
        );
    }
}
