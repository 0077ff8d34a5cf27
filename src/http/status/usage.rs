//! The status page's "API usage" section: each scope's calls this month
//! against its base's budget, and the latest alerts with their delivery.

use maud::{Markup, html};

use super::{
    data::StatusData,
    html::{Tone, badge, muted, table, when},
};
use crate::store::{AlertMessage, ApiCallTotal};

/// Alerts listed (newest first).
pub(super) const ALERTS_SHOWN: i64 = 10;

pub(super) fn usage_section(data: &StatusData) -> Markup {
    let mut rows: Vec<Vec<Markup>> = data
        .api_calls_month
        .iter()
        .map(|t| {
            scope_row(
                t,
                data.api_budgets
                    .of(&t.scope)
                    .filter(|_| t.vendor == "airtable"),
            )
        })
        .collect();
    // A base with a budget and no call yet this month.
    for (base, budget) in data.api_budgets.iter() {
        if !data.api_calls_month.iter().any(|t| t.scope == base) {
            let none = ApiCallTotal {
                vendor: "airtable".into(),
                scope: base.to_owned(),
                calls: 0,
            };
            rows.push(scope_row(&none, Some(budget)));
        }
    }
    let headers = [
        "Vendor",
        "Scope",
        "Calls this month",
        "Monthly budget",
        "Used",
    ];
    let alert_rows: Vec<Vec<Markup>> = data
        .alert_messages
        .iter()
        .map(|m| alert_row(m, data.now))
        .collect();
    let alert_headers = ["Condition", "State", "Raised", "Delivery"];
    html! {
        section #api-usage {
            h2 { "API usage" }
            p.muted {
                "Calls answered this calendar month (UTC), every replica's. Airtable caps calls \
                 per workspace and month on its Free and Team plans: set a budget per base under \
                 [airtable.budgets] in sync.toml and the sweeps stretch before it runs out."
            }
            @if rows.is_empty() { p.muted { "No call counted yet this month." } }
            @else { (table("api-usage", &headers, &rows)) }
            h3 { "Alerts" }
            @if alert_rows.is_empty() {
                p.muted { "None sent (set ALERT_WEBHOOK_URL to receive them)." }
            } @else {
                (table("alerts", &alert_headers, &alert_rows))
            }
        }
    }
}

fn scope_row(t: &ApiCallTotal, budget: Option<i64>) -> Vec<Markup> {
    let used = budget.map(|b| (t.calls * 100) / b.max(1));
    let tone = match used {
        Some(p) if p >= 100 => Tone::Bad,
        Some(p) if p >= 80 => Tone::Warn,
        _ => Tone::Good,
    };
    vec![
        html! { (t.vendor) },
        html! { code { (t.scope) } },
        html! { (t.calls) },
        budget.map_or_else(|| muted("none"), |b| html! { (b) }),
        used.map_or_else(|| muted("—"), |p| badge(tone, &format!("{p}%"))),
    ]
}

fn alert_row(m: &AlertMessage, now: i64) -> Vec<Markup> {
    let state = match m.state.as_str() {
        "started" => badge(Tone::Bad, "started"),
        _ => badge(Tone::Good, "cleared"),
    };
    let delivery = match (m.delivered_at, &m.last_error) {
        (Some(at), _) => html! { "delivered " (when(at, now)) },
        (None, Some(error)) => html! {
            (badge(Tone::Warn, "retrying")) " " (error) " (" (m.attempts) " attempts; next "
            (when(m.next_attempt_at, now)) ")"
        },
        (None, None) => muted("queued"),
    };
    vec![
        html! { code { (m.condition) } },
        state,
        when(m.created_at, now),
        delivery,
    ]
}
