#!/usr/bin/python3
"""The customer's data on purpose (issue #21): export, erasure and the blocklist, through HTTP,
the real broker and pika.

1. Ann writes on web chat (the backend vouches for her email), by e-mail (DMARC passed) and on
   WhatsApp; the chat backend then vouches for her phone: the WhatsApp customer merges into
   hers. Bob writes too. Every message carries a canary string.
2. Export, asked with the merged WhatsApp customer's id: one document (docs/export.schema.json)
   with both customers, the identities of three channels, the merge and its cause, and every
   message of Ann's; nothing of Bob's.
3. The blocklist (server.blocklist_file): a listed chat visitor and a mail from a listed domain
   are answered 200 and leave no customer and no queue message; `outcome="blocked"` counts
   them; a sender added to the file is blocked after SIGHUP.
4. The broker goes away (the daemon restarts on a dead broker URL): two more messages of Ann's
   are acknowledged and wait in the outbox. DELETE /v1/customers/{id} erases her: the canary
   is in neither the database file nor the WAL (grep -c 0), a provider's retry of her messages
   is answered as a duplicate and stores nothing, GET and export answer 404.
5. Back on the broker: the two unpublished messages never reach a queue (Bob's next one
   does), and a pika client consumes the customer.erased event, valid against the schema."""

from __future__ import annotations

import json
import os
import secrets as pysecrets
import sys
import time
from typing import Any

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import test_channels_social as social  # noqa: E402

TOKEN = "ops-" + pysecrets.token_hex(12)
MIME_TOKEN = pysecrets.token_urlsafe(24)
META_SECRET = pysecrets.token_hex(16)
CANARY = "CANARY-" + pysecrets.token_hex(6)
WA_ID = "15550102000"

CHANNELS = (h.channel_yaml("mail", "mime", MIME_TOKEN, trusted_authserv_id="mx.acme.example")
            + h.channel_yaml("wa", "whatsapp", META_SECRET, verify_token="data-verify"))


def mail(sender: str, text: str, t: float, msgid: str | None = None) -> bytes:
    return bytes(h.dmarc_mail(sender, f"Order 4471 {CANARY}", text, t, msgid))


def whatsapp(text: str, wamid: str, t: float) -> bytes:
    return json.dumps(social.whatsapp_batch(WA_ID, "A. Lee", text, wamid, int(t))).encode()


def api(env: h.Env, method: str, path: str) -> h.Response:
    return env.client().request(method, path, None, {"Authorization": f"Bearer {TOKEN}"})


def count_in(path: str, needle: str) -> int:
    """grep -c, counting occurrences in a binary file (0 when it does not exist)."""
    try:
        with open(path, "rb") as f:
            return f.read().count(needle.encode())
    except FileNotFoundError:
        return 0


