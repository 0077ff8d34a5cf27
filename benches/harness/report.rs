//! The printed table: one row per figure, next to its target and bound.
//! Rows are also echoed to stderr as they are measured, so a long run that
//! is interrupted still shows what it got.

use std::fmt::Write as _;

/// Whether a measured figure met its target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Met,
    Missed,
    /// No pass/fail target: the figure is reported.
    Reported,
    /// Not measured in this run (the reason is in the `measured` column).
    Skipped,
}

impl Verdict {
    pub fn of(met: bool) -> Self {
        if met { Self::Met } else { Self::Missed }
    }

    fn label(&self) -> &'static str {
        match self {
            Self::Met => "yes",
            Self::Missed => "**no**",
            Self::Reported => "n/a",
            Self::Skipped => "skipped",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Row {
    pub figure: String,
    pub setting: String,
    pub measured: String,
    pub target: String,
    pub bound: String,
    pub verdict: Verdict,
    /// The raw numbers behind `measured` (seconds, milliseconds, counts),
    /// written to the JSON report.
    pub raw: serde_json::Map<String, serde_json::Value>,
}

impl Row {
    pub fn new(figure: &str, setting: impl Into<String>) -> Self {
        Self {
            figure: figure.to_owned(),
            setting: setting.into(),
            measured: String::new(),
            target: String::new(),
            bound: "-".to_owned(),
            verdict: Verdict::Reported,
            raw: serde_json::Map::new(),
        }
    }

    /// A raw number (or any value) for the JSON report.
    pub fn raw(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.raw.insert(key.to_owned(), value.into());
        self
    }

    pub fn measured(mut self, measured: impl Into<String>) -> Self {
        self.measured = measured.into();
        self
    }

    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = target.into();
        self
    }

    pub fn bound(mut self, bound: impl Into<String>) -> Self {
        self.bound = bound.into();
        self
    }

    pub fn verdict(mut self, verdict: Verdict) -> Self {
        self.verdict = verdict;
        self
    }

    /// A figure that could not be measured: why, in the measured column.
    pub fn skipped(figure: &str, setting: impl Into<String>, why: impl Into<String>) -> Self {
        Self::new(figure, setting)
            .measured(format!("skipped: {}", why.into()))
            .verdict(Verdict::Skipped)
    }
}

/// Every row and note of one run.
#[derive(Default)]
pub struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
    comparison: Vec<String>,
}

impl Report {
    pub fn push(&mut self, row: Row) {
        eprintln!(
            "bench: {} | {} | {} | target {} | {}",
            row.figure,
            row.setting,
            row.measured,
            row.target,
            row.verdict.label()
        );
        self.rows.push(row);
    }

    pub fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        eprintln!("bench: note: {note}");
        self.notes.push(note);
    }

    /// Lines of the side-by-side comparison (already a markdown table).
    pub fn comparison(&mut self, lines: Vec<String>) {
        self.comparison = lines;
    }

    /// Take in what a group run beside the others reported.
    pub fn absorb(&mut self, other: Report) {
        self.rows.extend(other.rows);
        self.notes.extend(other.notes);
        if !other.comparison.is_empty() {
            self.comparison = other.comparison;
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("| figure | setting | measured | target | bound | met? |\n");
        out.push_str("|---|---|---|---|---|---|\n");
        for r in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                cell(&r.figure),
                cell(&r.setting),
                cell(&r.measured),
                cell(&r.target),
                cell(&r.bound),
                r.verdict.label()
            );
        }
        if !self.comparison.is_empty() {
            out.push('\n');
            for line in &self.comparison {
                out.push_str(line);
                out.push('\n');
            }
        }
        if !self.notes.is_empty() {
            out.push_str("\nNotes:\n");
            for n in &self.notes {
                let _ = writeln!(out, "- {n}");
            }
        }
        out
    }

    /// The whole run as JSON: every row with its raw numbers, and the notes.
    pub fn to_json(&self) -> serde_json::Value {
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "figure": r.figure,
                    "setting": r.setting,
                    "measured": r.measured,
                    "target": r.target,
                    "bound": r.bound,
                    "verdict": format!("{:?}", r.verdict).to_lowercase(),
                    "raw": r.raw,
                })
            })
            .collect();
        serde_json::json!({ "rows": rows, "notes": self.notes })
    }

    pub fn missed(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.verdict == Verdict::Missed)
            .count()
    }
}

/// A table cell: pipes would split the cell, newlines the row.
fn cell(s: &str) -> String {
    s.replace('|', "/").replace('\n', " ")
}

/// Milliseconds with one decimal.
pub fn ms(d: std::time::Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Seconds with one decimal.
pub fn secs(d: std::time::Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}
