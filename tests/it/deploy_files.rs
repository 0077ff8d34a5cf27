//! The deployment files name what they must (there is no Docker engine on
//! our machines, so they are checked as text and parsed YAML), and the
//! documentation names only variables and commands that exist.
//!
//! The list of environment variables comes from the code (`src/config.rs`,
//! the strings it looks up), so a variable added there and forgotten in
//! `.env.example` or the README fails here.

use std::{collections::BTreeSet, process::Command};

use yaml_rust2::{Yaml, YamlEmitter, YamlLoader};

use crate::common::serve::BIN;

/// Read by the logging setup through `EnvFilter`, not by `config`.
const OTHER_VARIABLES: [&str; 1] = ["RUST_LOG"];
/// Used by docker-compose.yml only (the bundled Postgres).
const COMPOSE_VARIABLES: [&str; 1] = ["POSTGRES_PASSWORD"];

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn is_variable_name(s: &str) -> bool {
    s.len() > 3
        && s.contains('_')
        && s.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The quoted upper-case names `src/config.rs` reads (outside its tests).
fn config_variables() -> BTreeSet<String> {
    let source = read("src/config.rs");
    let code = source.split("#[cfg(test)]").next().unwrap();
    let names: BTreeSet<String> = code
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| is_variable_name(s))
        .map(str::to_owned)
        .collect();
    // A guard against the scan silently finding nothing.
    for known in ["DATABASE_URL", "NOTION_TOKEN", "ADMIN_TOKEN", "LOG_FORMAT"] {
        assert!(
            names.contains(known),
            "{known} not found in src/config.rs: {names:?}"
        );
    }
    names
}

fn every_variable() -> BTreeSet<String> {
    let mut all = config_variables();
    all.extend(OTHER_VARIABLES.map(str::to_owned));
    all
}

fn compose() -> Yaml {
    let mut docs =
        YamlLoader::load_from_str(&read("docker-compose.yml")).expect("docker-compose.yml is YAML");
    assert_eq!(docs.len(), 1, "docker-compose.yml is one YAML document");
    docs.remove(0)
}

/// A scalar as text, a list's items joined by spaces, anything else as YAML.
fn text(v: &Yaml) -> String {
    match v {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(n) => n.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(" "),
        other => {
            let mut out = String::new();
            YamlEmitter::new(&mut out)
                .dump(other)
                .unwrap_or_else(|e| panic!("{other:?} as YAML: {e}"));
            out
        }
    }
}

#[test]
fn compose_runs_postgres_the_service_and_a_reconcile_cron() {
    let compose = compose();
    let services = &compose["services"];
    for name in ["postgres", "sync", "reconcile-cron"] {
        let service = &services[name];
        assert!(service.is_hash(), "service {name} is missing");
        let restart = service["restart"].as_str().unwrap_or_default();
        assert!(
            ["always", "unless-stopped", "on-failure"].contains(&restart),
            "{name} has no restart policy"
        );
    }

    let postgres = &services["postgres"];
    assert!(text(&postgres["image"]).starts_with("postgres:"));
    assert!(text(&postgres["volumes"]).contains("pgdata:/var/lib/postgresql/data"));
    // `pgdata:` alone (null) or with options (a mapping): both declare it.
    assert!(compose["volumes"]["pgdata"].is_null() || compose["volumes"]["pgdata"].is_hash());
    assert!(
        compose["volumes"]
            .as_hash()
            .unwrap()
            .contains_key(&Yaml::String("pgdata".into())),
        "the named volume is declared"
    );
    assert!(text(&postgres["healthcheck"]["test"]).contains("pg_isready"));

    let sync = &services["sync"];
    assert_eq!(text(&sync["build"]), ".");
    assert_eq!(text(&sync["env_file"]), ".env");
    assert_eq!(
        sync["depends_on"]["postgres"]["condition"].as_str(),
        Some("service_healthy")
    );
    let database_url = text(&sync["environment"]["DATABASE_URL"]);
    assert!(
        database_url.starts_with("postgres://") && database_url.contains("@postgres:5432/"),
        "{database_url}"
    );
    assert_eq!(text(&sync["command"]), "serve");
    assert!(text(&sync["healthcheck"]["test"]).contains("http://127.0.0.1:8080/healthz"));
    assert!(text(&sync["volumes"]).contains("./sync.toml:/app/sync.toml"));

    let cron = &services["reconcile-cron"];
    // The admin token, from .env, and no other secret.
    assert_eq!(
        text(&cron["environment"]["ADMIN_TOKEN"]),
        "${ADMIN_TOKEN:?set ADMIN_TOKEN in .env}"
    );
    assert!(cron["env_file"].is_badvalue(), "the cron has no env_file");
    let command = text(&cron["command"]);
    for needle in [
        "sleep 900",
        "-X POST",
        "Authorization: Bearer $${ADMIN_TOKEN}",
        "http://sync:8080/reconcile",
    ] {
        assert!(
            command.contains(needle),
            "cron command lacks `{needle}`: {command}"
        );
    }
    assert_eq!(
        cron["depends_on"]["sync"]["condition"].as_str(),
        Some("service_healthy")
    );
}

