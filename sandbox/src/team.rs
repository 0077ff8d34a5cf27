//! The team's data set from the design brief: the "Product Specs" Notion
//! database and the "Delivery Tracker" Airtable table, and 47 specs spread
//! over three quarters with every status and priority represented.
//!
//! Deterministic: the same specs every run, so tests, the demo and the
//! benchmarks all see the same workspace.

/// Name of the Notion database.
pub const NOTION_DATABASE_TITLE: &str = "Product Specs";
/// Name of the Airtable base and table.
pub const AIRTABLE_BASE_NAME: &str = "Delivery";
pub const AIRTABLE_TABLE_NAME: &str = "Delivery Tracker";

pub const STATUSES: [&str; 5] = ["Draft", "Ready", "In Progress", "In Review", "Shipped"];
/// The groups of Notion's `status` type, holding the team's statuses when the
/// Status column is a `status` property ([`NotionStatus::Status`]).
pub const STATUS_GROUPS: [(&str, &[&str]); 3] = [
    ("To-do", &["Draft", "Ready"]),
    ("In progress", &["In Progress", "In Review"]),
    ("Complete", &["Shipped"]),
];

/// The type of the Notion database's "Status" column. Real workspaces mostly
/// use Notion's `status` type, whose options the API cannot create; the
/// default stays `select`, which the API extends on write.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum NotionStatus {
    #[default]
    Select,
    Status,
}

/// How the team's workspace is seeded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TeamOptions {
    pub status: NotionStatus,
}
pub const PRIORITIES: [&str; 4] = ["P0", "P1", "P2", "P3"];
pub const QUARTERS: [&str; 3] = ["2026-Q3", "2026-Q4", "2027-Q1"];

/// A workspace member (Notion person user; Airtable collaborator name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: &'static str,
    pub email: &'static str,
}

pub const PEOPLE: [Person; 6] = [
    Person {
        name: "Maya Chen",
        email: "maya@example.com",
    },
    Person {
        name: "Jonas Berg",
        email: "jonas@example.com",
    },
    Person {
        name: "Priya Raman",
        email: "priya@example.com",
    },
    Person {
        name: "Tom Okafor",
        email: "tom@example.com",
    },
    Person {
        name: "Lea Martin",
        email: "lea@example.com",
    },
    Person {
        name: "Sam Rivera",
        email: "sam@example.com",
    },
];

/// One spec as written in Notion at seed time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub title: String,
    pub status: &'static str,
    pub priority: &'static str,
    /// Index into [`PEOPLE`].
    pub owner: usize,
    pub quarter: &'static str,
}

const AREAS: [&str; 16] = [
    "Onboarding",
    "Billing",
    "Search",
    "Notifications",
    "Permissions",
    "Reporting",
    "Mobile",
    "Integrations",
    "Audit Log",
    "Export",
    "Comments",
    "Dashboards",
    "SSO",
    "Templates",
    "Offline Mode",
    "API Keys",
];
const KINDS: [&str; 3] = ["revamp", "v2", "quick wins"];

/// The 47 specs, deterministic.
pub fn specs() -> Vec<Spec> {
    (0..47)
        .map(|i| Spec {
            title: format!("{} {}", AREAS[i % AREAS.len()], KINDS[i / AREAS.len()]),
            status: STATUSES[i % STATUSES.len()],
            priority: PRIORITIES[(i / 2) % PRIORITIES.len()],
            owner: i % PEOPLE.len(),
            quarter: QUARTERS[i % QUARTERS.len()],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn forty_seven_unique_specs_cover_every_option() {
        let specs = specs();
        assert_eq!(specs.len(), 47);
        let titles: HashSet<_> = specs.iter().map(|s| s.title.clone()).collect();
        assert_eq!(titles.len(), 47);
        for s in STATUSES {
            assert!(specs.iter().any(|x| x.status == s));
        }
        for p in PRIORITIES {
            assert!(specs.iter().any(|x| x.priority == p));
        }
        for q in QUARTERS {
            assert!(specs.iter().any(|x| x.quarter == q));
        }
    }
}
