//! Page content as enhanced markdown, as Notion documents it
//! (reference "Retrieve a page as markdown" / "Update a page's content as
//! markdown", guide "Working with markdown content"):
//!
//! - `GET /v1/pages/{page_id}/markdown` → `{object: "page_markdown", id,
//!   markdown, truncated, unknown_block_ids}`; 403 without the "read content"
//!   capability.
//! - `PATCH /v1/pages/{page_id}/markdown` with `{type: "replace_content",
//!   replace_content: {new_str}}` (the whole content) or `{type:
//!   "insert_content", insert_content: {content, position?}}` (appended, or
//!   prepended with `position: {type: "start"}`) or `{type: "update_content",
//!   update_content: {content_updates: [{old_str, new_str,
//!   replace_all_matches?}]}}` (an `old_str` not found, or found more than
//!   once without `replace_all_matches`, is a `validation_error` and nothing
//!   changes); answers the new `page_markdown`. `replace_content_range` and
//!   `insert_content`'s `after` selection are refused with a
//!   `validation_error` naming them: the sandbox does not implement them.
//! - `POST /v1/pages` takes a `markdown` body parameter (exclusive with
//!   `children`).
//!
//! Stored content is normalised the way the enhanced-markdown guide says
//! Notion converts it: headings 5 and 6 become heading 4 (fenced code is
//! literal and left alone). Line endings become `\n`. Nothing else is
//! rewritten (what else Notion changes is not documented). Every edit bumps
//! `last_edited_time` and emits `page.content_updated` (aggregated like
//! every other event), authored by the bot for API writes and by the person
//! for control-API edits. The record limit (about 20,000 blocks before a
//! read is `truncated`) is not reached by anything the sandbox holds.

use serde_json::{Value, json};
use uuid::Uuid;

use super::Shared;
use super::errors::{NotionError, NotionResult};
use super::ops::{page_event, page_parent};
use super::state::{Actor, World, dashed};
use super::webhooks::PAGE_CONTENT_UPDATED;
use crate::common::lock;

/// The `page_markdown` object of a page (403 without the capability).
pub fn read(world: &World, page_id: Uuid) -> NotionResult<Value> {
    if !world.read_content {
        return Err(NotionError::restricted_resource());
    }
    let page = world.page(page_id)?;
    Ok(page_markdown(page_id, &page.content))
}

fn page_markdown(page_id: Uuid, content: &str) -> Value {
    json!({
        "object": "page_markdown",
        "id": dashed(page_id),
        "markdown": content,
        "truncated": false,
        "unknown_block_ids": [],
    })
}

/// What a `PATCH …/markdown` body asks for.
pub enum Command {
    Replace(String),
    Append(String),
    Prepend(String),
    /// `(old_str, new_str, replace_all_matches)`, applied in order.
    Edit(Vec<(String, String, bool)>),
}

/// Parse a `PATCH …/markdown` body.
pub fn parse_command(body: &Value) -> NotionResult<Command> {
    let invalid = |m: String| NotionError::validation(format!("body failed validation: {m}"));
    let kind = body["type"].as_str().unwrap_or_default();
    let inner = &body[kind];
    let text = |key: &str| {
        inner[key].as_str().map(str::to_owned).ok_or_else(|| {
            invalid(format!(
                "body.{kind}.{key} should be a string, instead was `{}`.",
                inner[key]
            ))
        })
    };
    match kind {
        "replace_content" => Ok(Command::Replace(text("new_str")?)),
        "insert_content" if inner.get("after").is_none() => {
            let content = text("content")?;
            match inner["position"]["type"].as_str() {
                Some("start") => Ok(Command::Prepend(content)),
                None | Some("end") => Ok(Command::Append(content)),
                Some(other) => Err(invalid(format!(
                    "body.insert_content.position.type should be `start` or `end`, instead was `{other}`."
                ))),
            }
        }
        "update_content" => parse_updates(inner).map(Command::Edit).map_err(invalid),
        "insert_content" | "replace_content_range" => Err(invalid(format!(
            "the sandbox does not implement `{kind}` with a selection; use replace_content or update_content"
        ))),
        other => Err(invalid(format!(
            "body.type should be one of `replace_content`, `insert_content`, `update_content`, `replace_content_range`, instead was `{other}`."
        ))),
    }
}

