//! "Nothing lost", checked after every engine call: no field's non-empty
//! value is replaced (by an empty value or another one) unless
//! (a) a person set the new value on the other side since the two sides
//!     last agreed on that field (a normal change, emptying included), and
//!     nobody had changed the replaced value since then (else both sides
//!     were edited: a conflict, which only (b) allows; an edit of a one-way
//!     field's mirror never stands against its source),
//! (b) the sync log records a conflict on that field, decided by its rule,
//! (c) the field is one-way (Airtable is its source), the mirror (Notion)
//!     side was edited, and the source's non-empty value was restored
//!     (logged as such), or
//! (d) it is the row's Status and the service's own trash marker is
//!     written (the page is in the trash) or replaced (the page is back).
//!
//! A relation is a set (its members joined by ", "; [`SET_FIELDS`]): only
//! the members it loses count, and (a) allows losing those a person left
//! out of the value typed on the other side (references the service keeps,
//! such as one to an epic gone on that side, may stay with the person's).
//!
//! The check compares what both sides held before and after a call; it
//! knows nothing of the engine or of the model's merge, only of what people
//! typed and what the log says. Calls that fail write no log (the log is
//! committed with the snapshot), so their conflicts and restores come from
//! the model's prediction instead (see [`Evidence`]).

use std::collections::{BTreeMap, BTreeSet};

use notion_airtable_sync::store::{LogQuery, Store};

/// Mapped values keyed by the Notion property name; `""` is "no value".
pub type Vals = BTreeMap<&'static str, String>;

/// The Airtable Status value `on_notion_trash` writes.
const ARCHIVED: &str = "Archived";
const STATUS: &str = "Status";
/// The log detail of a one-way field whose source value was written back.
pub const RESTORED: &str = "one-way field: the source side's value restored";

/// Fields holding a set of names joined by ", ".
pub const SET_FIELDS: [&str; 1] = ["Epic"];

fn set_members(v: &str) -> BTreeSet<&str> {
    v.split(", ").filter(|m| !m.is_empty()).collect()
}

/// One record as both tools show it; `a` is `None` while there is no row.
#[derive(Debug, Clone, PartialEq)]
pub struct Sides {
    pub n: Vals,
    pub a: Option<Vals>,
    pub trashed: bool,
}

/// What people typed on each side since the two sides last agreed on the
/// field: the newest value per field, and the value they agreed on.
#[derive(Debug, Clone, Default)]
pub struct Edits {
    n: BTreeMap<&'static str, String>,
    a: BTreeMap<&'static str, String>,
    agreed: BTreeMap<&'static str, String>,
}

impl Edits {
    pub fn notion(&mut self, field: &'static str, value: &str) {
        self.n.insert(field, value.to_owned());
    }

    pub fn airtable(&mut self, field: &'static str, value: &str) {
        self.a.insert(field, value.to_owned());
    }

    /// After a successful sync: a field whose sides agree has no pending
    /// edit left (it was synced, or both typed the same).
    pub fn settle(&mut self, after: &Sides) {
        let Some(a) = &after.a else { return };
        for (f, v) in &after.n {
            if a.get(f) == Some(v) {
                self.n.remove(f);
                self.a.remove(f);
                self.agreed.insert(f, v.clone());
            }
        }
    }

    /// A person changed the field on that side since the sides agreed (an
    /// edit reverted to the agreed value is no change).
    fn changed(&self, side: &BTreeMap<&'static str, String>, f: &str) -> bool {
        side.get(f).is_some_and(|v| self.agreed.get(f) != Some(v))
    }

    /// `now` is what a person typed on the other side, and nobody changed
    /// this side's value meanwhile (an edit of a one-way field's mirror
    /// never stands against its source).
    fn carried(&self, f: &str, now: &str, to_notion: bool, one_way: bool) -> bool {
        let (from, here) = if to_notion {
            (&self.a, &self.n)
        } else {
            (&self.n, &self.a)
        };
        let mirror = one_way && to_notion;
        from.get(f).is_some_and(|v| v == now) && (mirror || !self.changed(here, f))
    }

