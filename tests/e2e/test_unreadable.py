"""Unreadable events (docs/operations.md, "Unreadable events"): an event of a signed delivery
that cannot be read never costs the others. Against the real daemon and broker:

- a WhatsApp batch whose middle message is an `interactive` without its object (what WhatsApp Web
  reconnects send, pywa's fixture interactive_message_with_err): 202, the two others stored and
  published, the delivery kept whole; Meta's redelivery of it is kept once;
- ops see it: the log line, /metrics (switchboard_messages_total{outcome="unreadable"},
  switchboard_unreadable_pending), GET /v1/unreadable, the event's JSON, the body byte for byte;
- a replay that still cannot read it changes nothing; after an upgrade that reads it (here: the
  daemon stopped, the kept body mended in the store as a newer version would read it), the
  replay stores the missing message, publishes it, marks the delivery replayed; DELETE forgets;
- a Telegram update that cannot be read is kept too (Telegram sends nothing more to a bot until
  an update is acknowledged), and so is a mail without a usable sender.
"""

from __future__ import annotations

import json
import os
import secrets as pysecrets
import sqlite3
import time

import harness as h

TOKEN = "unreadable-api-token-" + pysecrets.token_hex(8)
META_SECRET = pysecrets.token_hex(16)
TG_SECRET = "tg_" + pysecrets.token_hex(16)
MIME_SECRET = "mta-" + pysecrets.token_hex(16)


def wa_batch(messages: list[dict]) -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": [{
        "id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Ann Lee"}, "wa_id": "15550102000"}],
            "messages": messages,
            "errors": [{"code": 131000, "title": "Something went wrong"}]}}]}]}).encode()


def wa_text(wamid: str, text: str) -> dict:
    return {"from": "15550102000", "id": wamid, "timestamp": str(int(time.time())),
            "type": "text", "text": {"body": text}}


