//! The sandbox's whole state behind one lock: bases (with their tables, records and
//! webhooks) and the list-records iterators. `commit` turns a write into a base transaction
//! and appends the payloads every interested webhook gets.

use std::collections::HashMap;

use time::OffsetDateTime;

use super::errors::{AtError, AtResult};
use super::listing::ListIterator;
use super::payloads::{self, Actor, Transaction};
use super::table::Base;
use super::writes::Change;

#[derive(Debug, Default)]
pub(crate) struct Store {
    pub bases: Vec<Base>,
    pub iterators: HashMap<String, ListIterator>,
}

impl Store {
    pub fn base_index(&self, id: &str) -> Option<usize> {
        self.bases.iter().position(|b| b.id == id)
    }

    /// A base the token can see: an unknown one is a 403 "or model not found".
    pub fn base(&self, id: &str) -> AtResult<&Base> {
        self.bases
            .iter()
            .find(|b| b.id == id)
            .ok_or_else(AtError::model_not_found)
    }

    pub fn base_mut(&mut self, id: &str) -> AtResult<&mut Base> {
        self.bases
            .iter_mut()
            .find(|b| b.id == id)
            .ok_or_else(AtError::model_not_found)
    }

    /// (base index, table index) for a base id and a table id or name.
    pub fn locate(&self, base_id: &str, table: &str) -> AtResult<(usize, usize)> {
        let bi = self
            .base_index(base_id)
            .ok_or_else(AtError::model_not_found)?;
        let ti = self.bases[bi]
            .table_index(table)
            .ok_or_else(AtError::model_not_found)?;
        Ok((bi, ti))
    }

    /// Record `changes` to table `ti` of base `bi` as one transaction. Returns the ids of
    /// the webhooks that now owe their receiver a ping (not already pending).
    pub fn commit(
        &mut self,
        bi: usize,
        ti: usize,
        changes: &[Change],
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Vec<String> {
        if changes.is_empty() {
            return Vec::new();
        }
        let Base {
            tables,
            webhooks,
            next_transaction,
            ..
        } = &mut self.bases[bi];
        let number = *next_transaction;
        *next_transaction += 1;
        webhooks.retain(|h| !h.is_gone(now));
        let txn = Transaction {
            timestamp: now,
            table: &tables[ti],
            actor,
            changes,
        };
        let mut to_ping = Vec::new();
        for hook in webhooks.iter_mut().filter(|h| !h.is_expired(now)) {
            let Some(body) = payloads::build(&hook.spec, &txn) else {
                continue;
            };
            hook.append(number, now, body);
            if hook.wants_ping(now) && !hook.ping_pending {
                hook.ping_pending = true;
                to_ping.push(hook.id.clone());
            }
        }
        to_ping
    }
}
