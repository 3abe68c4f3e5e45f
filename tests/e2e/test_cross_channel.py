#!/usr/bin/python3
"""One customer, one thread, across channels (issue #4's scenario), through HTTP and the real
broker:

1. Ann writes on web chat as visitor v-ann, giving her email;
2. she emails from that address (raw MIME, mixed case);
3. a callback request, under another name, gives "+1 (555) 010-2000";
4. WhatsApp messages arrive from wa_id 15550102000 (the same number);
5. Ann, still chat visitor v-ann, gives that phone as "+1 555 010 2000".

Steps 1-2 make one customer, steps 3-4 another (the number was not yet known to be Ann's); step 5
proves they are one person and merges them. At the end there is one customer holding every
identity the five messages claimed (chat visitor, email, WhatsApp wa_id, and the callback's and
the chat's phone, which are one E.164 number), one open conversation whose thread holds the five
messages in the order they were written, the last consumed payload shows exactly that, and
GET /v1/conversations/{id} and GET /v1/customers agree with it."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets as pysecrets
import sys
import time
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

TOKEN = "scenario-" + pysecrets.token_hex(8)
MIME_TOKEN = pysecrets.token_urlsafe(24)
META_SECRET = pysecrets.token_hex(16)
CALLBACK_SECRET = h.new_secret()
WA_ID = "15550102000"
PHONE = "+15550102000"
EMAIL = "ann.lee@example.com"

CHANNELS = f"""\
  - name: mail
    type: mime
    secret: {h.yq(MIME_TOKEN)}
  - name: callbacks
    type: callback
    secret: {h.yq(CALLBACK_SECRET)}
  - name: wa
    type: whatsapp
    secret: {h.yq(META_SECRET)}
    verify_token: "scenario-verify"
