//! The layers of `src/` (ARCHITECTURE.md, "The spine"): every import points
//! down, no folder imports another in a loop, and `sync/` stays pure.
//!
//! Imports are read from the source text: every `crate::name` path and the
//! first segment of each entry of a `use crate::{...}` tree, comments and
//! string literals removed first. A new top-level module must be given a
//! place in [`ALLOWED`] before it compiles into the test's expectations.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

/// Each top-level module of `src/` and what it may import. `app` is the
/// composition root and may import everything.
const ALLOWED: &[(&str, &[&str])] = &[
    ("app", &["*"]),
    ("alerts", &["store", "config", "secret"]),
    (
        "http",
        &[
            "jobs",
            "sync",
            "store",
            "config",
            "metrics",
            "secret",
            "signature",
            "telemetry",
        ],
    ),
    (
        "worker",
        &[
            "engine",
            "queue",
            "jobs",
            "sync",
            "notion",
            "airtable",
            "clients",
            "store",
            "config",
            "metrics",
            "secret",
            "telemetry",
        ],
    ),
    (
        "queue",
        &["clients", "store", "config", "metrics", "telemetry"],
    ),
    (
        "engine",
        &[
            "jobs",
            "sync",
            "notion",
            "airtable",
            "clients",
            "store",
            "config",
            "metrics",
            "secret",
            "telemetry",
        ],
    ),
    ("jobs", &["store", "telemetry"]),
    ("sync", &["notion", "airtable", "store", "config", "secret"]),
    ("notion", &["clients", "store", "metrics", "secret"]),
    ("airtable", &["clients", "store", "metrics", "secret"]),
    ("clients", &["store", "metrics", "secret"]),
    ("store", &["secret"]),
    ("config", &["secret"]),
    ("telemetry", &["config"]),
    ("metrics", &[]),
    ("secret", &[]),
    ("signature", &[]),
];

/// Words that mean I/O; none may appear in the pure core.
const IO_WORDS: &[&str] = &[
    "async fn",
    ".await",
    "tokio::",
    "reqwest::",
    "sqlx::",
    "std::fs",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`None` for `lib.rs`/`main.rs`).
fn module_of(file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src()).expect("under src/");
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_owned())
}

/// The text without comments, string and char literals, so that a path
/// named in a doc comment or a message is not an import.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            // The char literal '"' opens no string.
            '\'' if chars.peek() == Some(&'"') => {
                out.push(c);
                out.push(chars.next().unwrap_or_default());
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        break;
                    }
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

/// Every top-level module `code` reaches through `crate::`.
fn imports(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(tree) = rest.strip_prefix('{') {
            found.extend(tree_heads(tree));
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.insert(name);
        }
    }
    found
}

/// The first segment of each entry of a `{...}` use tree.
fn tree_heads(tree: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let (mut depth, mut entry) = (0usize, String::new());
    for c in tree.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                heads.push(std::mem::take(&mut entry));
                continue;
            }
            _ => {}
        }
        entry.push(c);
    }
    heads.push(entry);
    heads
        .iter()
        .filter_map(|e| e.trim().split("::").next().map(str::trim))
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect()
}

/// module -> (imported module -> files that import it)
fn graph() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut graph: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&file) else {
            continue;
        };
        let code = code_only(&fs::read_to_string(&file).expect("read a source file"));
        let shown = file.strip_prefix(src()).unwrap().display().to_string();
        let entry = graph.entry(module.clone()).or_default();
        for target in imports(&code) {
            if target != module {
                entry.entry(target).or_default().insert(shown.clone());
            }
        }
    }
    graph
}

fn allowed(module: &str) -> Option<&'static [&'static str]> {
    ALLOWED
        .iter()
        .find(|(name, _)| *name == module)
        .map(|(_, may)| *may)
}

#[test]
fn every_import_points_down_the_spine() {
    let mut wrong = Vec::new();
    for (module, targets) in graph() {
        let Some(may) = allowed(&module) else {
            wrong.push(format!(
                "src/{module} has no place in the layers: add it to ALLOWED and ARCHITECTURE.md"
            ));
            continue;
        };
        for (target, files) in targets {
            if !may.contains(&"*") && !may.contains(&target.as_str()) {
                let files: Vec<_> = files.into_iter().collect();
                wrong.push(format!("{module} -> {target} ({})", files.join(", ")));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_allowed_imports_themselves_form_no_loop() {
    // A depth-first walk over ALLOWED (app's "*" aside: nothing may import
    // app): a loop there would let two modules import each other.
    fn visit<'a>(m: &'a str, path: &mut Vec<&'a str>, done: &mut BTreeSet<&'a str>) {
        if done.contains(m) {
            return;
        }
        assert!(!path.contains(&m), "a loop in ALLOWED: {path:?} -> {m}");
        path.push(m);
        for next in allowed(m).unwrap_or(&[]) {
            if *next != "*" {
                visit(next, path, done);
            }
        }
        path.pop();
        done.insert(m);
    }
    let mut done = BTreeSet::new();
    for (module, _) in ALLOWED {
        visit(module, &mut Vec::new(), &mut done);
    }
    for (module, may) in ALLOWED {
        assert!(
            !may.contains(&"app") && (*module == "app" || !may.contains(&"*")),
            "only app may import everything, and nothing imports app"
        );
    }
}

#[test]
fn the_sync_core_does_no_io() {
    let mut files = Vec::new();
    rust_files(&src().join("sync"), &mut files);
    assert!(!files.is_empty(), "src/sync has files");
    let mut found = Vec::new();
    for file in files {
        let code = code_only(&fs::read_to_string(&file).expect("read a source file"));
        for word in IO_WORDS {
            if code.contains(word) {
                found.push(format!("{}: {word}", file.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "I/O in the pure core:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_reader_sees_imports_in_every_form() {
    let code = code_only(
        "use crate::{store::{Store, now_ms}, sync::pair};\n\
         // crate::app in a comment\n\
         let m = \"crate::http in a string\";\n\
         let e = crate::engine::Engine::new(a, b, c);\n\
         use crate::clients::api_error::ApiError;",
    );
    let found: Vec<_> = imports(&code).into_iter().collect();
    assert_eq!(found, ["clients", "engine", "store", "sync"]);
}
