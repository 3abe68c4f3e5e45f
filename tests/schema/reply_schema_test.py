"""docs/reply.schema.json against tests/data/replies/cases.json: of every case in the file the
schema accepts those the parser accepts and no other (tests/unit/replies/reply_test.cpp holds
the parser to the same file), and its limits are the parser's. Prints a table; exits 1 on any
disagreement."""
import json
import os
import sys

import jsonschema  # Debian's python3-jsonschema

root = os.environ.get("SB_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
schema = json.load(open(os.path.join(root, "docs", "reply.schema.json"), encoding="utf-8"))
cases = json.load(open(os.path.join(root, "tests", "data", "replies", "cases.json"),
                       encoding="utf-8"))
jsonschema.Draft202012Validator.check_schema(schema)
queue = jsonschema.Draft202012Validator(schema)
http = jsonschema.Draft202012Validator({**schema, "$ref": "#/$defs/http_body",
                                        "required": [], "properties": {}})

failures = []


def expect(name: str, validator: jsonschema.Draft202012Validator, body, ok: bool) -> None:
    valid = validator.is_valid(body)
    if valid != ok:
        failures.append(f"{name}: the schema {'accepts' if valid else 'refuses'} it, "
                        f"the parser {'accepts' if ok else 'refuses'} it")


for c in cases["cases"]:
    ok = c["expect"] == "ok"
    if "raw" in c:  # not JSON: nothing for a schema to accept
        if ok:
            failures.append(f"{c['name']}: a raw body cannot be expected to pass")
        continue
    expect(c["name"], http if c["source"] == "http" else queue, c["body"], ok)

# The parser's limits (replies/reply.hpp, reply_limits), at and past each.
base = {"schema": "switchboard.reply/v1", "conversation_id": cases["conversation_id"],
        "agent": {"id": "a-7"}}
expect("text of 65536 bytes", queue, {**base, "text": "x" * 65536}, True)
expect("text of 65537 bytes", queue, {**base, "text": "x" * 65537}, False)
expect("agent.id of 257 bytes", queue, {**base, "text": "hi", "agent": {"id": "a" * 257}}, False)
url = "https://x.example/"
expect("a url of 2048 bytes", queue,
       {**base, "attachments": [{"url": url + "u" * (2048 - len(url))}]}, True)
expect("a url of 2049 bytes", queue,
       {**base, "attachments": [{"url": url + "u" * (2049 - len(url))}]}, False)
expect("10 attachments", queue, {**base, "attachments": [{"url": url}] * 10}, True)

# The HTTP schema is the queue schema without schema and conversation_id.
expect("HTTP: the queue's documented example without its two fields", http,
       {k: v for k, v in cases["cases"][0]["body"].items()
        if k not in ("schema", "conversation_id")}, True)

print(f"{'cases':<40} {len(cases['cases'])}")
print(f"{'disagreements':<40} {len(failures)}")
for f in failures:
    print("FAIL", f)
sys.exit(1 if failures else 0)
