//! The body posted to `ALERT_WEBHOOK_URL`: Slack's incoming-webhook shape
//! (`text`) plus plain fields for any other receiver, with every known
//! secret replaced before it leaves.

use serde_json::{Value, json};

use crate::secret::Secret;

/// A message about one condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    pub condition: &'a str,
    pub kind: &'a str,
    /// `started` or `cleared`.
    pub state: &'a str,
    pub pair: Option<&'a str>,
    pub detail: &'a str,
    /// Epoch ms.
    pub at: i64,
}

/// What replaces a secret found in a message.
pub const REDACTED: &str = "[redacted]";

impl Message<'_> {
    /// The JSON body, with each of `secrets` (and any `user:password@` of a
    /// URL) replaced by [`REDACTED`].
    pub fn body(&self, secrets: &[Secret]) -> String {
        let text = match self.state {
            "started" => format!(":rotating_light: notion-airtable-sync: {}", self.detail),
            _ => format!(
                ":white_check_mark: notion-airtable-sync: resolved ({}): {}",
                self.kind, self.detail
            ),
        };
        let body: Value = json!({
            "text": text,
            "condition": self.condition,
            "kind": self.kind,
            "state": self.state,
            "pair": self.pair,
            "detail": self.detail,
            "at": rfc3339(self.at),
        });
        redact(&body.to_string(), secrets)
    }
}

/// `text` with every secret's value (and its JSON-escaped form) replaced,
/// and the credentials of any URL.
pub fn redact(text: &str, secrets: &[Secret]) -> String {
    let mut out = text.to_owned();
    for secret in secrets {
        let value = secret.expose();
        // Very short values would match ordinary words.
        if value.len() < 6 {
            continue;
        }
        out = out.replace(value, REDACTED);
        let escaped = Value::from(value).to_string();
        out = out.replace(escaped.trim_matches('"'), REDACTED);
    }
    url_credentials(&out)
}

/// `scheme://user:password@` becomes `scheme://[redacted]@`.
fn url_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c == '"' || c.is_whitespace())
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(at) => {
                out.push_str(REDACTED);
                rest = &tail[at..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

fn rfc3339(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_slack_text_plus_plain_fields() {
        let message = Message {
            condition: "schema_drift:specs",
            kind: "schema_drift",
            state: "started",
            pair: Some("specs"),
            detail: "pair specs stopped syncing 1 field",
            at: 1_796_619_600_000,
        };
        let body: Value = serde_json::from_str(&message.body(&[])).unwrap();
        assert!(
            body["text"]
                .as_str()
                .unwrap()
                .contains("pair specs stopped")
        );
        assert_eq!(body["state"], "started");
        assert_eq!(body["pair"], "specs");
        assert_eq!(body["condition"], "schema_drift:specs");
        assert_eq!(body["at"], "2026-12-07T05:00:00Z");
    }

    #[test]
    fn secrets_and_url_passwords_never_leave() {
        let secrets = [
            Secret::new("patSECRET123"),
            Secret::new("a\"quoted\"secret"),
        ];
        let text = "token patSECRET123, a\"quoted\"secret, postgres://sync:pw0rd@db:5432/x";
        let message = Message {
            condition: "c",
            kind: "c",
            state: "started",
            pair: None,
            detail: text,
            at: 0,
        };
        let body = message.body(&secrets);
        for leaked in ["patSECRET123", "quoted", "pw0rd", "//sync:"] {
            assert!(!body.contains(leaked), "{leaked} in {body}");
        }
        assert!(body.contains("postgres://[redacted]@db:5432/x"), "{body}");
        assert_eq!(
            url_credentials("see https://x.test/a@b"),
            "see https://x.test/a@b"
        );
    }
}
