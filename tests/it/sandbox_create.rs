//! The sandboxes' public create endpoints over HTTP, as the vendors document
//! them: Notion `POST /v1/databases` (2025-09-03: a parent page, a title and
//! `initial_data_source.properties`; the answer lists the data source) and
//! Airtable `POST /v0/meta/bases/{baseId}/tables` (`{name, description?,
//! fields}`, the first field primary; the answer has the field ids), with the
//! errors the references list; and Airtable collaborator cells written by id
//! or email, refused for someone who is not a collaborator of the base.

use notion_airtable_sandbox::{
    airtable::{AirtableSandbox, AirtableSandboxConfig},
    notion::{NotionSandbox, NotionSandboxConfig},
};
use serde_json::{Value, json};

struct Http {
    base: String,
    token: String,
    notion: bool,
}

impl Http {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if self.notion {
            request = request.header("Notion-Version", "2025-09-03");
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }
}

async fn notion() -> (NotionSandbox, Http) {
    let config = NotionSandboxConfig {
        rate_limit: false,
        ..NotionSandboxConfig::default()
    };
    let sb = NotionSandbox::start_local(config).await.unwrap();
    let http = Http {
        base: sb.base_url(),
        token: sb.token().to_owned(),
        notion: true,
    };
    (sb, http)
}

async fn airtable() -> (AirtableSandbox, Http) {
    let config = AirtableSandboxConfig {
        rate_limit: false,
        ..AirtableSandboxConfig::default()
    };
    let sb = AirtableSandbox::start_local(config).await.unwrap();
    let http = Http {
        base: sb.base_url(),
        token: sb.token().to_owned(),
        notion: false,
    };
    (sb, http)
}

