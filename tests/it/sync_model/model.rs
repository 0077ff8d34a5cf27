//! The model: what every record's mapped values must be, derived from the
//! pair's rules alone (sync.example.toml), never from the engine's code.
//!
//! Rules modelled:
//! - two-way spec fields (Name, Status, Priority, Owner, Target Quarter):
//!   the side that changed since the last successful sync of the record
//!   wins; both changed to different values (or no sync yet) is a conflict
//!   and Notion wins;
//! - two-way fields on first contact: an empty side takes the other's value
//!   (whatever the rule: nothing is erased);
//! - one-way ops fields (Sprint, Ship Date, Blockers): Airtable's value (a
//!   Notion edit is reverted), except that an empty Airtable value that
//!   nobody emptied never erases Notion's: Notion keeps its value (the
//!   snapshot is empty) until Airtable's first edit; a person emptying the
//!   Airtable value does empty Notion's;
//! - a new page: its row is created as a full copy of the page, one-way
//!   fields included (Airtable has nothing yet, so nothing can conflict);
//! - a trashed page: its row carries `Status = Archived` after every sync
//!   (the snapshot is kept); restored, the row's Status comes back from the
//!   snapshot (the archive value is the service's own, never an edit);
//! - a value Notion refuses (a Status option a `status` property lacks):
//!   Notion keeps its value, Airtable keeps the person's, the snapshot keeps
//!   its old value, the record has an open issue, every other field syncs;
//!   the issue clears when the record no longer refuses anything;
//! - a deleted row (`on_airtable_delete = "ignore"`): stays deleted (also
//!   when the page is trashed or restored), the page stays, nothing syncs
//!   for that record any more;
//! - the page's content (`[pair.body]`, conflict rule "notion") is one more
//!   two-way field, held in the form both sides are compared in (see
//!   `sides::body_form`): last writer per side wins, both changed is a
//!   conflict Notion wins, an empty side is filled on first contact;
//! - the files Mockup (a set of files, by name and size) are one more
//!   two-way field like the others: a file leaves the other side only when
//!   a person removed it, and is never duplicated;
//! - the relation Epic (a set of epics of the second pair, by name;
//!   `sync_model/epics.rs`) is one more two-way field compared as a set,
//!   with two rules of its own: a write naming an epic that the other side
//!   cannot hold yet (not linked by the epics pair) is refused as a whole
//!   (both sides and the snapshot stay, the record has an open issue until
//!   a reconcile writes it), and an epic the snapshot holds that is gone on
//!   one side (its row deleted; its page trashed, once the epics pair saw
//!   it) counts as still there on that side: its disappearance is the
//!   vendor's doing, never a person's removal, so it never erases the other
//!   side's reference.

use std::collections::BTreeMap;

use notion_airtable_sandbox::team::STATUSES;
use notion_airtable_sync::sync::body::BODY_FIELD;

/// One mapped field as the test sees it.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub notion: &'static str,
    pub airtable: &'static str,
    /// `airtable_to_notion`: Airtable's value always wins.
    pub one_way: bool,
}

const fn field(notion: &'static str, airtable: &'static str, one_way: bool) -> Field {
    Field {
        notion,
        airtable,
        one_way,
    }
}

/// The page's content as a field: `[pair.body] airtable = "Spec"`.
pub const BODY: &str = BODY_FIELD;

/// The relation to the epics pair (Notion `relation` ↔ Airtable link field).
pub const EPIC: &str = "Epic";
/// Notion `files` ↔ Airtable `multipleAttachments` (`sync_model/files.rs`).
pub const MOCKUP: &str = "Mockup";

pub const FIELDS: [Field; 11] = [
    field("Name", "Spec Name", false),
    field("Status", "Status", false),
    field("Priority", "Priority", false),
    field("Owner", "Owner", false),
    field("Target Quarter", "Target Quarter", false),
    field("Sprint", "Sprint", true),
    field("Ship Date", "Ship Date", true),
    field("Blockers", "Blockers", true),
    field(BODY, "Spec", false),
    field(EPIC, "Epic", false),
    field(MOCKUP, "Mockup", false),
];

