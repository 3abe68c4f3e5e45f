#!/usr/bin/python3
"""The `chat` channel end to end: a signed POST is answered 202 and reaches the skill's queue
with the documented AMQP properties and body; routing, threading and dedupe; every refusal
(401, 404, 405, 408, 413, 415, 400, 431) is JSON and queues nothing; the command line
(--version, --check-config)."""

from __future__ import annotations

import os
import re
import sys
import time
from typing import Any

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

READ_TIMEOUT = 2.0  # seconds, written into this test's config
MAX_BODY = 65536


def expect_error(ck: h.Checks, r: Any, status: int, what: str) -> None:
    """An error answer: the status, and a JSON body {"error": code, "detail": sentence}."""
    ck.equal(r.status, status, f"{what}: status")
    body = r.json
    ok = (isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]
          and isinstance(body.get("detail"), str))
    ck.check(ok, f"{what}: body is JSON with \"error\" and \"detail\"", repr(r.body[:300]))
    ctype = r.headers.get("content-type", "")
    ck.check(ctype.startswith("application/json"), f"{what}: Content-Type is application/json",
             ctype)


def check_accepted(ck: h.Checks, r: h.Response, skill: str, what: str) -> dict[str, Any]:
    ck.equal(r.status, 202, f"{what}: status")
    body = r.json if isinstance(r.json, dict) else {}
    acc = body.get("accepted")
    ck.require(isinstance(acc, list) and len(acc) == 1, f"{what}: one accepted message", r)
    a = acc[0]
    for k in ("message_id", "conversation_id", "customer_id"):
        ck.check(isinstance(a.get(k), str) and a[k], f"{what}: accepted[0].{k} is a string", a)
    ck.equal(a.get("skill"), skill, f"{what}: accepted[0].skill")
    ck.equal(body.get("duplicates"), 0, f"{what}: duplicates")
    ck.equal(body.get("ignored"), 0, f"{what}: ignored")
    return a


def check_properties(ck: h.Checks, m: h.Consumed, acc: dict[str, Any], skill: str,
                     priority: int, exchange: str, what: str) -> None:
    p = m.properties
    ck.equal(m.exchange, exchange, f"{what}: published to the configured exchange")
    ck.equal(m.routing_key, skill, f"{what}: routing key is the skill")
    ck.equal(p.content_type, "application/json", f"{what}: content_type")
    ck.equal(p.delivery_mode, 2, f"{what}: delivery_mode (persistent)")
    ck.equal(p.message_id, acc["message_id"], f"{what}: message_id = accepted message_id")
    ck.equal(p.correlation_id, acc["conversation_id"],
             f"{what}: correlation_id = accepted conversation_id")
    ck.equal(p.type, "conversation.message", f"{what}: type")
    ck.equal(p.priority, priority, f"{what}: priority")
    ts = p.timestamp
    ck.check(isinstance(ts, int) and abs(ts - time.time()) < 300,
             f"{what}: timestamp is the current unix time in seconds", ts)
    ck.equal(m.header("x-channel"), "web-chat", f"{what}: header x-channel")
    ck.equal(m.header("x-channel-type"), "chat", f"{what}: header x-channel-type")
    ck.equal(m.header("x-skill"), skill, f"{what}: header x-skill")


def check_time(ck: h.Checks, v: Any, what: str, near_now: bool = False) -> None:
    t = h.parse_time(v)
    ck.check(t is not None, f"{what} is an RFC 3339 date-time", v)
    if t is not None and near_now:
        ck.check(abs(t.timestamp() - time.time()) < 300, f"{what} is close to now", v)