def main(ck: h.Checks) -> None:
    import jsonschema  # noqa: PLC0415 (Debian's python3-jsonschema)
    with open(os.path.join(h.source_dir(), "docs", "export.schema.json")) as f:
        export_schema = jsonschema.Draft202012Validator(json.load(f))

    blocklist = None  # written below, once the workdir exists
    env = h.Env(extra_channels=CHANNELS, api_tokens=[TOKEN],
                server_extra="  blocklist_file: BLOCKLIST\n")
    blocklist = os.path.join(env.workdir, "blocked-senders")
    with open(blocklist, "w") as f:
        f.write("# spam\nchat:web-chat:v-spam\nemail_domain:junk.example\n")
    env.config_text = env.config_text.replace("BLOCKLIST", h.yq(blocklist))
    with open(env.config_path, "w") as f:
        f.write(env.config_text)
    env.start()
    agent = h.Consumer(env.amqp_url, list(env.queues.values()))
    c = env.client()
    t0 = time.time() - 600

    def accepted(what: str, r: h.Response) -> dict[str, Any]:
        ck.require(r.status == 202, f"{what}: 202", f"{r.status} {r.body[:300]!r}")
        return ((r.json or {}).get("accepted") or [{}])[0]

    def post_mail(body: bytes) -> h.Response:
        return c.request("POST", "/v1/webhooks/mail", body, {
            "Content-Type": "message/rfc822", "Authorization": f"Bearer {MIME_TOKEN}"})

    def post_wa(body: bytes) -> h.Response:
        return c.request("POST", "/v1/webhooks/wa", body, {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": h.meta_signature(META_SECRET, body)})

    # ---- 1. Ann on three channels, merged; Bob ----
    chat1 = h.chat_message("chat-1", "v-ann", f"Where is order 4471? {CANARY}",
                           name=f"Ann {CANARY}", email="ann.lee@example.com",
                           sent_at=h.rfc3339(t0), verified=["email"])
    a1 = accepted("chat", env.post(c, chat1))
    mail1 = mail("ann.lee@example.com", f"Following up. {CANARY}\n", t0 + 60)
    a2 = accepted("e-mail", post_mail(mail1))
    wa1 = whatsapp(f"Hello from WhatsApp {CANARY}", "wamid.DATA1", t0 + 120)
    a3 = accepted("whatsapp", post_wa(wa1))
    ck.check(a3.get("customer_id") != a1.get("customer_id"), "WhatsApp starts another customer")
    a4 = accepted("chat with the phone", env.post(c, h.chat_message(
        "chat-2", "v-ann", f"My number is +1 555 010 2000 {CANARY}", name=f"Ann {CANARY}",
        email="ann.lee@example.com", phone="+15550102000", sent_at=h.rfc3339(t0 + 180),
        verified=["email", "phone"])))
    ck.equal(a2.get("customer_id"), a1.get("customer_id"), "the e-mail joins Ann")
    ck.equal(a4.get("customer_id"), a1.get("customer_id"), "the phone merges WhatsApp into Ann")
    bob = accepted("bob", env.post(c, h.chat_message("bob-1", "v-bob", "Bob's question",
                                                     name="Bob")))
    got = agent.drain(until=lambda ms: len(ms) >= 5)
    ck.equal(len(got), 5, "five messages consumed")
    ann_ids = {a.get("message_id") for a in (a1, a2, a3, a4)}

    # ---- 2. export ----
    r = api(env, "GET", f"/v1/customers/{a3.get('customer_id')}/export")
    ck.require(r.status == 200, "export: 200", f"{r.status} {r.body[:300]!r}")
    doc = r.json or {}
    ck.equal([e.message for e in export_schema.iter_errors(doc)], [],
             "the export matches docs/export.schema.json")
    ck.check("attachment" in r.headers.get("content-disposition", ""),
             "export: Content-Disposition attachment", r.headers.get("content-disposition"))
    ck.equal(doc.get("customer_id"), a1.get("customer_id"),
             "export by the merged id: the survivor's document")
    ck.equal(sorted(x.get("id") for x in doc.get("customers", [])),
             sorted([a1.get("customer_id"), a3.get("customer_id")]),
             "both customers, the merged one included")
    idents = {f"{i['type']}:{i['value']}" for i in doc.get("identities", [])}
    ck.check({"chat:web-chat:v-ann", "email:ann.lee@example.com", f"whatsapp:{WA_ID}",
              "phone:+15550102000"} <= idents, "identities of three channels", sorted(idents))
    merges = doc.get("merges", [])
    ck.equal([(m.get("merged_id"), m.get("message_id")) for m in merges],
             [(a3.get("customer_id"), a4.get("message_id"))],
             "the merge, with the message that proved it")
    exported = {m.get("id") for conv in doc.get("conversations", [])
                for m in conv.get("messages", [])}
    ck.equal(exported, ann_ids, "every message of Ann's, and only hers")
    ck.check("Bob's question" not in r.body.decode(), "nothing of Bob's in Ann's export")
    ck.equal(api(env, "GET", "/v1/customers/no-such-id/export").status, 404,
             "export of an unknown id: 404")
    ck.equal(api(env, "POST", f"/v1/customers/{bob.get('customer_id')}/export").status, 405,
             "export: POST is 405")

    # ---- 3. blocklist ----
    before = h.scrape_metrics(c)
    r = env.post(c, h.chat_message("spam-1", "v-spam", "Buy now", name="Spammer"))
    ck.equal(r.status, 200, "a blocked visitor: 200 (the provider stops retrying)")
    ck.equal((r.json or {}).get("ignored"), 1, "answered as one ignored event")
    r = post_mail(mail("sales@junk.example", "Cheap offers", t0 + 200))
    ck.equal(r.status, 200, "mail from a blocked domain: 200")
    for who in ("chat:web-chat:v-spam", "email:sales@junk.example"):
        ck.equal(api(env, "GET", f"/v1/customers?identity={who}").status, 404,
                 f"no customer stored for {who}")
    after = h.scrape_metrics(c)
    blocked = sum((h.metric(after, "switchboard_messages_total", channel=ch, outcome="blocked")
                   or 0) - (h.metric(before, "switchboard_messages_total", channel=ch,
                                     outcome="blocked") or 0) for ch in ("web-chat", "mail"))
    ck.equal(blocked, 2, "switchboard_messages_total{outcome=\"blocked\"} counts both")
    ck.equal(accepted("v-late before the reload", env.post(c, h.chat_message(
        "late-1", "v-late", "first"))).get("message_id") is not None, True,
        "v-late is not blocked yet")
    with open(blocklist, "a") as f:
        f.write("chat:web-chat:v-late\n")
    env.daemon.reload(env.config_text, "reloaded")
    r = env.post(c, h.chat_message("late-2", "v-late", "second"))
    ck.equal(r.status, 200, "after SIGHUP, a sender added to the file is blocked")
    got = agent.drain(idle=2, until=lambda ms: len(ms) >= 1)
    ck.equal([m.provider_id for m in got], ["late-1"],
             "only the message from before the reload reached a queue")

    # ---- 4. two messages left unpublished, then the erasure ----
    env.daemon.stop()
    live_config = env.config_text
    dead = h.free_port()
    env.config_text = env.config_text.replace(
        h.yq(env.amqp_url), h.yq(f"amqp://guest:guest@127.0.0.1:{dead}/%2f"))
    with open(env.config_path, "w") as f:
        f.write(env.config_text)
    env.start(wait_queues=False)
    c = env.client()
    u1 = accepted("unpublished 1", env.post(c, h.chat_message(
        "chat-3", "v-ann", f"Still waiting {CANARY}", name=f"Ann {CANARY}")))
    u2 = accepted("unpublished 2", env.post(c, h.chat_message(
        "chat-4", "v-ann", f"Hello? {CANARY}", name=f"Ann {CANARY}")))
    ck.equal(h.metric(h.scrape_metrics(c), "switchboard_outbox_backlog"), 2.0,
             "the two wait in the outbox")
    tap = h.EventTap(env, binding="customer.#")

    wal = env.store_path + "-wal"
    ck.check(count_in(env.store_path, CANARY) + count_in(wal, CANARY) > 0,
             "the canary is in the store before the erasure")
    r = api(env, "DELETE", f"/v1/customers/{a3.get('customer_id')}")
    ck.require(r.status == 200, "DELETE by the merged id: 200", f"{r.status} {r.body[:300]!r}")
    erased = r.json or {}
    ck.equal(erased.get("id"), a1.get("customer_id"), "the survivor is erased")
    ck.equal(erased.get("merged_ids"), [a3.get("customer_id")], "with the customer merged into it")
    ck.equal(erased.get("messages"), 6, "six messages erased")
    ck.equal(erased.get("unpublished"), 2, "two unpublished outbox rows erased")
    ck.equal(erased.get("wal_cleared"), True, "the WAL was truncated")
    ck.equal(count_in(env.store_path, CANARY), 0, "grep -c canary in the database file: 0")
    ck.equal(count_in(wal, CANARY), 0, "grep -c canary in the WAL: 0")
    ck.equal(count_in(env.store_path, "ann.lee@example.com"), 0, "her address: 0")
    ck.equal(h.metric(h.scrape_metrics(c), "switchboard_outbox_backlog"), 0.0,
             "the backlog no longer counts them")
    ck.equal(api(env, "GET", f"/v1/customers/{a1.get('customer_id')}").status, 404,
             "GET the erased customer: 404")
    ck.equal(api(env, "GET", f"/v1/customers/{a1.get('customer_id')}/export").status, 404,
             "export the erased customer: 404")
    ck.equal(api(env, "DELETE", f"/v1/customers/{a1.get('customer_id')}").status, 404,
             "erase it again: 404")
    # The providers retry: nothing is stored again.
    for what, r in (("chat retry", env.post(c, chat1)), ("mail retry", post_mail(mail1)),
                    ("whatsapp retry", post_wa(wa1))):
        ck.equal((r.status, (r.json or {}).get("duplicates")), (200, 1),
                 f"{what}: answered as a duplicate")
    ck.equal(api(env, "GET", "/v1/customers?identity=chat:web-chat:v-ann").status, 404,
             "the retries left no customer")

    # ---- 5. back on the broker ----
    env.daemon.stop()
    env.config_text = live_config
    with open(env.config_path, "w") as f:
        f.write(env.config_text)
    env.start()
    c = env.client()
    accepted("bob again", env.post(c, h.chat_message("bob-2", "v-bob", "Bob again", name="Bob")))
    got = agent.drain(idle=3, until=lambda ms: len(ms) >= 1)
    ck.equal([m.provider_id for m in got], ["bob-2"],
             "the erased customer's unpublished messages never reach a queue")
    ck.check(not ({u1.get("message_id"), u2.get("message_id")}
                  & {m.message_id for m in got}), "neither unpublished message was published")
    tap.wait(lambda evs: any(e.get("type") == "customer.erased" for e in evs))
    ev = [e for e in tap.events if e.get("type") == "customer.erased"]
    ck.equal(len(ev), 1, "one customer.erased event consumed by pika")
    if ev:
        ck.equal(ev[0].get("customer_id"), a1.get("customer_id"), "naming the erased customer")
        ck.check(a1.get("conversation_id") in ev[0].get("conversation_ids", []),
                 "and its conversation", ev[0].get("conversation_ids"))
    ck.equal(tap.errors, [], "the event matches docs/event.schema.json and its AMQP properties")
    env.finish(ck, "customer data", integrity=True)


if __name__ == "__main__":
    h.run(main, timeout=240)
