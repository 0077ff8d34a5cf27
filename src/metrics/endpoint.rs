//! An API request's path as a route template (`/v1/pages/{page_id}`), the
//! `endpoint` label of the API call counter.
//!
//! Only path segments on a fixed list of the APIs' own words are kept;
//! every other segment becomes a placeholder. So no id, base, table name or
//! anything else a caller put in a URL can reach the metrics, and the label
//! has a bounded number of values. The placeholders are named as in the
//! vendors' documentation (and the sandbox's route table).

use super::labels::Vendor;

/// Words of the Notion (`/v1`) and Airtable (`/v0`) paths the service calls.
const LITERALS: &[&str] = &[
    // Notion
    "v1",
    "pages",
    "databases",
    "data_sources",
    "users",
    "me",
    "blocks",
    "children",
    "query",
    "properties",
    "search",
    "comments",
    // Airtable
    "v0",
    "bases",
    "webhooks",
    "payloads",
    "refresh",
    "enableNotifications",
    "meta",
    "whoami",
    "tables",
    "fields",
    "listRecords",
];

/// The template of `path` (no query string) as called on `vendor`'s API.
pub fn template(vendor: Vendor, path: &str) -> String {
    let mut out = String::new();
    let mut previous: &str = "";
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        let part = if LITERALS.contains(&segment) {
            segment
        } else {
            placeholder(vendor, previous)
        };
        out.push('/');
        out.push_str(part);
        previous = part;
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// The name of an id segment, from the segment before it.
fn placeholder(vendor: Vendor, previous: &str) -> &'static str {
    match (vendor, previous) {
        (Vendor::Notion, "pages") => "{page_id}",
        (Vendor::Notion, "databases") => "{database_id}",
        (Vendor::Notion, "data_sources") => "{data_source_id}",
        (Vendor::Notion, "users") => "{user_id}",
        (Vendor::Notion, "blocks") => "{block_id}",
        (Vendor::Notion, "properties") => "{property_id}",
        (Vendor::Notion, "comments") => "{comment_id}",
        // Records live at `/v0/{base}/{table}/{record}`.
        (Vendor::Airtable, "v0" | "bases") => "{base}",
        (Vendor::Airtable, "{base}") => "{table}",
        (Vendor::Airtable, "{table}") => "{record}",
        _ => "{id}",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notion_ids_become_placeholders() {
        let page = "/v1/pages/1edc05f6-2702-81b5-8408-00279347f034";
        assert_eq!(template(Vendor::Notion, page), "/v1/pages/{page_id}");
        assert_eq!(
            template(Vendor::Notion, "/v1/data_sources/98024f3c/query"),
            "/v1/data_sources/{data_source_id}/query"
        );
        assert_eq!(template(Vendor::Notion, "/v1/users/me"), "/v1/users/me");
        assert_eq!(
            template(Vendor::Notion, "/v1/pages/p1/properties/title"),
            "/v1/pages/{page_id}/properties/{property_id}"
        );
    }

    #[test]
    fn airtable_bases_tables_and_records_become_placeholders() {
        let cases = [
            ("/v0/appA/Specs%20%2F%202025", "/v0/{base}/{table}"),
            ("/v0/appA/tblB/recC", "/v0/{base}/{table}/{record}"),
            (
                "/v0/appA/tblB/listRecords",
                "/v0/{base}/{table}/listRecords",
            ),
            (
                "/v0/bases/appA/webhooks/achB/payloads",
                "/v0/bases/{base}/webhooks/{id}/payloads",
            ),
            ("/v0/meta/bases/appA/tables", "/v0/meta/bases/{base}/tables"),
            ("/v0/meta/whoami", "/v0/meta/whoami"),
        ];
        for (path, want) in cases {
            assert_eq!(template(Vendor::Airtable, path), want, "{path}");
        }
    }

    #[test]
    fn a_path_prefix_of_a_proxy_is_not_kept_either() {
        assert_eq!(
            template(Vendor::Notion, "/secret-proxy/v1/pages/p"),
            "/{id}/v1/pages/{page_id}"
        );
    }
}
