//! The status page's HTML: what needs attention, then per pair the links,
//! queue and sweeps, webhook health, dead jobs (with Retry), conflicts and
//! recent changes. One function per section, each a `maud` template, which
//! escapes every value it interpolates.

use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde_json::Value;

use super::{
    Notice, csrf,
    data::{PairStatus, StatusData},
    deletes,
    html::{
        Tone, airtable_link, badge, cut, duration, muted, notion_link, relative, table, value,
        when, when_opt,
    },
};
use crate::{
    http::webhooks::verification::fingerprint,
    store::{
        AirtableWebhook, Issue, Job, LogEntry, PairQueue, Side, Sweep, SyncDirection,
        VerificationToken,
    },
};

/// Queue lag above which the page calls the queue late.
const LATE_AFTER_MS: i64 = 5 * 60 * 1000;
/// An Airtable webhook this close to its expiry is a warning (the service
/// refreshes them daily, so one this close means refreshes fail).
const EXPIRY_WARNING_MS: i64 = 2 * 24 * 3600 * 1000;

pub(super) const STYLE: &str = r#"
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
.pair h3{margin:0 0 2px;font-size:1rem}
.pair p.sides{margin:0 0 6px;color:var(--muted);font-size:.85rem}
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
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(330px,1fr));gap:12px}
figure.chart{margin:0;border:1px solid var(--line);border-radius:8px;padding:8px 10px}
figure.chart figcaption{font-size:.85rem;margin:0 0 4px}
figure.chart svg{width:100%;height:130px;display:block}
.legend{color:var(--muted);margin-left:6px}
.key{display:inline-block;width:10px;height:10px;border-radius:2px;vertical-align:baseline}
.key.s0,rect.s0{background:#1f5fbf;fill:#1f5fbf}.key.s1,rect.s1{background:#e08a00;fill:#e08a00}
.key.limit{height:2px;width:14px;background:var(--bad);vertical-align:middle}
line.axis{stroke:var(--line);stroke-width:1}line.limit{stroke:var(--bad);stroke-width:1.2;stroke-dasharray:4 3}
text.tick{font-size:9px;fill:var(--muted)}
table.numbers{font-size:.8rem;width:auto}table.numbers td,table.numbers th{padding:2px 8px}
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
pub(super) fn render(data: &StatusData, admin_token: &str, notice: Option<Notice>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Status · notion-airtable-sync" }
                // Our own constant stylesheet, no value in it: escaping would
                // turn its quotes into entities, which CSS does not decode.
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { "notion-airtable-sync" }
                    p { "Status at " (when(data.now, data.now)) " · " a href="/" { "refresh" } }
                }
                main {
                    @if let Some(notice) = notice { (notice_section(notice)) }
                    (attention(data))
                    (pairs_section(data))
                    (super::activity::section(data))
                    (issues_section(data))
                    (deletes::section(data, admin_token))
                    (webhooks_section(data, admin_token))
                    (dead_jobs_section(data, admin_token))
                    (conflicts_section(data))
                    (changes_section(data, admin_token))
                    (super::usage::usage_section(data))
                }
            }
        }
    }
}

fn notice_section(notice: Notice) -> Markup {
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
        Notice::Reviewed { id, state } => {
            format!("Delete review {id} is {state}; the record's sync carries it out shortly.")
        }
        Notice::ReviewRefused { id } => {
            format!(
                "Delete review {id} is not pending (already decided, or gone): nothing changed."
            )
        }
    };
    html! { section.notice role="status" { (text) } }
}

/// One line per thing an operator should act on; "all good" otherwise.
fn attention(data: &StatusData) -> Markup {
    let items = attention_items(data);
    html! {
        section #attention {
            h2 { "Attention" }
            @if items.is_empty() {
                p { (badge(Tone::Good, "all good")) " Nothing needs attention." }
            } @else {
                ul.attention { @for item in &items { li { (item) } } }
            }
        }
    }
}

