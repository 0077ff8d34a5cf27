//! The status page's small charts of the last 24 hours: one bar group per
//! hour, drawn as inline SVG (the page allows no script), each bar with a
//! tooltip that gives its exact figure, and the figures themselves in a
//! folded table for people who do not read charts.

use maud::{Markup, html};

use super::html::duration;

/// Hours drawn, the current (partial) one last.
pub(super) const HOURS: usize = 24;
const HOUR_MS: i64 = 3_600_000;

/// The drawing's size in SVG units (it scales to the card's width).
const WIDTH: f64 = 480.0;
const HEIGHT: f64 = 130.0;
const LEFT: f64 = 46.0;
const RIGHT: f64 = 6.0;
const TOP: f64 = 8.0;
const BOTTOM: f64 = 18.0;

/// The start (epoch ms) of each hour drawn at `now`, oldest first.
pub(super) fn hours(now: i64) -> Vec<i64> {
    let current = now.div_euclid(HOUR_MS) * HOUR_MS;
    (0..HOURS as i64)
        .rev()
        .map(|back| current - back * HOUR_MS)
        .collect()
}

/// How a chart's figures read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    Count,
    Millis,
}

impl Unit {
    fn show(self, value: i64) -> String {
        match self {
            Unit::Count => value.to_string(),
            Unit::Millis => duration(u64::try_from(value).unwrap_or(0)),
        }
    }
}

/// One series: a value per hour (None: nothing measured that hour).
pub(super) struct Series {
    pub label: String,
    pub values: Vec<Option<i64>>,
}

/// A horizontal line drawn across the chart (a budget, a capacity).
pub(super) struct Limit {
    pub label: String,
    pub value: i64,
}

/// One chart.
pub(super) struct Chart {
    /// The chart's id in the page, also its CSS hook.
    pub id: String,
    pub title: String,
    pub unit: Unit,
    pub hours: Vec<i64>,
    pub series: Vec<Series>,
    pub limit: Option<Limit>,
}

impl Chart {
    fn top_value(&self) -> i64 {
        let highest = self
            .series
            .iter()
            .flat_map(|s| s.values.iter().flatten())
            .copied()
            .chain(self.limit.as_ref().map(|l| l.value))
            .max()
            .unwrap_or(0);
        nice_ceiling(highest)
    }

    /// The sum of a series over the day, for the legend.
    fn total(&self, series: &Series) -> Option<i64> {
        (self.unit == Unit::Count).then(|| series.values.iter().flatten().sum())
    }
}

/// The smallest of 1, 2, 5 × 10ⁿ at or above `value` (at least 1), so that
/// the axis reads in round numbers.
pub(super) fn nice_ceiling(value: i64) -> i64 {
    let mut step = 1i64;
    loop {
        for m in [1, 2, 5] {
            if step.saturating_mul(m) >= value {
                return step.saturating_mul(m);
            }
        }
        step = step.saturating_mul(10);
    }
}

/// Nearest-rank percentile `p` (0–100) of `values`; None when empty.
pub(super) fn percentile(values: &mut [i64], p: u32) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = (u64::from(p) * values.len() as u64).div_ceil(100).max(1);
    values.get(usize::try_from(rank).ok()? - 1).copied()
}

/// Samples `(at, value)` grouped by the hour they fall in; hours outside
/// the chart are dropped.
pub(super) fn by_hour(hours: &[i64], samples: &[(i64, i64)]) -> Vec<Vec<i64>> {
    let mut buckets = vec![Vec::new(); hours.len()];
    let Some(first) = hours.first() else {
        return buckets;
    };
    for (at, value) in samples {
        let index = (at - first).div_euclid(HOUR_MS);
        if let Some(bucket) = usize::try_from(index).ok().and_then(|i| buckets.get_mut(i)) {
            bucket.push(*value);
        }
    }
    buckets
}

/// The chart as a figure: title, legend, the drawing, and its numbers.
pub(super) fn render(chart: &Chart) -> Markup {
    html! {
        figure.chart id=(chart.id) {
            figcaption {
                b { (chart.title) }
                span.legend {
                    @for (i, s) in chart.series.iter().enumerate() {
                        " " span class={ "key s" (i) } {} " " (s.label)
                        @if let Some(total) = chart.total(s) { " (" (total) ")" }
                    }
                    @if let Some(limit) = &chart.limit {
                        " " span.key.limit {} " " (limit.label) " " (chart.unit.show(limit.value))
                    }
                }
            }
            (drawing(chart))
            details {
                summary { "numbers" }
                (numbers(chart))
            }
        }
    }
}