def check_message(ck: h.Checks, msg: Any, sent: dict[str, Any], acc: dict[str, Any],
                  what: str) -> None:
    ck.require(isinstance(msg, dict), f"{what}: message is an object", msg)
    ck.equal(msg.get("id"), acc["message_id"], f"{what}: message.id")
    ck.equal(msg.get("channel"), "web-chat", f"{what}: message.channel")
    ck.equal(msg.get("channel_type"), "chat", f"{what}: message.channel_type")
    ck.equal(msg.get("direction"), "inbound", f"{what}: message.direction")
    check_time(ck, msg.get("received_at"), f"{what}: message.received_at", near_now=True)
    st = h.parse_time(msg.get("sent_at"))
    ck.check(st is not None and st == h.parse_time(sent["sent_at"]),
             f"{what}: message.sent_at is the sender's", (msg.get("sent_at"), sent["sent_at"]))
    ck.check("subject" in msg and msg["subject"] is None, f"{what}: message.subject is null",
             msg.get("subject", "<absent>"))
    ck.equal(msg.get("text"), sent["text"], f"{what}: message.text verbatim")
    # A file the backend links to is fetched after the commit (docs/attachments.md): its URL
    # becomes the read API's, the backend's is kept as source_url.
    want_att = [{"name": a["name"], "content_type": a["content_type"], "size": a["size"],
                 "source_url": a["url"], "state": "pending"} for a in sent.get("attachments", [])]
    got_att = [{k: a.get(k) for k in ("name", "content_type", "size", "source_url", "state")}
               for a in msg.get("attachments") or []]
    ck.equal(got_att, want_att, f"{what}: message.attachments")
    ck.check(all(a.get("url") == f"/v1/attachments/{a.get('id')}"
                 for a in msg.get("attachments") or []),
             f"{what}: message.attachments' URLs are the read API's", msg.get("attachments"))
    ck.equal(msg.get("provider_id"), sent["id"], f"{what}: message.provider_id")
    ck.equal(msg.get("visibility"), "private", f"{what}: message.visibility")
    lang = msg.get("language", "<absent>")
    ck.check(lang is None or (isinstance(lang, str) and re.fullmatch(r"[a-z]{2}", lang)),
             f"{what}: message.language is null or an ISO 639-1 code", lang)
    ck.check("callback" in msg and msg["callback"] is None, f"{what}: message.callback is null",
             msg.get("callback", "<absent>"))


def check_body(ck: h.Checks, m: h.Consumed, sent: dict[str, Any], acc: dict[str, Any],
               skill: str, priority: int, count: int, identities: list[dict[str, str]],
               what: str) -> None:
    b = m.body
    ck.require(isinstance(b, dict), f"{what}: body is a JSON object", m.raw[:300])
    ck.equal(b.get("schema"), "switchboard.conversation/v1", f"{what}: schema")
    c = b.get("conversation") or {}
    ck.equal(c.get("id"), acc["conversation_id"], f"{what}: conversation.id")
    ck.equal(c.get("status"), "open", f"{what}: conversation.status")
    ck.equal(c.get("skill"), skill, f"{what}: conversation.skill")
    ck.equal(c.get("priority"), priority, f"{what}: conversation.priority")
    check_time(ck, c.get("opened_at"), f"{what}: conversation.opened_at", near_now=True)
    check_time(ck, c.get("last_message_at"), f"{what}: conversation.last_message_at")
    o, l = h.parse_time(c.get("opened_at")), h.parse_time(c.get("last_message_at"))
    ck.check(o is None or l is None or l >= o,
             f"{what}: conversation.last_message_at >= opened_at", (o, l))
    ck.equal(c.get("message_count"), count, f"{what}: conversation.message_count")
    cu = b.get("customer") or {}
    ck.equal(cu.get("id"), acc["customer_id"], f"{what}: customer.id")
    ck.equal(cu.get("name"), sent["visitor"].get("name"), f"{what}: customer.name")
    got_ids = sorted((i.get("type"), i.get("value")) for i in cu.get("identities") or [])
    want_ids = sorted((i["type"], i["value"]) for i in identities)
    ck.equal(got_ids, want_ids, f"{what}: customer.identities (normalized)")
    check_message(ck, b.get("message"), sent, acc, what)
    thread = b.get("thread")
    ck.check(isinstance(thread, list) and len(thread) == count,
             f"{what}: thread has {count} message(s)", thread)
    if isinstance(thread, list) and thread:
        ck.equal(thread[-1], b.get("message"), f"{what}: the thread ends with the new message")
    ck.equal(b.get("thread_truncated"), False, f"{what}: thread_truncated")