pub const STATUS: &str = "Status";
/// What `on_notion_trash` writes to the row's Status.
pub const ARCHIVED: &str = "Archived";

/// Every mapped field's value, keyed by the Notion property name; `""` is
/// "no value" (empty text, no option, no date, nobody). Owner is the
/// people's names joined by ", "; Ship Date is `YYYY-MM-DD`; the body is
/// Markdown in its compared form.
pub type Vals = BTreeMap<&'static str, String>;

pub fn empty_vals() -> Vals {
    FIELDS.iter().map(|f| (f.notion, String::new())).collect()
}

/// The link the engine should have stored for the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Never synced (or the only sync's commit was lost).
    None,
    Active,
    /// The page was trashed and its row archived.
    Trashed,
    /// The row's deletion was noticed.
    Deleted,
}

/// One record: the Notion page and its Airtable row.
#[derive(Debug, Clone)]
pub struct Rec {
    pub page_id: String,
    pub row_id: Option<String>,
    /// The page's current values.
    pub n: Vals,
    /// The row's current values; `None` while there is no row.
    pub a: Option<Vals>,
    /// The values at the last successful sync (the snapshot).
    pub s: Option<Vals>,
    pub link: Link,
    pub trashed: bool,
    pub row_deleted: bool,
    /// Expected conflict log entries per field.
    pub conflicts: BTreeMap<&'static str, usize>,
    /// Notion's Status is a `status` property: options it lacks are refused.
    pub strict_status: bool,
    /// The last sync left a refused Status in Airtable (an open issue).
    pub refused: bool,
    /// The last sync could not write Epic: it names an epic the other side
    /// cannot hold yet (an open issue).
    pub waiting: bool,
}

/// What the model knows of each epic (by name) when a record is merged.
#[derive(Debug, Clone, Copy, Default)]
pub struct EpicState {
    /// Notion has a page for it (a relation can name it).
    pub page: bool,
    /// Airtable has a live row for it (a link cell can name it).
    pub row: bool,
    /// Gone in Notion: its page is trashed and the epics pair saw it.
    pub gone_n: bool,
    /// Gone in Airtable: its row was deleted.
    pub gone_a: bool,
    /// The service knows the row is deleted without the snapshot at hand:
    /// the epics pair saw the delete.
    pub known_deleted: bool,
}

impl EpicState {
    /// Whether an Airtable write of a relation naming this epic names its
    /// row (`Some(true)`), leaves it out (`Some(false)`: a deleted row the
    /// service knows of: its pair saw the delete, or the snapshot held it
    /// and it left the cell), or is refused (`None`: no row yet, or a
    /// deleted row the service still takes for live).
    fn in_airtable_write(self, held: bool) -> Option<bool> {
        match (self.row, self.gone_a) {
            (true, _) => Some(true),
            (false, true) if self.known_deleted || held => Some(false),
            _ => None,
        }
    }
}

pub type Epics = BTreeMap<String, EpicState>;

/// A set value's members (names joined by ", ", sorted).
pub fn members(v: &str) -> Vec<String> {
    v.split(", ")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

pub fn set_of(names: impl IntoIterator<Item = String>) -> String {
    let mut v: Vec<String> = names.into_iter().collect();
    v.sort();
    v.dedup();
    v.join(", ")
}

/// One field's three-way merge: each side's value afterwards, the
/// snapshot, and whether the rule had to decide a conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    pub n: String,
    pub a: String,
    pub s: String,
    pub conflict: bool,
}

fn agreed(v: &str, conflict: bool) -> Merged {
    Merged {
        n: v.to_owned(),
        a: v.to_owned(),
        s: v.to_owned(),
        conflict,
    }
}

