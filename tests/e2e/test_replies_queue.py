#!/usr/bin/python3
"""Agents' replies on the replies queue (docs/replies.md, "The replies queue"), with pika as the
agent's tool: a reply published with a message_id lands in the thread; the same message_id
again commits nothing; every reply that can never be taken ends in the rejected-replies queue,
byte for byte, with its message_id, its own headers and the reason in x-reason (a body over
1 MiB is dead-lettered unread); a kill -9 during a burst of replies loses none and commits none
twice; the replies queue is empty at the end."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

TOKEN = "t0ken-" + os.urandom(8).hex()
AGENT = {"id": "a-7", "name": "Ieva"}
BURST = 2000


def thread_of(env: h.Env, conversation: str) -> list[dict[str, Any]]:
    r = env.client().request("GET", f"/v1/conversations/{conversation}", None,
                             {"Authorization": f"Bearer {TOKEN}"})
    return (r.json or {}).get("thread", []) if r.status == 200 else []


def wait_for(what: str, cond: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    h.log(f"timed out waiting for {what}")
    return False


def consumed(env: h.Env, outcome: str) -> float:
    return h.metric(h.scrape_metrics(env.client()), "switchboard_replies_consumed_total",
                    outcome=outcome) or 0


class Tool:
    """An agent's tool publishing replies with publisher confirms."""

    def __init__(self, env: h.Env) -> None:
        self.pika = h._pika()
        self.env = env
        self.conn = h.amqp_connect(env.amqp_url)
        self.ch = self.conn.channel()
        self.ch.confirm_delivery()

    def publish(self, body: Any, message_id: str | None,
                headers: dict[str, Any] | None = None) -> bytes:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        props = self.pika.BasicProperties(message_id=message_id, content_type="application/json",
                                          delivery_mode=2, headers=headers)
        self.ch.basic_publish("", self.env.replies_queue, data, props, mandatory=True)
        return data

    def take_all(self, queue: str, expect: int, timeout: float = 30.0) -> list[tuple[Any, bytes]]:
        got: list[tuple[Any, bytes]] = []
        deadline = time.monotonic() + timeout
        while len(got) < expect and time.monotonic() < deadline:
            method, props, body = self.ch.basic_get(queue, auto_ack=True)
            if method is None:
                time.sleep(0.1)
                continue
            got.append((props, body))
        return got

    def close(self) -> None:
        self.conn.close()


