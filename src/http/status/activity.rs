//! The status page's "Last 24 hours": changes per hour each way, the lag
//! from an edit to the other side (p50 and p99, each way), and the queue's
//! depth, as small charts.

use maud::{Markup, html};

use super::{
    chart::{self, Chart, Limit, Series, Unit, by_hour, percentile},
    data::{Activity, StatusData},
};
use crate::store::SyncDirection;

pub(super) fn section(data: &StatusData) -> Markup {
    let hours = chart::hours(data.now);
    let mut charts = charts(&data.activity, &hours);
    charts.extend(api_charts(data, &hours));
    html! {
        section #activity {
            h2 { "Last 24 hours" }
            p.muted {
                "One group of bars per hour (UTC), the current hour last; hover a bar for its \
                 figure. Lag is measured from the first webhook event of an edit (for \
                 Airtable, the payload fetch that named the record) to the end of the job \
                 that wrote it to the other side. API calls are drawn per Airtable \
                 base and Notion integration, against the base's monthly budget spread evenly \
                 over the month's hours when it has one."
            }
            div.charts { @for c in &charts { (chart::render(c)) } }
        }
    }
}

fn charts(activity: &Activity, hours: &[i64]) -> Vec<Chart> {
    vec![
        Chart {
            id: "chart-changes".into(),
            title: "Changes written per hour".into(),
            unit: Unit::Count,
            hours: hours.to_vec(),
            series: vec![
                changes(
                    activity,
                    hours,
                    SyncDirection::NotionToAirtable,
                    "Notion → Airtable",
                ),
                changes(
                    activity,
                    hours,
                    SyncDirection::AirtableToNotion,
                    "Airtable → Notion",
                ),
            ],
            limit: None,
        },
        lag_chart(
            "chart-lag-airtable",
            "Lag, Notion edit → Airtable",
            hours,
            &activity.lag_to_airtable,
        ),
        lag_chart(
            "chart-lag-notion",
            "Lag, Airtable edit → Notion",
            hours,
            &activity.lag_to_notion,
        ),
        Chart {
            id: "chart-queue".into(),
            title: "Jobs waiting (due, most in the hour)".into(),
            unit: Unit::Count,
            hours: hours.to_vec(),
            series: vec![Series {
                label: "due jobs".into(),
                values: by_hour(hours, &activity.queue_due)
                    .into_iter()
                    .map(|b| b.into_iter().max())
                    .collect(),
            }],
            limit: None,
        },
    ]
}

/// One chart per vendor scope that made calls in the day or has a budget:
/// its calls per hour, and the budget's even hourly share as a line.
fn api_charts(data: &StatusData, hours: &[i64]) -> Vec<Chart> {
    let activity = &data.activity;
    let mut scopes: Vec<(String, String)> = activity
        .api_calls
        .iter()
        .map(|c| (c.vendor.clone(), c.scope.clone()))
        .chain(
            data.api_budgets
                .iter()
                .map(|(base, _)| ("airtable".to_owned(), base.to_owned())),
        )
        .collect();
    scopes.sort();
    scopes.dedup();
    scopes
        .into_iter()
        .map(|(vendor, scope)| {
            let values = hours
                .iter()
                .map(|hour| {
                    activity
                        .api_calls
                        .iter()
                        .find(|c| c.hour == *hour && c.vendor == vendor && c.scope == scope)
                        .map(|c| c.calls)
                })
                .collect();
            let budget = (vendor == "airtable")
                .then(|| data.api_budgets.of(&scope))
                .flatten();
            let title = match vendor.as_str() {
                "airtable" => format!("API calls per hour, Airtable base {scope}"),
                "notion" => "API calls per hour, Notion integration".to_owned(),
                other => format!("API calls per hour, {other} {scope}"),
            };
            Chart {
                id: format!("chart-api-{vendor}-{}", chart_id(&scope)),
                title,
                unit: Unit::Count,
                hours: hours.to_vec(),
                series: vec![Series {
                    label: "calls".into(),
                    values,
                }],
                limit: budget.map(|b| Limit {
                    label: "monthly budget per hour".into(),
                    value: b / activity.hours_in_month.max(1),
                }),
            }
        })
        .collect()
}

/// An id fragment from a scope: its letters and digits only.
fn chart_id(scope: &str) -> String {
    scope.chars().filter(char::is_ascii_alphanumeric).collect()
}

fn changes(activity: &Activity, hours: &[i64], direction: SyncDirection, label: &str) -> Series {
    let values = hours
        .iter()
        .map(|hour| {
            activity
                .changes
                .iter()
                .find(|c| c.hour == *hour && c.direction == direction)
                .map(|c| c.count)
        })
        .collect();
    Series {
        label: label.into(),
        values,
    }
}

fn lag_chart(id: &str, title: &str, hours: &[i64], samples: &[(i64, i64)]) -> Chart {
    let mut buckets = by_hour(hours, samples);
    let mut p50 = Vec::with_capacity(hours.len());
    let mut p99 = Vec::with_capacity(hours.len());
    for bucket in &mut buckets {
        p50.push(percentile(bucket, 50));
        p99.push(percentile(bucket, 99));
    }
    Chart {
        id: id.to_owned(),
        title: title.into(),
        unit: Unit::Millis,
        hours: hours.to_vec(),
        series: vec![
            Series {
                label: "p50".into(),
                values: p50,
            },
            Series {
                label: "p99".into(),
                values: p99,
            },
        ],
        limit: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::HourlyChanges;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn each_chart_reads_its_own_data() {
        let now = 100 * HOUR + 5;
        let hours = chart::hours(now);
        let activity = Activity {
            changes: vec![
                HourlyChanges {
                    hour: 100 * HOUR,
                    direction: SyncDirection::NotionToAirtable,
                    count: 7,
                },
                HourlyChanges {
                    hour: 99 * HOUR,
                    direction: SyncDirection::AirtableToNotion,
                    count: 2,
                },
            ],
            lag_to_airtable: (1..=100).map(|i| (100 * HOUR + i, i * 10)).collect(),
            lag_to_notion: vec![],
            queue_due: vec![(99 * HOUR, 3), (99 * HOUR + 60_000, 8), (100 * HOUR, 1)],
            api_calls: Vec::new(),
            hours_in_month: 720,
        };
        let charts = charts(&activity, &hours);
        let last = hours.len() - 1;
        assert_eq!(charts[0].series[0].values[last], Some(7));
        assert_eq!(charts[0].series[1].values[last - 1], Some(2));
        assert_eq!(charts[0].series[1].values[last], None);
        assert_eq!(charts[1].series[0].values[last], Some(500));
        assert_eq!(charts[1].series[1].values[last], Some(990));
        assert!(
            charts[2]
                .series
                .iter()
                .all(|s| s.values.iter().all(Option::is_none))
        );
        assert_eq!(charts[3].series[0].values[last - 1], Some(8));
        assert_eq!(charts[3].series[0].values[last], Some(1));
    }
}