pub fn merge(n: &str, a: &str, s: Option<&str>, one_way: bool) -> Merged {
    if n == a {
        return agreed(n, false);
    }
    if one_way {
        // Airtable is the source. Its value goes over Notion's unless it is
        // empty and nobody emptied it (first contact, or unchanged since the
        // last sync): then Notion keeps its value.
        let source_changed = s.is_some_and(|s| s != a);
        if a.is_empty() && !source_changed {
            return Merged {
                n: n.to_owned(),
                a: String::new(),
                s: String::new(),
                conflict: false,
            };
        }
        return agreed(a, false);
    }
    match s {
        None if n.is_empty() => return agreed(a, false),
        None if a.is_empty() => return agreed(n, false),
        _ => {}
    }
    match (s != Some(n), s != Some(a)) {
        (true, false) => agreed(n, false),
        (false, true) => agreed(a, false),
        // Both changed, or first contact with two values: Notion wins.
        _ => agreed(n, true),
    }
}

impl Rec {
    pub fn new(page_id: String, n: Vals, strict_status: bool) -> Rec {
        Rec {
            page_id,
            row_id: None,
            n,
            a: None,
            s: None,
            link: Link::None,
            trashed: false,
            row_deleted: false,
            conflicts: BTreeMap::new(),
            strict_status,
            refused: false,
            waiting: false,
        }
    }

    /// Notion refuses this value for `field`.
    fn refuses(&self, field: &str, v: &str) -> bool {
        self.strict_status && field == STATUS && !v.is_empty() && !STATUSES.contains(&v)
    }

    /// The record after one successful reconcile of it. `incremental`: an
    /// incremental sweep, which does not read unchanged rows and so cannot
    /// tell a deleted row from an unchanged one. Also returns the fields
    /// whose conflict the rule decided.
    pub fn reconciled(&self, incremental: bool, epics: &Epics) -> (Rec, Vec<&'static str>) {
        let mut r = self.clone();
        let conflicts = match (r.row_deleted, r.trashed, r.a.is_some()) {
            (true, trashed, _) => {
                // Only a live page's reconcile looks for its row.
                if !incremental && !trashed && matches!(r.link, Link::Active | Link::Trashed) {
                    r.link = Link::Deleted;
                    // The refused value went with the row.
                    r.refused = false;
                    r.waiting = false;
                }
                Vec::new()
            }
            // A trashed page's row carries the archive value after every
            // sync (re-archiving what the engine already recorded is a no-op).
            (false, true, true) if r.link != Link::Trashed || !r.row_archived() => {
                r.archive();
                Vec::new()
            }
            (false, true, _) => Vec::new(),
            (false, false, _) => r.merge_all(epics),
        };
        for f in &conflicts {
            *r.conflicts.entry(f).or_default() += 1;
        }
        (r, conflicts)
    }

    fn archive(&mut self) {
        if let Some(a) = self.a.as_mut() {
            a.insert(STATUS, ARCHIVED.into());
        }
        // The archive value replaced whatever Notion refused, and a trashed
        // page's relation waits for nothing.
        self.refused = false;
        self.waiting = false;
        self.link = Link::Trashed;
    }

    /// The engine recorded the trash, or the row still carries the archive
    /// value (an archive whose commit was lost): the next sync of the live
    /// page is a restore, whose Status comes from the snapshot.
    pub fn restoring(&self) -> bool {
        self.link == Link::Trashed || self.row_archived()
    }

    /// The row carries the archive value (people never choose it).
    pub fn row_archived(&self) -> bool {
        self.a.as_ref().is_some_and(|a| a[STATUS] == ARCHIVED)
    }