fn attention_items(data: &StatusData) -> Vec<Markup> {
    let mut items = Vec::new();
    if !data.dead_jobs.is_empty() {
        items.push(html! {
            (badge(Tone::Bad, "dead jobs")) " "
            a href="#dead-jobs" { (data.dead_jobs.len()) " dead job(s)" }
            ": read the error, fix the cause, then Retry."
        });
    }
    let open_issues: i64 = data.issue_counts.iter().map(|c| c.count).sum();
    if open_issues > 0 {
        items.push(html! {
            (badge(Tone::Bad, "sync issues")) " "
            a href="#issues" { (open_issues) " sync issue(s)" }
            ": fields, values or permissions the service cannot sync until someone fixes them."
        });
    }
    if !data.verification_tokens.is_empty() {
        items.push(html! {
            (badge(Tone::Warn, "Notion webhook")) " Notion sent a "
            a href="#webhooks" { "verification token" }
            " to paste into the integration's webhook settings."
        });
    }
    items.extend(data.airtable_webhooks.iter().filter_map(|w| {
        let problem = webhook_problem(w, data.now)?;
        Some(html! {
            (badge(Tone::Bad, "Airtable webhook")) " Airtable webhook "
            code { (w.webhook_id) } " (" (w.pair) "): " (problem) "."
        })
    }));
    items.extend(data.pairs.iter().filter_map(|p| late_queue(p, data.now)));
    items.extend(deletes::attention(data));
    items
}

/// The pair's queue, when its oldest pending job has waited too long.
fn late_queue(p: &PairStatus, now: i64) -> Option<Markup> {
    let due = p
        .queue
        .oldest_due_at
        .filter(|at| now - at > LATE_AFTER_MS)?;
    Some(html! {
        (badge(Tone::Warn, "queue late")) " pair " b { (p.name) }
        ": the oldest pending job has waited " (waited(now, due)) "."
    })
}

/// How long a job due at `due` has waited.
fn waited(now: i64, due: i64) -> String {
    duration(u64::try_from(now - due).unwrap_or(0))
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

fn pairs_section(data: &StatusData) -> Markup {
    html! {
        section #pairs {
            h2 { "Pairs" }
            div.pairs {
                @if data.pairs.is_empty() { p.muted { "No pair is configured." } }
                @for pair in &data.pairs {
                    (pair_card(pair, data.issue_count(&pair.name), data.now))
                }
            }
            @if let Some(q) = &data.unpaired_queue {
                p.muted {
                    "Jobs of no pair (Airtable payload fetches): " (q.pending) " pending, "
                    (q.running) " running, " (q.dead) " dead."
                }
            }
        }
    }
}

fn pair_card(p: &PairStatus, issues: i64, now: i64) -> Markup {
    let q = &p.queue;
    html! {
        div.pair data-pair=(p.name) {
            h3 {
                (p.name)
                @if !p.configured { " " (badge(Tone::Warn, "not in the mapping file")) }
            }
            @if let Some(label) = &p.label {
                p.sides {
                    "Notion " b { (label.notion) } " ⇄ Airtable " b { (label.airtable) }
                }
            }
            dl.facts {
                dt { "Linked records" } dd { (link_counts(p)) }
                dt { "Airtable table" } dd { (airtable_table(p)) }
                dt { "Jobs" }
                dd { (q.pending) " pending · " (q.running) " running · " (dead_count(q)) " dead" }
                dt { "Sync issues" } dd { (issue_count(issues)) }
                dt { "Oldest pending" } dd { (oldest_pending(q, now)) }
                dt { "Last sweep" } dd { (sweep(p.incremental.as_ref(), now)) }
                dt { "Last full sweep" } dd { (sweep(p.full.as_ref(), now)) }
            }
        }
    }
}

