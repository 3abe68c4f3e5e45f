#!/usr/bin/python3
"""One customer, one thread, across channels (issue #4's scenario), through HTTP and the real
broker, joined only by what is proven (issue #18: claims never link, merge or open a thread):

1. Ann writes on web chat as visitor v-ann; the chat backend, where she is logged in, vouches
   for her email (visitor.verified);
2. she emails from that address (raw MIME, mixed case); the MTA's Authentication-Results
   (trusted_authserv_id mx.acme.example) says DMARC passed: the From is proven, the mail joins;
3. a callback request, under another name, types "+1 (555) 010-2000": a claim, so a customer
   of its own, known by that claim alone;
4. WhatsApp messages arrive from wa_id 15550102000: the number is proven, but the callback's
   customer only claimed it, so WhatsApp is another customer still;
5. Ann, still chat visitor v-ann, gives that phone, vouched for by the backend: the WhatsApp
   customer and Ann's are one person and merge, the phone recorded as the cause;
6. an impostor on web chat types Ann's email: a customer of their own, Ann's thread unseen;
7. a mail from Ann's address whose DMARC failed ("new bank details"): joins nobody.

At the end Ann is one customer holding the chat visitor, the email, the WhatsApp wa_id and the
phone (all verified), one open conversation whose thread holds steps 1, 2, 4 and 5 in the order
they were written; the callback, the impostor and the spoofed mail each stand alone, their
claims shown to the agent as claims ("verified": false); the last consumed payloads and
GET /v1/conversations/{id} and GET /v1/customers agree."""

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

CHANNELS = (h.channel_yaml("mail", "mime", MIME_TOKEN, trusted_authserv_id="mx.acme.example")
            + h.channel_yaml("callbacks", "callback", CALLBACK_SECRET)
            + h.channel_yaml("wa", "whatsapp", META_SECRET, verify_token="scenario-verify"))


def iso(t: float) -> str:
    return h.rfc3339(t)


