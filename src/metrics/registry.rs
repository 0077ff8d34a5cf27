//! A small Prometheus registry: counter and histogram families keyed by
//! label values, and the text exposition format (version 0.0.4) they and the
//! scrape-time gauges render to.
//!
//! Families are `static` (every constructor is `const`), so instrumenting a
//! call site is one function call and needs no handle passed around.

use std::{collections::BTreeMap, fmt::Write as _, sync::Mutex};

/// The `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A counter per combination of label values.
pub struct CounterVec {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    values: Mutex<BTreeMap<Vec<String>, u64>>,
}

impl CounterVec {
    pub const fn new(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Self {
        Self {
            name,
            help,
            labels,
            values: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn inc(&self, values: &[&str]) {
        self.add(values, 1);
    }

    /// Add `by`; `add(values, 0)` makes the series exist (at 0) so that an
    /// alert on it has something to compare from the first scrape.
    pub fn add(&self, values: &[&str], by: u64) {
        debug_assert_eq!(values.len(), self.labels.len(), "{}", self.name);
        let mut map = lock(&self.values);
        let value = map.entry(owned(values)).or_insert(0);
        *value = value.saturating_add(by);
    }

    pub fn render(&self, out: &mut String) {
        header(out, self.name, self.help, "counter");
        for (values, count) in lock(&self.values).iter() {
            sample(
                out,
                self.name,
                self.labels,
                values,
                None,
                &count.to_string(),
            );
        }
    }
}

/// A histogram per combination of label values, with fixed bucket bounds.
pub struct HistogramVec {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    /// Upper bounds, ascending; `+Inf` is implicit.
    bounds: &'static [f64],
    series: Mutex<BTreeMap<Vec<String>, Series>>,
}

/// One histogram: per-bucket (not yet cumulative) counts, sum and count.
#[derive(Debug, Clone, Default)]
struct Series {
    buckets: Vec<u64>,
    sum: f64,
    count: u64,
}

impl HistogramVec {
    pub const fn new(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
        bounds: &'static [f64],
    ) -> Self {
        Self {
            name,
            help,
            labels,
            bounds,
            series: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn observe(&self, values: &[&str], value: f64) {
        debug_assert_eq!(values.len(), self.labels.len(), "{}", self.name);
        let mut map = lock(&self.series);
        let series = map.entry(owned(values)).or_insert_with(|| Series {
            buckets: vec![0; self.bounds.len()],
            ..Series::default()
        });
        // An observation above every bound is only in `+Inf` (= count).
        if let Some(i) = self.bounds.iter().position(|le| value <= *le) {
            series.buckets[i] += 1;
        }
        series.sum += value;
        series.count += 1;
    }

    pub fn render(&self, out: &mut String) {
        header(out, self.name, self.help, "histogram");
        let bucket = format!("{}_bucket", self.name);
        let mut with_le: Vec<&str> = self.labels.to_vec();
        with_le.push("le");
        for (values, series) in lock(&self.series).iter() {
            let mut cumulative = 0;
            for (le, n) in self.bounds.iter().zip(&series.buckets) {
                cumulative += n;
                let le = number(*le);
                sample(
                    out,
                    &bucket,
                    &with_le,
                    values,
                    Some(&le),
                    &cumulative.to_string(),
                );
            }
            let count = series.count.to_string();
            sample(out, &bucket, &with_le, values, Some("+Inf"), &count);
            let sum = number(series.sum);
            sample(
                out,
                &format!("{}_sum", self.name),
                self.labels,
                values,
                None,
                &sum,
            );
            sample(
                out,
                &format!("{}_count", self.name),
                self.labels,
                values,
                None,
                &count,
            );
        }
    }
}

/// A gauge family whose values are read at scrape time.
pub fn render_gauge(
    out: &mut String,
    name: &str,
    help: &str,
    labels: &[&str],
    series: &[(Vec<String>, f64)],
) {
    header(out, name, help, "gauge");
    for (values, value) in series {
        sample(out, name, labels, values, None, &number(*value));
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// `name{label="value",...} value`; `extra` is the value of the last label
/// name when `names` has one more than `values` (a histogram's `le`).
fn sample(
    out: &mut String,
    name: &str,
    names: &[&str],
    values: &[String],
    extra: Option<&str>,
    value: &str,
) {
    out.push_str(name);
    let values = values.iter().map(String::as_str).chain(extra);
    let pairs: Vec<String> = names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}=\"{}\"", escape_label(v)))
        .collect();
    if !pairs.is_empty() {
        let _ = write!(out, "{{{}}}", pairs.join(","));
    }
    let _ = writeln!(out, " {value}");
}

/// Label values escape `\`, `"` and newlines.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A sample value as Prometheus parses it (Rust never writes an exponent).
pub fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        value.to_string()
    }
}

fn owned(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves at worst one uncounted event.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_with_sum_and_count() {
        static H: HistogramVec = HistogramVec::new("t_seconds", "Test.", &["kind"], &[0.1, 1.0]);
        for v in [0.05, 0.5, 0.5, 7.0] {
            H.observe(&["a"], v);
        }
        let mut out = String::new();
        H.render(&mut out);
        assert_eq!(
            out,
            "# HELP t_seconds Test.\n# TYPE t_seconds histogram\n\
             t_seconds_bucket{kind=\"a\",le=\"0.1\"} 1\n\
             t_seconds_bucket{kind=\"a\",le=\"1\"} 3\n\
             t_seconds_bucket{kind=\"a\",le=\"+Inf\"} 4\n\
             t_seconds_sum{kind=\"a\"} 8.05\n\
             t_seconds_count{kind=\"a\"} 4\n"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        static C: CounterVec = CounterVec::new("t_total", "Test.", &["v"]);
        C.inc(&["a\"b\\c\nd"]);
        let mut out = String::new();
        C.render(&mut out);
        assert!(out.ends_with("t_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"), "{out}");
    }
}
