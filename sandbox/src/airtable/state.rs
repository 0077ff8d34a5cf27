//! The state every handler shares, and the one path all record writes take: validate and
//! apply under the lock, commit as one transaction, then schedule the pings it owes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use time::OffsetDateTime;

use super::errors::AtResult;
use super::ids::now_ms;
use super::limits::RateLimiter;
use super::notify;
use super::payloads::Actor;
use super::store::Store;
use super::table::Table;
use super::writes::Change;
use super::{derived, inverse, links};
use crate::common::{CallLog, Clock, Deliverer, FaultInjector, lock};

pub(crate) struct Shared {
    pub token: String,
    /// The token's scopes (`whoami`, and the scope check in `guard`).
    pub scopes: Vec<String>,
    /// The token's owner: API writes are `publicApi` changes by this user.
    pub api_actor: Actor,
    /// The person the control API acts as: `client` changes.
    pub person_actor: Actor,
    pub rate_limit: bool,
    pub limiter: RateLimiter,
    pub store: Mutex<Store>,
    pub calls: CallLog,
    pub faults: FaultInjector,
    pub clock: Clock,
    pub deliverer: Deliverer,
    pub runtime: tokio::runtime::Handle,
    /// Where attachments' bytes are kept and served (`airtable::attachments`).
    pub files: crate::files::FileHost,
}

impl Shared {
    pub fn now(&self) -> OffsetDateTime {
        now_ms(&self.clock)
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// Run `f` on one table and commit the changes it reports as one transaction by
    /// `actor`. `f` returns its result and the changes; an error leaves nothing applied.
    pub fn write<R>(
        self: &Arc<Self>,
        base_id: &str,
        table: &str,
        actor: &Actor,
        f: impl FnOnce(&mut Table, OffsetDateTime) -> AtResult<(R, Vec<Change>)>,
    ) -> AtResult<R> {
        let now = self.now();
        let (result, pings) = {
            let mut store = self.store();
            let (bi, ti) = store.locate(base_id, table)?;
            // Linked ids are checked against the other tables once the write is known;
            // a refused write is undone whole (the copy is small in a sandbox).
            // Only a table with link fields can be refused that way (and is copied).
            let base = &mut store.bases[bi];
            base.tables[ti].collaborators = base.collaborators.clone();
            let before = links::has_links(&store.bases[bi].tables[ti])
                .then(|| store.bases[bi].tables[ti].clone());
            let derived =
                derived::has_any(&store.bases[bi]).then(|| derived::snapshot(&store.bases[bi]));
            let (result, changes) = f(&mut store.bases[bi].tables[ti], now)?;
            if let Some(before) = before {
                if let Err(e) = links::check_targets(&store.bases[bi], ti, &changes) {
                    store.bases[bi].tables[ti] = before;
                    return Err(e);
                }
            }
            let table_id = store.bases[bi].tables[ti].id.clone();
            links::forget_deleted(&mut store.bases[bi], &table_id, &destroyed(&changes));
            let mirrored = inverse::mirror(&mut store.bases[bi], ti, &changes, now);
            let mut by_table: BTreeMap<usize, Vec<Change>> = mirrored.into_iter().collect();
            by_table.insert(ti, changes);
            // Counts, lookups and rollups follow the write (a field just added gets its
            // values too); what any computed value did is part of the payloads.
            if derived::has_any(&store.bases[bi]) {
                derived::refresh(&mut store.bases[bi]);
                let before = derived.unwrap_or_default();
                derived::report(&store.bases[bi], &before, &mut by_table);
            }
            let own = by_table.remove(&ti).unwrap_or_default();
            let mut pings = store.commit(bi, ti, &own, actor, now);
            for (other, changes) in by_table {
                pings.extend(store.commit(bi, other, &changes, actor, now));
            }
            (result, pings)
        };
        for webhook_id in pings {
            notify::schedule(self, base_id, &webhook_id);
        }
        Ok(result)
    }
}

fn destroyed(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .filter_map(|c| match c {
            Change::Destroyed { record_id } => Some(record_id.clone()),
            _ => None,
        })
        .collect()
}
