//! The leaf on its own: what the recorders and the gauges render to. The
//! families are process-wide, so each test records under labels no other
//! test uses (a job kind, an HTTP method) and reads only those series.

use std::time::Duration;

use super::*;

fn lines_of<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(prefix)).collect()
}

#[test]
fn a_job_duration_is_a_histogram_with_the_seconds_buckets() {
    for secs in [0.05, 0.5, 0.5, 7.0] {
        job_finished("test_histogram", "completed", Duration::from_secs_f64(secs));
    }
    let text = render(&Gauges::default());
    let series = "notion_airtable_sync_job_duration_seconds";
    let labels = "kind=\"test_histogram\",outcome=\"completed\"";
    let buckets = lines_of(&text, &format!("{series}_bucket{{{labels},"));
    let le: Vec<&str> = buckets
        .iter()
        .map(|l| {
            l.split("le=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("")
        })
        .collect();
    assert_eq!(
        le,
        [
            "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30",
            "60", "120", "300", "+Inf"
        ]
    );
    let at = |le: &str| format!("{series}_bucket{{{labels},le=\"{le}\"}}");
    for (le, n) in [
        ("0.025", 0),
        ("0.05", 1),
        ("0.5", 3),
        ("5", 3),
        ("10", 4),
        ("+Inf", 4),
    ] {
        assert!(
            text.contains(&format!("{} {n}\n", at(le))),
            "le={le}:\n{text}"
        );
    }
    assert!(
        text.contains(&format!("{series}_count{{{labels}}} 4\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{series}_sum{{{labels}}} 8.05\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("# TYPE {series} histogram\n")),
        "{text}"
    );
}

#[test]
fn an_api_call_is_labelled_by_route_template_never_by_id() {
    let path = "/v0/appSecretBase/tblSecret/recSecret";
    api_call(Vendor::Airtable, "TESTTEMPLATE", path, Some(200));
    api_call(Vendor::Notion, "TESTTEMPLATE", "/v1/pages/0123abcd", None);
    let text = render(&Gauges::default());
    let calls = lines_of(&text, "notion_airtable_sync_api_requests_total{");
    let ours: Vec<&str> = calls
        .into_iter()
        .filter(|l| l.contains("TESTTEMPLATE"))
        .collect();
    assert_eq!(ours.len(), 2, "one series per call: {ours:?}");
    assert!(ours.contains(
        &"notion_airtable_sync_api_requests_total{vendor=\"airtable\",method=\"TESTTEMPLATE\",endpoint=\"/v0/{base}/{table}/{record}\",status=\"200\"} 1"
    ), "{ours:?}");
    assert!(ours.contains(
        &"notion_airtable_sync_api_requests_total{vendor=\"notion\",method=\"TESTTEMPLATE\",endpoint=\"/v1/pages/{page_id}\",status=\"error\"} 1"
    ), "{ours:?}");
    for id in ["appSecretBase", "tblSecret", "recSecret", "0123abcd"] {
        assert!(!text.contains(id), "{id} in the metrics");
    }
}

#[test]
fn a_429_is_counted_as_rate_limited_too() {
    let rate_limited = |text: &str| -> u64 {
        let line = "notion_airtable_sync_api_rate_limited_total{vendor=\"notion\"} ";
        text.lines()
            .find_map(|l| l.strip_prefix(line))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {line}in\n{text}"))
    };
    let before = rate_limited(&render(&Gauges::default()));
    api_call(Vendor::Notion, "TEST429", "/v1/users/me", Some(429));
    let after = rate_limited(&render(&Gauges::default()));
    // Other tests of this process may count 429s too: at least ours.
    assert!(after > before, "{before} -> {after}");
}

#[test]
fn the_alerting_series_exist_from_the_first_scrape() {
    let text = render(&Gauges::default());
    for series in [
        "notion_airtable_sync_webhooks_received_total{source=\"notion\"} ",
        "notion_airtable_sync_webhooks_received_total{source=\"airtable\"} ",
        "notion_airtable_sync_api_rate_limited_total{vendor=\"notion\"} ",
        "notion_airtable_sync_api_rate_limited_total{vendor=\"airtable\"} ",
        "notion_airtable_sync_writes_total{side=\"notion\"} ",
        "notion_airtable_sync_writes_total{side=\"airtable\"} ",
        "notion_airtable_sync_conflicts_total ",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(series)),
            "{series}in\n{text}"
        );
    }
    assert!(
        text.contains(
            "# HELP notion_airtable_sync_writes_total Records the service created, updated, \
             archived or deleted on a side, counted once committed.\n\
             # TYPE notion_airtable_sync_writes_total counter\n"
        ),
        "{text}"
    );
}

#[test]
fn a_store_that_cannot_be_read_is_store_up_0_without_queue_gauges() {
    let text = render(&Gauges::default());
    let up = "# TYPE notion_airtable_sync_store_up gauge\nnotion_airtable_sync_store_up 0\n";
    assert!(text.contains(up), "{text}");
    for absent in [
        "notion_airtable_sync_jobs",
        "notion_airtable_sync_oldest_pending_job_age_seconds",
        "notion_airtable_sync_issues",
    ] {
        assert!(!text.contains(absent), "{absent} in\n{text}");
    }
}

#[test]
fn gauges_render_as_read_with_label_values_escaped() {
    let gauges = Gauges {
        queue: Some(QueueGauges {
            jobs: vec![JobCount {
                kind: "sweep".into(),
                state: "dead".into(),
                count: 2,
            }],
            oldest_pending: Some(Duration::from_millis(1500)),
        }),
        issues: Some(vec![IssueCount {
            pair: "a\"b\\c\nd".into(),
            scope: "field".into(),
            count: 3,
        }]),
        pending_deletes: Some(vec![("specs".into(), 2)]),
        ..Gauges::default()
    };
    let text = render(&gauges);
    for line in [
        "# TYPE notion_airtable_sync_store_up gauge\nnotion_airtable_sync_store_up 1\n",
        "# TYPE notion_airtable_sync_jobs gauge\nnotion_airtable_sync_jobs{kind=\"sweep\",state=\"dead\"} 2\n",
        "\nnotion_airtable_sync_oldest_pending_job_age_seconds 1.5\n",
        "\nnotion_airtable_sync_issues{pair=\"a\\\"b\\\\c\\nd\",scope=\"field\"} 3\n",
        "\nnotion_airtable_sync_pending_deletes{pair=\"specs\"} 2\n",
    ] {
        assert!(text.contains(line), "{line:?} not in\n{text}");
    }
}

#[test]
fn the_month_s_api_calls_and_budgets_render_per_scope() {
    let gauges = Gauges {
        api_calls_month: Some(vec![crate::metrics::ApiCallsMonth {
            vendor: "airtable".into(),
            scope: "appTeam".into(),
            calls: 1234,
        }]),
        api_budgets: vec![crate::metrics::ApiBudget {
            base: "appTeam".into(),
            calls: 100_000,
        }],
        ..Gauges::default()
    };
    let text = render(&gauges);
    for line in [
        "\nnotion_airtable_sync_api_calls_month{vendor=\"airtable\",scope=\"appTeam\"} 1234\n",
        "\nnotion_airtable_sync_api_budget_month{base=\"appTeam\"} 100000\n",
    ] {
        assert!(text.contains(line), "{line:?} not in\n{text}");
    }
    let none = render(&Gauges::default());
    assert!(!none.contains("api_calls_month"), "absent when not read");
}
