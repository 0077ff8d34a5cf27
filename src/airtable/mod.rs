//! airtable
