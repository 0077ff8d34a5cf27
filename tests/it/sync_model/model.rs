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
//!   for that record any more.

use std::collections::BTreeMap;

use notion_airtable_sandbox::team::STATUSES;

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

pub const FIELDS: [Field; 8] = [
    field("Name", "Spec Name", false),
    field("Status", "Status", false),
    field("Priority", "Priority", false),
    field("Owner", "Owner", false),
    field("Target Quarter", "Target Quarter", false),
    field("Sprint", "Sprint", true),
    field("Ship Date", "Ship Date", true),
    field("Blockers", "Blockers", true),
];

pub const STATUS: &str = "Status";
/// What `on_notion_trash` writes to the row's Status.
pub const ARCHIVED: &str = "Archived";

/// Every mapped field's value, keyed by the Notion property name; `""` is
/// "no value" (empty text, no option, no date, nobody). Owner is the
/// people's names joined by ", "; Ship Date is `YYYY-MM-DD`.
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
    pub fn reconciled(&self, incremental: bool) -> (Rec, Vec<&'static str>) {
        let mut r = self.clone();
        let conflicts = match (r.row_deleted, r.trashed, r.a.is_some()) {
            (true, trashed, _) => {
                // Only a live page's reconcile looks for its row.
                if !incremental && !trashed && matches!(r.link, Link::Active | Link::Trashed) {
                    r.link = Link::Deleted;
                    // The refused value went with the row.
                    r.refused = false;
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
            (false, false, _) => r.merge_all(),
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
        // The archive value replaced whatever Notion refused.
        self.refused = false;
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
    fn merge_all(&mut self) -> Vec<&'static str> {
        let creating = self.a.is_none();
        if creating {
            // The new row is a full copy of the page.
            self.a = Some(self.n.clone());
            self.s = Some(self.n.clone());
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

    /// After an engine call that failed (or a simulated crash), each side of
    /// the record must hold either its values from before the call or the
    /// values a successful reconcile writes (one request per side: all or
    /// nothing); nothing was committed, so the snapshot and link stay.
    pub fn absorb(
        &mut self,
        post: &Rec,
        n: Vals,
        a: Option<Vals>,
        row_id: Option<String>,
    ) -> Result<(), String> {
        if n != self.n && n != post.n {
            return Err(format!(
                "Notion side of {} is neither before ({:?}) nor after ({:?}) the sync: {n:?}",
                self.page_id, self.n, post.n
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