def main(ck: h.Checks) -> None:
    env = h.Env(api_tokens=[TOKEN], extra_channels=(
        h.channel_yaml("wa", "whatsapp", META_SECRET, verify_token="unreadable-test")
        + h.channel_yaml("tg", "telegram", TG_SECRET)
        + h.channel_yaml("mta", "mime", MIME_SECRET)))
    d = env.start()
    c = env.client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    agent = h.Consumer(env.amqp_url, list(env.queues.values()))
    run = pysecrets.token_hex(4)

    def post_wa(body: bytes) -> h.Response:
        return c.request("POST", "/v1/webhooks/wa", body, {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": h.meta_signature(META_SECRET, body)})

    def api(method: str, path: str) -> h.Response:
        return c.request(method, path, headers=auth)

    # ---- one unreadable event among readable ones ----
    broken = {"context": {"from": "15550783881", "id": "wamid.prev"}, "from": "15550102000",
              "id": f"wamid.BROKEN{run}", "timestamp": str(int(time.time())),
              "type": "interactive"}
    body = wa_batch([wa_text(f"wamid.A{run}", "first, before the broken one"), broken,
                     wa_text(f"wamid.C{run}", "third, after it")])
    r = post_wa(body)
    ck.equal(r.status, 202, "a batch with an unreadable event: 202, not 400")
    ck.equal((len(r.json["accepted"]), r.json["duplicates"], r.json["ignored"], r.json["unreadable"]),
             (2, 0, 1, 1), "two stored, the value's errors[] ignored, one kept unreadable")
    stored_ids = {a["message_id"] for a in r.json["accepted"]}
    got = agent.drain(until=lambda ms: stored_ids <= {m.message_id for m in ms}, deadline=30)
    ck.check(stored_ids <= {m.message_id for m in got}, "the readable messages reach the queue")
    ck.check(d.log_grep("kept 1 unreadable event(s) channel=wa first "
                        "path=entry[0].changes[0].value.messages[1]"),
             "the log names the channel, the event's path and why", d.log_tail(5))

    # Meta's redelivery (our 2xx was lost, say): the messages are duplicates, the kept
    # delivery is not kept twice.
    r = post_wa(body)
    ck.equal((r.status, r.json["duplicates"], r.json["unreadable"]), (200, 2, 1),
             "the redelivery: 200, two duplicates, the event still unreadable")

    listing = api("GET", "/v1/unreadable").json["unreadable"]
    ck.equal(len(listing), 1, "GET /v1/unreadable: the delivery, kept once")
    item = listing[0]
    ck.equal((item["channel"], item["channel_type"], item["status"], item["event_count"],
              item["body_bytes"]), ("wa", "whatsapp", "pending", 1, len(body)),
             "listed with its channel, status, event count and size")
    ck.equal(item["events"][0]["path"], "entry[0].changes[0].value.messages[1]", "its path")
    ck.check("interactive is required" in item["events"][0]["reason"], "its reason",
             item["events"][0]["reason"])
    kid = item["id"]
    detail = api("GET", f"/v1/unreadable/{kid}").json
    ck.equal(detail["events"][0]["event"]["id"], broken["id"], "the event's JSON, as received")
    raw = api("GET", f"/v1/unreadable/{kid}/body")
    ck.equal((raw.status, raw.body, raw.headers.get("content-type")),
             (200, body, "application/json"), "the body byte for byte, with its Content-Type")
    m = h.scrape_metrics(c)
    ck.equal(h.metric(m, "switchboard_messages_total", channel="wa", outcome="unreadable",
                      reason=""), 2.0, "/metrics counts the unreadable event of each delivery")
    ck.equal(h.metric(m, "switchboard_unreadable_pending"), 1.0, "/metrics: one pending")

    # ---- the read API's rules ----
    ck.equal(c.request("GET", "/v1/unreadable").status, 401, "without the token: 401")
    ck.equal(api("GET", "/v1/unreadable/nope").status, 404, "an unknown id: 404")
    ck.equal(api("GET", f"/v1/unreadable/{kid}/replay").status, 405, "GET on replay: 405")
    ck.equal(api("GET", "/v1/unreadable?status=lost").status, 400, "an unknown status: 400")
    ck.equal(api("GET", "/v1/unreadable?limit=0").status, 400, "limit 0: 400")
    ck.equal(api("GET", "/v1/unreadable?channel=tg").json["unreadable"], [],
             "filtered by channel")

    # ---- replay: still unreadable, nothing changes ----
    r = api("POST", f"/v1/unreadable/{kid}/replay")
    ck.equal((r.status, r.json["accepted"], r.json["duplicates"], r.json["unreadable"]),
             (200, [], 2, 1), "a replay this version still cannot read: duplicates, still kept")
    ck.equal(api("GET", f"/v1/unreadable/{kid}").json["status"], "pending", "still pending")

    # ---- an upgrade that reads it: the daemon stopped, the event as the new version reads it ---
    ck.equal(d.stop(), 0, "the daemon stops cleanly")
    mended = body.replace(b'"type": "interactive"}',
                          b'"type": "interactive", "interactive": {"type": "button_reply", '
                          b'"button_reply": {"id": "yes", "title": "Yes, refund it"}}}')
    ck.check(mended != body, "the test mends the kept body")
    db = sqlite3.connect(env.store_path)
    db.execute("UPDATE unreadable SET body = ? WHERE id = ?", (mended, kid))
    db.commit()
    db.close()
    d.start()
    c = env.client()
    r = api("POST", f"/v1/unreadable/{kid}/replay")
    ck.equal((r.status, len(r.json["accepted"]), r.json["duplicates"], r.json["unreadable"]),
             (202, 1, 2, 0), "the replay stores the message it can now read")
    new_id = r.json["accepted"][0]["message_id"] if r.json["accepted"] else None
    ck.equal(r.json["accepted"][0]["skill"] if r.json["accepted"] else None, "general",
             "and routes it (its conversation's skill: the batch's messages went to general)")
    got = agent.drain(until=lambda ms: new_id in {m.message_id for m in ms}, deadline=30)
    replayed = [m for m in got if m.message_id == new_id]
    ck.check(replayed and replayed[0].body["message"]["text"] == "Yes, refund it",
             "the replayed message reaches its queue", [m.message_id for m in got])
    if replayed:
        texts = [t["text"] for t in replayed[0].body["thread"]]
        ck.check("first, before the broken one" in texts and "third, after it" in texts,
                 "in the same conversation as the batch's other messages", texts)
    detail = api("GET", f"/v1/unreadable/{kid}").json
    ck.equal((detail["status"], detail["event_count"]), ("replayed", 0),
             "the delivery is marked replayed")
    ck.check(detail["replayed_at"], "with when")
    ck.equal(api("GET", "/v1/unreadable").json["unreadable"], [], "no longer pending")
    ck.equal(len(api("GET", "/v1/unreadable?status=replayed").json["unreadable"]), 1,
             "listed among the replayed")
    ck.equal(h.metric(h.scrape_metrics(c), "switchboard_unreadable_pending"), 0.0,
             "/metrics: none pending")
    r = api("POST", f"/v1/unreadable/{kid}/replay")
    ck.equal((r.status, r.json["duplicates"], r.json["unreadable"]), (200, 3, 0),
             "replaying again is safe: all duplicates")

    r = api("DELETE", f"/v1/unreadable/{kid}")
    ck.equal((r.status, r.json), (200, {"id": kid, "status": "deleted"}), "DELETE forgets it")
    ck.equal(api("GET", f"/v1/unreadable/{kid}").status, 404, "then it is gone")
    ck.equal(api("DELETE", f"/v1/unreadable/{kid}").status, 404, "a second DELETE: 404")

    # ---- a Telegram update, a mail ----
    tg = json.dumps({"update_id": 700000 + int(run, 16) % 100000, "message": {
        "message_id": 5, "from": {"id": "42", "first_name": "Ann"},
        "chat": {"id": 42, "type": "private"}, "date": int(time.time()), "text": "hi"}}).encode()
    r = c.request("POST", "/v1/webhooks/tg", tg, {
        "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
    ck.equal((r.status, r.json["unreadable"] if r.json else None), (202, 1),
             "a Telegram update that cannot be read: 202, kept (Telegram would stall otherwise)")
    mail = (f"To: support@acme.example\r\nSubject: who am I\r\nMessage-ID: <{run}@x.example>\r\n"
            "\r\nno From at all\r\n").encode()
    r = c.request("POST", "/v1/webhooks/mta", mail, {
        "Content-Type": "message/rfc822", "Authorization": f"Bearer {MIME_SECRET}"})
    ck.equal((r.status, r.json["unreadable"] if r.json else None), (202, 1),
             "a mail without a usable sender: 202, kept (an MTA would bounce it to nobody)")
    kept = api("GET", "/v1/unreadable").json["unreadable"]
    ck.equal(sorted((k["channel"], k["events"][0]["path"]) for k in kept),
             [("mta", "body"), ("tg", "message")], "both listed, with their paths")
    ck.equal(h.metric(h.scrape_metrics(c), "switchboard_unreadable_pending"), 2.0,
             "/metrics: two pending")
    ck.equal(d.stop(), 0, "SIGTERM: exit 0")
    ck.equal(d.sanitizer_reports(), [], "no sanitizer reports")


if __name__ == "__main__":
    h.run(main, timeout=240)