fn dead_count(q: &PairQueue) -> Markup {
    if q.dead > 0 {
        badge(Tone::Bad, &q.dead.to_string())
    } else {
        html! { "0" }
    }
}

fn issue_count(issues: i64) -> Markup {
    if issues > 0 {
        html! { a href="#issues" { (badge(Tone::Bad, &issues.to_string())) } }
    } else {
        html! { "0" }
    }
}

fn oldest_pending(q: &PairQueue, now: i64) -> Markup {
    match q.oldest_due_at {
        Some(at) => html! { (waited(now, at)) },
        None => muted("none due"),
    }
}

/// The table by name (when known) and its ids, which support asks for.
fn airtable_table(p: &PairStatus) -> Markup {
    let name = p.label.as_ref().map(|l| l.airtable.as_str());
    match (&p.airtable_table, name) {
        (Some((base, table)), Some(name)) => html! {
            (name) " " span.muted { "(" code { (base) } " / " code { (table) } ")" }
        },
        (Some((base, table)), None) => html! { code { (base) } " / " code { (table) } },
        (None, _) => muted("unknown"),
    }
}

fn link_counts(p: &PairStatus) -> Markup {
    let other = p.links.total - p.links.active;
    html! {
        (p.links.total)
        @if other != 0 {
            " "
            span.muted {
                "(" (p.links.active) " active, " (other) " trashed, moved or deleted on one side)"
            }
        }
    }
}

/// When the sweep last finished and what it did; a start after the last
/// finish means it is running now or failed (its job says which).
fn sweep(sweep: Option<&Sweep>, now: i64) -> Markup {
    let Some(s) = sweep else {
        return muted("never");
    };
    let unfinished = match (s.last_started_at, s.last_finished_at) {
        (Some(started), Some(finished)) => started > finished,
        (Some(_), None) => true,
        _ => false,
    };
    html! {
        @if let Some(finished) = s.last_finished_at {
            (when(finished, now)) " " (sweep_result(s.last_result.as_ref()))
        }
        @if unfinished {
            br;
            (badge(Tone::Warn, "in progress or failed")) " started "
            (when(s.last_started_at.unwrap_or(now), now))
            " and has not finished (running now, or it failed: see its job)"
        }
    }
}

/// The sweep summary's non-zero counts, and its problems folded away.
fn sweep_result(result: Option<&Value>) -> Markup {
    let Some(Value::Object(summary)) = result else {
        return html! {};
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
    html! {
        @if problems.is_empty() {
            (badge(Tone::Good, "ok"))
        } @else {
            (badge(Tone::Warn, &format!("{} problem(s)", problems.len())))
        }
        @if !counts.is_empty() { " " span.muted { (counts.join(" · ")) } }
        @if !problems.is_empty() {
            details {
                summary { "problems" }
                ul { @for p in problems.iter().take(10) { li { (cut(p, 300)) } } }
            }
        }
    }
}

/// Open sync issues, per pair: what the service cannot sync until someone
/// acts (a field stopped by schema drift, a value a side refused, a bad
/// link cell, a missing capability), each shown until it is resolved.
fn issues_section(data: &StatusData) -> Markup {
    let mut pairs: Vec<&str> = data.issue_counts.iter().map(|c| c.pair.as_str()).collect();
    pairs.dedup();
    html! {
        section #issues {
            h2 { "Sync issues" }
            p.muted {
                "What the service cannot sync until someone acts; each disappears once it can. \
                 All of them: " code { "GET /api/issues" } "."
            }
            @if pairs.is_empty() { p.muted { "None." } }
            @for pair in pairs { (pair_issues(data, pair)) }
        }
    }
}

