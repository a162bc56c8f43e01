#!/usr/bin/env python3
"""Print what the deployed functions logged in the emulator's CloudWatch Logs, oldest first.

Run with the ministack venv's python (it has botocore):
    .cache/venv-ministack/bin/python tests/emulator/logs.py [--raw] [FUNCTION_SUBSTRING ...]

Per invocation it prints the REPORT duration and the store-call counters of the EMF line the
function wrote (BlobGet/BlobPut/TableRead/TableWrite/BusPublish/...; zero counters left out), so
a workflow's S3/DynamoDB/SNS calls can be added up. --raw prints every line instead.
"""

import json
import pathlib
import sys

import botocore.session

ROOT = pathlib.Path(__file__).resolve().parents[2]
SKIP = {"function", "_aws"}


def main() -> None:
    args = sys.argv[1:]
    raw = "--raw" in args
    wanted = [a for a in args if a != "--raw"]
    endpoint = (ROOT / ".emulator" / "endpoint").read_text().strip()
    logs = botocore.session.get_session().create_client(
        "logs",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    groups = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    for group in sorted(groups):
        if wanted and not any(w.lower() in group.lower() for w in wanted):
            continue
        events = []
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group):
            events.extend(page["events"])
        if not events:
            continue
        print(f"== {group} ({len(events)} lines)")
        for e in sorted(events, key=lambda e: (e["timestamp"], e.get("eventId", ""))):
            msg = e["message"].rstrip()
            if raw:
                print(f"  {e['timestamp']} {msg}")
            elif msg.startswith("REPORT"):
                print("  " + msg.split("\t")[1])
            elif msg.startswith("{") and '"_aws"' in msg:
                doc = json.loads(msg)
                counts = {k: v for k, v in doc.items() if k not in SKIP and v}
                print(f"  emf {counts}")
            elif not msg.startswith(("START", "END")):
                print(f"  {msg[:300]}")


if __name__ == "__main__":
    main()