fn drawing(chart: &Chart) -> Markup {
    let top = chart.top_value();
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / chart.hours.len().max(1) as f64;
    let group = slot * 0.8;
    let bar = group / chart.series.len().max(1) as f64;
    let y = |v: i64| TOP + plot_h - plot_h * (v as f64 / top as f64);
    let label = format!(
        "{}: the last 24 hours, one group of bars per hour",
        chart.title
    );
    html! {
        svg viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-label=(label)
            preserveAspectRatio="none" {
            line.axis x1=(LEFT) y1=(TOP + plot_h) x2=(WIDTH - RIGHT) y2=(TOP + plot_h) {}
            text.tick x=(LEFT - 4.0) y=(TOP + 8.0) text-anchor="end" { (chart.unit.show(top)) }
            text.tick x=(LEFT - 4.0) y=(TOP + plot_h) text-anchor="end" { "0" }
            @for (h, start) in chart.hours.iter().enumerate() {
                @for (i, s) in chart.series.iter().enumerate() {
                    @if let Some(Some(v)) = s.values.get(h) {
                        @let x = LEFT + h as f64 * slot + (slot - group) / 2.0 + i as f64 * bar;
                        rect class={ "s" (i) } x=(round(x)) y=(round(y(*v)))
                            width=(round(bar.max(1.0))) height=(round(TOP + plot_h - y(*v))) {
                            title { (hour_label(*start)) " · " (s.label) ": " (chart.unit.show(*v)) }
                        }
                    }
                }
                @if h % 6 == 0 || h + 1 == chart.hours.len() {
                    text.tick x=(round(LEFT + h as f64 * slot + slot / 2.0)) y=(HEIGHT - 4.0)
                        text-anchor="middle" { (clock(*start)) }
                }
            }
            @if let Some(limit) = &chart.limit {
                line.limit x1=(LEFT) y1=(round(y(limit.value))) x2=(WIDTH - RIGHT)
                    y2=(round(y(limit.value))) {
                    title { (limit.label) ": " (chart.unit.show(limit.value)) }
                }
            }
        }
    }
}

/// The chart's figures as a table: an hour per row, a series per column.
fn numbers(chart: &Chart) -> Markup {
    html! {
        table.numbers {
            thead { tr { th { "Hour (UTC)" } @for s in &chart.series { th.num { (s.label) } } } }
            tbody {
                @for (h, start) in chart.hours.iter().enumerate() {
                    tr {
                        td { (hour_label(*start)) }
                        @for s in &chart.series {
                            td.num {
                                @match s.values.get(h).copied().flatten() {
                                    Some(v) => (chart.unit.show(v)),
                                    None => "—",
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// `14:00`, the hour's start in UTC.
fn clock(start_ms: i64) -> String {
    let minutes = start_ms.div_euclid(60_000);
    format!("{:02}:00", minutes.div_euclid(60).rem_euclid(24))
}

/// `14:00–15:00`.
fn hour_label(start_ms: i64) -> String {
    format!("{}–{}", clock(start_ms), clock(start_ms + HOUR_MS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hours_end_with_the_current_one() {
        let now = 10 * HOUR_MS + 1_234;
        let hours = hours(now);
        assert_eq!(hours.len(), HOURS);
        assert_eq!(hours[HOURS - 1], 10 * HOUR_MS);
        assert_eq!(hours[0], -13 * HOUR_MS);
    }

    #[test]
    fn samples_fall_in_their_hour_and_outside_ones_are_dropped() {
        let hours = hours(5 * HOUR_MS);
        let buckets = by_hour(
            &hours,
            &[
                (5 * HOUR_MS, 1),
                (5 * HOUR_MS + 59 * 60_000, 2),
                (4 * HOUR_MS + 1, 3),
                (6 * HOUR_MS, 9),
                (hours[0] - 1, 9),
            ],
        );
        assert_eq!(buckets[HOURS - 1], vec![1, 2]);
        assert_eq!(buckets[HOURS - 2], vec![3]);
        assert_eq!(buckets.iter().map(Vec::len).sum::<usize>(), 3);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut values: Vec<i64> = (1..=100).rev().collect();
        assert_eq!(percentile(&mut values, 50), Some(50));
        assert_eq!(percentile(&mut values, 99), Some(99));
        assert_eq!(percentile(&mut [7], 99), Some(7));
        assert_eq!(percentile(&mut [], 50), None);
        assert_eq!(percentile(&mut [3, 1, 2], 50), Some(2));
    }

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice_ceiling(0), 1);
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(11), 20);
        assert_eq!(nice_ceiling(18_000), 20_000);
        assert_eq!(nice_ceiling(1_300), 2_000);
    }

    fn chart(values: Vec<Option<i64>>, limit: Option<i64>) -> Chart {
        let hours = hours(30 * HOUR_MS);
        Chart {
            id: "c".into(),
            title: "Changes".into(),
            unit: Unit::Count,
            series: vec![Series {
                label: "Notion → Airtable".into(),
                values,
            }],
            limit: limit.map(|value| Limit {
                label: "budget".into(),
                value,
            }),
            hours,
        }
    }

    #[test]
    fn a_bar_per_measured_hour_with_its_figure() {
        let mut values = vec![None; HOURS];
        values[HOURS - 1] = Some(12);
        values[0] = Some(3);
        let svg = render(&chart(values, None)).into_string();
        assert_eq!(svg.matches("<rect").count(), 2, "{svg}");
        assert!(
            svg.contains("<title>06:00–07:00 · Notion → Airtable: 12</title>"),
            "{svg}"
        );
        // The total is in the legend; the axis tops out at a round 20.
        assert!(svg.contains("(15)"), "{svg}");
        assert!(svg.contains(">20</text>"), "{svg}");
        // Tallest bar: from the top of the plot to the axis is 12/20 of it.
        let plot_h = HEIGHT - TOP - BOTTOM;
        let height = round(plot_h * 12.0 / 20.0);
        assert!(svg.contains(&format!("height=\"{height}\"")), "{svg}");
    }

    #[test]
    fn a_limit_is_a_line_and_sets_the_scale() {
        let mut values = vec![None; HOURS];
        values[3] = Some(10);
        let svg = render(&chart(values, Some(90))).into_string();
        assert!(svg.contains("<line class=\"limit\""), "{svg}");
        assert!(svg.contains(">100</text>"), "{svg}");
    }

    #[test]
    fn durations_read_as_durations() {
        assert_eq!(Unit::Millis.show(1_500), "1 s");
        assert_eq!(Unit::Count.show(1_500), "1500");
    }
}