def main(ck: h.Checks) -> None:
    env = h.Env(api_tokens=[TOKEN],
                chat_extra='    outbound:\n      url: "http://127.0.0.1:9/chat-backend"\n',
                extra_channels=h.channel_yaml("chat-2", "chat", h.new_secret()))
    env.start()
    h.wait_for_queues(env.amqp_url, [env.replies_queue, env.rejected_queue])
    c = env.client()
    r = env.post(c, h.chat_message("m-1", "v-ann", "Where is my order?"))
    ck.require(r.status == 202, "the customer's message: 202", r.body)
    conv = r.json["accepted"][0]["conversation_id"]
    tool = Tool(env)

    def reply(text: str, **more: Any) -> dict[str, Any]:
        return {"schema": "switchboard.reply/v1", "conversation_id": conv, "text": text,
                "agent": AGENT, **more}

    # ---- a reply, then its redelivery ----
    tool.publish(reply("It ships today."), "r-1")
    ck.check(wait_for("the reply in the thread", lambda: len(thread_of(env, conv)) == 2),
             "a reply from the queue joins the thread")
    mine = (thread_of(env, conv) or [{}])[-1]
    ck.equal((mine.get("direction"), mine.get("text"), mine.get("provider_id")),
             ("outbound", "It ships today.", "reply:r-1"), "outbound, its text, its key")
    tool.publish(reply("It ships today."), "r-1")
    ck.check(wait_for("the replay", lambda: consumed(env, "replayed") == 1),
             "the same message_id again: replayed")
    ck.equal(len(thread_of(env, conv)), 2, "... and nothing committed")

    # ---- replies that can never be taken ----
    bad: list[tuple[str | None, bytes, str]] = []

    def refuse(body: Any, message_id: str | None, reason: str, **kw: Any) -> None:
        bad.append((message_id, tool.publish(body, message_id, **kw), reason))

    refuse(reply("no key"), None, "no_message_id")
    refuse(b"{not json", "b-json", "malformed")
    refuse(reply("x", priority=1), "b-field", "malformed", headers={"x-tool": "helpdesk"})
    refuse({"text": "an HTTP body", "agent": AGENT}, "b-http", "malformed")
    refuse(reply("", attachments=[]), "b-empty", "malformed")
    refuse(reply("x" * 600_000), "b-large", "too_large")
    refuse({**reply("x"), "conversation_id": "0190c0de-0000-7000-8000-000000000000"},
           "b-conv", "not_found")
    refuse(reply("x", channel="chat-2"), "b-channel", "undeliverable")
    refuse(reply("Something else"), "r-1", "conflict")
    refuse(reply("x"), "a key with spaces", "malformed")
    huge = tool.publish(reply("y" * 1_500_000), "b-huge")
    got = tool.take_all(env.rejected_queue, len(bad) + 1)
    ck.equal(len(got), len(bad) + 1, "every bad reply is in the rejected-replies queue")
    by_body = {body: props for props, body in got}
    for message_id, body, reason in bad:
        props = by_body.get(body)
        what = message_id or "no message_id"
        if not ck.check(props is not None, f"{what}: in the rejected queue byte for byte"):
            continue
        headers = props.headers or {}
        ck.equal(headers.get("x-reason"), reason, f"{what}: x-reason {reason}")
        ck.check(bool(headers.get("x-reason-detail")), f"{what}: x-reason-detail says why",
                 headers.get("x-reason-detail"))
        ck.equal(props.message_id, message_id, f"{what}: its message_id kept")
        ck.equal(props.delivery_mode, 2, f"{what}: persistent")
    props = by_body.get(b'{"schema": "switchboard.reply/v1", "conversation_id": "' +
                        conv.encode() + b'", "text": "x", "agent": {"id": "a-7", "name": '
                        b'"Ieva"}, "priority": 1}')
    ck.equal((props.headers or {}).get("x-tool") if props else None, "helpdesk",
             "the reply's own headers are kept")
    props = by_body.get(huge)
    ck.check(props is not None, "a body over 1 MiB is dead-lettered unread")
    if props is not None:
        death = ((props.headers or {}).get("x-death") or [{}])[0]
        ck.equal(death.get("reason"), "rejected", "... x-death says rejected")
        ck.equal(death.get("queue"), env.replies_queue, "... from the replies queue")
    ck.equal(len(thread_of(env, conv)), 2, "no bad reply left a message")
    m = h.scrape_metrics(c)
    ck.equal(h.metric(m, "switchboard_replies_rejected_total", reason="malformed"), 5,
             "rejections counted by reason")
    ck.equal(h.metric(m, "switchboard_replies_consumer_connected"), 1, "the consumer connected")

    # ---- kill -9 during a burst: nothing lost, nothing twice ----
    # Published while the daemon is down, so that the kill finds it in the middle of them.
    env.daemon.stop()
    for i in range(BURST):
        tool.publish(reply(f"burst {i}"), f"burst-{i}")
    env.daemon.start()
    wait_for("some of the burst committed", lambda: len(thread_of_store(env, conv)) > 2 + 50, 30)
    env.daemon.kill()
    before = len(thread_of_store(env, conv))
    h.log(f"killed with {before - 2} of {BURST} burst replies committed")
    env.daemon.start()
    ck.check(wait_for("the whole burst", lambda: len(thread_of(env, conv)) >= 2 + BURST, 60),
             "after kill -9 and a restart, every burst reply is committed")
    texts = [m.get("text") for m in thread_of(env, conv)]
    ck.equal(sorted(t for t in texts if t and t.startswith("burst ")),
             sorted(f"burst {i}" for i in range(BURST)), "each burst reply exactly once")
    ck.check(wait_for("an empty replies queue",
                      lambda: h.queue_depths(env.amqp_url, [env.replies_queue])
                      [env.replies_queue] == 0), "the replies queue is empty")
    ck.check(0 < before - 2 < BURST, "the kill came during the burst", before - 2)

    tool.close()
    env.finish(ck, "replies from the queue", integrity=True)


def thread_of_store(env: h.Env, conversation: str) -> list[Any]:
    """The thread as the store file holds it, read while the daemon is down."""
    import sqlite3  # noqa: PLC0415
    db = sqlite3.connect(f"file:{env.store_path}?mode=ro", uri=True)
    try:
        return db.execute("SELECT id FROM messages WHERE conversation_id = ?",
                          (conversation,)).fetchall()
    finally:
        db.close()


if __name__ == "__main__":
    h.run(main, timeout=400)
