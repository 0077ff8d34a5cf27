//! airtable sandbox
