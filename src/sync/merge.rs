//! The three-way merge of one field: the Notion value `n`, the Airtable value
//! `a` and the snapshot `s` stored at the last sync.
//!
//! - `n == a`: nothing to write; the snapshot becomes `n`.
//! - only Notion changed (`a == s`): Notion's value goes to Airtable.
//! - only Airtable changed (`n == s`): Airtable's value goes to Notion.
//! - both changed to different values: a conflict, decided by the field's
//!   rule.
//! - no snapshot yet (first contact): if one side is empty, the other side's
//!   value fills it (nothing is lost either way); if both hold different
//!   values, a conflict, decided by the rule.
//!
//! A one-way field takes its source side's value: an edit on the mirror side
//! is overwritten (and logged) so both tools agree again, except that an
//! empty source never erases the mirror. A person may have typed that value
//! before the sync existed, or while the source was still empty; it is kept
//! ([`Decision::Keep`]) until the source side's first real edit, which flows
//! as usual because the snapshot holds the source's (empty) value. Only a
//! person emptying the source (a change from the snapshot) empties the
//! mirror. A computed source (a formula, a rollup: `sync::convert::computed`)
//! is never emptied by a person: an empty result is an error, an incomplete
//! rollup or inputs not filled yet, so it never erases the mirror at all.
//!
//! `latest` compares edit times. Notion's `last_edited_time` is rounded DOWN
//! to the minute, so a Notion edit stamped `t` happened in `[t, t + 60 s)`.
//! Airtable wins only if its edit is at or after `t + 60 s`; Notion wins only
//! if Airtable's edit is before `t`. Anything else (the same minute, or a
//! missing time) is a tie, and a tie goes to Notion, the spec's source of
//! truth: a stated default, never chance.

use time::{Duration, OffsetDateTime};

use super::value::Value;
use crate::config::{ConflictRule, Direction};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Notion,
    Airtable,
}

/// Everything the merge needs to know about one field.
#[derive(Debug, Clone)]
pub struct FieldInput<'a> {
    pub notion: &'a Value,
    pub airtable: &'a Value,
    /// `None` when the record has never been synced (first contact).
    pub snapshot: Option<&'a Value>,
    pub direction: Direction,
    pub conflict: ConflictRule,
    /// Notion's `last_edited_time` (minute-rounded) for the page.
    pub notion_edited: Option<OffsetDateTime>,
    /// Airtable's modification time for this field or record (ms precision).
    pub airtable_edited: Option<OffsetDateTime>,
    /// The one-way source is computed by its tool: its empty value is kept
    /// off the mirror even after a value (see the module doc).
    pub computed_source: bool,
}

/// Why a value was chosen.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Only one side changed since the last sync.
    Changed,
    /// The field is one-way and the mirror side had been edited.
    OneWay,
    /// Both sides changed (or first contact with two values): the rule decided.
    Conflict { rule: &'static str, tie: bool },
    /// First contact with one side empty: it takes the other side's value.
    Filled,
}

/// What to do with one field.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Both sides already agree; the snapshot becomes this value.
    InSync(Value),
    /// Write `value` to the side `to`; the snapshot becomes `value`.
    Write {
        to: Side,
        value: Value,
        reason: Reason,
    },
    /// The sides differ but nothing is written: a one-way field whose source
    /// side is empty while `mirror` holds a value. The snapshot becomes the
    /// source's value (empty), so the source's next edit flows.
    Keep {
        /// The side holding the kept value.
        mirror: Side,
        snapshot: Value,
        /// First contact: the caller logs the kept value once.
        first_contact: bool,
    },
}

impl Decision {
    pub fn snapshot(&self) -> &Value {
        match self {
            Decision::InSync(v) | Decision::Write { value: v, .. } => v,
            Decision::Keep { snapshot, .. } => snapshot,
        }
    }

    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Decision::Write {
                reason: Reason::Conflict { .. },
                ..
            }
        )
    }
}

