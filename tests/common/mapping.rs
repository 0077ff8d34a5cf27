//! The example mapping (`sync.example.toml`) pointed at the sandboxes'
//! database and base: what every test that runs the binary writes as its
//! `sync.toml`.

use std::path::Path;

/// The shipped example, read from the package root (the tests' working
/// directory).
pub const EXAMPLE: &str = "sync.example.toml";
/// Placeholders in the example that name the team's workspace.
const DATABASE_PLACEHOLDER: &str = "00000000-0000-0000-0000-000000000000";
const BASE_PLACEHOLDER: &str = "appXXXXXXXXXXXXXX";
/// The example's debounce line.
const SHIPPED_DEBOUNCE: &str = "debounce_ms = 2000";

/// The example's text with edits applied; each edit checks that what it
/// replaces is there, so a changed example fails loudly, never silently.
#[derive(Clone, Debug)]
pub struct Mapping(String);

impl Mapping {
    /// The example pointed at a Notion database and an Airtable base.
    pub fn example(notion_database_id: &str, airtable_base_id: &str) -> Mapping {
        let text = std::fs::read_to_string(EXAMPLE)
            .unwrap_or_else(|e| panic!("{EXAMPLE} (run from the package root): {e}"));
        Mapping(text)
            .edit(DATABASE_PLACEHOLDER, notion_database_id)
            .edit(BASE_PLACEHOLDER, airtable_base_id)
    }

    /// Replace every `from` with `to`; `from` must be in the text.
    pub fn edit(self, from: &str, to: &str) -> Mapping {
        assert!(self.0.contains(from), "{EXAMPLE} has no `{from}`");
        Mapping(self.0.replace(from, to))
    }

    /// The pair's `debounce_ms` (the example ships 2000).
    pub fn debounce_ms(self, ms: u64) -> Mapping {
        self.edit(SHIPPED_DEBOUNCE, &format!("debounce_ms = {ms}"))
    }

    pub fn text(&self) -> &str {
        &self.0
    }

    /// Write it as `dir/sync.toml`, where the binary looks by default.
    pub fn write_to(&self, dir: &Path) {
        let path = dir.join("sync.toml");
        std::fs::write(&path, &self.0).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}
