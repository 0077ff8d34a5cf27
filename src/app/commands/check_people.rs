//! `check` for people ↔ Airtable collaborators: they are matched by email,
//! so the Notion integration must see its users' emails. Without them no one
//! can be matched, and every value would only be reported: that is a
//! problem with its fix, not a note.

use crate::{
    airtable::TableSchema,
    config::PairConfig,
    notion::{DataSource, User},
};

use super::Report;

/// The mapped people ↔ collaborator fields, checked against the users read.
pub(super) fn check_collaborators(
    config: &PairConfig,
    ds: &DataSource,
    table: &TableSchema,
    users: &[User],
    report: &mut Report,
) {
    let fields: Vec<&str> = config
        .fields
        .iter()
        .filter(|m| {
            ds.properties
                .get(&m.notion)
                .is_some_and(|p| p.kind == "people")
                && table.field(&m.airtable).is_some_and(|f| {
                    matches!(
                        f.kind.as_str(),
                        "singleCollaborator" | "multipleCollaborators"
                    )
                })
        })
        .map(|m| m.notion.as_str())
        .collect();
    if fields.is_empty() {
        return;
    }
    let name = &config.name;
    let list = fields.join("\", \"");
    let people: Vec<&User> = users.iter().filter(|u| !u.is_bot()).collect();
    let with_email = people.iter().filter(|u| u.email().is_some()).count();
    if with_email == 0 {
        let seen = if people.is_empty() {
            "cannot list the workspace's users"
        } else {
            "sees no user's email"
        };
        report.problem(
            format!(
                "pair \"{name}\": \"{list}\" match Notion people and Airtable collaborators by \
                 email, but the Notion integration {seen}: no one can be matched, so every value \
                 would be reported and none written"
            ),
            "give the Notion integration the \"Read user information including email \
             addresses\" capability (notion.so/my-integrations → the integration → Capabilities)",
        );
        return;
    }
    report.ok(format!(
        "pair \"{name}\": \"{list}\" match people by email ({with_email} workspace members with \
         an email); a person Airtable cannot assign (not a collaborator of the base), an email \
         no Notion member has, or more than 100 people for Notion (its limit per write) is \
         reported and left as it is on both sides; lists of 25 or more are read whole"
    ));
}
