//! A pair's live schemas read from both APIs, then resolved by the pure
//! [`crate::sync::pair::resolve`].

use crate::{
    airtable::{AirtableClient, TableSchema},
    clients::api_error::ApiError,
    config::PairConfig,
    notion::{DataSource, NotionClient},
    sync::{
        convert::Person,
        pair::{NO_USER_CAPABILITY, ResolvedPair, person, resolve},
    },
};

/// Read both schemas and (when a people field is mapped) the users, then
/// resolve.
pub async fn load_pair(
    config: &PairConfig,
    notion: &NotionClient,
    airtable: &AirtableClient,
) -> anyhow::Result<ResolvedPair> {
    let (data_source, table) = read_schemas(config, notion, airtable).await?;
    let mut pair = resolve(config, &data_source, &table, &[]).map_err(|problems| {
        anyhow::anyhow!(
            "pair \"{}\" does not match the live schemas:\n  - {}",
            config.name,
            problems.join("\n  - ")
        )
    })?;
    if pair.maps_people() {
        match list_people(notion).await? {
            Some(users) => {
                pair.users = users;
                pair.wire.users_listed = true;
            }
            None => tracing::warn!(pair = %config.name, "{NO_USER_CAPABILITY}"),
        }
    }
    Ok(pair)
}

/// Both live schemas of a pair: its data source and its table.
pub async fn read_schemas(
    config: &PairConfig,
    notion: &NotionClient,
    airtable: &AirtableClient,
) -> anyhow::Result<(DataSource, TableSchema)> {
    // The two vendors are read at once: each read is a round trip start-up
    // would otherwise wait for.
    let (data_source, tables) = tokio::join!(
        notion.resolve_data_source(&config.notion_database_id),
        airtable.base_schema(&config.airtable_base_id)
    );
    let data_source = data_source.map_err(|e| anyhow::anyhow!("pair \"{}\": {e}", config.name))?;
    let tables = tables?;
    let table = tables
        .into_iter()
        .find(|t| t.id == config.airtable_table || t.name == config.airtable_table)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "pair \"{}\": Airtable base {} has no table \"{}\"",
                config.name,
                config.airtable_base_id,
                config.airtable_table
            )
        })?;
    Ok((data_source, table))
}

/// The workspace's people, or `None` when the token may not list users
/// (403: the "user information" capability is off).
pub async fn list_people(notion: &NotionClient) -> Result<Option<Vec<Person>>, ApiError> {
    match notion.list_users().await {
        Ok(users) => Ok(Some(
            users.iter().filter(|u| !u.is_bot()).map(person).collect(),
        )),
        Err(e) if e.status() == Some(403) => Ok(None),
        Err(e) => Err(e),
    }
}