"""


def iso(t: float) -> str:
    return h.rfc3339(t)


def mime_mail(t: float) -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = "Ann Lee <Ann.Lee@Example.COM>"  # the store lower-cases it
    msg["To"] = "support@acme.example"
    msg["Subject"] = "Order 4471"
    msg["Date"] = format_datetime(dt.datetime.fromtimestamp(int(t), dt.timezone.utc))
    msg["Message-ID"] = make_msgid(idstring="scenario", domain="example.com")
    msg.set_content("Hello, following up on my chat: order 4471 has not arrived.\n")
    return bytes(msg)


def whatsapp(text: str, wamid: str, t: float) -> bytes:
    body = {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [
        {"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "A. Lee"}, "wa_id": WA_ID}],
            "messages": [{"from": WA_ID, "id": wamid, "timestamp": str(int(t)), "type": "text",
                          "text": {"body": text}}]}}]}]}
    return json.dumps(body).encode()


def api(env: h.Env, path: str) -> h.Response:
    return env.client().request("GET", path, None, {"Authorization": f"Bearer {TOKEN}"})


def ident_set(obj: dict[str, Any]) -> set[str]:
    return {f"{i.get('type')}:{i.get('value')}" for i in obj.get("identities", [])}


def main(ck: h.Checks) -> None:
    env = h.Env(extra_channels=CHANNELS, api_tokens=[TOKEN])
    env.start()
    agent = h.Consumer(env.amqp_url, list(env.queues.values()))
    c = env.client()
    t0 = time.time() - 600  # written a minute apart, ten minutes ago
    posted: list[tuple[str, dict[str, Any]]] = []  # (what, the 2xx answer's accepted entry)

    def accepted(what: str, r: h.Response) -> dict[str, Any]:
        ck.require(r.status == 202, f"{what}: 202", f"{r.status} {r.body[:300]!r}")
        acc = (r.json or {}).get("accepted") or [{}]
        ck.equal(len(acc), 1, f"{what}: one message accepted")
        posted.append((what, acc[0]))
        return acc[0]

    def consume(what: str) -> dict[str, Any]:
        got = agent.drain(until=lambda ms: len(ms) >= 1)
        ck.require(len(got) == 1, f"{what}: consumed once", [m.provider_id for m in got])
        return got[0].body

    # 1. web chat, giving an email
    a1 = accepted("chat", env.post(c, h.chat_message(
        "chat-1", "v-ann", "Hi, where is my order 4471?", name="Ann Lee", email="Ann.Lee@Example.com",
        sent_at=iso(t0))))
    p1 = consume("chat")

    # 2. an email from that address (the MTA pipes the raw message)
    a2 = accepted("email", c.request("POST", "/v1/webhooks/mail", mime_mail(t0 + 60), {
        "Content-Type": "message/rfc822", "Authorization": f"Bearer {MIME_TOKEN}"}))
    p2 = consume("email")
    ck.equal(a2.get("customer_id"), a1.get("customer_id"), "the email joins the chat's customer")
    ck.equal(a2.get("conversation_id"), a1.get("conversation_id"),
             "the email joins the chat's conversation")
    ck.equal(len(p2.get("thread", [])), 2, "the email's payload holds the chat and the email")

    # 3. a callback request under another name, the number written the way people write it
    cb = {"id": "cb-scenario-1", "phone": "+1 (555) 010-2000", "name": "Bob Lee",
          "requested_at": iso(t0 + 120), "reason": "order 4471 not delivered", "ivr_digits": "2"}
    a3 = accepted("callback", h.post_webhook(c, "callbacks", cb, CALLBACK_SECRET))
    p3 = consume("callback")
    ck.check(a3.get("customer_id") != a1.get("customer_id"),
             "the callback's number is not yet known to be Ann's: another customer")
    ck.equal(ident_set(p3.get("customer", {})), {f"phone:{PHONE}"},
             "the callback's phone is stored in E.164")

    # 4. WhatsApp from that number
    wa = whatsapp("Any news on 4471?", "wamid.scenario-1", t0 + 180)
    a4 = accepted("whatsapp", c.request("POST", "/v1/webhooks/wa", wa, {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": "sha256=" + hmac.new(META_SECRET.encode(), wa, hashlib.sha256).hexdigest()}))
    p4 = consume("whatsapp")
    ck.equal(a4.get("customer_id"), a3.get("customer_id"),
             "WhatsApp from the callback's number: the callback's customer")
    ck.equal(a4.get("conversation_id"), a3.get("conversation_id"),
             "WhatsApp joins the callback's conversation")
    ck.equal(len(p4.get("thread", [])), 2, "the WhatsApp payload holds the callback and itself")

    # 5. the chat visitor gives that phone: the two customers are one person
    a5 = accepted("chat with phone", env.post(c, h.chat_message(
        "chat-2", "v-ann", "You can also reach me on +1 555 010 2000", name="Ann Lee",
        phone="+1 555 010 2000", sent_at=iso(t0 + 240))))
    last = consume("chat with phone")

    want_idents = {"chat:web-chat:v-ann", f"email:{EMAIL}", f"phone:{PHONE}", f"whatsapp:{WA_ID}"}
    want_texts = ["Hi, where is my order 4471?",
                  "Hello, following up on my chat: order 4471 has not arrived.",
                  "order 4471 not delivered",
                  "Any news on 4471?",
                  "You can also reach me on +1 555 010 2000"]
    want_channels = ["web-chat", "mail", "callbacks", "wa", "web-chat"]
    survivor = a1.get("customer_id")
    ck.equal(a5.get("customer_id"), survivor, "the linking message resolves to the older customer")

    # ---- the last payload shows one customer and one thread ----
    cust = last.get("customer", {})
    ck.equal(cust.get("id"), survivor, "payload: the survivor customer")
    ck.equal(ident_set(cust), want_idents, "payload: the customer has every identity")
    thread = last.get("thread", [])
    ck.equal([(m.get("text") or "").strip() for m in thread], want_texts,
             "payload: the thread holds the five messages in the order they were written")
    ck.equal([m.get("channel") for m in thread], want_channels,
             "payload: the thread spans chat, email, callback and WhatsApp")
    sent = [h.parse_time(m.get("sent_at")) for m in thread]
    ck.check(all(sent) and sent == sorted(sent), "payload: thread sorted by sent_at",
             [m.get("sent_at") for m in thread])
    ck.equal(last.get("thread_truncated"), False, "payload: the thread is not truncated")
    conv = last.get("conversation", {})
    ck.equal(conv.get("message_count"), 5, "payload: message_count 5")
    ck.equal(thread[-1] if thread else None, last.get("message"),
             "payload: the thread ends with the new message")
    ck.equal(sorted(x["id"] for x in (m for m in thread)), sorted(a["message_id"] for _, a in posted),
             "payload: the thread's message ids are the five accepted ones")

    # ---- the read API agrees ----
    r = api(env, f"/v1/conversations/{conv.get('id')}")
    ck.equal(r.status, 200, "GET /v1/conversations/{id}: 200")
    full = r.json or {}
    ck.equal(full.get("thread"), thread, "GET conversation: the same thread as the last payload")
    ck.equal(full.get("customer", {}).get("id"), survivor, "GET conversation: the same customer")
    ck.equal(ident_set(full.get("customer", {})), want_idents,
             "GET conversation: the customer's identities")
    ck.equal(full.get("conversation", {}).get("status"), "open", "GET conversation: open")

    for old in (a1.get("customer_id"), a3.get("customer_id")):
        r = api(env, f"/v1/customers/{old}")
        ck.equal((r.status, (r.json or {}).get("id")), (200, survivor),
                 f"GET /v1/customers/{old}: the survivor")
    r = api(env, f"/v1/customers/{survivor}")
    whole = r.json or {}
    ck.equal(whole.get("merged_ids"), [a3.get("customer_id")], "the merge is recorded")
    ck.equal(ident_set(whole), want_idents, "GET customer: every identity")
    ck.equal([x.get("status") for x in whole.get("conversations", [])], ["open"],
             "GET customer: exactly one conversation, open")
    for q in ("phone:%2B1%20(555)%20010-2000", "whatsapp:15550102000", "email:ANN.LEE@example.com",
              "chat:web-chat:v-ann"):
        r = api(env, f"/v1/customers?identity={q}")
        ck.equal((r.status, (r.json or {}).get("id")), (200, survivor),
                 f"GET /v1/customers?identity={q}: the survivor")

    # Every message was consumed exactly once, and nothing else arrived.
    ck.equal(agent.drain(idle=1.5, deadline=5), [], "nothing more queued")
    h.log(json.dumps({"customer": survivor, "conversation": conv.get("id"),
                      "identities": sorted(want_idents), "messages": len(thread)}))
    for p in (p1, p2, p3, p4):
        ck.check(p.get("message", {}).get("id") in {a["message_id"] for _, a in posted},
                 "every consumed payload is one of the accepted messages")


if __name__ == "__main__":
    h.run(main, timeout=240)