/// Apply a content command as `actor`; returns the new `page_markdown`.
pub fn update(
    shared: &Shared,
    page_id: Uuid,
    command: Command,
    actor: Actor,
) -> NotionResult<Value> {
    let now = shared.clock.now();
    let (answer, event) = {
        let mut guard = lock(&shared.world);
        let world = &mut *guard;
        // The capability is the integration's; a person edits regardless.
        if actor.is_bot && !world.read_content {
            return Err(NotionError::restricted_resource());
        }
        let page = world.page(page_id)?;
        if page.in_trash {
            return Err(NotionError::validation(
                "Can't edit block that is archived. You must unarchive the block before editing.",
            ));
        }
        let parent = page_parent(world.data_source(page.data_source_id)?);
        let old = page.content.clone();
        let new = match command {
            Command::Replace(s) => normalise(&s),
            Command::Append(s) => join(&old, &normalise(&s)),
            Command::Prepend(s) => join(&normalise(&s), &old),
            Command::Edit(updates) => edit(&old, &updates)?,
        };
        let page = world
            .pages
            .get_mut(&page_id)
            .ok_or_else(|| NotionError::not_found("page", &dashed(page_id)))?;
        page.content = new;
        page.last_edited_time = now;
        page.last_edited_by = actor.id;
        let blocks = vec![json!({"id": dashed(page_id), "type": "page"})];
        let event = page_event(PAGE_CONTENT_UPDATED, page_id, parent, blocks, actor, now);
        (page_markdown(page_id, &page.content), event)
    };
    shared.webhooks.emit(vec![event]);
    Ok(answer)
}

fn parse_updates(inner: &Value) -> Result<Vec<(String, String, bool)>, String> {
    let updates = inner["content_updates"]
        .as_array()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| {
            "body.update_content.content_updates should be a non-empty array".to_owned()
        })?;
    updates
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let field = |key: &str| {
                u[key].as_str().map(str::to_owned).ok_or_else(|| {
                    format!("body.update_content.content_updates[{i}].{key} should be a string")
                })
            };
            let all = u["replace_all_matches"].as_bool().unwrap_or(false);
            Ok((field("old_str")?, field("new_str")?, all))
        })
        .collect()
}

/// Search-and-replace, all or nothing.
fn edit(content: &str, updates: &[(String, String, bool)]) -> NotionResult<String> {
    let mut text = content.to_owned();
    for (old, new, all) in updates {
        let found = if old.is_empty() {
            0
        } else {
            text.matches(old.as_str()).count()
        };
        match (found, all) {
            (0, _) => {
                return Err(NotionError::validation(format!(
                    "The old_str `{old}` was not found in the page content."
                )));
            }
            (1, _) | (_, true) => text = text.replace(old.as_str(), &normalise(new)),
            (n, false) => {
                return Err(NotionError::validation(format!(
                    "The old_str `{old}` matches {n} locations; set replace_all_matches to replace them all."
                )));
            }
        }
    }
    Ok(text)
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_owned(),
        (_, true) => a.to_owned(),
        _ => format!("{a}\n{b}"),
    }
}

/// Content as Notion stores it: `\n` line endings, headings 5 and 6 as
/// heading 4 outside fenced code.
pub fn normalise(markdown: &str) -> String {
    let text = markdown.replace("\r\n", "\n").replace('\r', "\n");
    let mut fenced = false;
    text.split('\n')
        .map(|line| {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                return line.to_owned();
            }
            match line
                .strip_prefix("######")
                .or_else(|| line.strip_prefix("#####"))
            {
                Some(rest) if !fenced && rest.starts_with(' ') => format!("####{rest}"),
                _ => line.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn updates(list: &[(&str, &str, bool)]) -> Vec<(String, String, bool)> {
        list.iter()
            .map(|(o, n, a)| ((*o).to_owned(), (*n).to_owned(), *a))
            .collect()
    }

    #[test]
    fn search_and_replace_is_all_or_nothing() {
        let text = "a b a";
        assert_eq!(edit(text, &updates(&[("b", "c", false)])).unwrap(), "a c a");
        assert_eq!(edit(text, &updates(&[("a", "z", true)])).unwrap(), "z b z");
        assert!(
            edit(text, &updates(&[("a", "z", false)])).is_err(),
            "two matches"
        );
        assert!(edit(text, &updates(&[("b", "c", false), ("q", "r", false)])).is_err());
    }

    #[test]
    fn headings_five_and_six_become_four_outside_code() {
        let md = "##### Five\r\n###### Six\n```\n##### kept\n```\n#### Four";
        assert_eq!(
            normalise(md),
            "#### Five\n#### Six\n```\n##### kept\n```\n#### Four"
        );
    }

    #[test]
    fn unknown_commands_are_refused() {
        for body in [
            json!({"type": "update_content", "update_content": {}}),
            json!({"type": "replace_content_range", "replace_content_range": {}}),
            json!({"type": "insert_content", "insert_content": {"content": "x", "after": "a...b"}}),
            json!({"type": "nope"}),
            json!({"type": "replace_content", "replace_content": {"new_str": 3}}),
        ] {
            assert!(parse_command(&body).is_err(), "{body}");
        }
        assert!(matches!(
            parse_command(
                &json!({"type": "insert_content", "insert_content": {"content": "x", "position": {"type": "start"}}})
            ),
            Ok(Command::Prepend(_))
        ));
    }
}