def mime_mail(t: float, dmarc: str = "pass",
              text: str = "Hello, following up on my chat: order 4471 has not arrived.\n"
              ) -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    # What the business's own MTA adds on top (RFC 8601); a copy the sender wrote is below it.
    msg["Authentication-Results"] = (f"mx.acme.example; spf=pass smtp.mailfrom=example.com; "
                                     f"dkim=pass header.d=example.com; dmarc={dmarc} "
                                     f"header.from=example.com")
    msg["From"] = "Ann Lee <Ann.Lee@Example.COM>"  # the store lower-cases it
    msg["To"] = "support@acme.example"
    msg["Subject"] = "Order 4471"
    msg["Date"] = format_datetime(dt.datetime.fromtimestamp(int(t), dt.timezone.utc))
    msg["Message-ID"] = make_msgid(idstring="scenario", domain="example.com")
    msg.set_content(text)
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

    # 1. web chat, giving an email the backend vouches for
    a1 = accepted("chat", env.post(c, h.chat_message(
        "chat-1", "v-ann", "Hi, where is my order 4471?", name="Ann Lee", email="Ann.Lee@Example.com",
        sent_at=iso(t0), verified=["email"])))
    p1 = consume("chat")

    # 2. an email from that address, DMARC passed per the business's MTA
    a2 = accepted("email", c.request("POST", "/v1/webhooks/mail", mime_mail(t0 + 60), {
        "Content-Type": "message/rfc822", "Authorization": f"Bearer {MIME_TOKEN}"}))
    p2 = consume("email")
    ck.equal(a2.get("customer_id"), a1.get("customer_id"), "the email joins the chat's customer")
    ck.equal(a2.get("conversation_id"), a1.get("conversation_id"),
             "the email joins the chat's conversation")
    ck.equal(len(p2.get("thread", [])), 2, "the email's payload holds the chat and the email")
    ck.equal((p2["message"].get("sender_authenticated"), p2["message"].get("sender_authentication")),
             ("pass", "dmarc=pass (mx.acme.example)"), "the email's proof is in the payload")

    # 3. a callback request under another name, the number typed into a form: a claim
    cb = {"id": "cb-scenario-1", "phone": "+1 (555) 010-2000", "name": "Bob Lee",
          "requested_at": iso(t0 + 120), "reason": "order 4471 not delivered", "ivr_digits": "2"}
    a3 = accepted("callback", h.post_webhook(c, "callbacks", cb, CALLBACK_SECRET))
    p3 = consume("callback")
    ck.check(a3.get("customer_id") != a1.get("customer_id"), "the callback is another customer")
    ck.equal(p3.get("customer", {}).get("identities"),
             [{"type": "phone", "value": PHONE, "verified": False}],
             "the callback's phone, in E.164, shown as a claim")

    # 4. WhatsApp from that number: proven, but nobody proved the callback's claim
    wa = whatsapp("Any news on 4471?", "wamid.scenario-1", t0 + 180)
    a4 = accepted("whatsapp", c.request("POST", "/v1/webhooks/wa", wa, {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": "sha256=" + hmac.new(META_SECRET.encode(), wa, hashlib.sha256).hexdigest()}))
    p4 = consume("whatsapp")
    ck.check(a4.get("customer_id") not in (a1.get("customer_id"), a3.get("customer_id")),
             "WhatsApp from the callback's number: a claim does not make it the callback's customer")
    ck.equal(len(p4.get("thread", [])), 1, "the WhatsApp payload holds only itself")

    # 5. the chat visitor gives that phone, vouched for: the two are one person
    a5 = accepted("chat with phone", env.post(c, h.chat_message(
        "chat-2", "v-ann", "You can also reach me on +1 555 010 2000", name="Ann Lee",
        phone="+1 555 010 2000", sent_at=iso(t0 + 240), verified=["phone"])))
    last = consume("chat with phone")

    want_idents = {"chat:web-chat:v-ann", f"email:{EMAIL}", f"phone:{PHONE}", f"whatsapp:{WA_ID}"}
    want_texts = ["Hi, where is my order 4471?",
                  "Hello, following up on my chat: order 4471 has not arrived.",
                  "Any news on 4471?",
                  "You can also reach me on +1 555 010 2000"]
    want_channels = ["web-chat", "mail", "wa", "web-chat"]
    survivor = a1.get("customer_id")
    ck.equal(a5.get("customer_id"), survivor, "the linking message resolves to the older customer")

    # ---- the last payload shows one customer and one thread ----
    cust = last.get("customer", {})
    ck.equal(cust.get("id"), survivor, "payload: the survivor customer")
    ck.equal(ident_set(cust), want_idents, "payload: the customer has every identity")
    ck.check(all(i.get("verified") is True for i in cust.get("identities", [])),
             "payload: every identity of Ann's is verified", cust.get("identities"))
    thread = last.get("thread", [])
    ck.equal([(m.get("text") or "").strip() for m in thread], want_texts,
             "payload: the thread holds the four messages in the order they were written")
    ck.equal([m.get("channel") for m in thread], want_channels,
             "payload: the thread spans chat, email and WhatsApp")
    sent = [h.parse_time(m.get("sent_at")) for m in thread]
    ck.check(all(sent) and sent == sorted(sent), "payload: thread sorted by sent_at",
             [m.get("sent_at") for m in thread])
    ck.equal(last.get("thread_truncated"), False, "payload: the thread is not truncated")
    conv = last.get("conversation", {})
    ck.equal(conv.get("message_count"), 4, "payload: message_count 4")
    ck.equal(thread[-1] if thread else None, last.get("message"),
             "payload: the thread ends with the new message")
    ck.equal(sorted(x["id"] for x in thread),
             sorted(a["message_id"] for what, a in posted if what != "callback"),
             "payload: the thread's message ids are the four accepted ones")

    # ---- 6. an impostor types Ann's email ----
    a6 = accepted("impostor", env.post(c, h.chat_message(
        "chat-imp", "v-imp", "What did I write you last week?", name="Ann Lee",
        email="ann.lee@example.com", sent_at=iso(t0 + 300))))
    p6 = consume("impostor")
    ck.check(a6.get("customer_id") != survivor, "the impostor is not Ann")
    ck.equal([m.get("id") for m in p6.get("thread", [])], [a6.get("message_id")],
             "the impostor's payload holds none of Ann's messages")
    ck.equal(p6.get("customer", {}).get("identities"),
             [{"type": "chat", "value": "web-chat:v-imp", "verified": True},
              {"type": "email", "value": EMAIL, "verified": False}],
             "the typed email is shown to the agent as a claim")

    # ---- 7. a spoofed mail from Ann's address ----
    a7 = accepted("spoofed mail", c.request("POST", "/v1/webhooks/mail", mime_mail(
        t0 + 360, dmarc="fail", text="Please pay to our new bank account.\n"), {
        "Content-Type": "message/rfc822", "Authorization": f"Bearer {MIME_TOKEN}"}))
    p7 = consume("spoofed mail")
    ck.check(a7.get("customer_id") not in (survivor, a6.get("customer_id")),
             "a mail whose DMARC failed joins nobody")
    ck.equal(len(p7.get("thread", [])), 1, "its payload holds only itself")
    ck.equal(p7["message"].get("sender_authenticated"), "fail", "flagged: authentication failed")

    # ---- the read API agrees ----
    r = api(env, f"/v1/conversations/{conv.get('id')}")
    ck.equal(r.status, 200, "GET /v1/conversations/{id}: 200")
    full = r.json or {}
    ck.equal(full.get("thread"), thread, "GET conversation: the same thread as the last payload")
    ck.equal(full.get("customer", {}).get("id"), survivor, "GET conversation: the same customer")
    ck.equal(ident_set(full.get("customer", {})), want_idents,
             "GET conversation: the customer's identities")
    ck.equal(full.get("conversation", {}).get("status"), "open", "GET conversation: open")

    r = api(env, f"/v1/customers/{a4.get('customer_id')}")
    ck.equal((r.status, (r.json or {}).get("id")), (200, survivor),
             "GET /v1/customers/{the WhatsApp customer}: the survivor")
    r = api(env, f"/v1/customers/{survivor}")
    whole = r.json or {}
    ck.equal(whole.get("merged_ids"), [a4.get("customer_id")], "the merge is recorded")
    merges = whole.get("merges", [])
    ck.equal([(m.get("merged_id"), m.get("message_id"), m.get("identity")) for m in merges],
             [(a4.get("customer_id"), a5.get("message_id"), {"type": "phone", "value": PHONE})],
             "with its cause: the message and the identity that proved it")
    ck.equal(ident_set(whole), want_idents, "GET customer: every identity")
    ck.equal([x.get("status") for x in whole.get("conversations", [])], ["open"],
             "GET customer: exactly one conversation, open")
    for q in ("phone:%2B1%20(555)%20010-2000", "whatsapp:15550102000", "email:ANN.LEE@example.com",
              "chat:web-chat:v-ann"):
        r = api(env, f"/v1/customers?identity={q}")
        ck.equal((r.status, (r.json or {}).get("id")), (200, survivor),
                 f"GET /v1/customers?identity={q}: the survivor (claims are not looked up)")
    r = api(env, f"/v1/customers/{a3.get('customer_id')}")
    ck.equal(((r.json or {}).get("id"), len((r.json or {}).get("conversations", []))),
             (a3.get("customer_id"), 1), "the callback's customer stands alone")

    # Every message was consumed exactly once, and nothing else arrived.
    ck.equal(agent.drain(idle=1.5, deadline=5), [], "nothing more queued")
    h.log(json.dumps({"customer": survivor, "conversation": conv.get("id"),
                      "identities": sorted(want_idents), "messages": len(thread)}))
    for p in (p1, p2, p3, p4, p6, p7):
        ck.check(p.get("message", {}).get("id") in {a["message_id"] for _, a in posted},
                 "every consumed payload is one of the accepted messages")


if __name__ == "__main__":
    h.run(main, timeout=240)
