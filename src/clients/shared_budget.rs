//! API budgets shared by every worker of every replica, kept in the store's
//! `rate_limits` table: the same pacing as the in-process
//! [`Budget`](crate::clients::ratelimit::Budget) (GCRA with a small burst, a 429
//! pausing every call until its `Retry-After`), but one schedule per budget
//! for the whole deployment.
//!
//! Each [`SharedBudget::acquire`] is one statement (`reserve_slot`, which
//! also honours the penalty) and then a local sleep until the reserved slot.
//! A penalty recorded while a caller already sleeps towards an earlier slot
//! does not stop that one call; every later reservation waits for it.

use std::time::Duration;

use sha2::{Digest, Sha256};

pub use super::limits::NOTION_BURST;
use crate::{
    clients::{
        api_error::Vendor,
        limits::{LATE_SEND, MAX_RESERVATIONS, NOTION_RATE_PER_SEC, airtable_pace},
    },
    secret::Secret,
    store::Pace,
    store::{Reservation, Store, StoreError, now_ms},
};

/// How late after its slot a caller may still send on a window pace (see
/// `acquire`): a small part of the Airtable window's margin, so a late call
/// cannot crowd the vendor's window and the rest of the margin is the
/// network's.
const LATE_WAKE_MS: i64 = LATE_SEND.as_millis() as i64;
/// How far ahead of the reservation its slot starts (ms): the time to
/// commit the reservation, which would otherwise make every call late.
const COMMIT_LEAD_MS: i64 = 5;
/// Hex characters of the token's hash that name a Notion budget: enough to
/// tell integrations apart, far too few to say anything about the token.
const TOKEN_HASH_PREFIX: usize = 12;

#[derive(Debug, Clone)]
pub struct SharedBudget {
    store: Store,
    name: String,
    vendor: Option<Vendor>,
    pace: Pace,
}

impl SharedBudget {
    /// `per_second` calls per second on average, `burst` back to back.
    pub fn new(store: Store, name: impl Into<String>, per_second: f64, burst: u32) -> Self {
        Self::with_pace(store, name, Pace::spaced(per_second, burst))
    }

    pub fn with_pace(store: Store, name: impl Into<String>, pace: Pace) -> Self {
        Self {
            store,
            name: name.into(),
            vendor: None,
            pace,
        }
    }

    /// The budget of one Notion integration (named after its token's hash).
    pub fn notion(store: Store, token: &Secret) -> Self {
        Self::new(store, notion_name(token), NOTION_RATE_PER_SEC, NOTION_BURST)
            .with_vendor(Vendor::Notion)
    }

    /// The budget of one Airtable base.
    pub fn airtable(store: Store, base_id: &str) -> Self {
        Self::with_pace(store, airtable_name(base_id), airtable_pace())
            .with_vendor(Vendor::Airtable)
    }

