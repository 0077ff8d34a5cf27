//! Random values a person might type, valid for the field on both sides
//! (known options, workspace people's names, real dates), with the edge
//! cases the conversions must keep stable: unicode, surrounding spaces,
//! several lines, text past Notion's 2,000-character rich-text limit,
//! cleared values; bold and italic blockers where Airtable's Blockers is
//! rich text; page content as Markdown, sometimes typed in a form the
//! sides store differently (trailing blank lines, `\r\n`, heading 6).

use notion_airtable_sandbox::team::{PEOPLE, PRIORITIES, QUARTERS, STATUSES};
use rand::{Rng, rngs::StdRng, seq::IndexedRandom};

use super::model::BODY;
use super::sides::Shape;

/// Status values Airtable's single select allows (a person adds the
/// option) and a Notion `status` property does not have.
pub const UNKNOWN_STATUSES: [&str; 2] = ["Blocked", "On Hold"];

/// A random value for `field` (its Notion name); `step` keeps texts unique.
pub fn random_value(rng: &mut StdRng, field: &str, step: usize, shape: Shape) -> String {
    match field {
        "Name" => title(rng, step),
        "Status" => pick(rng, &STATUSES),
        "Priority" => or_empty(rng, 0.1, |r| pick(r, &PRIORITIES)),
        "Target Quarter" => or_empty(rng, 0.1, |r| pick(r, &QUARTERS)),
        "Owner" => owners(rng),
        "Sprint" => or_empty(rng, 0.2, |r| format!("Sprint {}", r.random_range(1..40))),
        "Ship Date" => or_empty(rng, 0.2, |r| {
            format!(
                "2026-{:02}-{:02}",
                r.random_range(1..=12),
                r.random_range(1..=28)
            )
        }),
        "Blockers" if shape.rich_blockers && rng.random_bool(0.5) => formatted(rng, step),
        "Blockers" => blockers(rng, step),
        BODY => body(rng, step),
        other => panic!("no values for {other}"),
    }
}

fn pick(rng: &mut StdRng, options: &[&str]) -> String {
    options.choose(rng).expect("options").to_string()
}

fn or_empty(rng: &mut StdRng, p: f64, value: impl FnOnce(&mut StdRng) -> String) -> String {
    if rng.random_bool(p) {
        String::new()
    } else {
        value(rng)
    }
}

fn title(rng: &mut StdRng, step: usize) -> String {
    match rng.random_range(0..20) {
        0 => String::new(),
        1 => format!("  Padded spec {step}  "),
        2..=4 => format!("Überarbeitung {step} – Straße ✓"),
        5..=6 => format!("🚀 Launch {step}"),
        _ => format!("Spec {step}"),
    }
}

/// Nobody, one person or two (names joined as the engine writes them).
fn owners(rng: &mut StdRng) -> String {
    let count = match rng.random_range(0..10) {
        0 => 0,
        1..=2 => 2,
        _ => 1,
    };
    let names: Vec<&str> = PEOPLE.choose_multiple(rng, count).map(|p| p.name).collect();
    names.join(", ")
}

fn blockers(rng: &mut StdRng, step: usize) -> String {
    match rng.random_range(0..10) {
        0..=1 => String::new(),
        2..=3 => format!("Waiting on legal ({step})\nand on the API team"),
        4 => long_text(rng, step),
        _ => format!("Blocked by ticket {step}"),
    }
}

/// Bold and italic, as the model spells them (see `sides::normal_markdown`).
fn formatted(rng: &mut StdRng, step: usize) -> String {
    match rng.random_range(0..4) {
        0 => format!("Blocked by **legal** ({step})"),
        1 => format!("*Waiting* on design {step}"),
        2 => format!("**Urgent**: *API* review {step}"),
        _ => format!("**Blocked {step}**"),
    }
}

/// Past 2,000 UTF-16 units, with accents and astral-plane emoji so a split
/// in the wrong place would show.
fn long_text(rng: &mut StdRng, step: usize) -> String {
    let len = rng.random_range(2_001..2_400);
    let mut s = format!("Long blocker {step}: ");
    let pieces = ["é", "🚧", "a", " ", "ß"];
    while s.chars().count() < len {
        s.push_str(pieces.choose(rng).expect("pieces"));
    }
    s
}

/// A page's content as a person types it (the model holds its compared
/// form, `sides::body_form`).
fn body(rng: &mut StdRng, step: usize) -> String {
    match rng.random_range(0..12) {
        0..=1 => String::new(),
        2..=3 => format!("Spec {step}"),
        4 => format!(
            "# Design {step}\n\nThe **new** flow, with a [link](https://example.com/{step}).\n\n- cart\n- pay"
        ),
        5 => format!("Überarbeitung {step} – Straße ✓ 🚀\n\n1. erst\n2. dann"),
        // Stored by Notion as a heading 4; compared as one everywhere.
        6 => format!("###### Notes {step}\n\nsmall print"),
        // Fenced code is literal: its heading 6 stays.
        7 => format!("```\n###### literal {step}\n```"),
        // Trailing blank lines are no content.
        8 => format!("Draft {step}\n\n\n"),
        9 => format!("Windows line one {step}\r\nline two"),
        _ => long_body(rng, step),
    }
}

/// A few thousand characters over many paragraphs.
fn long_body(rng: &mut StdRng, step: usize) -> String {
    let paragraphs = rng.random_range(20..60);
    (0..paragraphs)
        .map(|i| {
            format!("## Part {i}\n\nParagraph {i} of spec {step}: é 🚧 ß, *detail* and **weight**.")
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}