fn new_database(parent: &str, properties: Value) -> Value {
    json!({
        "parent": { "type": "page_id", "page_id": parent },
        "title": [{ "type": "text", "text": { "content": "Epics" } }],
        "initial_data_source": { "properties": properties },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notion_creates_a_database_with_its_first_data_source() {
    let (sb, api) = notion().await;
    let team = sb.seed_team();
    let parent = team.page_ids[0].clone();
    let properties = json!({
        "Epic": { "title": {} },
        "Engineers": { "people": {} },
        "Stage": { "select": { "options": [{ "name": "Idea" }, { "name": "Built" }] } },
        "Points": { "number": { "format": "number" } },
    });
    let (status, db) = api
        .post("/v1/databases", new_database(&parent, properties))
        .await;
    assert_eq!(status, 200, "{db}");
    assert_eq!(db["object"], "database");
    assert_eq!(
        db["parent"],
        json!({ "type": "page_id", "page_id": parent })
    );
    assert_eq!(db["title"][0]["plain_text"], "Epics");
    let sources = db["data_sources"].as_array().unwrap();
    assert_eq!(sources.len(), 1, "{db}");
    let ds = sources[0]["id"].as_str().unwrap();
    let (status, schema) = api.get(&format!("/v1/data_sources/{ds}")).await;
    assert_eq!(status, 200, "{schema}");
    let types: Vec<(String, String)> = schema["properties"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v["type"].as_str().unwrap().to_owned()))
        .collect();
    for want in [
        ("Epic", "title"),
        ("Engineers", "people"),
        ("Stage", "select"),
        ("Points", "number"),
    ] {
        assert!(
            types.contains(&(want.0.to_owned(), want.1.to_owned())),
            "{types:?}"
        );
    }
    let (status, db_again) = api
        .get(&format!("/v1/databases/{}", db["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        (status, &db_again["data_sources"]),
        (200, &db["data_sources"])
    );
    // Pages go into the new data source like any other.
    let page = json!({
        "parent": { "type": "data_source_id", "data_source_id": ds },
        "properties": {
            "Epic": { "title": [{ "text": { "content": "Checkout" } }] },
            "Stage": { "select": { "name": "Idea" } },
        },
    });
    let (status, body) = api.post("/v1/pages", page).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notion_refuses_the_databases_its_reference_refuses() {
    let (sb, api) = notion().await;
    let parent = sb.seed_team().page_ids[0].clone();
    let cases = [
        ("no title", json!({ "Notes": { "rich_text": {} } })),
        (
            "two titles",
            json!({ "A": { "title": {} }, "B": { "title": {} } }),
        ),
        (
            "an unknown type",
            json!({ "A": { "title": {} }, "B": { "bogus": {} } }),
        ),
        (
            "a name used twice",
            json!({ "A": { "title": {} }, "B": { "rich_text": {} }, "C": { "name": "B", "number": {} } }),
        ),
    ];
    for (what, properties) in cases {
        let (status, body) = api
            .post("/v1/databases", new_database(&parent, properties))
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("validation_error")),
            "{what}: {body}"
        );
    }
    let unknown = "0b6c3f1e-1f4a-4c1e-9a51-2f9d5c1a7e10";
    let (status, body) = api
        .post(
            "/v1/databases",
            new_database(unknown, json!({ "A": { "title": {} } })),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("object_not_found")),
        "{body}"
    );
    let workspace = json!({
        "parent": { "type": "workspace", "workspace": true },
        "initial_data_source": { "properties": { "A": { "title": {} } } },
    });
    let (status, body) = api.post("/v1/databases", workspace).await;
    assert_eq!(
        status, 400,
        "internal integrations need a parent page: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn airtable_creates_a_table_whose_first_field_is_primary() {
    let (sb, api) = airtable().await;
    let base = sb.create_base("Delivery");
    let body = json!({
        "name": "Epics",
        "description": "What we ship",
        "fields": [
            { "name": "Epic", "type": "singleLineText" },
            { "name": "Engineers", "type": "multipleCollaborators", "description": "who builds it" },
            { "name": "Stage", "type": "singleSelect",
              "options": { "choices": [{ "name": "Idea" }, { "name": "Built" }] } },
        ],
    });
    let path = format!("/v0/meta/bases/{base}/tables");
    let (status, table) = api.post(&path, body).await;
    assert_eq!(status, 200, "{table}");
    let fields = table["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 3);
    assert!(
        fields
            .iter()
            .all(|f| f["id"].as_str().unwrap().starts_with("fld"))
    );
    assert_eq!(table["primaryFieldId"], fields[0]["id"]);
    assert_eq!(table["description"], "What we ship");
    assert_eq!(fields[1]["type"], "multipleCollaborators");
    assert_eq!(fields[1]["description"], "who builds it");
    assert_eq!(fields[2]["options"]["choices"][1]["name"], "Built");
    let (status, schema) = api.get(&path).await;
    assert_eq!(status, 200);
    assert!(
        schema["tables"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == table["id"] && t["name"] == "Epics"),
        "{schema}"
    );

    let text = |name: &str| json!({ "name": name, "type": "singleLineText" });
    let cases = [
        (
            "a field name used twice",
            json!({ "name": "T1", "fields": [text("A"), text("a")] }),
            "DUPLICATE_OR_EMPTY_FIELD_NAME",
        ),
        (
            "an invalid field type",
            json!({ "name": "T2", "fields": [text("A"), { "name": "B", "type": "bogus" }] }),
            "INVALID_REQUEST_UNKNOWN",
        ),
        (
            "no fields",
            json!({ "name": "T3", "fields": [] }),
            "INVALID_REQUEST_UNKNOWN",
        ),
        (
            "a table name used twice",
            json!({ "name": "EPICS", "fields": [text("A")] }),
            "DUPLICATE_TABLE_NAME",
        ),
        (
            "a checkbox as primary field",
            json!({ "name": "T4", "fields": [{ "name": "Done", "type": "checkbox", "options": { "color": "greenBright", "icon": "check" } }] }),
            "INVALID_REQUEST_UNKNOWN",
        ),
        (
            "a computed field",
            json!({ "name": "T5", "fields": [text("A"), { "name": "N", "type": "autoNumber" }] }),
            "INVALID_REQUEST_UNKNOWN",
        ),
    ];
    for (what, body, error) in cases {
        let (status, answer) = api.post(&path, body).await;
        assert_eq!(
            (status, answer["error"]["type"].as_str()),
            (422, Some(error)),
            "{what}: {answer}"
        );
    }
    let (_, schema) = api.get(&path).await;
    assert_eq!(
        schema["tables"].as_array().unwrap().len(),
        1,
        "nothing created: {schema}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn airtable_collaborator_cells_take_base_collaborators_by_id_or_email() {
    let (sb, api) = airtable().await;
    let base = sb.create_base("Delivery");
    let people = sb.set_collaborators(
        &base,
        &[
            ("maya@example.com", "Maya Chen"),
            ("jonas@example.com", "Jonas Berg"),
        ],
    );
    let body = json!({
        "name": "Specs",
        "fields": [
            { "name": "Spec", "type": "singleLineText" },
            { "name": "Engineers", "type": "multipleCollaborators" },
            { "name": "Reviewer", "type": "singleCollaborator" },
        ],
    });
    let (status, table) = api
        .post(&format!("/v0/meta/bases/{base}/tables"), body)
        .await;
    assert_eq!(status, 200, "{table}");
    let records = format!("/v0/{base}/{}", table["id"].as_str().unwrap());
    let record = json!({ "fields": {
        "Spec": "Checkout",
        "Engineers": [{ "email": "Maya@Example.com" }, { "id": people[1].id }],
        "Reviewer": { "email": "jonas@example.com" },
    } });
    let (status, created) = api.post(&records, record).await;
    assert_eq!(status, 200, "{created}");
    let maya = json!({ "id": people[0].id, "email": "maya@example.com", "name": "Maya Chen" });
    let jonas = json!({ "id": people[1].id, "email": "jonas@example.com", "name": "Jonas Berg" });
    assert_eq!(created["fields"]["Engineers"], json!([maya, jonas]));
    assert_eq!(created["fields"]["Reviewer"], jonas);
    let (status, as_text) = api
        .get(&format!(
            "{records}/{}?cellFormat=string&timeZone=UTC&userLocale=en",
            created["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, 200, "{as_text}");
    assert_eq!(as_text["fields"]["Engineers"], "Maya Chen, Jonas Berg");
    // In a formula a collaborator field reads as the names.
    let (status, found) = api
        .get(&format!(
            "{records}?filterByFormula=FIND(%27Jonas%27%2C%7BEngineers%7D)"
        ))
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["records"].as_array().unwrap().len(), 1, "{found}");
    for (what, fields) in [
        (
            "not a collaborator",
            json!({ "Engineers": [{ "email": "lea@example.com" }] }),
        ),
        (
            "an unknown id",
            json!({ "Engineers": [{ "id": "usrNobodyAtAll00" }] }),
        ),
        (
            "two in a single collaborator",
            json!({ "Reviewer": [{ "email": "maya@example.com" }] }),
        ),
        ("a bare string", json!({ "Reviewer": "maya@example.com" })),
    ] {
        let (status, answer) = api.post(&records, json!({ "fields": fields })).await;
        assert_eq!(
            (status, answer["error"]["type"].as_str()),
            (422, Some("INVALID_VALUE_FOR_COLUMN")),
            "{what}: {answer}"
        );
    }
}
