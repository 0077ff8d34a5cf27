//! Files ↔ attachments in the model: Notion's `files` property Mockup and
//! Airtable's `multipleAttachments` field Mockup, one more two-way field
//! (conflict rule "notion"). A file's identity is its name and its size;
//! the test names every file it makes `mock-<n>-<size>.png`, so the model
//! holds a value as the set of names, and a size that does not match the
//! name shows up as a different value (Airtable's sizes at every check,
//! the bytes Notion serves at the end: [`Run::check_file_bytes`]).
//!
//! People attach new files and remove files on either side (a Notion
//! person passes the files the page keeps back as read, an Airtable person
//! keeps attachments by id); a file removed and attached again is new bytes
//! of the same identity.

use rand::Rng;
use serde_json::{Value, json};

use super::model::{MOCKUP, members, set_of};
use super::run::Run;

/// The size a file name says (`mock-<n>-<size>.png`).
pub fn size_of(name: &str) -> Option<u64> {
    name.strip_suffix(".png")?.rsplit('-').next()?.parse().ok()
}

/// The bytes of a file of this name (any content of the named size).
fn bytes_of(name: &str) -> Vec<u8> {
    let size = size_of(name).expect("a test file name");
    (0..size).map(|i| (i % 251) as u8).collect()
}

/// A page's files, by name.
pub fn notion_files(props: &Value) -> String {
    let files = props[MOCKUP]["files"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    set_of(
        files
            .iter()
            .map(|f| f["name"].as_str().unwrap_or("?").to_owned()),
    )
}

/// A row's attachments, by name; one whose size is not its name's shows
/// as `name!size`.
pub fn airtable_files(cell: &Value) -> String {
    let files = cell.as_array().cloned().unwrap_or_default();
    set_of(files.iter().map(|a| {
        let name = a["filename"].as_str().unwrap_or("?");
        let size = a["size"].as_u64();
        if size == size_of(name) {
            name.to_owned()
        } else {
            format!("{name}!{size:?}")
        }
    }))
}

impl Run {
    /// What a person leaves attached on one side: each file kept or not,
    /// sometimes a new one.
    pub fn files_value(&mut self, current: &str) -> String {
        let mut names: Vec<String> = members(current)
            .into_iter()
            .filter(|_| self.rng.random_bool(0.7))
            .collect();
        if names.is_empty() || self.rng.random_bool(0.5) {
            let (n, size) = (
                self.rng.random::<u32>(),
                self.rng.random_range(100..4_000u64),
            );
            names.push(format!("mock-{n}-{size}.png"));
        }
        if self.rng.random_bool(0.1) {
            names.clear();
        }
        set_of(names)
    }

    /// A person's write of the page's files: those it has passed back as
    /// read, the others uploaded first.
    pub fn notion_files_body(&self, page_id: &str, v: &str) -> Value {
        let page = self.w.page(page_id);
        let have = page["properties"][MOCKUP]["files"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let files: Vec<Value> = members(v)
            .iter()
            .map(
                |name| match have.iter().find(|f| f["name"] == name.as_str()) {
                    Some(f) => f.clone(),
                    None => {
                        let id =
                            self.w
                                .notion
                                .upload_file_as_person(name, "image/png", bytes_of(name));
                        json!({ "name": name, "type": "file_upload", "file_upload": { "id": id } })
                    }
                },
            )
            .collect();
        json!({ MOCKUP: { "files": files } })
    }

    /// A person's write of a row's attachments: those it has kept by id,
    /// the others uploaded first.
    pub fn airtable_files_cell(&self, row: Option<&Value>, v: &str) -> Value {
        let have = row
            .map(|r| r["fields"][MOCKUP].clone())
            .and_then(|c| c.as_array().cloned())
            .unwrap_or_default();
        let cell: Vec<Value> = members(v)
            .iter()
            .map(
                |name| match have.iter().find(|a| a["filename"] == name.as_str()) {
                    Some(a) => json!({ "id": a["id"] }),
                    None => {
                        let id = self.w.airtable.upload_attachment_as_person(
                            name,
                            "image/png",
                            bytes_of(name),
                        );
                        json!({ "id": id })
                    }
                },
            )
            .collect();
        json!({ MOCKUP: cell })
    }

    /// The row a person edits, as Airtable shows it now.
    pub fn row_of(&self, row_id: &str) -> Option<Value> {
        let (base, table) = self.base_table();
        self.w.airtable.record(&base, &table, row_id)
    }

    /// After the final sweep: every file Notion holds serves the bytes its
    /// name says (Airtable's sizes are checked with every read).
    pub async fn check_file_bytes(&self) {
        for r in self.recs.iter().filter(|r| !r.trashed) {
            let page = self.w.page(&r.page_id);
            let files = page["properties"][MOCKUP]["files"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for f in files {
                let name = f["name"].as_str().unwrap_or_default();
                let url = f["file"]["url"].as_str().unwrap_or_default();
                let got = reqwest::get(url).await.unwrap().bytes().await.unwrap();
                if Some(got.len() as u64) != size_of(name) {
                    self.fail(&format!(
                        "{} holds {name} with {} bytes",
                        r.page_id,
                        got.len()
                    ));
                }
            }
        }
    }
}
