//! The status page's Undo buttons: one per logged change
//! (`POST /log/{id}/undo`) and one per run (`POST /runs/{run}/undo`). Like
//! Retry, each form carries its own CSRF token and must come from this
//! origin. The undo runs at once (the same engine path as `undo` and
//! `POST /api/undo`) and the answer is a page with its report: what was put
//! back, what was left alone and why, and a button that undoes the undo.

use axum::{
    Form,
    extract::{
        Path, State,
        rejection::{FormRejection, PathRejection},
    },
    http::{HeaderMap, StatusCode},
    response::Response,
};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;

use super::{Operator, PageError, csrf, html::muted, html_response, page::STYLE};
use crate::{
    http::{
        Shared, auth,
        undo::{UndoFailure, run_undo},
    },
    store::{LogEntry, LogSelection},
    sync::{
        undo::{Reverted, Skipped, UndoReport},
        value::Value,
    },
};

#[derive(Deserialize)]
pub(super) struct UndoForm {
    csrf: String,
}

/// `POST /log/{id}/undo`.
pub(super) async fn undo_entry(
    operator: Operator,
    State(state): State<Shared>,
    headers: HeaderMap,
    id: Result<Path<i64>, PathRejection>,
    form: Result<Form<UndoForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Path(id) = id.map_err(|e| PageError::BadRequest(e.body_text()))?;
    let token_ok = form
        .as_ref()
        .is_ok_and(|Form(f)| csrf::undo_entry_token_valid(&operator.admin_token, id, &f.csrf));
    guard(&headers, token_ok)?;
    answer(&state, &operator, LogSelection::Entry(id)).await
}

/// `POST /runs/{run}/undo`.
pub(super) async fn undo_run(
    operator: Operator,
    State(state): State<Shared>,
    headers: HeaderMap,
    run: Result<Path<String>, PathRejection>,
    form: Result<Form<UndoForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Path(run) = run.map_err(|e| PageError::BadRequest(e.body_text()))?;
    let token_ok = form
        .as_ref()
        .is_ok_and(|Form(f)| csrf::undo_run_token_valid(&operator.admin_token, &run, &f.csrf));
    guard(&headers, token_ok)?;
    answer(&state, &operator, LogSelection::Run(run)).await
}

fn guard(headers: &HeaderMap, token_ok: bool) -> Result<(), PageError> {
    if !auth::same_origin(headers) {
        return Err(PageError::Forbidden(
            "this form was posted from another site",
        ));
    }
    if !token_ok {
        return Err(PageError::Forbidden(
            "the form's token is missing or wrong: reload the status page and use its Undo button",
        ));
    }
    Ok(())
}

async fn answer(
    state: &Shared,
    operator: &Operator,
    selection: LogSelection,
) -> Result<Response, PageError> {
    tracing::info!(?selection, "undo from the status page");
    match run_undo(state, selection, false).await {
        Ok(report) => Ok(html_response(
            StatusCode::OK,
            report_page(&report, &operator.admin_token),
        )),
        Err(failure) => {
            let status = match &failure {
                UndoFailure::Refused(_) => StatusCode::NOT_FOUND,
                UndoFailure::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                UndoFailure::Failed(_) => StatusCode::BAD_GATEWAY,
            };
            Ok(html_response(status, failure_page(&failure.message())))
        }
    }
}

/// The buttons of a table row: small, on one line each.
const COMPACT: &str = "padding:1px 8px;font-size:.8rem;white-space:nowrap";

/// The Undo button of one log entry, and of its run.
pub(super) fn entry_forms(e: &LogEntry, admin_token: &str) -> Markup {
    html! {
        form.inline method="post" action={ "/log/" (e.id) "/undo" } {
            input type="hidden" name=(csrf::FIELD) value=(csrf::undo_entry_token(admin_token, e.id));
            button.secondary type="submit" style=(COMPACT) id={ "undo-" (e.id) } title={ "Undo entry " (e.id) } { "Undo" }
        }
        @if let Some(run) = &e.run_id {
            (run_form(run, admin_token, "Undo run"))
        }
    }
}

fn run_form(run: &str, admin_token: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action={ "/runs/" (run) "/undo" } {
            input type="hidden" name=(csrf::FIELD) value=(csrf::undo_run_token(admin_token, run));
            button.secondary type="submit" style=(COMPACT) title={ "Undo every change of run " (run) } { (label) " " code { (run) } }
        }
    }
}

fn shell(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · notion-airtable-sync" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header { h1 { "notion-airtable-sync" } p { a href="/" { "Back to the status page" } } }
                main { (body) }
            }
        }
    }
}

fn report_page(report: &UndoReport, admin_token: &str) -> Markup {
    let body = html! {
        section #undo-report {
            h2 { "Undo" }
            p {
                (report.selected) " log entries selected: "
                b { (report.reverted.len()) " put back" } ", "
                (report.skipped.len()) " left alone."
            }
            @if !report.reverted.is_empty() {
                h3 { "Put back on both sides" }
                ul #reverted { @for r in &report.reverted { li { (reverted(r)) } } }
            }
            @if !report.skipped.is_empty() {
                h3 { "Left alone" }
                ul #skipped { @for s in &report.skipped { li { (skipped(s)) } } }
            }
            @if let Some(run) = report.run_id.as_deref().filter(|_| !report.reverted.is_empty()) {
                p { "This undo is run " code { (run) } "." }
                (run_form(run, admin_token, "Undo this undo:"))
            }
        }
    };
    shell("Undo", body)
}

fn failure_page(message: &str) -> Markup {
    shell(
        "Undo",
        html! { section { h2 { "Undo" } p #undo-error { (message) } } },
    )
}

fn shown(v: Option<&Value>) -> Markup {
    match v {
        None | Some(Value::Empty) => muted("(empty)"),
        Some(v) => html! { (v.display()) },
    }
}

fn entries(ids: &[i64]) -> String {
    let list: Vec<String> = ids.iter().map(|i| format!("#{i}")).collect();
    list.join(", ")
}

fn reverted(r: &Reverted) -> Markup {
    html! {
        (entries(&r.entries)) " · " (r.pair) " · page " code { (r.page_id) } " · "
        @match &r.field {
            Some(field) => { b { (field) } ": " (shown(r.from.as_ref())) " → " (shown(r.to.as_ref())) },
            None => { "the page's move to or from the trash" },
        }
    }
}

fn skipped(s: &Skipped) -> Markup {
    html! {
        (entries(&s.entries)) " · " (s.pair)
        @if let Some(page) = &s.page_id { " · page " code { (page) } }
        @if let Some(field) = &s.field { " · " b { (field) } }
        ": " (s.reason)
        @if let (Some(n), Some(a)) = (&s.notion_now, &s.airtable_now) {
            " (now: Notion " (shown(Some(n))) ", Airtable " (shown(Some(a))) ")"
        }
    }
}
