#!/usr/bin/python3
"""Agents' replies delivered (docs/replies.md, "Delivery") to local fakes of the providers'
send APIs (tests/fakes/providers.py), which check every request against the provider's format:
web chat (a Standard-Webhooks-signed POST), Telegram sendMessage, the WhatsApp Cloud API and
Messenger's and Instagram's Send API (whose echo of the reply is not stored twice, and whose
delivery and read receipts move it on).
Each reply (over HTTP, or published by pika on the replies queue) reaches its provider once,
with the exact request, its status becomes sent in the thread, and it is in the thread of the
customer's next payload; the same key twice sends once; a chat backend answering 500 for a minute gets the
reply exactly once after it recovers; 429 with Retry-After is honoured; WhatsApp's permanent
refusal (#131047, outside the window) fails at once with the provider's reason and no retry."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
import harness as h  # noqa: E402
import providers  # noqa: E402

TOKEN = "t0ken-" + os.urandom(8).hex()
AGENT = {"id": "a-7", "name": "Ieva"}
CHAT_OUT = "whsec_" + __import__("base64").b64encode(os.urandom(24)).decode()
TG_SECRET = "tg-" + os.urandom(12).hex()
TG_BOT = "7000001:AAH" + os.urandom(8).hex()
META_SECRET = os.urandom(16).hex()
WA_TOKEN = "EAAG" + os.urandom(12).hex()
WA_NUMBER = "15550009999"
PAGE_TOKEN = "EAAP" + os.urandom(12).hex()
PAGE_ID = "1122334455"
IG_ID = "17841405822304914"
OUTAGE = 60.0  # seconds the chat backend answers 500


def api(env: h.Env, method: str, path: str, body: Any = None,
        headers: dict[str, str] | None = None) -> h.Response:
    hdrs = {"Authorization": f"Bearer {TOKEN}", **(headers or {})}
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        hdrs["Content-Type"] = "application/json"
    return env.client().request(method, path, data, hdrs)


def send(env: h.Env, conversation: str, text: str, key: str) -> dict[str, Any]:
    r = api(env, "POST", f"/v1/conversations/{conversation}/messages",
            {"text": text, "agent": AGENT}, {"Idempotency-Key": key})
    return r.json if r.status == 202 else {"status_code": r.status, "body": r.body}


def reply_in_thread(env: h.Env, conversation: str, message_id: str) -> dict[str, Any]:
    r = api(env, "GET", f"/v1/conversations/{conversation}")
    for m in (r.json or {}).get("thread", []):
        if m.get("id") == message_id:
            return m
    return {}


def wait_status(env: h.Env, conversation: str, message_id: str, status: str,
                timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    m: dict[str, Any] = {}
    while time.monotonic() < deadline:
        m = reply_in_thread(env, conversation, message_id)
        if m.get("status") == status:
            return m
        time.sleep(0.1)
    return m


def telegram_update(update_id: int, text: str) -> dict[str, Any]:
    user = {"id": 5512398841, "is_bot": False, "first_name": "Jānis", "language_code": "lv"}
    return {"update_id": update_id,
            "message": {"message_id": 1187, "from": user,
                        "chat": {"id": 5512398841, "first_name": "Jānis", "type": "private"},
                        "date": int(time.time()) - 5, "text": text}}


def whatsapp_batch(wa_id: str, text: str, wamid: str) -> dict[str, Any]:
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [
        {"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": WA_NUMBER, "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Līga"}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": wamid, "timestamp": str(int(time.time()) - 5),
                          "type": "text", "text": {"body": text}}]}}]}]}


def whatsapp_status(wamid: str, status: str, wa_id: str) -> dict[str, Any]:
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [
        {"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": WA_NUMBER, "phone_number_id": "106540352242922"},
            "statuses": [{"id": wamid, "status": status, "timestamp": str(int(time.time())),
                          "recipient_id": wa_id,
                          "conversation": {"id": "c1", "origin": {"type": "service"}},
                          "pricing": {"billable": True, "pricing_model": "CBP",
                                      "category": "service"}}]}}]}]}


def messenger_event(psid: str, text: str, mid: str, echo: bool = False) -> dict[str, Any]:
    sender, recipient = (PAGE_ID, psid) if echo else (psid, PAGE_ID)
    message: dict[str, Any] = {"mid": mid, "text": text}
    if echo:
        message["is_echo"] = True
        message["app_id"] = 1517776481860111
    return {"object": "page", "entry": [{"id": PAGE_ID, "time": int(time.time() * 1000),
                                         "messaging": [{"sender": {"id": sender},
                                                        "recipient": {"id": recipient},
                                                        "timestamp": int(time.time() * 1000),
                                                        "message": message}]}]}


def post_page(c: h.Client, body: dict[str, Any]) -> h.Response:
    data = h.to_bytes(body)
    return c.request("POST", "/v1/webhooks/fb", data,
                     {"Content-Type": "application/json",
                      "X-Hub-Signature-256": h.meta_signature(META_SECRET, data)})


def main(ck: h.Checks) -> None:
    fakes = providers.Providers(telegram_token=TG_BOT, whatsapp_token=WA_TOKEN,
                                chat_secret=CHAT_OUT, page_token=PAGE_TOKEN)
    h.on_cleanup("stop the providers' fakes", fakes.close)
    def meta_channel(name: str, kind: str, token: str) -> str:
        return (f"  - name: {name}\n    type: {kind}\n    secret: {h.yq(META_SECRET)}\n"
                f"    verify_token: verify-me\n    outbound:\n"
                f"      api_base: {h.yq(fakes.url + '/v21.0')}\n      token: {h.yq(token)}\n")
    channels = f"""\
  - name: tg
    type: telegram
    secret: {h.yq(TG_SECRET)}
    outbound:
      api_base: {h.yq(fakes.url)}
      token: {h.yq(TG_BOT)}