    /// A set field lost `removed` (members): a person on the other side
    /// typed a value without any of them, and nobody changed this side.
    fn carried_removal(&self, f: &str, removed: &BTreeSet<&str>, to_notion: bool) -> bool {
        let (from, here) = if to_notion {
            (&self.a, &self.n)
        } else {
            (&self.n, &self.a)
        };
        let typed = from.get(f).map(|v| set_members(v));
        typed.is_some_and(|t| t.is_disjoint(removed)) && !self.changed(here, f)
    }
}

/// Why a value may have been replaced without a person's edit: the fields
/// of a record whose conflict a rule decided, and the one-way fields whose
/// source value was restored.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub conflicts: BTreeSet<String>,
    pub restored: BTreeSet<String>,
}

impl Evidence {
    pub fn extend(&mut self, other: &Evidence) {
        self.conflicts.extend(other.conflicts.iter().cloned());
        self.restored.extend(other.restored.iter().cloned());
    }
}

/// Every violation of the invariant for one record; `fields` lists each
/// checked field with whether it is one-way (from Airtable).
pub fn check(
    fields: &[(&'static str, bool)],
    before: &Sides,
    after: &Sides,
    edits: &Edits,
    ev: &Evidence,
) -> Vec<String> {
    let mut lost = Vec::new();
    for &(f, one_way) in fields {
        if SET_FIELDS.contains(&f) {
            lost.extend(check_set(f, before, after, edits, ev));
            continue;
        }
        let (was, now) = (&before.n[f], &after.n[f]);
        if replaced(was, now) && !notion_change_ok(f, one_way, now, before, edits, ev) {
            lost.push(format!("Notion {f}: {was:?} became {now:?}"));
        }
        if let (Some(ba), Some(aa)) = (&before.a, &after.a) {
            let (was, now) = (&ba[f], &aa[f]);
            if replaced(was, now) && !airtable_change_ok(f, was, now, after, edits, ev) {
                lost.push(format!("Airtable {f}: {was:?} became {now:?}"));
            }
        }
    }
    lost
}

/// A set field: the members each side lost, unless a person on the other
/// side removed them or a rule decided a conflict on the field.
fn check_set(f: &str, before: &Sides, after: &Sides, edits: &Edits, ev: &Evidence) -> Vec<String> {
    let mut lost = Vec::new();
    let mut side = |name: &str, was: &str, now: &str, to_notion: bool| {
        let removed: BTreeSet<&str> = set_members(was)
            .difference(&set_members(now))
            .copied()
            .collect();
        let ok = removed.is_empty()
            || ev.conflicts.contains(f)
            || edits.carried_removal(f, &removed, to_notion);
        if !ok {
            lost.push(format!("{name} {f}: {was:?} became {now:?}"));
        }
    };
    side("Notion", &before.n[f], &after.n[f], true);
    if let (Some(ba), Some(aa)) = (&before.a, &after.a) {
        side("Airtable", &ba[f], &aa[f], false);
    }
    lost
}

fn replaced(was: &str, now: &str) -> bool {
    !was.is_empty() && was != now
}

fn notion_change_ok(
    f: &str,
    one_way: bool,
    now: &str,
    before: &Sides,
    edits: &Edits,
    ev: &Evidence,
) -> bool {
    let restored = one_way
        && ev.restored.contains(f)
        && !now.is_empty()
        && before.a.as_ref().is_some_and(|a| a[f] == now);
    edits.carried(f, now, true, one_way) || ev.conflicts.contains(f) || restored
}

fn airtable_change_ok(
    f: &str,
    was: &str,
    now: &str,
    after: &Sides,
    edits: &Edits,
    ev: &Evidence,
) -> bool {
    let trash_marker = f == STATUS && ((after.trashed && now == ARCHIVED) || was == ARCHIVED);
    edits.carried(f, now, false, false) || ev.conflicts.contains(f) || trash_marker
}

/// The evidence the sync log holds, per Notion page id, in entries newer
/// than `mark` (a log id); returns it with the newest id.
pub async fn logged_since(
    store: &Store,
    pair: &str,
    mark: i64,
) -> (BTreeMap<String, Evidence>, i64) {
    let mut found: BTreeMap<String, Evidence> = BTreeMap::new();
    let mut newest = mark;
    let mut query = LogQuery {
        pair: Some(pair.to_owned()),
        limit: 500,
        ..LogQuery::default()
    };
    'pages: loop {
        let page = store.query_log(&query).await.expect("read the sync log");
        for e in &page {
            if e.id <= mark {
                break 'pages;
            }
            newest = newest.max(e.id);
            let (Some(p), Some(f)) = (&e.notion_page_id, &e.field) else {
                continue;
            };
            let ev = found.entry(p.clone()).or_default();
            if e.conflict {
                ev.conflicts.insert(f.clone());
            }
            if e.detail.as_deref() == Some(RESTORED) {
                ev.restored.insert(f.clone());
            }
        }
        match page.last() {
            Some(last) => query.before_id = Some(last.id),
            None => break,
        }
    }
    (found, newest)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: [(&str, bool); 3] = [("Name", false), ("Status", false), ("Sprint", true)];

    fn vals(name: &str, status: &str, sprint: &str) -> Vals {
        Vals::from([
            ("Name", name.to_owned()),
            ("Status", status.to_owned()),
            ("Sprint", sprint.to_owned()),
        ])
    }

    fn sides(n: Vals, a: Option<Vals>) -> Sides {
        Sides {
            n,
            a,
            trashed: false,
        }
    }

    /// The old first-contact bug replayed: a person typed Sprint in Notion
    /// before the sync existed; the sync created the row without it and
    /// then wrote the row's empty Sprint over Notion's. Nobody emptied it.
    #[test]
    fn the_first_contact_erasure_is_caught() {
        let mut edits = Edits::default();
        edits.notion("Name", "Checkout");
        edits.notion("Status", "Ready");
        edits.notion("Sprint", "Sprint 7");
        let before = sides(vals("Checkout", "Ready", "Sprint 7"), None);
        let after = sides(
            vals("Checkout", "Ready", ""),
            Some(vals("Checkout", "Ready", "")),
        );
        let lost = check(&FIELDS, &before, &after, &edits, &Evidence::default());
        assert_eq!(lost, vec![r#"Notion Sprint: "Sprint 7" became """#]);
    }

    #[test]
    fn person_edits_conflicts_and_restores_are_allowed() {
        let before = sides(
            vals("Old", "Ready", "Typed in Notion"),
            Some(vals("New", "Draft", "Sprint 3")),
        );
        let after = sides(
            vals("New", "Ready", "Sprint 3"),
            Some(vals("New", "Ready", "Sprint 3")),
        );
        let mut edits = Edits::default();
        edits.airtable("Name", "New");
        let mut ev = Evidence::default();
        // Without evidence: Status and the restored Sprint are losses.
        let lost = check(&FIELDS, &before, &after, &edits, &ev);
        assert_eq!(lost.len(), 2, "{lost:?}");
        ev.conflicts.insert("Status".into());
        ev.restored.insert("Sprint".into());
        assert_eq!(
            check(&FIELDS, &before, &after, &edits, &ev),
            Vec::<String>::new()
        );
    }

    #[test]
    fn an_edit_from_before_the_sides_agreed_justifies_nothing() {
        let mut edits = Edits::default();
        edits.airtable("Status", "Draft");
        let agreed = sides(vals("A", "Draft", ""), Some(vals("A", "Draft", "")));
        edits.settle(&agreed);
        let before = sides(vals("A", "Ready", ""), Some(vals("A", "Draft", "")));
        let after = sides(vals("A", "Draft", ""), Some(vals("A", "Draft", "")));
        let lost = check(&FIELDS, &before, &after, &edits, &Evidence::default());
        assert_eq!(lost, vec![r#"Notion Status: "Ready" became "Draft""#]);
    }

    /// Both sides edited: whichever edit is replaced, only a logged
    /// conflict allows it; a reverted edit is no edit.
    #[test]
    fn replacing_an_edit_with_another_needs_a_logged_conflict() {
        let mut edits = Edits::default();
        edits.settle(&sides(vals("A", "Draft", ""), Some(vals("A", "Draft", ""))));
        edits.notion("Status", "Ready");
        edits.airtable("Status", "Shipped");
        let before = sides(vals("A", "Ready", ""), Some(vals("A", "Shipped", "")));
        let after = sides(vals("A", "Ready", ""), Some(vals("A", "Ready", "")));
        let mut ev = Evidence::default();
        let lost = check(&FIELDS, &before, &after, &edits, &ev);
        assert_eq!(lost, vec![r#"Airtable Status: "Shipped" became "Ready""#]);
        ev.conflicts.insert("Status".into());
        assert!(check(&FIELDS, &before, &after, &edits, &ev).is_empty());
        // Airtable's edit reverted to the agreed value: Notion's flows.
        edits.airtable("Status", "Draft");
        let before = sides(vals("A", "Ready", ""), Some(vals("A", "Draft", "")));
        let lost = check(&FIELDS, &before, &after, &edits, &Evidence::default());
        assert!(lost.is_empty(), "{lost:?}");
    }

    /// A one-way field: the source's emptying reaches the mirror even over
    /// a mirror edit.
    #[test]
    fn a_source_emptied_by_a_person_empties_the_mirror() {
        let mut edits = Edits::default();
        edits.settle(&sides(
            vals("A", "Draft", "S1"),
            Some(vals("A", "Draft", "S1")),
        ));
        edits.notion("Sprint", "S2");
        edits.airtable("Sprint", "");
        let before = sides(vals("A", "Draft", "S2"), Some(vals("A", "Draft", "")));
        let after = sides(vals("A", "Draft", ""), Some(vals("A", "Draft", "")));
        let lost = check(&FIELDS, &before, &after, &edits, &Evidence::default());
        assert!(lost.is_empty(), "{lost:?}");
    }

    #[test]
    fn the_trash_marker_is_the_services_own() {
        let before = sides(vals("A", "Ready", ""), Some(vals("A", "Ready", "")));
        let mut after = sides(vals("A", "Ready", ""), Some(vals("A", ARCHIVED, "")));
        let none = Evidence::default();
        let lost = check(&FIELDS, &before, &after, &Edits::default(), &none);
        assert_eq!(lost.len(), 1, "not trashed: {lost:?}");
        after.trashed = true;
        assert!(check(&FIELDS, &before, &after, &Edits::default(), &none).is_empty());
        // Restored: the marker goes away again.
        let back = sides(vals("A", "Ready", ""), Some(vals("A", "Ready", "")));
        assert!(check(&FIELDS, &after, &back, &Edits::default(), &none).is_empty());
    }

    /// A relation loses only what a person left out on the other side; a
    /// member the service keeps beside the person's value is no loss.
    #[test]
    fn a_set_field_loses_only_members_a_person_removed() {
        let one = |v: &str| Vals::from([("Epic", v.to_owned())]);
        let fields = [("Epic", false)];
        let before = sides(one("E3, E5"), Some(one("E3, E5")));
        let after = sides(one("E2, E3"), Some(one("E2")));
        let lost = check(
            &fields,
            &before,
            &after,
            &Edits::default(),
            &Evidence::default(),
        );
        assert_eq!(lost.len(), 2, "{lost:?}");
        let mut edits = Edits::default();
        edits.airtable("Epic", "E2");
        let before = sides(one("E3, E5"), Some(one("E2")));
        let lost = check(&fields, &before, &after, &edits, &Evidence::default());
        assert!(lost.is_empty(), "{lost:?}");
        edits.airtable("Epic", "E2, E5");
        let lost = check(&fields, &before, &after, &edits, &Evidence::default());
        assert_eq!(lost, vec![r#"Notion Epic: "E3, E5" became "E2, E3""#]);
    }
}
