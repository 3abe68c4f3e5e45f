#!/usr/bin/python3
"""Agents' replies over HTTP (POST /v1/conversations/{id}/messages, docs/replies.md): a reply
answered 202 is in the thread of GET /v1/conversations/{id} and of the customer's next queue
payload, outbound, with its author and status; the same Idempotency-Key again answers the same
message id and commits nothing, also after a restart; the key used for another reply is 409;
every bad reply is a 4xx with a clear reason; concurrent replies all land, each key once."""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

TOKEN = "t0ken-" + os.urandom(8).hex()
AGENT = {"id": "a-7", "name": "Ieva"}


def post_reply(env: h.Env, conversation: str, body: Any, key: str | None, *,
               token: str | None = TOKEN, content_type: str = "application/json",
               method: str = "POST") -> h.Response:
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if key is not None:
        headers["Idempotency-Key"] = key
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return env.client().request(method, f"/v1/conversations/{conversation}/messages", data,
                                headers)


def receipt_schema_errors(receipt: Any) -> list[str]:
    import jsonschema  # noqa: PLC0415 (Debian's python3-jsonschema)
    with open(os.path.join(h.source_dir(), "docs", "reply.schema.json")) as f:
        schema = json.load(f)
    v = jsonschema.Draft202012Validator({"$schema": schema["$schema"], "$defs": schema["$defs"],
                                         "$ref": "#/$defs/receipt"})
    return [e.message for e in v.iter_errors(receipt)]


def thread_of(env: h.Env, conversation: str) -> list[dict[str, Any]]:
    r = env.client().request("GET", f"/v1/conversations/{conversation}", None,
                             {"Authorization": f"Bearer {TOKEN}"})
    return (r.json or {}).get("thread", []) if r.status == 200 else []


