//! The state every handler shares, and the one path all record writes take: validate and
//! apply under the lock, commit as one transaction, then schedule the pings it owes.

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
            let (result, changes) = f(&mut store.bases[bi].tables[ti], now)?;
            (result, store.commit(bi, ti, &changes, actor, now))
        };
        for webhook_id in pings {
            notify::schedule(self, base_id, &webhook_id);
        }
        Ok(result)
    }
}
