"""notion-client (the official Python SDK) against the Notion sandbox.

Run by tests/compat/run.sh. Exercises what the service relies on: the bot
user, database -> data source, the schema, query with pagination and a
filter, create, update, trash/restore and a 404.
"""

import sys

from notion_client import APIResponseError, Client
from notion_client.helpers import collect_paginated_api

from _sandbox_env import sandbox_info

info = sandbox_info(["notion_url", "notion_token", "notion_database_id", "notion_data_source_id"])
notion = Client(auth=info["notion_token"], base_url=info["notion_url"], notion_version="2025-09-03")
ds_id = info["notion_data_source_id"]
checks = 0


def check(condition, what):
    global checks
    if not condition:
        raise AssertionError(what)
    checks += 1


def query(**body):
    # data_sources.query exists from notion-client 2.5; older ones take the raw path.
    if hasattr(notion, "data_sources"):
        return notion.data_sources.query(data_source_id=ds_id, **body)
    return notion.request(path=f"data_sources/{ds_id}/query", method="POST", body=body)


me = notion.users.me()
check(me["object"] == "user" and me["type"] == "bot", f"users.me: {me}")
users = collect_paginated_api(notion.users.list)
check(any(u["type"] == "person" for u in users), "people listed")

db = notion.databases.retrieve(database_id=info["notion_database_id"])
check([d["id"] for d in db["data_sources"]] == [ds_id], f"data sources {db['data_sources']}")
ds = notion.data_sources.retrieve(data_source_id=ds_id)
props = ds["properties"]
check(props["Name"]["type"] == "title" and props["Status"]["type"] == "select", "schema")
statuses = [o["name"] for o in props["Status"]["select"]["options"]]
check("Ready" in statuses, f"status options {statuses}")

# Pagination: small pages, followed by cursor, add up to the whole set.
seen, cursor, calls = [], None, 0
while True:
    body = {"page_size": 10}
    if cursor:
        body["start_cursor"] = cursor
    page = query(**body)
    calls += 1
    seen += [r["id"] for r in page["results"]]
    if not page["has_more"]:
        break
    cursor = page["next_cursor"]
check(len(seen) == len(set(seen)) >= 40, f"paged through {len(seen)} pages")
check(calls == -(-len(seen) // 10), f"{calls} query calls for {len(seen)} pages")

# Filter, then update one page and read it back.
ready = query(filter={"property": "Status", "select": {"equals": "Ready"}}, page_size=100)["results"]
check(all(p["properties"]["Status"]["select"]["name"] == "Ready" for p in ready), "filter")
target = seen[0]
updated = notion.pages.update(page_id=target, properties={"Status": {"select": {"name": "Ready"}}})
check(updated["properties"]["Status"]["select"]["name"] == "Ready", "update")
check(notion.pages.retrieve(page_id=target)["last_edited_by"]["id"] == me["id"], "edited by the bot")
since = {"timestamp": "last_edited_time", "last_edited_time": {"on_or_after": updated["last_edited_time"]}}
check(target in [p["id"] for p in query(filter=since)["results"]], "timestamp filter")

# Create under the data source, trash and restore.
created = notion.pages.create(
    parent={"type": "data_source_id", "data_source_id": ds_id},
    properties={"Name": {"title": [{"type": "text", "text": {"content": "compat page"}}]}},
)
check(created["parent"].get("data_source_id") == ds_id, f"parent {created['parent']}")
check(notion.pages.update(page_id=created["id"], in_trash=True)["in_trash"] is True, "trash")
check(notion.pages.update(page_id=created["id"], in_trash=False)["in_trash"] is False, "restore")

try:
    notion.pages.retrieve(page_id="0b6f2d4c-1111-4222-8333-944455556666")
    check(False, "an unknown page must be 404")
except APIResponseError as e:
    check(e.status == 404 and e.code == "object_not_found", f"404: {e.status} {e.code}")

print(f"notion_sdk_check: {checks} passed, 0 failed")
sys.exit(0)