#[test]
fn compose_interpolates_only_variables_of_env_example() {
    let compose = read("docker-compose.yml");
    let env = env_example();
    // `${NAME...}` is interpolated by compose from .env; `$${NAME}` is
    // escaped and left to the container's shell.
    for part in compose.split("${").skip(1) {
        let name: String = part
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || *c == '_')
            .collect();
        assert!(
            env.contains(&name),
            "{name} is used by compose but not in .env.example"
        );
    }
}

fn dockerfile_instructions() -> Vec<(String, String)> {
    let text = read("Dockerfile").replace("\\\n", " ");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (op, rest) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            (op.to_ascii_uppercase(), rest.trim().to_owned())
        })
        .collect()
}

#[test]
fn dockerfile_is_multi_stage_slim_non_root_and_health_checked() {
    let steps = dockerfile_instructions();
    let from: Vec<&String> = steps
        .iter()
        .filter(|(op, _)| op == "FROM")
        .map(|(_, a)| a)
        .collect();
    assert!(from.len() >= 2, "multi-stage: {from:?}");
    assert!(from[0].contains(" AS build"), "{}", from[0]);
    let runtime = from.last().unwrap();
    assert!(runtime.contains("slim"), "slim runtime image: {runtime}");
    let last_from = steps.iter().rposition(|(op, _)| op == "FROM").unwrap();
    let runtime_steps = &steps[last_from..];
    let arg = |op: &str| {
        runtime_steps
            .iter()
            .find(|(o, _)| o == op)
            .map(|(_, a)| a.clone())
            .unwrap_or_else(|| panic!("no {op} in the runtime stage"))
    };
    assert!(
        arg("COPY").starts_with("--from=build "),
        "the binary comes from the build stage"
    );
    let user = arg("USER");
    assert!(
        !["root", "0", "0:0"].contains(&user.as_str()),
        "USER {user}"
    );
    let healthcheck = arg("HEALTHCHECK");
    assert!(
        healthcheck.contains("CMD") && healthcheck.contains("http://127.0.0.1:8080/healthz"),
        "{healthcheck}"
    );
    assert!(arg("ENV").contains("LISTEN_ADDR=0.0.0.0:8080"));
    assert_eq!(arg("EXPOSE"), "8080");
    assert_eq!(arg("ENTRYPOINT"), "[\"notion-airtable-sync\"]");
    assert_eq!(arg("CMD"), "[\"serve\"]");
    // curl is what the HEALTHCHECK runs: the slim image must install it.
    assert!(arg("RUN").contains("curl"));
}

/// The build stage compiles the whole workspace's sources: the sandbox crate
/// (`sandbox/`) is part of the binary (`demo`, `sandbox`), so a COPY that
/// leaves a member out, or a `.dockerignore` line that drops one, breaks
/// `docker build` (which no test here can run).
#[test]
fn the_docker_build_copies_every_workspace_member() {
    let manifest: toml::Value = toml::from_str(&read("Cargo.toml")).unwrap();
    let members = manifest["workspace"]["members"].as_array().unwrap();
    let steps = dockerfile_instructions();
    let runtime = steps.iter().rposition(|(op, _)| op == "FROM").unwrap();
    let copied: Vec<&str> = steps[..runtime]
        .iter()
        .filter(|(op, _)| op == "COPY")
        .flat_map(|(_, args)| {
            let words: Vec<&str> = args.split_whitespace().collect();
            words[..words.len() - 1].to_vec()
        })
        .map(|source| source.trim_end_matches('/'))
        .collect();
    let ignored: Vec<String> = read(".dockerignore")
        .lines()
        .map(|l| l.trim().trim_end_matches('/').to_owned())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert!(members.len() >= 2, "{members:?}");
    for member in members {
        let member = member.as_str().unwrap().trim_end_matches('/');
        assert!(
            copied.contains(&".") || copied.contains(&member),
            "the build stage does not copy workspace member {member}: {copied:?}"
        );
        assert!(
            !ignored.iter().any(|pattern| pattern == member),
            ".dockerignore leaves out workspace member {member}"
        );
    }
}