/// Decide one field.
pub fn merge_field(input: &FieldInput<'_>) -> Decision {
    let (n, a) = (input.notion, input.airtable);
    if n == a {
        return Decision::InSync(n.clone());
    }
    let Some(s) = input.snapshot else {
        return first_contact(input);
    };
    if let Some(src) = one_way_source(input.direction).filter(|_| input.computed_source) {
        let source_empty = match src {
            Side::Notion => n.is_empty(),
            Side::Airtable => a.is_empty(),
        };
        if source_empty {
            return restore_source(src, input, false);
        }
    }
    let winner = match (s != n, s != a) {
        (true, false) => Side::Notion,
        (false, true) => Side::Airtable,
        _ => return conflict(input),
    };
    match one_way_source(input.direction) {
        Some(src) if src != winner => restore_source(src, input, false),
        _ => write(winner, input, Reason::Changed),
    }
}

/// No snapshot: an empty side takes the other's value (for a one-way field,
/// only the mirror side); two values are a conflict.
fn first_contact(input: &FieldInput<'_>) -> Decision {
    let empty = |side: Side| match side {
        Side::Notion => input.notion.is_empty(),
        Side::Airtable => input.airtable.is_empty(),
    };
    match one_way_source(input.direction) {
        Some(source) if empty(source) => restore_source(source, input, true),
        _ if empty(Side::Notion) => write(Side::Airtable, input, Reason::Filled),
        _ if empty(Side::Airtable) => write(Side::Notion, input, Reason::Filled),
        _ => conflict(input),
    }
}

/// A one-way field's source value goes over the mirror's, unless the source
/// is empty: then the mirror's value is kept (see the module doc).
fn restore_source(source: Side, input: &FieldInput<'_>, first_contact: bool) -> Decision {
    let source_value = match source {
        Side::Notion => input.notion,
        Side::Airtable => input.airtable,
    };
    if source_value.is_empty() {
        return Decision::Keep {
            mirror: other(source),
            snapshot: Value::Empty,
            first_contact,
        };
    }
    write(source, input, Reason::OneWay)
}

fn other(side: Side) -> Side {
    match side {
        Side::Notion => Side::Airtable,
        Side::Airtable => Side::Notion,
    }
}

/// The side a one-way field flows from.
fn one_way_source(direction: Direction) -> Option<Side> {
    match direction {
        Direction::Both => None,
        Direction::NotionToAirtable => Some(Side::Notion),
        Direction::AirtableToNotion => Some(Side::Airtable),
    }
}

/// `winner`'s value goes to the other side.
fn write(winner: Side, input: &FieldInput<'_>, reason: Reason) -> Decision {
    let (to, value) = match winner {
        Side::Notion => (Side::Airtable, input.notion.clone()),
        Side::Airtable => (Side::Notion, input.airtable.clone()),
    };
    Decision::Write { to, value, reason }
}

fn conflict(input: &FieldInput<'_>) -> Decision {
    if let Some(src) = one_way_source(input.direction) {
        // Both sides changed, so a person changed the source (perhaps
        // emptied it), or first contact with a value on each side.
        return write(src, input, Reason::OneWay);
    }
    let (winner, rule, tie) = match input.conflict {
        ConflictRule::Notion => (Side::Notion, "notion", false),
        ConflictRule::Airtable => (Side::Airtable, "airtable", false),
        ConflictRule::Latest => match latest(input.notion_edited, input.airtable_edited) {
            Some(side) => (side, "latest", false),
            None => (Side::Notion, "latest", true),
        },
    };
    write(winner, input, Reason::Conflict { rule, tie })
}

