"""Independent check of Parley's bytes: decode Confluent-framed Avro with fastavro.

Reads JSON lines {"payload": <base64>} on stdin; for each, checks the magic byte, fetches the
writer schema by id from the registry (REGISTRY_URL) and prints the decoded record as JSON.
"""
import base64
import datetime
import io
import json
import struct
import sys
import urllib.request
import uuid

import fastavro



def to_json(value):
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime.datetime):
        return round(value.timestamp() * 1000)
    raise TypeError(type(value))


registry = sys.argv[1]
schemas = {}
for line in sys.stdin:
    payload = base64.b64decode(json.loads(line)["payload"])
    magic, schema_id = struct.unpack(">bI", payload[:5])
    assert magic == 0, f"magic byte {magic}"
    if schema_id not in schemas:
        with urllib.request.urlopen(f"{registry}/schemas/ids/{schema_id}") as response:
            schemas[schema_id] = fastavro.parse_schema(json.loads(json.load(response)["schema"]))
    record = fastavro.schemaless_reader(io.BytesIO(payload[5:]), schemas[schema_id])
    print(json.dumps(record, default=to_json))