def test_command_line(ck: h.Checks, env: h.Env) -> None:
    r = h.run_binary(["--version"])
    ck.equal(r.returncode, 0, "--version exits 0")
    ck.check(re.search(r"\d+\.\d+", r.stdout), "--version prints a version", r.stdout)

    r = h.run_binary(["--check-config", env.config_path])
    ck.equal(r.returncode, 0, f"--check-config on the test's own config exits 0 ({r.stderr})")

    # An unknown key: the line and key must be named.
    lines = env.config_text.splitlines()
    at = lines.index("server:") + 1
    lines.insert(at + 1, "  thread: 2")  # a typo of "threads", 1-based line at + 2
    broken = os.path.join(env.workdir, "broken.yaml")
    with open(broken, "w") as f:
        f.write("\n".join(lines) + "\n")
    r = h.run_binary(["--check-config", broken])
    ck.equal(r.returncode, 2, "--check-config on a broken config exits 2")
    want = f"{broken}:{at + 2}: server.thread:"
    ck.check(want in r.stderr, f"--check-config names FILE:LINE: KEY ({want})", r.stderr)

    # A route naming a skill that does not exist.
    lines = env.config_text.splitlines()
    n = lines.index("    skill: billing")
    lines[n] = "    skill: bililng"
    broken2 = os.path.join(env.workdir, "broken2.yaml")
    with open(broken2, "w") as f:
        f.write("\n".join(lines) + "\n")
    r = h.run_binary(["--check-config", broken2])
    ck.equal(r.returncode, 2, "--check-config with an unknown skill exits 2")
    ck.check(re.search(rf"{re.escape(broken2)}:\d+: routes\[0\]\.skill:", r.stderr),
             "--check-config names routes[0].skill", r.stderr)

    # --config with a broken file: the daemon refuses to start, exit 2.
    r = h.run_binary(["--config", broken])
    ck.equal(r.returncode, 2, "--config with a broken config exits 2 without starting")