def main(ck: h.Checks) -> None:
    other_secret = h.new_secret()
    env = h.Env(api_tokens=[TOKEN],
                chat_extra='    outbound:\n      url: "http://127.0.0.1:9/chat-backend"\n',
                extra_channels=h.channel_yaml("chat-2", "chat", other_secret))
    env.check_config(ck, "a chat channel with an outbound: section")
    env.start()
    agent = h.Consumer(env.amqp_url, list(env.queues.values()))
    c = env.client()

    r = env.post(c, h.chat_message("m-1", "v-ann", "Where is my order?"))
    ck.require(r.status == 202, "the customer's message: 202", r.body)
    conv = r.json["accepted"][0]["conversation_id"]
    asked = r.json["accepted"][0]["message_id"]
    ck.equal(len(agent.drain(until=lambda ms: len(ms) >= 1)), 1, "the agent took the message")

    # ---- a reply, then the same one again ----
    reply = {"text": "It ships today.", "agent": AGENT}
    r = post_reply(env, conv, reply, "key-1")
    ck.equal(r.status, 202, "a reply: 202")
    receipt = r.json or {}
    ck.equal(sorted(receipt), ["channel", "conversation_id", "message_id", "status"],
             "the answer names the message, conversation, channel and status")
    ck.equal(receipt_schema_errors(receipt), [],
             "the answer matches docs/reply.schema.json#/$defs/receipt")
    ck.equal(receipt.get("conversation_id"), conv, "the reply's conversation")
    ck.equal(receipt.get("channel"), "web-chat", "the channel of the customer's message")
    ck.equal(receipt.get("status"), "queued", "status queued")
    ck.check("idempotent-replayed" not in r.headers, "a first reply is not marked replayed")
    r = post_reply(env, conv, {"agent": AGENT, "text": "It ships today."}, "key-1")
    ck.equal(r.status, 202, "the same key and reply again: 202")
    ck.equal(r.json, receipt, "... with the same answer")
    ck.equal(r.headers.get("idempotent-replayed"), "true", "... marked Idempotent-Replayed")
    r = post_reply(env, conv, {"text": "Something else", "agent": AGENT}, "key-1")
    ck.equal(r.status, 409, "the key used for another reply: 409")
    ck.equal((r.json or {}).get("error"), "conflict", "... error conflict")

    thread = thread_of(env, conv)
    ck.equal(len(thread), 2, "GET conversation: the message and the reply")
    mine = thread[-1] if thread else {}
    ck.equal(mine.get("id"), receipt.get("message_id"), "the reply's id")
    ck.equal(mine.get("direction"), "outbound", "direction outbound")
    ck.equal(mine.get("text"), "It ships today.", "its text")
    ck.equal(mine.get("author"), {"type": "agent", "id": "a-7", "name": "Ieva"}, "its author")
    ck.equal(mine.get("status"), "queued", "its delivery status")
    ck.equal(mine.get("answers"), asked, "the message it answers")
    ck.equal(mine.get("recipient"), "web-chat:v-ann", "whom it goes to")

    # ---- the customer's next message carries the exchange to the next agent ----
    r = env.post(c, h.chat_message("m-2", "v-ann", "Great, thanks!"))
    ck.equal(r.status, 202, "the customer's answer: 202")
    got = agent.drain(until=lambda ms: len(ms) >= 1)
    payload = got[-1].body if got else {}
    ck.equal([m.get("direction") for m in payload.get("thread", [])],
             ["inbound", "outbound", "inbound"], "the next payload's thread holds the reply")
    ck.equal(payload.get("thread", [{}, {}])[1].get("id"), receipt.get("message_id"),
             "... the same reply")
    ck.equal(payload.get("conversation", {}).get("message_count"), 3, "message_count 3")

    # ---- refusals: each a 4xx with a reason, nothing committed ----
    good = {"text": "hi", "agent": AGENT}
    refusals: list[tuple[str, h.Response, int, str, str]] = [
        ("no token", post_reply(env, conv, good, "k-a", token=None), 401, "unauthorized", ""),
        ("a form body", post_reply(env, conv, b"text=hi", "k-b",
                                   content_type="application/x-www-form-urlencoded"),
         415, "unsupported_media_type", "application/json"),
        ("no Idempotency-Key", post_reply(env, conv, good, None), 400, "malformed",
         "Idempotency-Key"),
        ("a key with a space", post_reply(env, conv, good, "a b"), 400, "malformed",
         "printable ASCII"),
        ("a key of 256 bytes", post_reply(env, conv, good, "k" * 256), 400, "malformed",
         "at most 255"),
        ("not JSON", post_reply(env, conv, b"{text", "k-c"), 400, "malformed", ""),
        ("an unknown field", post_reply(env, conv, {**good, "priority": 1}, "k-d"), 400,
         "malformed", "field priority is not part of switchboard.reply/v1"),
        ("schema in the HTTP body", post_reply(env, conv, {**good, "schema": "x"}, "k-e"), 400,
         "malformed", "schema"),
        ("nothing to send", post_reply(env, conv, {"agent": AGENT}, "k-f"), 400, "malformed",
         ""),
        ("no agent", post_reply(env, conv, {"text": "hi"}, "k-g"), 400, "malformed", "agent"),
        ("over 512 KiB", post_reply(env, conv, {"text": "x" * 600_000, "agent": AGENT}, "k-h"),
         413, "too_large", "larger than 524288 bytes"),
        ("an unknown conversation",
         post_reply(env, "0190c0de-0000-7000-8000-000000000000", good, "k-i"), 404,
         "not_found", "no conversation"),
        ("a channel without outbound:", post_reply(env, conv, {**good, "channel": "chat-2"},
                                                    "k-j"),
         422, "undeliverable", "chat-2 has no outbound: section"),
        ("an unknown channel", post_reply(env, conv, {**good, "channel": "nope"}, "k-k"), 422,
         "undeliverable", "no channel named nope"),
        ("in_reply_to an unknown message",
         post_reply(env, conv, {**good, "in_reply_to": "0190c0de-0000-7000-8000-00000000000a"},
                    "k-l"), 400, "malformed", "in_reply_to"),
        ("GET", post_reply(env, conv, b"", None, method="GET"), 405, "method_not_allowed", ""),
    ]
    for what, resp, status, err, fragment in refusals:
        body = resp.json or {}
        ck.equal(resp.status, status, f"{what}: {status}")
        ck.equal(body.get("error"), err, f"{what}: error {err}")
        ck.check(fragment in body.get("detail", ""), f"{what}: the detail says why",
                 body.get("detail"))
    r = post_reply(env, conv, b"", None, method="GET")
    ck.equal(r.headers.get("allow"), "POST", "405 names POST")
    ck.equal(len(thread_of(env, conv)), 3, "no refusal left a message")

    # ---- a key refused is not used up: the same key, now good, commits ----
    r = post_reply(env, conv, {"text": "Second answer", "agent": AGENT, "channel": "web-chat"},
                   "k-j")
    ck.equal(r.status, 202, "a key whose reply was refused can be used again")

    # ---- concurrent replies: each key once ----
    answers: list[tuple[str, int, str]] = []
    lock = threading.Lock()

    def send(key: str, text: str) -> None:
        resp = post_reply(env, conv, {"text": text, "agent": AGENT}, key)
        with lock:
            answers.append((key, resp.status, (resp.json or {}).get("message_id", "")))

    threads = [threading.Thread(target=send, args=(f"burst-{i}", f"burst {i}")) for i in range(30)]
    threads += [threading.Thread(target=send, args=("same-key", "once only")) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ck.equal(sorted({s for _, s, _ in answers}), [202], "every concurrent reply: 202")
    ck.equal(len({m for k, _, m in answers if k.startswith("burst-")}), 30,
             "30 keys: 30 messages")
    ck.equal(len({m for k, _, m in answers if k == "same-key"}), 1,
             "one key sent ten times at once: one message")
    thread = thread_of(env, conv)
    ck.equal(len(thread), 3 + 1 + 30 + 1, "the thread holds every reply once")
    ck.equal(len({m.get("id") for m in thread}), len(thread), "... each message once")

    # ---- a restart keeps the replies and their keys ----
    env.daemon.restart()
    ck.equal(len(thread_of(env, conv)), 35, "after a restart: the same thread")
    r = post_reply(env, conv, reply, "key-1")
    ck.equal((r.status, (r.json or {}).get("message_id")), (202, receipt.get("message_id")),
             "after a restart, the first key answers the first reply")
    ck.equal(r.headers.get("idempotent-replayed"), "true", "... marked replayed")
    ck.equal(len(thread_of(env, conv)), 35, "... and commits nothing")

    agent.close()
    env.finish(ck, "replies over HTTP", integrity=True)


if __name__ == "__main__":
    h.run(main, timeout=300)
