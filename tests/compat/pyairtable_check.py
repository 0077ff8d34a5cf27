"""pyairtable (the community Python client) against the Airtable sandbox.

Run by tests/compat/run.sh. Exercises what the service relies on: list with
pagination, formula and fields, create, batch create (chunked by 10), update,
batch_upsert with key_fields (twice: create then update), delete, schema,
whoami and the webhook payload walk, with pyairtable's own response models.
"""

import sys

import requests
from pyairtable import Api

from _sandbox_env import sandbox_info

info = sandbox_info(["airtable_url", "airtable_token", "airtable_base_id", "airtable_table_id"])
api = Api(info["airtable_token"], endpoint_url=info["airtable_url"])
base = api.base(info["airtable_base_id"])
table = api.table(info["airtable_base_id"], info["airtable_table_id"])
checks = 0


def check(condition, what):
    global checks
    if not condition:
        raise AssertionError(what)
    checks += 1


# Identity and schema.
me = api.whoami()
check(me["id"].startswith("usr"), f"whoami id: {me}")
schema = table.schema()
check(schema.id == info["airtable_table_id"], "schema id")
names = [f.name for f in schema.fields]
check("Spec Name" in names and "Status" in names, f"schema fields {names}")
check(schema.primary_field_id == schema.field("Spec Name").id, "primary field")

# Webhook first, so that the writes below produce payloads.
spec = {"options": {"filters": {"dataTypes": ["tableData"], "recordChangeScope": table.id}}}
hook = base.add_webhook("http://127.0.0.1:9/compat", spec)
check(hook.id.startswith("ach") and hook.mac_secret_base64, "created webhook")

# Create, one and in batches (pyairtable cuts batches into chunks of 10).
first = table.create({"Spec Name": "compat-1", "Status": "Draft"})
check(first["id"].startswith("rec"), f"create: {first}")
batch = table.batch_create([{"Spec Name": f"compat-batch-{i}", "Sprint": "S1"} for i in range(12)])
check(len(batch) == 12, "batch create of 12")

# List: everything, pages, formula + fields.
everything = table.all()
check(len(everything) >= 13, f"all() saw {len(everything)}")
pages = list(table.iterate(page_size=5))
check(sum(len(p) for p in pages) == len(everything) and len(pages) >= 3, "iterate pages")
found = table.all(formula="{Sprint} = 'S1'", fields=["Spec Name"])
check(len(found) == 12, f"formula found {len(found)}")
check(all(set(r["fields"]) == {"Spec Name"} for r in found), "fields[] honoured")
sorted_names = [r["fields"]["Spec Name"] for r in table.all(sort=["Spec Name"], formula="{Sprint} = 'S1'")]
check(sorted_names == sorted(sorted_names), "sort")

# Update (PATCH keeps other cells) and batch update.
updated = table.update(first["id"], {"Status": "Ready"})
check(updated["fields"]["Status"] == "Ready" and updated["fields"]["Spec Name"] == "compat-1", "update")
changed = table.batch_update([{"id": r["id"], "fields": {"Sprint": "S2"}} for r in batch])
check(len(changed) == 12 and all(r["fields"]["Sprint"] == "S2" for r in changed), "batch update")
check(table.get(first["id"])["fields"]["Status"] == "Ready", "get")

# Upsert on a key field: the same call twice creates once, then updates.
rows = [{"fields": {"Spec Name": "compat-1", "Blockers": "none"}},
        {"fields": {"Spec Name": "compat-upsert", "Sprint": "S3"}}]
once = table.batch_upsert(rows, key_fields=["Spec Name"])
check(once["updatedRecords"] == [first["id"]] and len(once["createdRecords"]) == 1, f"upsert 1: {once}")
twice = table.batch_upsert(rows, key_fields=["Spec Name"])
check(twice["createdRecords"] == [] and len(twice["updatedRecords"]) == 2, f"upsert 2: {twice}")
check(len(table.all(formula="{Spec Name} = 'compat-upsert'")) == 1, "upsert created one record")

# Delete, one and in batches.
deleted = table.delete(first["id"])
check(deleted == {"id": first["id"], "deleted": True}, f"delete: {deleted}")
ids = [r["id"] for r in batch] + once["createdRecords"]
check(all(d["deleted"] for d in table.batch_delete(ids)), "batch delete")
try:
    table.get(first["id"])
    check(False, "a deleted record must be 404")
except requests.HTTPError as e:
    check(e.response.status_code == 404, f"missing record status {e.response.status_code}")

# Webhooks: listed, and the payload walk sees our writes (pydantic models).
hooks = base.webhooks()
check(any(h.id == hook.id for h in hooks), "webhook listed")
webhook = base.webhook(hook.id)
payloads = list(webhook.payloads(cursor=1))
check(len(payloads) >= 6, f"payloads: {len(payloads)}")
numbers = [p.base_transaction_number for p in payloads]
check(numbers == sorted(numbers), "payload order")
check(any(p.action_metadata.source == "publicApi" for p in payloads), "publicApi source")
webhook.delete()
check(all(h.id != hook.id for h in base.webhooks()), "webhook deleted")

print(f"pyairtable_check: {checks} passed, 0 failed")
sys.exit(0)