fn pair_issues(data: &StatusData, pair: &str) -> Markup {
    let counts: Vec<String> = data
        .issue_counts
        .iter()
        .filter(|c| c.pair == pair)
        .map(|c| format!("{} {}", c.count, c.scope))
        .collect();
    let total = data.issue_count(pair);
    let rows: Vec<Vec<Markup>> = data
        .issues
        .iter()
        .filter(|i| i.pair == pair)
        .map(|i| issue_row(i, data.now))
        .collect();
    let shown = rows.len() as i64;
    let headers = ["Scope", "Subject", "Field", "Problem", "Since", "Last seen"];
    html! {
        div.pair-issues data-pair=(pair) {
            h3 { (pair) " " span.muted { "(" (counts.join(" · ")) ")" } }
            (table("issues", &headers, &rows))
            @if shown < total {
                p.muted {
                    (shown) " of " (total) " shown (the newest); the rest are in "
                    code { "GET /api/issues?pair=" (pair) } "."
                }
            }
        }
    }
}

fn issue_row(issue: &Issue, now: i64) -> Vec<Markup> {
    let field = if issue.field.is_empty() {
        muted("—")
    } else {
        html! { (issue.field) }
    };
    vec![
        badge(Tone::Warn, issue.scope.as_str()),
        html! { code { (cut(&issue.subject, 200)) } },
        field,
        html! { (cut(&issue.message, 1000)) },
        when(issue.first_seen_at, now),
        when(issue.last_seen_at, now),
    ]
}

fn webhooks_section(data: &StatusData, admin_token: &str) -> Markup {
    html! {
        section #webhooks {
            h2 { "Webhooks" }
            (airtable_webhooks(data))
            (notion_webhooks(data, admin_token))
        }
    }
}

fn airtable_webhooks(data: &StatusData) -> Markup {
    let rows: Vec<Vec<Markup>> = data
        .airtable_webhooks
        .iter()
        .map(|w| webhook_row(w, data.now))
        .collect();
    let headers = [
        "Pair",
        "Webhook",
        "Expires",
        "Notifications",
        "Last ping",
        "Last result",
    ];
    html! {
        h3 { "Airtable" }
        p { "Last ping received: " (when_opt(data.airtable_last_ping, data.now)) }
        @if rows.is_empty() {
            p.muted {
                "No Airtable webhook is registered: set PUBLIC_URL so that the service registers \
                 one at start (until then, changes arrive with the sweeps)."
            }
        } @else {
            (table("webhooks", &headers, &rows))
        }
    }
}

fn notion_webhooks(data: &StatusData, admin_token: &str) -> Markup {
    // The same token for every Dismiss form: it is bound to the action only.
    let csrf = csrf::dismiss_token(admin_token);
    html! {
        h3 { "Notion" }
        p { "Last event received: " (when_opt(data.notion_last_event, data.now)) }
        @for token in &data.verification_tokens {
            (verification_token(token, data.now, &csrf))
        }
    }
}

/// A pending Notion verification token to paste, with its Dismiss form.
fn verification_token(token: &VerificationToken, now: i64, csrf: &str) -> Markup {
    let secret = token.token.expose();
    html! {
        div.verification {
            p {
                (badge(Tone::Warn, "to verify")) " Notion sent a verification token "
                (when(token.received_at, now))
                @if let Some(from) = &token.remote_addr { " from " (from) }
                " (fingerprint " code { (fingerprint(secret)) } " in the log). Paste it into \
                 the integration's " b { "Webhooks" } " tab (Verify), and set "
                code { "NOTION_WEBHOOK_SECRET" } " to it so that events are accepted:"
            }
            code.token { (secret) }
            form method="post" action="/notion/verification-tokens/dismiss" class="inline" {
                input type="hidden" name=(csrf::FIELD) value=(csrf);
                input type="hidden" name="token" value=(secret);
                button type="submit" class="secondary" { "Dismiss" }
                " "
                span.muted { "once it is pasted, or if it belongs to a subscription you deleted" }
            }
        }
    }
}