""" + meta_channel("wa", "whatsapp", WA_TOKEN) + meta_channel("fb", "messenger", PAGE_TOKEN) \
        + meta_channel("ig", "instagram", PAGE_TOKEN)
    env = h.Env(api_tokens=[TOKEN], extra_channels=channels,
                chat_extra=f"    outbound:\n      url: {h.yq(fakes.url + '/chat')}\n"
                           f"      secret: {h.yq(CHAT_OUT)}\n")
    env.check_config(ck, "chat, telegram, whatsapp, messenger and instagram channels with outbound")
    env.start()
    c = env.client()
    events = h.EventTap(env)

    # ---- the customer writes on each channel ----
    r = env.post(c, h.chat_message("m-1", "v-ann", "Where is my order?"))
    ck.require(r.status == 202, "chat message: 202", r.body)
    chat_conv = r.json["accepted"][0]["conversation_id"]
    r = c.request("POST", "/v1/webhooks/tg", h.to_bytes(telegram_update(9001, "Sveiki!")),
                  {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
    ck.require(r.status == 202, "telegram update: 202", r.body)
    tg_conv = r.json["accepted"][0]["conversation_id"]
    data = h.to_bytes(whatsapp_batch("37120000001", "Labdien", "wamid.IN1"))
    r = c.request("POST", "/v1/webhooks/wa", data,
                  {"Content-Type": "application/json",
                   "X-Hub-Signature-256": h.meta_signature(META_SECRET, data)})
    ck.require(r.status == 200 or r.status == 202, "whatsapp webhook: 2xx", r.body)
    wa_conv = r.json["accepted"][0]["conversation_id"]
    data = h.to_bytes(whatsapp_batch("37120000002", "Vēl viens", "wamid.IN2"))
    r = c.request("POST", "/v1/webhooks/wa", data,
                  {"Content-Type": "application/json",
                   "X-Hub-Signature-256": h.meta_signature(META_SECRET, data)})
    wa_conv2 = r.json["accepted"][0]["conversation_id"]

    # ---- the chat backend is down for a minute: started first, checked last ----
    fakes.fail("chat", 500, {"error": "maintenance"}, seconds=OUTAGE)
    outage_started = time.monotonic()
    down = send(env, chat_conv, "Sorry for the wait: it ships today.", "chat-1")
    ck.equal(down.get("status"), "queued", "a reply while the chat backend is down: queued")

    # ---- Telegram, from the replies queue as an agent's tool would ----
    tool = h.amqp_connect(env.amqp_url)
    ch = tool.channel()
    ch.confirm_delivery()
    pika = h._pika()

    def publish(conversation: str, text: str, key: str) -> dict[str, Any]:
        """A reply published on the replies queue as an agent's tool does: {"message_id"} once
        it is in the thread."""
        reply = {"schema": "switchboard.reply/v1", "conversation_id": conversation,
                 "text": text, "agent": AGENT}
        ch.basic_publish("", env.replies_queue, json.dumps(reply).encode(),
                         pika.BasicProperties(message_id=key, delivery_mode=2), mandatory=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for m in api(env, "GET", f"/v1/conversations/{conversation}").json.get("thread", []):
                if m.get("direction") == "outbound" and m.get("text") == text:
                    return {"message_id": m["id"]}
            time.sleep(0.1)
        return {}
    tg_reply = {"schema": "switchboard.reply/v1", "conversation_id": tg_conv,
                "text": "Labdien! Pasūtījums #4471 ir ceļā.", "agent": AGENT}
    ch.basic_publish("", env.replies_queue, json.dumps(tg_reply).encode(),
                     pika.BasicProperties(message_id="tg-1", delivery_mode=2), mandatory=True)
    got = fakes.wait_for("telegram", 1)
    ck.equal(len(got), 1, "telegram: one sendMessage")
    if got:
        ck.equal(got[0].path, f"/bot{TG_BOT}/sendMessage", "telegram: the bot's sendMessage URL")
        ck.equal(got[0].body, {"chat_id": 5512398841, "text": "Labdien! Pasūtījums #4471 ir ceļā."},
                 "telegram: the exact body")
    thread = api(env, "GET", f"/v1/conversations/{tg_conv}").json.get("thread", [])
    tg_id = thread[-1]["id"] if thread else ""
    m = wait_status(env, tg_conv, tg_id, "sent")
    ck.equal(m.get("status"), "sent", "telegram: the reply's status becomes sent")
    ck.check(h.parse_time(m.get("sent_at")) is not None, "telegram: sent_at set", m.get("sent_at"))

    # ---- WhatsApp over HTTP; the same key twice sends once ----
    first = send(env, wa_conv, "Paldies! Jūsu pasūtījums ir ceļā.", "wa-1")
    again = send(env, wa_conv, "Paldies! Jūsu pasūtījums ir ceļā.", "wa-1")
    ck.equal(again.get("message_id"), first.get("message_id"), "the same key: the same reply")
    m = wait_status(env, wa_conv, first.get("message_id", ""), "sent")
    ck.equal(m.get("status"), "sent", "whatsapp: sent")
    time.sleep(1.0)
    got = fakes.requests("whatsapp")
    ck.equal(len(got), 1, "whatsapp: one request for a key sent twice")
    if got:
        ck.equal(got[0].path, "/v21.0/106540352242922/messages",
                 "whatsapp: from the business number the customer wrote to")
        ck.equal(got[0].headers.get("authorization"), f"Bearer {WA_TOKEN}", "whatsapp: the token")
        ck.equal(got[0].body, {"messaging_product": "whatsapp", "recipient_type": "individual",
                               "to": "37120000001", "type": "text",
                               "text": {"preview_url": False,
                                        "body": "Paldies! Jūsu pasūtījums ir ceļā."}},
                 "whatsapp: the exact body")

    # ---- WhatsApp's status webhooks, out of order: read before delivered ----
    wamid = got[0].answer["messages"][0]["id"] if got else "?"
    for status in ("read", "delivered"):
        data = h.to_bytes(whatsapp_status(wamid, status, "37120000001"))
        r = c.request("POST", "/v1/webhooks/wa", data,
                      {"Content-Type": "application/json",
                       "X-Hub-Signature-256": h.meta_signature(META_SECRET, data)})
        ck.equal(r.status, 200, f"whatsapp status {status}: 200")
    m = reply_in_thread(env, wa_conv, first.get("message_id", ""))
    ck.equal(m.get("status"), "read", "statuses out of order: the reply stays read")

    # ---- WhatsApp from the replies queue; the same message_id twice sends once ----
    text = "Vai varu vēl kā palīdzēt?"
    reply = {"schema": "switchboard.reply/v1", "conversation_id": wa_conv, "text": text,
             "agent": AGENT}
    for _ in range(2):
        ch.basic_publish("", env.replies_queue, json.dumps(reply).encode(),
                         pika.BasicProperties(message_id="wa-3", delivery_mode=2),
                         mandatory=True)
    got = fakes.wait_for("whatsapp", 2)
    time.sleep(1.0)
    got = fakes.requests("whatsapp")
    ck.equal(len(got), 2, "whatsapp: one request for a message_id published twice")
    if len(got) == 2:
        ck.equal(got[1].body, {"messaging_product": "whatsapp", "recipient_type": "individual",
                               "to": "37120000001", "type": "text",
                               "text": {"preview_url": False, "body": text}},
                 "whatsapp (pika): the exact body")
    ck.equal(len([t for t in api(env, "GET", f"/v1/conversations/{wa_conv}").json["thread"]
                  if t.get("text") == text]), 1, "whatsapp (pika): the reply in the thread once")

    # ---- Messenger: the Send API, and the page's echo of the reply is not stored twice ----
    r = post_page(c, messenger_event("PSID-42", "Sveiki!", "m_IN1"))
    ck.require(r.status == 202, "messenger message: 202", r.body)
    fb_conv = r.json["accepted"][0]["conversation_id"]
    fb_reply = publish(fb_conv, "Labdien! Kā varu palīdzēt?", "fb-1")
    m = wait_status(env, fb_conv, fb_reply.get("message_id", ""), "sent")
    ck.equal(m.get("status"), "sent", "messenger: sent")
    got_fb = fakes.requests("messenger")
    ck.equal(len(got_fb), 1, "messenger: one Send API request")
    if got_fb:
        ck.equal(got_fb[0].path, "/v21.0/me/messages", "messenger: /me/messages")
        ck.equal(got_fb[0].headers.get("authorization"), f"Bearer {PAGE_TOKEN}",
                 "messenger: the page token")
        ck.equal(got_fb[0].body, {"recipient": {"id": "PSID-42"}, "messaging_type": "RESPONSE",
                                  "message": {"text": "Labdien! Kā varu palīdzēt?"}},
                 "messenger: the exact body")
        echo = messenger_event("PSID-42", "Labdien! Kā varu palīdzēt?",
                               got_fb[0].answer["message_id"], echo=True)
        r = post_page(c, echo)
        ck.equal((r.status, (r.json or {}).get("duplicates")), (200, 1),
                 "messenger: the echo of the reply is a duplicate")
        thread = api(env, "GET", f"/v1/conversations/{fb_conv}").json.get("thread", [])
        ck.equal(len(thread), 2, "messenger: the thread holds the reply once")
        # The page's receipts: delivered by mid, then read by watermark.
        now_ms = int(time.time() * 1000)
        receipt = messenger_event("PSID-42", "", "-")
        del receipt["entry"][0]["messaging"][0]["message"]
        receipt["entry"][0]["messaging"][0]["delivery"] = {
            "mids": [got_fb[0].answer["message_id"]], "watermark": now_ms}
        r = post_page(c, receipt)
        ck.equal(r.status, 200, "messenger delivery receipt: 200")
        ck.equal(reply_in_thread(env, fb_conv, fb_reply.get("message_id", "")).get("status"),
                 "delivered", "messenger: the delivery receipt makes the reply delivered")
        del receipt["entry"][0]["messaging"][0]["delivery"]
        receipt["entry"][0]["messaging"][0]["read"] = {"watermark": now_ms + 50}
        r = post_page(c, receipt)
        ck.equal(r.status, 200, "messenger read receipt: 200")
        ck.equal(reply_in_thread(env, fb_conv, fb_reply.get("message_id", "")).get("status"),
                 "read", "messenger: the read watermark makes the reply read")

    # ---- Instagram: the Send API too; its read receipt names the message ----
    data = h.to_bytes({"object": "instagram", "entry": [{
        "id": IG_ID, "time": int(time.time() * 1000),
        "messaging": [{"sender": {"id": "IGSID-7"}, "recipient": {"id": IG_ID},
                       "timestamp": int(time.time() * 1000),
                       "message": {"mid": "aWdfIN1", "text": "Vai kleita ir sarkanā?"}}]}]})
    r = c.request("POST", "/v1/webhooks/ig", data,
                  {"Content-Type": "application/json",
                   "X-Hub-Signature-256": h.meta_signature(META_SECRET, data)})
    ck.require(r.status == 202, "instagram message: 202", r.body)
    ig_conv = r.json["accepted"][0]["conversation_id"]
    ig_reply = publish(ig_conv, "Jā, ir sarkanā.", "ig-1")
    m = wait_status(env, ig_conv, ig_reply.get("message_id", ""), "sent")
    ck.equal(m.get("status"), "sent", "instagram: sent")
    got_ig = fakes.requests("messenger")[1:]
    ck.equal(len(got_ig), 1, "instagram: one Send API request")
    if got_ig:
        ck.equal(got_ig[0].body, {"recipient": {"id": "IGSID-7"}, "messaging_type": "RESPONSE",
                                  "message": {"text": "Jā, ir sarkanā."}},
                 "instagram: the exact body")
        data = h.to_bytes({"object": "instagram", "entry": [{
            "id": IG_ID, "time": int(time.time() * 1000),
            "messaging": [{"sender": {"id": "IGSID-7"}, "recipient": {"id": IG_ID},
                           "timestamp": int(time.time() * 1000),
                           "read": {"mid": got_ig[0].answer["message_id"]}}]}]})
        r = c.request("POST", "/v1/webhooks/ig", data,
                      {"Content-Type": "application/json",
                       "X-Hub-Signature-256": h.meta_signature(META_SECRET, data)})
        ck.equal(r.status, 200, "instagram read receipt: 200")
        ck.equal(reply_in_thread(env, ig_conv, ig_reply.get("message_id", "")).get("status"),
                 "read", "instagram: the read receipt makes the reply read")

    # ---- a permanent refusal: failed at once with the provider's reason, no retry ----
    fakes.fail("whatsapp", 400, {"error": {
        "message": "(#131047) Re-engagement message", "type": "OAuthException", "code": 131047,
        "error_data": {"messaging_product": "whatsapp", "details": "Message failed to send "
                       "because more than 24 hours have passed since the customer last replied "
                       "to this number."}, "fbtrace_id": "AbCdEfGh"}}, times=1)
    before = len(fakes.attempts_of("whatsapp"))
    refused = publish(wa_conv2, "Are you still there?", "wa-2")
    m = wait_status(env, wa_conv2, refused.get("message_id", ""), "failed")
    ck.equal(m.get("status"), "failed", "a permanent 400: failed")
    ck.check("window_closed" in m.get("failure_reason", "") and "#131047" in m.get(
        "failure_reason", ""), "... with the provider's reason", m.get("failure_reason"))
    time.sleep(3.0)
    ck.equal(len(fakes.attempts_of("whatsapp")) - before, 1, "... and no retry")
    events.wait(lambda _: events.of(refused.get("message_id", "")))
    failed = events.of(refused.get("message_id", ""))
    ck.equal([(e["type"], e["previous_status"]) for e in failed],
             [("message.status.failed", "queued")], "... and one event message.status.failed")
    if failed:
        ck.equal((failed[0]["reason"], failed[0]["conversation_id"], failed[0]["channel"],
                  failed[0]["attempts"]),
                 (m.get("failure_reason"), wa_conv2, "wa", 1),
                 "... naming the reason, conversation, channel and the one attempt")

    # ---- 429 with Retry-After: honoured ----
    fakes.fail("telegram", 429, {"ok": False, "error_code": 429,
                                 "description": "Too Many Requests: retry after 3",
                                 "parameters": {"retry_after": 3}},
               times=1, headers={"Retry-After": "3"})
    before = len(fakes.attempts_of("telegram"))
    later = send(env, tg_conv, "One more thing.", "tg-2")
    m = wait_status(env, tg_conv, later.get("message_id", ""), "sent", timeout=30)
    ck.equal(m.get("status"), "sent", "after a 429: sent")
    times = fakes.attempts_of("telegram")[before:]
    ck.equal(len(times), 2, "... on the second attempt")
    if len(times) == 2:
        ck.check(times[1] - times[0] >= 2.9, "... at least Retry-After (3 s) later",
                 f"{times[1] - times[0]:.2f} s")

    # ---- the chat backend's minute of 500s is over: exactly one delivery ----
    m = wait_status(env, chat_conv, down.get("message_id", ""), "sent",
                    timeout=OUTAGE + 150 - (time.monotonic() - outage_started))
    ck.equal(m.get("status"), "sent", "after the outage: sent")
    got = fakes.requests("chat")
    ck.equal(len(got), 1, "the chat backend got the reply exactly once")
    tried = fakes.attempts_of("chat")
    ck.check(len(tried) >= 4, "... after several attempts during the outage", len(tried))
    ck.check(tried[-1] - outage_started >= OUTAGE, "... the good one after the outage",
             f"{tried[-1] - outage_started:.1f} s")
    if got:
        body = got[0].body
        ck.equal(body.get("message_id"), down.get("message_id"), "chat: webhook-id is the reply id")
        ck.equal((body.get("visitor_id"), body.get("text")),
                 ("v-ann", "Sorry for the wait: it ships today."), "chat: whom and what")
        ck.equal(body.get("agent"), AGENT, "chat: the agent")
    # The chat backend's status reports (switchboard.chat-status/v1, signed like its messages).
    for status in ("read", "delivered"):
        r = env.post(c, {"schema": "switchboard.chat-status/v1",
                         "message_id": down.get("message_id"), "status": status,
                         "at": h.rfc3339()})
        ck.equal(r.status, 200, f"chat status report {status}: 200")
    ck.equal(reply_in_thread(env, chat_conv, down.get("message_id", "")).get("status"), "read",
             "chat: the backend's reports, read before delivered, end read")

    # ---- each customer writes again: the next payload's thread holds the agent's reply ----
    agent = h.Consumer(env.amqp_url, list(env.queues.values()))
    r = c.request("POST", "/v1/webhooks/tg", h.to_bytes(telegram_update(9002, "Paldies!")),
                  {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
    ck.equal(r.status, 202, "telegram: the customer's next message")
    data = h.to_bytes(whatsapp_batch("37120000001", "Paldies", "wamid.IN3"))
    r = c.request("POST", "/v1/webhooks/wa", data,
                  {"Content-Type": "application/json",
                   "X-Hub-Signature-256": h.meta_signature(META_SECRET, data)})
    ck.equal(r.status, 202, "whatsapp: the customer's next message")
    r = post_page(c, messenger_event("PSID-42", "Paldies", "m_IN2"))
    ck.equal(r.status, 202, "messenger: the customer's next message")
    data = h.to_bytes({"object": "instagram", "entry": [{
        "id": IG_ID, "time": int(time.time() * 1000),
        "messaging": [{"sender": {"id": "IGSID-7"}, "recipient": {"id": IG_ID},
                       "timestamp": int(time.time() * 1000),
                       "message": {"mid": "aWdfIN2", "text": "Paldies"}}]}]})
    r = c.request("POST", "/v1/webhooks/ig", data,
                  {"Content-Type": "application/json",
                   "X-Hub-Signature-256": h.meta_signature(META_SECRET, data)})
    ck.equal(r.status, 202, "instagram: the customer's next message")
    want = {tg_conv: tg_id, wa_conv: first.get("message_id"),
            fb_conv: fb_reply.get("message_id"), ig_conv: ig_reply.get("message_id")}
    latest: dict[str, list[str]] = {}

    def seen_all(got: list[Any]) -> bool:
        for m in got:
            body = m.body or {}
            latest[body.get("conversation", {}).get("id")] = [
                t.get("id") for t in body.get("thread", [])]
        return all(reply in latest.get(conv, []) for conv, reply in want.items())
    agent.drain(until=seen_all, idle=0.5, deadline=30)
    for name, conv in (("telegram", tg_conv), ("whatsapp", wa_conv), ("messenger", fb_conv),
                       ("instagram", ig_conv)):
        ck.check(want[conv] in latest.get(conv, []),
                 f"{name}: the next payload's thread holds the reply", latest.get(conv))

    # Every status change was an event, each once, in the documented contract.
    events.wait(lambda evs: any(e.get("channel") == "web-chat" for e in evs))
    ck.equal(events.errors, [], "events match docs/event.schema.json and their AMQP properties")
    events.wait(lambda evs: len([e for e in evs if e.get("channel") == "web-chat"]) >= 2)
    ck.equal([e["type"] for e in events.events if e["channel"] == "web-chat"],
             ["message.status.sent", "message.status.read"],
             "the chat reply's events: sent, read (the late delivered makes none)")
    ids = [e["id"] for e in events.events]
    ck.equal(len(ids), len(set(ids)), "no event published twice")
    mt = h.scrape_metrics(c)
    ck.check((h.metric(mt, "switchboard_deliveries_total", channel="web-chat",
                       outcome="retried") or 0) >= 3, "metrics: the chat retries counted")
    ck.equal(h.metric(mt, "switchboard_deliveries_total", channel="wa", outcome="failed"), 1,
             "metrics: the WhatsApp failure counted")
    deadline = time.monotonic() + 5  # the gauge is read from the store each second
    while h.metric(h.scrape_metrics(c), "switchboard_deliveries_queued") != 0 and \
            time.monotonic() < deadline:
        time.sleep(0.2)
    ck.equal(h.metric(h.scrape_metrics(c), "switchboard_deliveries_queued"), 0,
             "metrics: nothing waits")
    ck.equal(fakes.violations, [], "every request matched its provider's format")

    tool.close()
    env.finish(ck, "replies delivered", integrity=True)


if __name__ == "__main__":
    h.run(main, timeout=400)