/// Which side edited last, or `None` when the times cannot tell.
fn latest(notion: Option<OffsetDateTime>, airtable: Option<OffsetDateTime>) -> Option<Side> {
    let (n, a) = (notion?, airtable?);
    if a >= n + Duration::minutes(1) {
        Some(Side::Airtable)
    } else if a < n {
        Some(Side::Notion)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn t(s: &str) -> Value {
        Value::text(s)
    }

    fn input<'a>(n: &'a Value, a: &'a Value, s: Option<&'a Value>) -> FieldInput<'a> {
        FieldInput {
            notion: n,
            airtable: a,
            snapshot: s,
            direction: Direction::Both,
            conflict: ConflictRule::Notion,
            notion_edited: None,
            airtable_edited: None,
            computed_source: false,
        }
    }

    fn written(d: &Decision) -> (Side, Value) {
        match d {
            Decision::Write { to, value, .. } => (*to, value.clone()),
            other => panic!("expected a write, got {other:?}"),
        }
    }

    #[test]
    fn equal_sides_need_no_write() {
        let (x, old) = (t("Ready"), t("Draft"));
        assert_eq!(
            merge_field(&input(&x, &x, Some(&old))),
            Decision::InSync(x.clone())
        );
        assert_eq!(merge_field(&input(&x, &x, None)), Decision::InSync(x));
    }

    #[test]
    fn a_change_on_one_side_flows_to_the_other() {
        let (s, new) = (t("Draft"), t("Ready"));
        assert_eq!(
            written(&merge_field(&input(&new, &s, Some(&s)))),
            (Side::Airtable, new.clone())
        );
        assert_eq!(
            written(&merge_field(&input(&s, &new, Some(&s)))),
            (Side::Notion, new.clone())
        );
        // Clearing a value is a change like any other.
        let empty = Value::Empty;
        assert_eq!(
            written(&merge_field(&input(&empty, &s, Some(&s)))),
            (Side::Airtable, empty)
        );
    }

    #[test]
    fn conflicts_follow_the_rule() {
        let (s, n, a) = (t("Draft"), t("Ready"), t("Shipped"));
        let mut i = input(&n, &a, Some(&s));
        let d = merge_field(&i);
        assert!(d.is_conflict());
        assert_eq!(written(&d), (Side::Airtable, n.clone()));
        i.conflict = ConflictRule::Airtable;
        assert_eq!(written(&merge_field(&i)), (Side::Notion, a.clone()));
    }

    #[test]
    fn first_contact_with_two_values_is_decided_by_the_rule() {
        let (n, a) = (t("Ready"), t("Shipped"));
        let mut i = input(&n, &a, None);
        i.conflict = ConflictRule::Airtable;
        assert_eq!(written(&merge_field(&i)), (Side::Notion, a.clone()));
    }

    #[test]
    fn latest_respects_minute_rounding_and_ties_go_to_notion() {
        let (s, n, a) = (t("Draft"), t("Ready"), t("Shipped"));
        let mut i = input(&n, &a, Some(&s));
        i.conflict = ConflictRule::Latest;
        i.notion_edited = Some(datetime!(2026-11-21 10:05:00 UTC));
        // Airtable 10:05:30 is inside Notion's minute: a tie, Notion wins, flagged.
        i.airtable_edited = Some(datetime!(2026-11-21 10:05:30 UTC));
        let d = merge_field(&i);
        assert_eq!(written(&d), (Side::Airtable, n.clone()));
        assert!(matches!(
            d,
            Decision::Write {
                reason: Reason::Conflict { tie: true, .. },
                ..
            }
        ));
        // A full minute later: Airtable is certainly later.
        i.airtable_edited = Some(datetime!(2026-11-21 10:06:00 UTC));
        assert_eq!(written(&merge_field(&i)), (Side::Notion, a.clone()));
        // Before Notion's minute began: Notion is certainly later.
        i.airtable_edited = Some(datetime!(2026-11-21 10:04:59.999 UTC));
        assert_eq!(written(&merge_field(&i)), (Side::Airtable, n.clone()));
        // No time on one side: a tie.
        i.airtable_edited = None;
        assert!(matches!(
            merge_field(&i),
            Decision::Write {
                reason: Reason::Conflict { tie: true, .. },
                ..
            }
        ));
    }

    #[test]
    fn one_way_fields_take_the_source_value() {
        let (s, n, a) = (t("S1"), t("S2 typed in Notion"), t("S1"));
        let mut i = input(&n, &a, Some(&s));
        i.direction = Direction::AirtableToNotion;
        let d = merge_field(&i);
        assert_eq!(written(&d), (Side::Notion, a.clone()));
        assert!(matches!(
            d,
            Decision::Write {
                reason: Reason::OneWay,
                ..
            }
        ));
        // The source side's own change flows normally.
        let a2 = t("S3");
        let i = FieldInput {
            notion: &s,
            airtable: &a2,
            ..i
        };
        assert_eq!(written(&merge_field(&i)), (Side::Notion, a2.clone()));
        // Both changed on a one-way field: the source wins whatever the rule.
        let mut i = input(&n, &a2, Some(&s));
        i.direction = Direction::NotionToAirtable;
        i.conflict = ConflictRule::Airtable;
        assert_eq!(written(&merge_field(&i)), (Side::Airtable, n.clone()));
    }

    #[test]
    fn first_contact_fills_an_empty_side_whatever_the_rule() {
        let (v, empty) = (t("Sprint 30"), Value::Empty);
        let mut i = input(&v, &empty, None);
        i.conflict = ConflictRule::Airtable;
        let d = merge_field(&i);
        assert_eq!(written(&d), (Side::Airtable, v.clone()));
        assert!(!d.is_conflict());
        let mut i = input(&empty, &v, None);
        i.conflict = ConflictRule::Notion;
        assert_eq!(written(&merge_field(&i)), (Side::Notion, v.clone()));
    }

    #[test]
    fn an_empty_computed_source_never_erases_the_mirror_even_after_a_value() {
        let (five, empty) = (Value::Number(5.0), Value::Empty);
        let mut i = input(&empty, &five, Some(&five));
        i.direction = Direction::NotionToAirtable;
        // A plain one-way source a person emptied empties the mirror...
        assert_eq!(written(&merge_field(&i)), (Side::Airtable, Value::Empty));
        // ...a computed one (an error, an incomplete rollup) never does.
        i.computed_source = true;
        assert!(matches!(merge_field(&i), Decision::Keep { .. }));
        // A new result still flows.
        let seven = Value::Number(7.0);
        i.notion = &seven;
        assert_eq!(written(&merge_field(&i)), (Side::Airtable, seven.clone()));
    }

    #[test]
    fn an_empty_one_way_source_never_erases_the_mirror() {
        let (v, empty) = (t("legal review"), Value::Empty);
        // First contact: Airtable (the source) empty, Notion holds a value.
        let mut i = input(&v, &empty, None);
        i.direction = Direction::AirtableToNotion;
        i.conflict = ConflictRule::Airtable;
        let keep = Decision::Keep {
            mirror: Side::Notion,
            snapshot: Value::Empty,
            first_contact: true,
        };
        assert_eq!(merge_field(&i), keep);
        // Later sweeps: the snapshot is the source's empty value; still kept.
        i.snapshot = Some(&empty);
        assert_eq!(
            merge_field(&i),
            Decision::Keep {
                mirror: Side::Notion,
                snapshot: Value::Empty,
                first_contact: false,
            }
        );
        // The source's first real edit flows over the kept value.
        let edit = t("blocked on legal");
        let i2 = FieldInput {
            airtable: &edit,
            ..i.clone()
        };
        assert_eq!(written(&merge_field(&i2)), (Side::Notion, edit.clone()));
        // An empty mirror is filled from the source.
        let mut i3 = input(&empty, &v, None);
        i3.direction = Direction::AirtableToNotion;
        assert_eq!(written(&merge_field(&i3)), (Side::Notion, v.clone()));
        // A person emptying the source does empty the mirror.
        let s = t("Sprint 29");
        let mut i4 = input(&s, &empty, Some(&s));
        i4.direction = Direction::AirtableToNotion;
        assert_eq!(written(&merge_field(&i4)), (Side::Notion, Value::Empty));
    }
}
