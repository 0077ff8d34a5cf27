//! The status page's delete review section: the pending deletes, each with
//! its Approve and Reject forms (`POST /deletes/{id}/approve|reject`, CSRF
//! token and same-origin check as the Retry form), and the handler of those
//! forms, which decides through the same code as the command and the API.

use axum::{
    Form,
    extract::{
        Path, State,
        rejection::{FormRejection, PathRejection},
    },
    http::HeaderMap,
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;

use super::{
    Operator, PageError, csrf,
    data::StatusData,
    html::{Tone, airtable_link, badge, cut, notion_link, table, when},
};
use crate::{
    http::{auth, deletes::decide_sent},
    store::{Decided, DeleteAction, DeleteReview, Verdict},
};

/// Pending deletes listed on the page (newest first); every one is counted,
/// and all are in `GET /api/deletes?state=pending`.
pub(super) const SHOWN: i64 = 100;

/// The section: the pending count, then one row per pending delete.
pub(super) fn section(data: &StatusData, admin_token: &str) -> Markup {
    let rows: Vec<Vec<Markup>> = data
        .pending_deletes
        .iter()
        .map(|e| row(e, data, admin_token))
        .collect();
    let headers = ["Entry", "Pair", "Would", "Record", "Why", "Held", ""];
    let shown = rows.len() as i64;
    html! {
        section #deletes {
            h2 {
                "Deletes to review "
                span.pending-deletes data-count=(data.pending_delete_count) {
                    (count_badge(data.pending_delete_count))
                }
            }
            p.muted {
                "Deletes the pairs' policies want, held until someone decides (review_deletes). \
                 Approve makes the delete through the sync; Reject leaves the record as the \
                 \"ignore\" policy would. An entry clears itself if the record comes back. \
                 Also: " code { "deletes list" } ", " code { "GET /api/deletes" } "."
            }
            @if rows.is_empty() {
                p.muted { "None pending." }
            } @else {
                (table("deletes", &headers, &rows))
                @if shown < data.pending_delete_count {
                    p.muted { (shown) " of " (data.pending_delete_count) " shown (the newest)." }
                }
            }
        }
    }
}

/// The attention line, when deletes wait.
pub(super) fn attention(data: &StatusData) -> Option<Markup> {
    (data.pending_delete_count > 0).then(|| {
        html! {
            (badge(Tone::Warn, "deletes to review")) " "
            a href="#deletes" { (data.pending_delete_count) " held delete(s)" }
            ": approve or reject them."
        }
    })
}

fn count_badge(n: i64) -> Markup {
    if n > 0 {
        badge(Tone::Warn, &format!("{n} pending"))
    } else {
        badge(Tone::Good, "0 pending")
    }
}

fn row(e: &DeleteReview, data: &StatusData, admin_token: &str) -> Vec<Markup> {
    let would = match e.action {
        DeleteAction::DeleteAirtableRow => "delete the Airtable row",
        DeleteAction::TrashNotionPage => "trash the Notion page",
    };
    vec![
        html! { span data-review=(e.id) { (e.id) } },
        html! { (e.pair) },
        html! { (would) },
        html! {
            (notion_link(&e.notion_page_id))
            @if let Some(record) = &e.airtable_record_id {
                " · " (airtable_link(data.airtable_table_of(&e.pair), record))
            }
        },
        html! { (cut(&e.reason, 300)) },
        when(e.detected_at, data.now),
        html! {
            (decision_form(e.id, "approve", "Approve", admin_token))
            (decision_form(e.id, "reject", "Reject", admin_token))
        },
    ]
}

fn decision_form(id: i64, decision: &str, label: &str, admin_token: &str) -> Markup {
    let class = if decision == "reject" {
        "secondary"
    } else {
        ""
    };
    html! {
        form method="post" action={ "/deletes/" (id) "/" (decision) } class="inline" {
            input type="hidden" name=(csrf::FIELD)
                value=(csrf::review_token(admin_token, id, decision));
            button type="submit" class=(class) id={ (decision) "-" (id) } { (label) }
        }
    }
}

#[derive(Deserialize)]
pub(super) struct DecisionForm {
    csrf: String,
}

/// `POST /deletes/{id}/approve|reject` from the page: decide, then 303 back
/// to the page with a notice (an entry that is not pending changes nothing).
pub(super) async fn decide_form(
    operator: Operator,
    State(state): State<crate::http::Shared>,
    headers: HeaderMap,
    path: Result<Path<(i64, String)>, PathRejection>,
    form: Result<Form<DecisionForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Path((id, decision)) = path.map_err(|e| PageError::BadRequest(e.body_text()))?;
    let verdict = match decision.as_str() {
        "approve" => Verdict::Approve,
        "reject" => Verdict::Reject,
        _ => return Err(PageError::BadRequest("use /approve or /reject".into())),
    };
    if !auth::same_origin(&headers) {
        return Err(PageError::Forbidden(
            "this form was posted from another site",
        ));
    }
    let token_ok = form.as_ref().is_ok_and(|Form(f)| {
        csrf::review_token_valid(&operator.admin_token, id, &decision, &f.csrf)
    });
    if !token_ok {
        return Err(PageError::Forbidden(
            "the form's token is missing or wrong: reload the status page and use its buttons",
        ));
    }
    let location = match decide_sent(&state.store, id, verdict, "status page").await? {
        Decided::Done { entry, .. } => format!("/?review={id}&decision={}", entry.state),
        _ => format!("/?review_refused={id}"),
    };
    Ok(Redirect::to(&location).into_response())
}