/// The names `.env.example` assigns (uncommented `NAME=` lines).
fn env_example() -> BTreeSet<String> {
    read(".env.example")
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(name, _)| name.trim().to_owned())
        .filter(|name| is_variable_name(name) && !name.starts_with('#'))
        .collect()
}

#[test]
fn env_example_lists_every_variable_and_nothing_else() {
    let listed = env_example();
    let mut expected = every_variable();
    for name in &expected {
        assert!(listed.contains(name), ".env.example lacks {name}");
    }
    expected.extend(COMPOSE_VARIABLES.map(str::to_owned));
    for name in &listed {
        assert!(
            expected.contains(name),
            ".env.example lists {name}, which nothing reads"
        );
    }
}

/// The code of a markdown text: fenced blocks and inline code spans.
fn code_spans(markdown: &str) -> Vec<String> {
    let mut spans = Vec::new();
    for (i, part) in markdown.split("```").enumerate() {
        if i % 2 == 1 {
            spans.push(part.to_owned());
        } else {
            spans.extend(part.split('`').skip(1).step_by(2).map(str::to_owned));
        }
    }
    spans
}

/// Names in the README's code that look like environment variables.
fn readme_variables(readme: &str) -> BTreeSet<String> {
    code_spans(readme)
        .iter()
        .flat_map(|code| {
            code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| is_variable_name(w))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn readme_documents_every_variable_and_only_real_ones() {
    let readme = read("README.md");
    let mentioned = readme_variables(&readme);
    let mut known = every_variable();
    for name in &known {
        assert!(
            readme.contains(&format!("| `{name}`")) || readme.contains(&format!("`{name}`, `")),
            "the README's configuration table lacks {name}"
        );
    }
    known.extend(COMPOSE_VARIABLES.map(str::to_owned));
    // The test script's own switches are real too, and so are the knobs the
    // tests and benchmarks read (`std::env::var("SOAK_SECS")` and the like).
    let test_script = [
        "scripts/test.sh",
        "scripts/bench.sh",
        "scripts/with-postgres.sh",
    ]
    .map(read)
    .join("\n");
    let test_sources = sources_under(&["tests", "benches"]);
    for name in &mentioned {
        let quoted = format!("\"{name}\"");
        assert!(
            known.contains(name)
                || test_script.contains(&format!("{{{name}"))
                || test_sources.iter().any(|source| source.contains(&quoted)),
            "the README mentions `{name}`, which neither the service, the scripts nor a test reads"
        );
    }
}

/// The text of every `.rs` file under `dirs` (recursively).
fn sources_under(dirs: &[&str]) -> Vec<String> {
    let mut pending: Vec<std::path::PathBuf> = dirs.iter().map(Into::into).collect();
    let mut sources = Vec::new();
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                pending.push(entry.unwrap().path());
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            sources.push(std::fs::read_to_string(&path).unwrap());
        }
    }
    sources
}

/// The subcommands `--help` lists.
fn subcommands() -> BTreeSet<String> {
    let output = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout).into_owned();
    let commands = help
        .split("Commands:")
        .nth(1)
        .expect("a Commands section")
        .split("Options:")
        .next()
        .unwrap();
    commands
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn readme_commands_exist() {
    let commands = subcommands();
    for known in ["serve", "check", "log", "demo", "sandbox"] {
        assert!(commands.contains(known), "{commands:?}");
    }
    let readme = read("README.md");
    let mut seen = 0;
    let code = code_spans(&readme).join("\n");
    for part in code.split("notion-airtable-sync ").skip(1) {
        let word: String = part
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '-')
            .collect();
        if word.is_empty() || word.starts_with('-') {
            continue;
        }
        seen += 1;
        assert!(
            commands.contains(&word),
            "the README runs `notion-airtable-sync {word}`, which is not a command"
        );
    }
    assert!(seen >= 5, "the README shows the commands it documents");
    // The test command the README names is the repository's.
    assert!(readme.contains("scripts/test.sh"));
    assert!(std::path::Path::new("scripts/test.sh").exists());
}