    /// Merge every field; create the row when there is none.
    fn merge_all(&mut self, epics: &Epics) -> Vec<&'static str> {
        self.waiting = false;
        let creating = self.a.is_none();
        if creating {
            // The new row is a full copy of the page.
            let mut a = self.n.clone();
            let mut s = self.n.clone();
            let st = |e: &String| epics.get(e).copied().unwrap_or_default();
            let related = members(&self.n[EPIC]);
            let holds: Option<Vec<bool>> = related
                .iter()
                .map(|e| st(e).in_airtable_write(false))
                .collect();
            if let Some(holds) = holds {
                let kept = related.into_iter().zip(holds).filter(|(_, h)| *h);
                a.insert(EPIC, set_of(kept.map(|(e, _)| e)));
            } else {
                // The row is created without the relation, which waits.
                a.insert(EPIC, String::new());
                s.insert(EPIC, String::new());
                self.waiting = true;
            }
            self.a = Some(a);
            self.s = Some(s);
            self.link = Link::Active;
            return Vec::new();
        }
        let a = self.a.clone().unwrap_or_else(empty_vals);
        let s = self.s.clone();
        let restoring = self.restoring();
        let (mut n_after, mut a_after, mut s_after) = (Vals::new(), Vals::new(), Vals::new());
        let mut conflicts = Vec::new();
        self.refused = false;
        for f in FIELDS {
            if f.notion == EPIC {
                let snap = s.as_ref().map(|s| s[EPIC].as_str());
                let m = self.merge_epics(&a[EPIC], snap, epics);
                if m.conflict {
                    conflicts.push(EPIC);
                }
                n_after.insert(EPIC, m.n);
                a_after.insert(EPIC, m.a);
                s_after.insert(EPIC, m.s);
                continue;
            }
            let mut av = a[f.notion].clone();
            if restoring && f.notion == STATUS && av == ARCHIVED {
                // The archive value is the service's own, never an edit: the
                // snapshot's Status returns (Notion's, if there is none). A
                // Status a person put in its place is an edit like any other.
                av = match &s {
                    Some(s) => s[STATUS].clone(),
                    None => self.n[STATUS].clone(),
                };
            }
            let snap = s.as_ref().map(|s| s[f.notion].as_str());
            let mut m = merge(&self.n[f.notion], &av, snap, f.one_way);
            if m.n != self.n[f.notion] && self.refuses(f.notion, &m.n) {
                // Refused by Notion: both sides and the snapshot stay.
                self.refused = true;
                m = Merged {
                    n: self.n[f.notion].clone(),
                    a: av.clone(),
                    s: snap.unwrap_or_default().to_owned(),
                    conflict: m.conflict,
                };
            }
            if m.conflict {
                conflicts.push(f.notion);
            }
            n_after.insert(f.notion, m.n);
            a_after.insert(f.notion, m.a);
            s_after.insert(f.notion, m.s);
        }
        self.n = n_after;
        self.a = Some(a_after);
        self.s = Some(s_after);
        self.link = Link::Active;
        conflicts
    }

    /// The relation's merge: each side's value with the epics gone on that
    /// side that the snapshot holds, merged as a set; the one side that
    /// differs is written, unless it cannot hold every epic of the value.
    fn merge_epics(&mut self, a: &str, snap: Option<&str>, epics: &Epics) -> Merged {
        let st = |e: &String| epics.get(e).copied().unwrap_or_default();
        let held = snap.map(members).unwrap_or_default();
        let with_gone = |v: &str, gone: &dyn Fn(EpicState) -> bool| {
            let extra = held.iter().filter(|e| gone(st(e))).cloned();
            set_of(members(v).into_iter().chain(extra))
        };
        let n_eff = with_gone(&self.n[EPIC], &|e| e.gone_n);
        let a_eff = with_gone(a, &|e| e.gone_a);
        let m = merge(&n_eff, &a_eff, snap, false);
        let (mut n, mut a) = (self.n[EPIC].clone(), a.to_owned());
        let written = members(&m.n);
        if m.n != n_eff {
            // Notion takes page ids: every epic needs its page.
            if !written.iter().all(|e| st(e).page) {
                return self.wait_epics(n, a, snap, m.conflict);
            }
            n = m.n.clone();
        } else if m.n != a_eff {
            // Airtable takes linked rows; a deleted row is left out.
            let holds: Option<Vec<bool>> = written
                .iter()
                .map(|e| st(e).in_airtable_write(held.contains(e)))
                .collect();
            let Some(holds) = holds else {
                return self.wait_epics(n, a, snap, m.conflict);
            };
            let kept = written.into_iter().zip(holds).filter(|(_, h)| *h);
            a = set_of(kept.map(|(e, _)| e));
        }
        Merged {
            n,
            a,
            s: m.s,
            conflict: m.conflict,
        }
    }

    /// A relation write refused while an epic is not linked: both sides and
    /// the snapshot stay (no conflict is decided), an open issue says why.
    fn wait_epics(&mut self, n: String, a: String, snap: Option<&str>, _c: bool) -> Merged {
        self.waiting = true;
        Merged {
            n,
            a,
            s: snap.unwrap_or_default().to_owned(),
            conflict: false,
        }
    }

    /// After an engine call that failed (or a simulated crash), each side of
    /// the record must hold either its values from before the call or the
    /// values a successful reconcile writes (one request each: all or
    /// nothing; Notion's properties and the page's content are two, the
    /// content sent after the properties); nothing was committed, so the
    /// snapshot and link stay.
    pub fn absorb(
        &mut self,
        post: &Rec,
        n: Vals,
        a: Option<Vals>,
        row_id: Option<String>,
    ) -> Result<(), String> {
        let props = |v: &Vals| -> Vals {
            v.iter()
                .filter(|(f, _)| **f != BODY)
                .map(|(f, v)| (*f, v.clone()))
                .collect()
        };
        if props(&n) != props(&self.n) && props(&n) != props(&post.n) {
            return Err(format!(
                "Notion properties of {} are neither before ({:?}) nor after ({:?}) the sync: {n:?}",
                self.page_id, self.n, post.n
            ));
        }
        if n[BODY] != self.n[BODY] && n[BODY] != post.n[BODY] {
            return Err(format!(
                "the content of {} is neither before ({:?}) nor after ({:?}) the sync: {:?}",
                self.page_id, self.n[BODY], post.n[BODY], n[BODY]
            ));
        }
        if a != self.a && a != post.a {
            return Err(format!(
                "Airtable side of {} is neither before ({:?}) nor after ({:?}) the sync: {a:?}",
                self.page_id, self.a, post.a
            ));
        }
        self.n = n;
        self.a = a;
        if row_id.is_some() {
            self.row_id = row_id;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_follows_the_rules() {
        let m = |n: &str, a: &str, s: Option<&str>, one_way| {
            let m = merge(n, a, s, one_way);
            (m.n, m.a, m.s, m.conflict)
        };
        let all = |v: &str, c| (v.to_owned(), v.to_owned(), v.to_owned(), c);
        assert_eq!(m("x", "x", None, false), all("x", false));
        assert_eq!(m("n", "s", Some("s"), false), all("n", false));
        assert_eq!(m("s", "a", Some("s"), false), all("a", false));
        assert_eq!(m("n", "a", Some("s"), false), all("n", true));
        assert_eq!(m("n", "a", None, false), all("n", true));
        assert_eq!(m("", "a", None, false), all("a", false));
        assert_eq!(m("n", "", None, false), all("n", false));
        assert_eq!(m("n", "s", Some("s"), true), all("s", false));
        assert_eq!(m("n", "a", Some("s"), true), all("a", false));
        let kept = ("n".to_owned(), String::new(), String::new(), false);
        assert_eq!(m("n", "", None, true), kept);
        assert_eq!(m("n", "", Some(""), true), kept);
        assert_eq!(m("s", "", Some("s"), true), all("", false));
    }
}