fn webhook_row(w: &AirtableWebhook, now: i64) -> Vec<Markup> {
    let notifications = match (w.hook_enabled, w.notifications_enabled) {
        (false, _) => badge(Tone::Bad, "hook disabled"),
        (true, false) => badge(Tone::Bad, "off"),
        (true, true) => badge(Tone::Good, "on"),
    };
    vec![
        html! { (w.pair) },
        html! { code { (w.webhook_id) } },
        expiry(w.expires_at, now),
        notifications,
        when_opt(w.last_ping_at, now),
        notification_result(w.last_result.as_ref()),
    ]
}

/// An Airtable webhook's expiry, colored by how close it is.
fn expiry(expires_at: Option<i64>, now: i64) -> Markup {
    let Some(at) = expires_at else {
        return muted("unknown");
    };
    let (tone, word) = if at <= now {
        (Tone::Bad, "expired")
    } else if at - now < EXPIRY_WARNING_MS {
        (Tone::Warn, "valid")
    } else {
        (Tone::Good, "valid")
    };
    html! { (badge(tone, word)) " " (when(at, now)) }
}

/// Airtable's `lastNotificationResult`: `{success, error?, completionTimestamp, ...}`.
fn notification_result(result: Option<&Value>) -> Markup {
    let Some(result) = result else {
        return muted("none yet");
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
            html! { (badge(Tone::Bad, "failed")) " " (cut(&error, 200)) }
        }
        None => html! { code { (cut(&result.to_string(), 200)) } },
    }
}

fn dead_jobs_section(data: &StatusData, admin_token: &str) -> Markup {
    let rows: Vec<Vec<Markup>> = data
        .dead_jobs
        .iter()
        .map(|job| dead_job_row(job, data.now, admin_token))
        .collect();
    let headers = ["Job", "Pair", "Work", "Attempts", "Died", "Last error", ""];
    html! {
        section #dead-jobs {
            h2 { "Dead jobs" }
            @if rows.is_empty() {
                p.muted { "None." }
            } @else {
                p.muted {
                    "Jobs that failed every attempt. Fix the cause (token, schema, mapping), \
                     then Retry: the job runs again with a fresh set of attempts."
                }
                (table("dead-jobs", &headers, &rows))
            }
        }
    }
}

fn dead_job_row(job: &Job, now: i64, admin_token: &str) -> Vec<Markup> {
    let error = job.last_error.as_deref().unwrap_or("(no error recorded)");
    vec![
        html! { span data-job=(job.id) { (job.id) } },
        html! { (job.pair.as_deref().unwrap_or("—")) },
        html! { (job.kind) br; code { (job.key) } },
        html! { (job.attempts) " / " (job.max_attempts) },
        when_opt(job.finished_at, now),
        html! { pre { (cut(error, 2000)) } },
        retry_form(job, admin_token),
    ]
}

/// The Retry button of a dead job, with its form's CSRF token.
fn retry_form(job: &Job, admin_token: &str) -> Markup {
    html! {
        form method="post" action={ "/jobs/" (job.id) "/retry" } {
            input type="hidden" name=(csrf::FIELD) value=(csrf::retry_token(admin_token, job.id));
            button type="submit" id={ "retry-" (job.id) } { "Retry" }
        }
    }
}

fn conflicts_section(data: &StatusData) -> Markup {
    let rows: Vec<Vec<Markup>> = data
        .conflicts
        .iter()
        .map(|e| conflict_row(e, data))
        .collect();
    let headers = [
        "When",
        "Pair",
        "Record",
        "Field",
        "Notion had",
        "Airtable had",
        "Winner",
        "Rule",
    ];
    html! {
        section #conflicts {
            h2 { "Conflicts" }
            p.muted {
                "Fields edited on both sides since the last sync, decided by the field's rule. \
                 Newest first."
            }
            @if rows.is_empty() {
                p.muted { "None." }
            } @else {
                (table("conflicts", &headers, &rows))
            }
        }
    }
}

