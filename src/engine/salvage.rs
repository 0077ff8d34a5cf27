//! Airtable refusing a collaborator. Who can be assigned in a base is known
//! only to Airtable (listing a base's collaborators is an Enterprise API),
//! so a Notion person whose email is not a collaborator of the base is
//! found out by the write: Airtable refuses the whole row. Then the row is
//! sent again once without its collaborator fields (only the one the error
//! names, when it names one); those fields are refused for the record
//! (both sides keep their values, an issue says why) and the rest of the
//! record goes ahead, so one unassignable person never freezes a row.
//!
//! The same for a link field naming a row that no longer exists (Airtable's
//! `ROW_DOES_NOT_EXIST`): a related row deleted before its own pair has
//! seen the delete is still linked in the store, so the write names it.
//! The link field is refused for the record and the rest goes ahead; once
//! the related pair has synced, the record's next sync leaves the deleted
//! row out (`sync::relation::to_airtable`).

use serde_json::{Map, Value as Json};

use crate::airtable::UpsertResult;
use crate::clients::api_error::ApiError;
use crate::sync::convert::Kind;
use crate::sync::pair::ResolvedPair;
use crate::sync::plan::{AirtableWrite, Plan};

use super::Engine;

type Fields = Map<String, Json>;

impl Engine {
    /// One row's update was refused (`error`, Fatal): send it again without
    /// the fields the error is about (see the module doc). True when that
    /// write went through.
    pub(super) async fn salvage_airtable_row(
        &self,
        pair: &ResolvedPair,
        plan: &mut Plan,
        record_id: &str,
        fields: &Fields,
        error: &ApiError,
    ) -> Result<bool, ApiError> {
        let why = super::write::error_message(error);
        let dropped = droppable_fields(pair, fields, &why);
        if dropped.is_empty() {
            return Ok(false);
        }
        let mut rest = fields.clone();
        for name in &dropped {
            rest.remove(name);
        }
        if !rest.is_empty() {
            match self
                .update_rows(pair, vec![(record_id.to_owned(), rest)])
                .await
            {
                Ok(_) => {}
                Err(ApiError::Fatal { .. }) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        refuse(pair, plan, &dropped, &why);
        Ok(true)
    }

    /// Rows created (upserted) in one request: when Airtable refuses the
    /// batch and it holds collaborator fields, they are refused for their
    /// records and the rows are sent again without them (the next run,
    /// seeing the row, tries the collaborators on their own).
    pub(super) async fn upsert_salvaging(
        &self,
        pair: &ResolvedPair,
        plans: &mut [Plan],
        rows: Vec<Fields>,
    ) -> Result<UpsertResult, ApiError> {
        let error = match self.upsert_rows(pair, rows.clone()).await {
            Err(e @ ApiError::Fatal { .. }) => e,
            other => return other,
        };
        let why = super::write::error_message(&error);
        let mut stripped = Vec::with_capacity(rows.len());
        let mut any = false;
        for plan in plans.iter_mut() {
            let AirtableWrite::Upsert(fields) = &plan.airtable else {
                continue;
            };
            let mut fields = fields.clone();
            let dropped = droppable_fields(pair, &fields, &why);
            for name in &dropped {
                fields.remove(name);
            }
            any |= !dropped.is_empty();
            refuse(pair, plan, &dropped, &why);
            stripped.push(fields);
        }
        if !any {
            return Err(error);
        }
        self.upsert_rows(pair, stripped).await
    }
}

/// Airtable's error for a link to a record that does not exist.
const NO_SUCH_ROW: &str = "ROW_DOES_NOT_EXIST";

/// The fields (mapping names) a refused write can go without: its link
/// fields when a linked row does not exist, else its collaborator fields;
/// the one the error names, or all of them.
fn droppable_fields(pair: &ResolvedPair, fields: &Fields, why: &str) -> Vec<String> {
    let links = why.contains(NO_SUCH_ROW);
    let written: Vec<&str> = pair
        .fields
        .iter()
        .filter(|f| match f.kind {
            Kind::Relation => links,
            Kind::Collaborators(_) => !links,
            _ => false,
        })
        .map(|f| f.airtable.as_str())
        .filter(|name| fields.contains_key(*name))
        .collect();
    let named: Vec<&str> = written
        .iter()
        .copied()
        .filter(|name| {
            let live = pair.wire.live_name(name);
            why.contains(&format!("\"{live}\"")) || why.contains(pair.wire.airtable_key(name))
        })
        .collect();
    let chosen = if named.is_empty() { written } else { named };
    chosen.into_iter().map(str::to_owned).collect()
}

fn refuse(pair: &ResolvedPair, plan: &mut Plan, airtable_names: &[String], why: &str) {
    for name in airtable_names {
        if let Some(field) = pair.fields.iter().find(|f| f.airtable == *name) {
            let because = match field.kind {
                Kind::Relation => {
                    "a related row was deleted in Airtable; the rest of the list is written once \
                     its own pair has synced"
                }
                _ => "a person must be a collaborator of the Airtable base to be assigned",
            };
            plan.refuse_airtable_field(&field.notion, &format!("{why} ({because})"));
        }
    }
}
