//! A rollup's value on one page: the rollup property of each related page (see
//! `computed.rs` for the documented shapes and the functions modelled).

use serde_json::{Value, json};

use super::computed::{Rollup, as_val, element, related_pages};
use super::formula::Val;
use super::state::{Page, World};

/// `{"type": "number"|"date"|"array", <type>: …, "function": …}`.
pub fn value(world: &World, r: &Rollup, page: &Page) -> Value {
    let related = related_pages(world, page, &r.relation_id);
    let elements: Vec<Value> = related
        .iter()
        .filter_map(|p| {
            let ds = world.data_source(p.data_source_id).ok()?;
            let def = ds.properties.iter().find(|d| d.id == r.rollup_id)?;
            Some(element(world, def, p))
        })
        .collect();
    let mut out = compute(&r.function, &elements, related.len());
    out["function"] = json!(r.function);
    out
}

fn is_empty(element: &Value) -> bool {
    match as_val(element) {
        Val::Empty => true,
        Val::Str(s) => s.is_empty(),
        Val::Bool(b) => !b && element["type"] != "checkbox",
        _ => false,
    }
}

fn number(n: Option<f64>) -> Value {
    json!({"type": "number", "number": n.map(super::formula::js_number)})
}

fn fraction(part: usize, all: usize) -> Value {
    number(Some(if all == 0 {
        0.0
    } else {
        part as f64 / all as f64
    }))
}

fn compute(function: &str, elements: &[Value], pages: usize) -> Value {
    let numbers: Vec<f64> = elements
        .iter()
        .filter_map(|e| match as_val(e) {
            Val::Num(n) => Some(n),
            _ => None,
        })
        .collect();
    let filled = elements.iter().filter(|e| !is_empty(e)).count();
    let checked = elements
        .iter()
        .filter(|e| as_val(e) == Val::Bool(true))
        .count();
    let mut unique: Vec<&Value> = Vec::new();
    for e in elements.iter().filter(|e| !is_empty(e)) {
        if !unique.iter().any(|u| as_val(u) == as_val(e)) {
            unique.push(e);
        }
    }
    let extreme = |pick: fn(f64, f64) -> f64| number(numbers.iter().copied().reduce(pick));
    match function {
        "count" => number(Some(pages as f64)),
        "count_values" => number(Some(filled as f64)),
        "empty" => number(Some((elements.len() - filled) as f64)),
        "not_empty" => number(Some(filled as f64)),
        "unique" => number(Some(unique.len() as f64)),
        "percent_empty" => fraction(elements.len() - filled, elements.len()),
        "percent_not_empty" => fraction(filled, elements.len()),
        "sum" => number(Some(numbers.iter().sum())),
        "average" => number(
            (!numbers.is_empty()).then(|| numbers.iter().sum::<f64>() / numbers.len() as f64),
        ),
        "median" => number(median(&numbers)),
        "min" => extreme(f64::min),
        "max" => extreme(f64::max),
        "range" => number(
            numbers
                .iter()
                .copied()
                .reduce(f64::max)
                .zip(numbers.iter().copied().reduce(f64::min))
                .map(|(hi, lo)| hi - lo),
        ),
        "checked" => number(Some(checked as f64)),
        "unchecked" => number(Some((elements.len() - checked) as f64)),
        "percent_checked" => fraction(checked, elements.len()),
        "percent_unchecked" => fraction(elements.len() - checked, elements.len()),
        "earliest_date" | "latest_date" => date(function == "latest_date", elements),
        "show_unique" => json!({"type": "array", "array": unique}),
        _ => json!({"type": "array", "array": elements}),
    }
}

fn median(numbers: &[f64]) -> Option<f64> {
    let mut sorted = numbers.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// The earliest or latest start among the related dates (compared as instants when they
/// parse, else as text).
fn date(latest: bool, elements: &[Value]) -> Value {
    let key = |d: &Value| {
        let s = d["start"].as_str().unwrap_or_default().to_string();
        let parsed =
            time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339)
                .map(|t| t.unix_timestamp_nanos())
                .ok();
        (parsed, s)
    };
    let dates = elements.iter().filter_map(|e| match as_val(e) {
        Val::Date(d) => Some(d),
        _ => None,
    });
    let pick = if latest {
        dates.max_by_key(key)
    } else {
        dates.min_by_key(key)
    };
    let picked = pick.map(|d| json!({"start": d["start"], "end": null, "time_zone": null}));
    json!({"type": "date", "date": picked})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(x: f64) -> Value {
        json!({"type": "number", "number": x})
    }

    #[test]
    fn functions_aggregate_the_related_values() {
        let e = [n(2.0), json!({"type": "number", "number": null}), n(5.0)];
        assert_eq!(compute("count", &e, 3)["number"], 3);
        assert_eq!(compute("count_values", &e, 3)["number"], 2);
        assert_eq!(compute("sum", &e, 3)["number"], 7);
        assert_eq!(compute("median", &e, 3)["number"], 3.5);
        assert_eq!(compute("range", &e, 3)["number"], 3);
        assert_eq!(compute("average", &[], 0)["number"], Value::Null);
        assert_eq!(
            compute("show_original", &e, 3)["array"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        let d = |s: &str| json!({"type": "date", "date": {"start": s, "end": null}});
        let dates = [d("2026-03-01"), d("2026-01-05")];
        assert_eq!(
            compute("earliest_date", &dates, 2)["date"]["start"],
            "2026-01-05"
        );
        assert_eq!(
            compute("latest_date", &dates, 2)["date"]["start"],
            "2026-03-01"
        );
    }
}
