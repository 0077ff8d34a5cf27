//! The status page's HTML: what needs attention, then per pair the links,
//! queue and sweeps, webhook health, dead jobs (with Retry), conflicts and
//! recent changes. Every value goes through [`esc`] or a helper that does.

use std::fmt::Write as _;

use serde_json::Value;

use super::{
    Notice, csrf,
    data::{PairStatus, StatusData},
    html::{Tone, badge, cut, duration, esc, notion_link, relative, table, value, when, when_opt},
};
use crate::{
    http::webhooks::verification::fingerprint,
    store::{AirtableWebhook, Issue, Job, LogEntry, Side, Sweep, SyncDirection},
};

/// Queue lag above which the page calls the queue late.
const LATE_AFTER_MS: i64 = 5 * 60 * 1000;
/// An Airtable webhook this close to its expiry is a warning (the service
/// refreshes them daily, so one this close means refreshes fail).
const EXPIRY_WARNING_MS: i64 = 2 * 24 * 3600 * 1000;

const STYLE: &str = r#"
:root{--fg:#1d232a;--muted:#66707a;--line:#dde2e7;--bg:#f5f7f9;--card:#fff;--good:#13795b;--warn:#a15c00;--bad:#b42318;--link:#1f5fbf}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#1d232a;color:#fff;padding:14px 20px}
header h1{margin:0;font-size:1.15rem;font-weight:600}
header p{margin:2px 0 0;color:#c4cbd2;font-size:.85rem}
header a{color:#9ec5ff}
main{max-width:1180px;margin:0 auto;padding:12px 16px 40px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 16px;margin:14px 0}
h2{font-size:1.05rem;margin:0 0 10px}
h3{font-size:.95rem;margin:14px 0 6px}
a{color:var(--link)}
code,pre{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere;word-break:break-word}
pre{white-space:pre-wrap;margin:0;max-height:9em;overflow:auto;background:#fbf3f2;padding:6px;border-radius:4px}
.muted{color:var(--muted)}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:.8rem;font-weight:600;white-space:nowrap}
.badge.good{background:#e3f4ec;color:var(--good)}.badge.warn{background:#fdf0dc;color:var(--warn)}
.badge.bad{background:#fde8e6;color:var(--bad)}.badge.quiet{background:#eef1f4;color:var(--muted)}
.attention{list-style:none;padding:0;margin:0}.attention li{padding:4px 0}
.notice{background:#e8f1fd;border-color:#b8d3f7}
.pairs{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:12px}
.pair{border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.pair h3{margin:0 0 6px;font-size:1rem}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:6px 8px;border-bottom:1px solid var(--line)}
th{font-size:.8rem;color:var(--muted);font-weight:600;white-space:nowrap}
td.num,th.num{text-align:right}
button{font:inherit;padding:4px 14px;border-radius:6px;border:1px solid #1f5fbf;background:#1f5fbf;color:#fff;cursor:pointer}
button:hover{background:#184c99}
button.secondary{background:#fff;color:#1f5fbf}button.secondary:hover{background:#e8f1fd}
form.inline{margin:6px 0 0}
.token{display:block;padding:6px;background:#f1f4f7;border-radius:4px;user-select:all}
details summary{cursor:pointer;color:var(--muted)}
@media (max-width:700px){
 body{font-size:14px}
 main{padding:8px 8px 30px}
 section{padding:10px 12px}
 table.stack thead{display:none}
 table.stack,table.stack tbody,table.stack tr,table.stack td{display:block;width:100%}
 table.stack tr{border:1px solid var(--line);border-radius:6px;margin:0 0 8px;padding:4px 8px}
 table.stack td{border:0;padding:3px 0;display:grid;grid-template-columns:8.5em 1fr;gap:8px}
 table.stack td::before{content:attr(data-label);color:var(--muted);font-size:.8rem}
}
"#;

/// The whole page.
pub(super) fn render(data: &StatusData, admin_token: &str, notice: Option<Notice>) -> String {
    let mut body = String::new();
    if let Some(notice) = notice {
        body.push_str(&notice_section(notice));
    }
    body.push_str(&attention(data));
    body.push_str(&pairs_section(data));
    body.push_str(&issues_section(data));
    body.push_str(&webhooks_section(data, admin_token));
    body.push_str(&dead_jobs_section(data, admin_token));
    body.push_str(&conflicts_section(data));
    body.push_str(&changes_section(data));
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Status · notion-airtable-sync</title><style>{STYLE}</style></head>\
         <body><header><h1>notion-airtable-sync</h1><p>Status at {} · <a href=\"/\">refresh</a></p>\
         </header><main>{body}</main></body></html>\n",
        when(data.now, data.now)
    )
}

fn notice_section(notice: Notice) -> String {
    let text = match notice {
        Notice::Retried { job, pending } if job == pending => {
            format!("Job {job} is pending again and runs shortly.")
        }
        Notice::Retried { job, pending } => {
            format!(
                "Job {job} was merged into pending job {pending} for the same record, which runs shortly."
            )
        }
        Notice::NotDead { job } => {
            format!("Job {job} is not dead (already retried, or gone): nothing to do.")
        }
        Notice::Dismissed => "The verification token was dismissed.".to_owned(),
        Notice::NotPending => "That verification token was not pending: nothing to do.".to_owned(),
    };
    format!(
        "<section class=\"notice\" role=\"status\">{}</section>",
        esc(&text)
    )
}

/// One line per thing an operator should act on; "all good" otherwise.
fn attention(data: &StatusData) -> String {
    let mut items: Vec<String> = Vec::new();
    if !data.dead_jobs.is_empty() {
        items.push(format!(
            "{} <a href=\"#dead-jobs\">{} dead job(s)</a>: read the error, fix the cause, then Retry.",
            badge(Tone::Bad, "dead jobs"),
            data.dead_jobs.len()
        ));
    }
    let open_issues: i64 = data.issue_counts.iter().map(|c| c.count).sum();
    if open_issues > 0 {
        items.push(format!(
            "{} <a href=\"#issues\">{open_issues} sync issue(s)</a>: fields, values or \
             permissions the service cannot sync until someone fixes them.",
            badge(Tone::Bad, "sync issues"),
        ));
    }
    if !data.verification_tokens.is_empty() {
        items.push(format!(
            "{} Notion sent a <a href=\"#webhooks\">verification token</a> to paste into the \
             integration's webhook settings.",
            badge(Tone::Warn, "Notion webhook")
        ));
    }
    for w in &data.airtable_webhooks {
        if let Some(problem) = webhook_problem(w, data.now) {
            items.push(format!(
                "{} Airtable webhook <code>{}</code> ({}): {}.",
                badge(Tone::Bad, "Airtable webhook"),
                esc(&w.webhook_id),
                esc(&w.pair),
                esc(&problem)
            ));
        }
    }
    for p in &data.pairs {
        if let Some(due) = p
            .queue
            .oldest_due_at
            .filter(|at| data.now - at > LATE_AFTER_MS)
        {
            items.push(format!(
                "{} pair <b>{}</b>: the oldest pending job has waited {}.",
                badge(Tone::Warn, "queue late"),
                esc(&p.name),
                esc(&duration(u64::try_from(data.now - due).unwrap_or(0)))
            ));
        }
    }
    let list = if items.is_empty() {
        format!(
            "<p>{} Nothing needs attention.</p>",
            badge(Tone::Good, "all good")
        )
    } else {
        let lis: String = items.iter().map(|i| format!("<li>{i}</li>")).collect();
        format!("<ul class=\"attention\">{lis}</ul>")
    };
    format!("<section id=\"attention\"><h2>Attention</h2>{list}</section>")
}

fn webhook_problem(w: &AirtableWebhook, now: i64) -> Option<String> {
    if !w.hook_enabled {
        return Some("disabled by Airtable (run `webhooks ensure` or restart the service)".into());
    }
    if !w.notifications_enabled {
        return Some(
            "notifications are off: Airtable stopped pinging after failed deliveries".into(),
        );
    }
    match w.expires_at {
        Some(at) if at <= now => Some("expired".into()),
        Some(at) if at - now < EXPIRY_WARNING_MS => Some(format!("expires {}", relative(at, now))),
        _ => None,
    }
}

fn pairs_section(data: &StatusData) -> String {
    let mut out = String::from("<section id=\"pairs\"><h2>Pairs</h2><div class=\"pairs\">");
    if data.pairs.is_empty() {
        out.push_str("<p class=\"muted\">No pair is configured.</p>");
    }
    for pair in &data.pairs {
        out.push_str(&pair_card(pair, data.issue_count(&pair.name), data.now));
    }
    out.push_str("</div>");
    if let Some(q) = &data.unpaired_queue {
        let _ = write!(
            out,
            "<p class=\"muted\">Jobs of no pair (Airtable payload fetches): {} pending, {} running, {} dead.</p>",
            q.pending, q.running, q.dead
        );
    }
    out.push_str("</section>");
    out
}

fn pair_card(p: &PairStatus, issues: i64, now: i64) -> String {
    let q = &p.queue;
    let dead = if q.dead > 0 {
        badge(Tone::Bad, &q.dead.to_string())
    } else {
        "0".to_owned()
    };
    let oldest = match q.oldest_due_at {
        Some(at) => esc(&duration(u64::try_from(now - at).unwrap_or(0))).to_string(),
        None => "<span class=\"muted\">none due</span>".to_owned(),
    };
    let configured = if p.configured {
        String::new()
    } else {
        format!(" {}", badge(Tone::Warn, "not in the mapping file"))
    };
    let issues = if issues > 0 {
        format!(
            "<a href=\"#issues\">{}</a>",
            badge(Tone::Bad, &issues.to_string())
        )
    } else {
        "0".to_owned()
    };
    let table = match &p.airtable_table {
        Some((base, table)) => format!("<code>{}</code> / <code>{}</code>", esc(base), esc(table)),
        None => "<span class=\"muted\">unknown</span>".to_owned(),
    };
    format!(
        "<div class=\"pair\" data-pair=\"{name}\"><h3>{name}{configured}</h3><dl class=\"facts\">\
         <dt>Linked records</dt><dd>{links}</dd>\
         <dt>Airtable table</dt><dd>{table}</dd>\
         <dt>Jobs</dt><dd>{pending} pending · {running} running · {dead} dead</dd>\
         <dt>Sync issues</dt><dd>{issues}</dd>\
         <dt>Oldest pending</dt><dd>{oldest}</dd>\
         <dt>Last sweep</dt><dd>{incremental}</dd>\
         <dt>Last full sweep</dt><dd>{full}</dd></dl></div>",
        name = esc(&p.name),
        links = link_counts(p),
        pending = q.pending,
        running = q.running,
        incremental = sweep(p.incremental.as_ref(), now),
        full = sweep(p.full.as_ref(), now),
    )
}

fn link_counts(p: &PairStatus) -> String {
    let other = p.links.total - p.links.active;
    if other == 0 {
        p.links.total.to_string()
    } else {
        format!(
            "{} <span class=\"muted\">({} active, {} trashed, moved or deleted on one side)</span>",
            p.links.total, p.links.active, other
        )
    }
}

/// When the sweep last finished and what it did; a start after the last
/// finish means it is running now or failed (its job says which).
fn sweep(sweep: Option<&Sweep>, now: i64) -> String {
    let Some(s) = sweep else {
        return "<span class=\"muted\">never</span>".to_owned();
    };
    let unfinished = match (s.last_started_at, s.last_finished_at) {
        (Some(started), Some(finished)) => started > finished,
        (Some(_), None) => true,
        _ => false,
    };
    let mut out = String::new();
    if let Some(finished) = s.last_finished_at {
        let _ = write!(
            out,
            "{} {}",
            when(finished, now),
            sweep_result(s.last_result.as_ref())
        );
    }
    if unfinished {
        let started = s.last_started_at.unwrap_or(now);
        let _ = write!(
            out,
            "<br>{} started {} and has not finished (running now, or it failed: see its job)",
            badge(Tone::Warn, "in progress or failed"),
            when(started, now)
        );
    }
    out
}

/// The sweep summary's non-zero counts, and its problems folded away.
fn sweep_result(result: Option<&Value>) -> String {
    let Some(Value::Object(summary)) = result else {
        return String::new();
    };
    let counts: Vec<String> = summary
        .iter()
        .filter_map(|(key, v)| {
            let n = v.as_u64().filter(|n| *n > 0)?;
            Some(format!("{n} {}", key.replace('_', " ")))
        })
        .collect();
    let problems: Vec<&str> = summary
        .get("problems")
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out = if problems.is_empty() {
        badge(Tone::Good, "ok")
    } else {
        badge(Tone::Warn, &format!("{} problem(s)", problems.len()))
    };
    if !counts.is_empty() {
        let _ = write!(
            out,
            " <span class=\"muted\">{}</span>",
            esc(&counts.join(" · "))
        );
    }
    if !problems.is_empty() {
        let items: String = problems
            .iter()
            .take(10)
            .map(|p| format!("<li>{}</li>", esc(&cut(p, 300))))
            .collect();
        let _ = write!(
            out,
            "<details><summary>problems</summary><ul>{items}</ul></details>"
        );
    }
    out
}

/// Open sync issues, per pair: what the service cannot sync until someone
/// acts (a field stopped by schema drift, a value a side refused, a bad
/// link cell, a missing capability), each shown until it is resolved.
fn issues_section(data: &StatusData) -> String {
    let mut out = String::from(
        "<section id=\"issues\"><h2>Sync issues</h2><p class=\"muted\">What the service \
         cannot sync until someone acts; each disappears once it can. All of them: \
         <code>GET /api/issues</code>.</p>",
    );
    if data.issue_counts.is_empty() {
        out.push_str("<p class=\"muted\">None.</p></section>");
        return out;
    }
    let mut pairs: Vec<&str> = data.issue_counts.iter().map(|c| c.pair.as_str()).collect();
    pairs.dedup();
    for pair in pairs {
        out.push_str(&pair_issues(data, pair));
    }
    out.push_str("</section>");
    out
}

fn pair_issues(data: &StatusData, pair: &str) -> String {
    let counts: Vec<String> = data
        .issue_counts
        .iter()
        .filter(|c| c.pair == pair)
        .map(|c| format!("{} {}", c.count, esc(&c.scope)))
        .collect();
    let total = data.issue_count(pair);
    let rows: Vec<Vec<String>> = data
        .issues
        .iter()
        .filter(|i| i.pair == pair)
        .map(|i| issue_row(i, data))
        .collect();
    let mut out = format!(
        "<div class=\"pair-issues\" data-pair=\"{name}\"><h3>{name} <span class=\"muted\">({})</span></h3>",
        counts.join(" · "),
        name = esc(pair),
    );
    out.push_str(&table(
        "issues",
        &["Scope", "Subject", "Field", "Problem", "Since", "Last seen"],
        &rows,
    ));
    let shown = rows.len() as i64;
    if shown < total {
        let _ = write!(
            out,
            "<p class=\"muted\">{shown} of {total} shown (the newest); the rest are in \
             <code>GET /api/issues?pair={}</code>.</p>",
            esc(pair)
        );
    }
    out.push_str("</div>");
    out
}

fn issue_row(issue: &Issue, data: &StatusData) -> Vec<String> {
    let field = if issue.field.is_empty() {
        "<span class=\"muted\">—</span>".to_owned()
    } else {
        esc(&issue.field).to_string()
    };
    vec![
        badge(Tone::Warn, issue.scope.as_str()),
        format!("<code>{}</code>", esc(&cut(&issue.subject, 200))),
        field,
        esc(&cut(&issue.message, 1000)).to_string(),
        when(issue.first_seen_at, data.now),
        when(issue.last_seen_at, data.now),
    ]
}

fn webhooks_section(data: &StatusData, admin_token: &str) -> String {
    let now = data.now;
    let mut out = String::from("<section id=\"webhooks\"><h2>Webhooks</h2><h3>Airtable</h3>");
    let _ = write!(
        out,
        "<p>Last ping received: {}</p>",
        when_opt(data.airtable_last_ping, now)
    );
    if data.airtable_webhooks.is_empty() {
        out.push_str(
            "<p class=\"muted\">No Airtable webhook is registered: set PUBLIC_URL so that the \
             service registers one at start (until then, changes arrive with the sweeps).</p>",
        );
    } else {
        let rows: Vec<Vec<String>> = data
            .airtable_webhooks
            .iter()
            .map(|w| webhook_row(w, now))
            .collect();
        out.push_str(&table(
            "webhooks",
            &[
                "Pair",
                "Webhook",
                "Expires",
                "Notifications",
                "Last ping",
                "Last result",
            ],
            &rows,
        ));
    }
    out.push_str("<h3>Notion</h3>");
    let _ = write!(
        out,
        "<p>Last event received: {}</p>",
        when_opt(data.notion_last_event, now)
    );
    for token in &data.verification_tokens {
        let from = token
            .remote_addr
            .as_deref()
            .map(|a| format!(" from {}", esc(a)))
            .unwrap_or_default();
        let _ = write!(
            out,
            "<div class=\"verification\"><p>{} Notion sent a verification token {}{} \
             (fingerprint <code>{print}</code> in the log). Paste it into \
             the integration's <b>Webhooks</b> tab (Verify), and set <code>NOTION_WEBHOOK_SECRET</code> \
             to it so that events are accepted:</p><code class=\"token\">{token}</code>\
             <form method=\"post\" action=\"/notion/verification-tokens/dismiss\" class=\"inline\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <input type=\"hidden\" name=\"token\" value=\"{token}\">\
             <button type=\"submit\" class=\"secondary\">Dismiss</button> \
             <span class=\"muted\">once it is pasted, or if it belongs to a subscription you deleted</span>\
             </form></div>",
            badge(Tone::Warn, "to verify"),
            when(token.received_at, now),
            from,
            token = esc(token.token.expose()),
            print = esc(&fingerprint(token.token.expose())),
            csrf = esc(&csrf::dismiss_token(admin_token)),
        );
    }
    out.push_str("</section>");
    out
}

fn webhook_row(w: &AirtableWebhook, now: i64) -> Vec<String> {
    let expires = match w.expires_at {
        None => "<span class=\"muted\">unknown</span>".to_owned(),
        Some(at) => {
            let tone = if at <= now {
                Tone::Bad
            } else if at - now < EXPIRY_WARNING_MS {
                Tone::Warn
            } else {
                Tone::Good
            };
            let word = if at <= now { "expired" } else { "valid" };
            format!("{} {}", badge(tone, word), when(at, now))
        }
    };
    let notifications = match (w.hook_enabled, w.notifications_enabled) {
        (false, _) => badge(Tone::Bad, "hook disabled"),
        (true, false) => badge(Tone::Bad, "off"),
        (true, true) => badge(Tone::Good, "on"),
    };
    vec![
        esc(&w.pair).to_string(),
        format!("<code>{}</code>", esc(&w.webhook_id)),
        expires,
        notifications,
        when_opt(w.last_ping_at, now),
        notification_result(w.last_result.as_ref(), now),
    ]
}

/// Airtable's `lastNotificationResult`: `{success, error?, completionTimestamp, ...}`.
fn notification_result(result: Option<&Value>, _now: i64) -> String {
    let Some(result) = result else {
        return "<span class=\"muted\">none yet</span>".to_owned();
    };
    match result.get("success").and_then(Value::as_bool) {
        Some(true) => badge(Tone::Good, "delivered"),
        Some(false) => {
            let error = result
                .get("error")
                .map(|e| {
                    e.get("message")
                        .and_then(Value::as_str)
                        .map_or_else(|| e.to_string(), str::to_owned)
                })
                .unwrap_or_default();
            format!("{} {}", badge(Tone::Bad, "failed"), esc(&cut(&error, 200)))
        }
        None => format!("<code>{}</code>", esc(&cut(&result.to_string(), 200))),
    }
}

fn dead_jobs_section(data: &StatusData, admin_token: &str) -> String {
    let mut out = String::from("<section id=\"dead-jobs\"><h2>Dead jobs</h2>");
    if data.dead_jobs.is_empty() {
        out.push_str("<p class=\"muted\">None.</p></section>");
        return out;
    }
    out.push_str(
        "<p class=\"muted\">Jobs that failed every attempt. Fix the cause (token, schema, \
         mapping), then Retry: the job runs again with a fresh set of attempts.</p>",
    );
    let rows: Vec<Vec<String>> = data
        .dead_jobs
        .iter()
        .map(|job| dead_job_row(job, data, admin_token))
        .collect();
    out.push_str(&table(
        "dead-jobs",
        &["Job", "Pair", "Work", "Attempts", "Died", "Last error", ""],
        &rows,
    ));
    out.push_str("</section>");
    out
}

fn dead_job_row(job: &Job, data: &StatusData, admin_token: &str) -> Vec<String> {
    let error = job.last_error.as_deref().unwrap_or("(no error recorded)");
    let retry = format!(
        "<form method=\"post\" action=\"/jobs/{id}/retry\">\
         <input type=\"hidden\" name=\"{field}\" value=\"{token}\">\
         <button type=\"submit\" id=\"retry-{id}\">Retry</button></form>",
        id = job.id,
        field = csrf::FIELD,
        token = esc(&csrf::retry_token(admin_token, job.id)),
    );
    vec![
        format!("<span data-job=\"{}\">{}</span>", job.id, job.id),
        esc(job.pair.as_deref().unwrap_or("—")).to_string(),
        format!("{}<br><code>{}</code>", esc(&job.kind), esc(&job.key)),
        format!("{} / {}", job.attempts, job.max_attempts),
        when_opt(job.finished_at, data.now),
        format!("<pre>{}</pre>", esc(&cut(error, 2000))),
        retry,
    ]
}

fn conflicts_section(data: &StatusData) -> String {
    let mut out = String::from(
        "<section id=\"conflicts\"><h2>Conflicts</h2><p class=\"muted\">Fields edited on both \
         sides since the last sync, decided by the field's rule. Newest first.</p>",
    );
    if data.conflicts.is_empty() {
        out.push_str("<p class=\"muted\">None.</p></section>");
        return out;
    }
    let rows: Vec<Vec<String>> = data
        .conflicts
        .iter()
        .map(|e| {
            let (notion_value, airtable_value) = both_values(e);
            let winner = match e.winner {
                Some(Side::Notion) => badge(Tone::Quiet, "Notion"),
                Some(Side::Airtable) => badge(Tone::Quiet, "Airtable"),
                None => "<span class=\"muted\">—</span>".to_owned(),
            };
            vec![
                when(e.at, data.now),
                esc(&e.pair).to_string(),
                record_links(e, data),
                esc(e.field.as_deref().unwrap_or("—")).to_string(),
                notion_value,
                airtable_value,
                winner,
                esc(e.detail.as_deref().unwrap_or("")).to_string(),
            ]
        })
        .collect();
    out.push_str(&table(
        "conflicts",
        &[
            "When",
            "Pair",
            "Record",
            "Field",
            "Notion had",
            "Airtable had",
            "Winner",
            "Rule",
        ],
        &rows,
    ));
    out.push_str("</section>");
    out
}

/// The Notion and Airtable values of a conflict: the winner's value was
/// written over the other side's (`new` over `old`).
fn both_values(e: &LogEntry) -> (String, String) {
    let old = value(e.old_value.as_ref());
    let new = value(e.new_value.as_ref());
    match e.winner {
        Some(Side::Airtable) => (old, new),
        _ => (new, old),
    }
}

fn record_links(e: &LogEntry, data: &StatusData) -> String {
    let mut parts = Vec::new();
    if let Some(page) = &e.notion_page_id {
        parts.push(notion_link(page));
    }
    if let Some(record) = &e.airtable_record_id {
        parts.push(super::html::airtable_link(
            data.airtable_table_of(&e.pair),
            record,
        ));
    }
    if parts.is_empty() {
        "<span class=\"muted\">—</span>".to_owned()
    } else {
        parts.join(" · ")
    }
}

fn changes_section(data: &StatusData) -> String {
    let mut out = String::from("<section id=\"changes\"><h2>Recent changes</h2>");
    if data.changes.is_empty() {
        out.push_str("<p class=\"muted\">Nothing synced yet.</p></section>");
        return out;
    }
    let rows: Vec<Vec<String>> = data
        .changes
        .iter()
        .map(|e| {
            let change = match &e.field {
                Some(field) => format!(
                    "<b>{}</b>: {} → {}",
                    esc(field),
                    value(e.old_value.as_ref()),
                    value(e.new_value.as_ref())
                ),
                None => esc(e.detail.as_deref().unwrap_or("")).to_string(),
            };
            let conflict = if e.conflict {
                format!(" {}", badge(Tone::Warn, "conflict"))
            } else {
                String::new()
            };
            vec![
                when(e.at, data.now),
                esc(&e.pair).to_string(),
                format!("{}{}", esc(e.action.as_str()), conflict),
                change,
                direction(e.direction).to_owned(),
                esc(e.cause.as_str()).to_string(),
                record_links(e, data),
            ]
        })
        .collect();
    out.push_str(&table(
        "changes",
        &[
            "When",
            "Pair",
            "Action",
            "Change",
            "Direction",
            "Cause",
            "Record",
        ],
        &rows,
    ));
    out.push_str("</section>");
    out
}

fn direction(d: SyncDirection) -> &'static str {
    match d {
        SyncDirection::NotionToAirtable => "Notion → Airtable",
        SyncDirection::AirtableToNotion => "Airtable → Notion",
        SyncDirection::Neither => "—",
    }
}