    /// Whose 429s penalize this budget when a job reports them.
    pub fn with_vendor(mut self, vendor: Vendor) -> Self {
        self.vendor = Some(vendor);
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn vendor(&self) -> Option<Vendor> {
        self.vendor
    }

    /// Wait until a call may be made, and reserve its slot. On a window
    /// pace, a caller that wakes well after its slot (a busy machine) takes
    /// a fresh one: a call sent late would crowd the calls reserved after it
    /// into the vendor's window. The stale slot is simply left unused.
    pub async fn acquire(&self) -> Result<(), StoreError> {
        self.acquire_within(None).await.map(drop)
    }

    /// [`SharedBudget::acquire`], unless a 429 penalty would hold the call
    /// longer than `penalty_limit`: then nothing is reserved and the time
    /// the penalty has left comes back (see `Budget::acquire_within`).
    pub async fn acquire_within(
        &self,
        penalty_limit: Option<Duration>,
    ) -> Result<Result<(), Duration>, StoreError> {
        self.acquire_paced(penalty_limit, self.pace).await
    }

    /// [`SharedBudget::acquire_within`] at `pace` (this process's pace,
    /// widened after a 429; see `Budget::rate_limited`).
    pub async fn acquire_paced(
        &self,
        penalty_limit: Option<Duration>,
        pace: Pace,
    ) -> Result<Result<(), Duration>, StoreError> {
        let limit = penalty_limit.map(ms);
        let lead = || now_ms() + COMMIT_LEAD_MS;
        for _ in 0..MAX_RESERVATIONS {
            let start = match self
                .store
                .reserve_slot_within(&self.name, &pace, lead, limit)
                .await?
            {
                Reservation::At(start) => start,
                Reservation::Paused { until } => return Ok(Err(millis(until - now_ms()))),
            };
            sleep_until_ms(start).await;
            let late = now_ms() - start;
            if late <= LATE_WAKE_MS || !pace.counts_each_window() {
                return Ok(Ok(()));
            }
            tracing::debug!(budget = %self.name, late_ms = late, "woke after the slot: taking a fresh one");
        }
        tracing::warn!(budget = %self.name, "every slot this call took was missed (a busy machine): sending late");
        Ok(Ok(()))
    }

    /// The vendor answered 429: no call on this budget, from any replica,
    /// before `retry_after` has passed.
    pub async fn penalize(&self, retry_after: Duration) -> Result<(), StoreError> {
        let now = now_ms();
        let until = now.saturating_add(ms(retry_after));
        tracing::warn!(budget = %self.name, pause = ?retry_after, "pausing every replica's calls on this budget (a 429, or the vendor unavailable)");
        self.store.penalize(&self.name, until, now).await
    }

    /// Count one answered call on this budget's vendor scope (the Airtable
    /// base, the Notion integration) towards the monthly quota: in this
    /// process's counter, written by the store's flush, not a write per call.
    pub fn count_call(&self, status: u16) {
        let Some(vendor) = self.vendor else {
            return;
        };
        let scope = self.name.split_once(':').map_or(&*self.name, |(_, s)| s);
        self.store
            .count_api_call(vendor_word(vendor), scope, status, now_ms());
    }

    /// When calls may resume after a 429 (epoch ms); None if they may go now.
    pub async fn blocked_until(&self) -> Result<Option<i64>, StoreError> {
        self.store.blocked_until(&self.name, now_ms()).await
    }

    /// Time left before calls may resume after a 429, if any.
    pub async fn blocked_for(&self) -> Result<Option<Duration>, StoreError> {
        let now = now_ms();
        let until = self.store.blocked_until(&self.name, now).await?;
        Ok(until.map(|until| millis(until - now)))
    }
}

/// `notion:<first hex digits of sha256(token)>`: one budget per integration,
/// without the token in the table or the logs.
pub fn notion_name(token: &Secret) -> String {
    let digest = hex::encode(Sha256::digest(token.expose().as_bytes()));
    format!("notion:{}", &digest[..TOKEN_HASH_PREFIX])
}

/// The `vendor` column of `api_calls`.
pub fn vendor_word(vendor: Vendor) -> &'static str {
    match vendor {
        Vendor::Notion => "notion",
        Vendor::Airtable => "airtable",
    }
}

/// `airtable:<base id>` (the in-process budget's name too).
pub fn airtable_name(base_id: &str) -> String {
    format!("airtable:{base_id}")
}

async fn sleep_until_ms(at: i64) {
    let wait = at - now_ms();
    if wait > 0 {
        tokio::time::sleep(millis(wait)).await;
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_identify_the_integration_without_the_token() {
        let a = notion_name(&Secret::new("secret_abc"));
        assert!(a.starts_with("notion:"), "{a}");
        assert_eq!(a.len(), "notion:".len() + TOKEN_HASH_PREFIX);
        assert!(!a.contains("abc"));
        assert_eq!(a, notion_name(&Secret::new("secret_abc")));
        assert_ne!(a, notion_name(&Secret::new("secret_abd")));
        assert_eq!(airtable_name("appXYZ"), "airtable:appXYZ");
    }
}
