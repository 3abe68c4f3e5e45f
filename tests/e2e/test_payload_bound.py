#!/usr/bin/python3
"""Queue payloads have a size bound (issue #18, store.max_payload_bytes): a message of
megabytes is cut in its payload (its text ending with the marker, "truncated": true), later
payloads of the conversation carry it cut and leave out what no longer fits
(thread_truncated), and the read API still serves every message whole. Before, a mail of tens
of MB made every later payload of that customer as large, up to what the broker refuses."""

from __future__ import annotations

import os
import secrets as pysecrets
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

BOUND = 64 * 1024
TOKEN = "payload-bound-read-token-0123456789"


def main(ck: h.Checks) -> None:
    env = h.Env(max_body_bytes=8 * 1024 * 1024, max_payload_bytes=BOUND, api_tokens=[TOKEN])
    env.start()
    c = env.client()
    agent = h.Consumer(env.amqp_url, list(env.queues.values()))
    visitor = f"v-bound-{pysecrets.token_hex(4)}"
    # 3 MiB of text: multi-byte UTF-8 and characters JSON escapes, wherever a cut may fall.
    huge = ("Ā\"\\ " * (3 * 1024 * 1024 // 6))
    texts = [f"before {i}: " + "x" * (12 * 1024) for i in range(10)] + [huge, "and after it"]
    accepted = []
    for i, text in enumerate(texts):
        r = env.post(c, h.chat_message(f"bound-{i}", visitor, text))
        ck.require(r.status == 202, f"message {i}: 202", r)
        accepted.append(r.json["accepted"][0])
    ids = {a["message_id"] for a in accepted}
    got = agent.drain(until=lambda ms: ids <= {m.message_id for m in ms})
    by_id = {m.message_id: m for m in got}
    ck.require(ids <= set(by_id), "every message consumed")
    conversation = accepted[0]["conversation_id"]
    marker = f" [... cut by Switchboard: the whole message is in GET /v1/conversations/{conversation}]"

    sizes = []
    for i, a in enumerate(accepted):
        m = by_id[a["message_id"]]
        size = len(m.raw)
        sizes.append(size)
        ck.check(size <= BOUND, f"payload {i}: within max_payload_bytes", size)
        text = m.body["message"]["text"]
        if i == 10:
            ck.equal(m.body["message"].get("truncated"), True, "the huge message is marked truncated")
            ck.check(text.endswith(marker), "its text ends with the marker", text[-120:])
            ck.check(len(text) > 4096, "and keeps a useful part of it", len(text))
            ck.check(huge.startswith(text[:-len(marker)]), "the part kept is the text's beginning")
        else:
            ck.equal(text, texts[i], f"payload {i}: its message whole")
            ck.check("truncated" not in m.body["message"], f"payload {i}: not marked truncated")
    last = by_id[accepted[-1]["message_id"]].body
    ck.equal(last["thread_truncated"], True, "the last payload left the oldest messages out")
    ck.check(any(t.get("truncated") for t in last["thread"]),
             "and carries the huge one cut in its thread")
    h.log(f"payload sizes: {sizes}")

    r = c.request("GET", f"/v1/conversations/{conversation}",
                  headers={"Authorization": f"Bearer {TOKEN}"})
    ck.equal(r.status, 200, "GET /v1/conversations/{id}: 200")
    whole = [m.get("text") for m in (r.json or {}).get("thread", [])]
    ck.check(huge in whole, "the read API serves the huge message whole",
             [len(t or "") for t in whole])


if __name__ == "__main__":
    h.run(main, timeout=180)