fn conflict_row(e: &LogEntry, data: &StatusData) -> Vec<Markup> {
    let (notion_value, airtable_value) = both_values(e);
    let winner = match e.winner {
        Some(Side::Notion) => badge(Tone::Quiet, "Notion"),
        Some(Side::Airtable) => badge(Tone::Quiet, "Airtable"),
        None => muted("—"),
    };
    vec![
        when(e.at, data.now),
        html! { (e.pair) },
        record_links(e, data),
        html! { (e.field.as_deref().unwrap_or("—")) },
        notion_value,
        airtable_value,
        winner,
        html! { (e.detail.as_deref().unwrap_or("")) },
    ]
}

/// The Notion and Airtable values of a conflict: the winner's value was
/// written over the other side's (`new` over `old`).
fn both_values(e: &LogEntry) -> (Markup, Markup) {
    let old = value(e.old_value.as_ref());
    let new = value(e.new_value.as_ref());
    match e.winner {
        Some(Side::Airtable) => (old, new),
        _ => (new, old),
    }
}

/// The record by its title (when the title is mapped and synced), then
/// links to both sides.
fn record_links(e: &LogEntry, data: &StatusData) -> Markup {
    let title = e
        .notion_page_id
        .as_deref()
        .and_then(|page| data.title_of(&e.pair, page));
    let mut parts = Vec::new();
    if let Some(page) = &e.notion_page_id {
        parts.push(notion_link(page));
    }
    if let Some(record) = &e.airtable_record_id {
        parts.push(airtable_link(data.airtable_table_of(&e.pair), record));
    }
    if parts.is_empty() {
        return muted("—");
    }
    html! {
        @if let Some(title) = title { b.record-title { (cut(title, 120)) } br; }
        @for (i, part) in parts.iter().enumerate() {
            @if i > 0 { " · " }
            (part)
        }
    }
}

fn changes_section(data: &StatusData, admin_token: &str) -> Markup {
    let rows: Vec<Vec<Markup>> = data
        .changes
        .iter()
        .map(|e| {
            let mut row = change_row(e, data);
            row.push(undo_cell(e, admin_token));
            row
        })
        .collect();
    let headers = [
        "When",
        "Pair",
        "Action",
        "Change",
        "Direction",
        "Cause",
        "Record",
        "Undo",
    ];
    html! {
        section #changes {
            h2 { "Recent changes" }
            @if rows.is_empty() {
                p.muted { "Nothing synced yet." }
            } @else {
                (table("changes", &headers, &rows))
            }
        }
    }
}

fn change_row(e: &LogEntry, data: &StatusData) -> Vec<Markup> {
    let change = match &e.field {
        // No old value: the side written had no record yet (a create).
        Some(field) if e.old_value.is_none() => html! {
            b { (field) } ": " (value(e.new_value.as_ref())) " " (muted("(new record)"))
        },
        Some(field) => html! {
            b { (field) } ": " (value(e.old_value.as_ref())) " → " (value(e.new_value.as_ref()))
        },
        None => html! { (e.detail.as_deref().unwrap_or("")) },
    };
    vec![
        when(e.at, data.now),
        html! { (e.pair) },
        html! {
            (e.action.as_str())
            @if e.conflict { " " (badge(Tone::Warn, "conflict")) }
        },
        change,
        html! { (direction(e.direction)) },
        html! { (e.cause.as_str()) },
        record_links(e, data),
    ]
}

/// Undo buttons for a change the service made (a skip wrote nothing).
fn undo_cell(e: &LogEntry, admin_token: &str) -> Markup {
    if e.action == crate::store::LogAction::Skip {
        return muted("—");
    }
    super::undo::entry_forms(e, admin_token)
}

fn direction(d: SyncDirection) -> &'static str {
    match d {
        SyncDirection::NotionToAirtable => "Notion → Airtable",
        SyncDirection::AirtableToNotion => "Airtable → Notion",
        SyncDirection::Neither => "—",
    }
}
