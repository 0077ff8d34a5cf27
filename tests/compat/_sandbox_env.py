"""Where the sandbox is: environment variables, or the JSON line that
`notion-airtable-sync sandbox --seed team` prints (in $SANDBOX_INFO, or a file
named by $SANDBOX_INFO_FILE)."""

import json
import os

KEYS = [
    "notion_url",
    "notion_token",
    "notion_database_id",
    "notion_data_source_id",
    "airtable_url",
    "airtable_token",
    "airtable_base_id",
    "airtable_table_id",
]


def sandbox_info(required):
    info = {}
    raw = os.environ.get("SANDBOX_INFO")
    path = os.environ.get("SANDBOX_INFO_FILE")
    if not raw and path:
        with open(path, encoding="utf-8") as f:
            raw = next((line for line in f if line.lstrip().startswith("{")), "")
    if raw:
        info.update(json.loads(raw))
    for key in KEYS:  # NOTION_URL etc. override the JSON line
        if os.environ.get(key.upper()):
            info[key] = os.environ[key.upper()]
    missing = [k for k in required if not info.get(k)]
    if missing:
        raise SystemExit(f"missing sandbox settings: {', '.join(missing)}")
    return info