def main(ck: h.Checks) -> None:
    env = h.Env(read_timeout=f"{int(READ_TIMEOUT)}s", max_body_bytes=MAX_BODY)
    test_command_line(ck, env)

    d = env.start()
    c = env.client(idle_limit=READ_TIMEOUT / 2)
    qs = list(env.queues.values())
    agent = h.Consumer(env.amqp_url, qs)

    def only(msgs: list[h.Consumed], queue: str, what: str) -> h.Consumed | None:
        ck.equal([(m.queue, m.provider_id) for m in msgs if m.queue != queue], [],
                 f"{what}: nothing on other queues")
        mine = [m for m in msgs if m.queue == queue]
        ck.equal(len(mine), 1, f"{what}: exactly one message on {queue}")
        return mine[0] if mine else None

    # ---- /healthz ----
    r = c.get("/healthz")
    ck.equal(r.status, 200, "/healthz status")
    ck.equal(r.json, {"status": "ok"}, "/healthz body")

    # ---- refusals: nothing below may reach a queue ----
    h.log("refusals")
    bad = h.chat_message("m-bad-1", "v-99", "this must never be queued", email="x@example.com")
    data = h.to_bytes(bad)
    path = f"/v1/webhooks/{env.channel}"

    r = c.request("POST", path, data, {"Content-Type": "application/json"})
    expect_error(ck, r, 401, "unsigned POST")

    r = h.post_webhook(c, env.channel, data, h.new_secret())
    expect_error(ck, r, 401, "POST signed with the wrong key")

    hdrs = h.webhook_headers(env.secret, data)
    tampered = data.replace(b"never be queued", b"never be QUEUED")
    r = c.request("POST", path, tampered, hdrs)
    expect_error(ck, r, 401, "POST with a tampered body")

    r = h.post_webhook(c, env.channel, data, env.secret, timestamp=int(time.time()) - 600)
    expect_error(ck, r, 401, "POST with an expired timestamp (now-600)")

    r = h.post_webhook(c, env.channel, data, env.secret, timestamp=int(time.time()) + 600)
    expect_error(ck, r, 401, "POST with a future timestamp (now+600)")

    sig = h.webhook_headers(env.secret, data)
    sig["webhook-id"] = "msg_other"  # signature made for another delivery id
    r = c.request("POST", path, data, sig)
    expect_error(ck, r, 401, "POST whose webhook-id is not the signed one")

    r = h.post_webhook(c, "no-such-channel", data, env.secret)
    expect_error(ck, r, 404, "POST to an unknown channel")

    r = c.request("GET", path)
    expect_error(ck, r, 405, "GET on a chat webhook")
    r = c.request("PUT", path, data, h.webhook_headers(env.secret, data))
    expect_error(ck, r, 405, "PUT on a chat webhook")

    r = h.post_webhook(c, env.channel, data, env.secret, content_type="text/plain")
    expect_error(ck, r, 415, "validly signed POST with Content-Type text/plain")
    r = h.post_webhook(c, env.channel, data, env.secret, content_type=None)
    expect_error(ck, r, 415, "validly signed POST without Content-Type")

    r = h.post_webhook(c, env.channel, b'{"id": "m-bad-2", "visitor": {"id": ', env.secret)
    expect_error(ck, r, 400, "validly signed malformed JSON")
    r = h.post_webhook(c, env.channel, {"id": "m-bad-3", "text": "no visitor"}, env.secret)
    expect_error(ck, r, 400, "validly signed JSON without visitor")

    big = h.to_bytes(h.chat_message("m-bad-4", "v-99", "x" * (MAX_BODY + 5000)))
    rr = h.signed_raw_request(env.port, env.channel, env.secret, big)
    expect_error(ck, rr, 413, f"body over max_body_bytes ({len(big)} > {MAX_BODY})")
    rr = h.signed_raw_request(env.port, env.channel, env.secret, big, chunked=True)
    expect_error(ck, rr, 413, "chunked body over max_body_bytes")

    rr = h.signed_raw_request(env.port, env.channel, env.secret, data,
                              extra_headers={"X-Filler": "a" * 20000})
    expect_error(ck, rr, 431, "20 KB header over max_header_bytes (16384)")
    rr = h.raw_exchange(env.port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: "
                        + b"a" * 10000 + b"\r\n\r\n")
    ck.equal(rr.status, 200, "a 10 KB header (under max_header_bytes 16384) is served: status")

    ck.check(d.alive(), "the daemon is still running after the refusals")
    got = agent.drain(idle=3.0, deadline=20)
    ck.equal([(m.queue, m.provider_id) for m in got], [], "no refused request reached a queue")

    # ---- a signed chat message → 202 → the general queue ----
    h.log("first message")
    t_sent = time.time() - 30
    m1 = h.chat_message(
        "m-1001", "v-42", "Hi, I can't log in to my account — pāroli aizmirsu 🙂",
        email="Ann@Example.COM", phone="+1 555 010 2000", sent_at=h.rfc3339(t_sent),
        attachments=[{"name": "a.png", "content_type": "image/png", "size": 2048,
                      "url": "https://files.example.com/a.png"}])
    ann_ids = [{"type": "chat", "value": "web-chat:v-42"},
               {"type": "email", "value": "ann@example.com"},
               {"type": "phone", "value": "+15550102000"}]
    r1 = env.post(c, m1)
    a1 = check_accepted(ck, r1, "general", "first chat message")
    got = agent.drain(idle=0.5, deadline=30, until=lambda ms: len(ms) >= 1)
    q1 = only(got, env.queues["general"], "first chat message")
    if q1:
        check_properties(ck, q1, a1, "general", 0, env.exchange, "first message (AMQP)")
        check_body(ck, q1, m1, a1, "general", 0, 1, ann_ids, "first message (body)")
        if isinstance(q1.body, dict) and q1.body.get("thread"):
            ck.equal(q1.body["thread"][0].get("provider_id"), "m-1001",
                     "first message: thread[0] is itself")

    # ---- a follow-up from the same visitor: same conversation, thread of two ----
    h.log("follow-up")
    m2 = h.chat_message("m-1002", "v-42", "Still locked out, any news?",
                        email="ann@example.com", sent_at=h.rfc3339(t_sent + 10))
    r2 = env.post(c, m2)
    a2 = check_accepted(ck, r2, "general", "follow-up message")
    ck.equal(a2.get("conversation_id"), a1.get("conversation_id"),
             "follow-up joins the conversation (reply)")
    ck.equal(a2.get("customer_id"), a1.get("customer_id"), "follow-up: same customer (reply)")
    got = agent.drain(idle=0.5, deadline=30, until=lambda ms: len(ms) >= 1)
    q2 = only(got, env.queues["general"], "follow-up message")
    if q2:
        check_properties(ck, q2, a2, "general", 0, env.exchange, "follow-up (AMQP)")
        check_body(ck, q2, m2, a2, "general", 0, 2, ann_ids, "follow-up (body)")
        thread = q2.body.get("thread") if isinstance(q2.body, dict) else None
        if isinstance(thread, list) and len(thread) == 2:
            ck.equal([t.get("provider_id") for t in thread], ["m-1001", "m-1002"],
                     "follow-up: thread oldest first")
            ck.equal(thread[0].get("id"), a1.get("message_id"),
                     "follow-up: thread[0] is the first message")
            ck.equal(thread[0].get("text"), m1["text"], "follow-up: thread[0].text")

    # ---- a billing text from another visitor → billing queue, priority 5 ----
    h.log("billing")
    m3 = h.chat_message("m-2001", "v-43", "I was charged twice, please refund invoice 7781",
                        name="Bo Berg", phone="+44 20 7946 0018", session="s-78")
    r3 = env.post(c, m3)
    a3 = check_accepted(ck, r3, "billing", "billing message")
    ck.check(a3.get("customer_id") != a1.get("customer_id"),
             "billing message: another visitor is another customer", (a1, a3))
    got = agent.drain(idle=0.5, deadline=30, until=lambda ms: len(ms) >= 1)
    q3 = only(got, env.queues["billing"], "billing message")
    if q3:
        check_properties(ck, q3, a3, "billing", 5, env.exchange, "billing message (AMQP)")
        check_body(ck, q3, m3, a3, "billing", 5, 1,
                   [{"type": "chat", "value": "web-chat:v-43"},
                    {"type": "phone", "value": "+442079460018"}], "billing message (body)")

    # ---- the first message again (a provider retry): 200, duplicates=1, not queued ----
    h.log("duplicate")
    rd = env.post(c, m1)  # same id, fresh webhook-id, timestamp and signature
    ck.equal(rd.status, 200, "repeated message: status 200")
    ck.equal(rd.json, {"accepted": [], "duplicates": 1, "ignored": 0, "unreadable": 0},
             "repeated message: body")
    rd = env.post(c, m1, webhook_id="msg_retry_same", timestamp=int(time.time()))
    ck.equal(rd.status, 200, "repeated message (second retry): status 200")

    # ---- key rotation: a signature list where one entry matches ----
    m4 = h.chat_message("m-3001", "v-44", "hello from a rotated key", name="Cy Dee")
    d4 = h.to_bytes(m4)
    hd = h.webhook_headers(env.secret, d4)
    hd["webhook-signature"] = "v1,AAAAbm90IHRoZSByaWdodCBzaWduYXR1cmU= " + hd["webhook-signature"]
    r4 = c.request("POST", path, d4, hd)
    a4 = check_accepted(ck, r4, "general", "signature list with one valid entry")
    got = agent.drain(idle=3.0, deadline=30, until=lambda ms: len(ms) >= 1)
    ck.equal(sorted((m.queue, m.provider_id) for m in got),
             [(env.queues["general"], "m-3001")],
             "after the duplicates only the rotated-key message is queued (no re-publish)")
    if got:
        ck.equal(got[0].message_id, a4.get("message_id"), "rotated-key message: message_id")

    # ---- through a forward proxy: the absolute-form target (RFC 9112 3.2.2) is served as
    # its path and query; other schemes and userinfo are not a resource here ----
    h.log("absolute-form target")
    m5 = h.chat_message("m-4001", "v-45", "hello through a proxy", name="Di Ek")
    d5 = h.to_bytes(m5)
    r5 = c.request("POST", f"http://127.0.0.1:{env.port}{path}", d5,
                   h.webhook_headers(env.secret, d5))
    a5 = check_accepted(ck, r5, "general", "absolute-form POST")
    got = agent.drain(idle=0.5, deadline=30, until=lambda ms: len(ms) >= 1)
    q5 = only(got, env.queues["general"], "absolute-form POST")
    if q5:
        ck.equal(q5.message_id, a5.get("message_id"), "absolute-form POST: message_id")
    r = c.request("GET", "HTTP://switchboard.example/healthz?probe=1")
    ck.equal(r.status, 200, "absolute-form GET /healthz (scheme in upper case, query): status")
    r = c.request("POST", f"ftp://127.0.0.1{path}", d5, h.webhook_headers(env.secret, d5))
    expect_error(ck, r, 404, "absolute-form target with scheme ftp")
    r = c.request("POST", f"http://user:pw@127.0.0.1{path}", d5,
                  h.webhook_headers(env.secret, d5))
    expect_error(ck, r, 404, "absolute-form target with userinfo")
    got = agent.drain(idle=1.0, deadline=10)
    ck.equal([(m.queue, m.provider_id) for m in got], [],
             "the refused absolute-form requests queued nothing")

    # ---- slow clients: 408 after read_timeout ----
    h.log("slow clients")
    partial_head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    "Content-Type: application/json\r\n").encode()
    # Signed headers: an unsigned request is refused when its headers arrive (401), before any
    # body could be waited for.
    signed = "".join(f"{k}: {v}\r\n" for k, v in h.webhook_headers(env.secret, data).items())
    partial_body = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{signed}"
                    f"Content-Length: {len(data)}\r\n\r\n").encode() + data[:20]
    for what, raw in (("half the headers", partial_head), ("headers and half the body",
                                                           partial_body)):
        rr = h.raw_exchange(env.port, raw, wait=READ_TIMEOUT + 13)
        ck.equal(rr.status, 408, f"slow client ({what}): told 408 Request Timeout")
        ck.check(not rr.timed_out, f"slow client ({what}): cut off within read_timeout + 13s",
                 f"{rr.elapsed:.1f}s")
        ck.check(rr.elapsed >= READ_TIMEOUT * 0.75,
                 f"slow client ({what}): not cut off before read_timeout", f"{rr.elapsed:.2f}s")
        if rr.status is not None:
            expect_error(ck, rr, 408, f"slow client ({what})")
        h.log(f"slow client ({what}): status={rr.status} closed={rr.closed} "
              f"after {rr.elapsed:.2f}s")

    r = c.get("/healthz")
    ck.equal(r.status, 200, "/healthz still 200 at the end")

    # ---- graceful stop, then the store ----
    env.finish(ck, "test_chat", integrity=True)


if __name__ == "__main__":
    h.run(main, timeout=300)
