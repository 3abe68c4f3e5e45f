#!/usr/bin/python3
"""Agents' replies on the channel types test_replies_delivery.py does not cover (docs/replies.md,
"Delivery"), each published by an agent's tool (pika) on the replies queue and delivered to a
local fake of the provider (tests/fakes/providers.py) or a real SMTP server on loopback
(tests/fakes/smtp.py, aiosmtpd), which check every request against the provider's format:
- Twilio SMS and WhatsApp through Twilio: the Messages API with a StatusCallback; the signed
  status callbacks, read before delivered, end at read; a failed callback ends at failed with
  Twilio's error code;
- X: a direct message, and a public reply to a mention; the webhook's echo of our DM is not
  stored twice;
- e-mail through Mailgun, SendGrid and Postmark's send APIs, and SMTP for the raw-MIME channel,
  each with Re:, In-Reply-To and References; the customer's answer to the SMTP reply (In-Reply-To
  our Message-ID) joins the same conversation.
Each reply is in the thread of GET /v1/conversations/{id} and of the customer's next payload."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.parse
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, Callable

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
import harness as h  # noqa: E402
import providers  # noqa: E402
import smtp as smtp_fake  # noqa: E402

TOKEN = "t0ken-" + os.urandom(8).hex()
AGENT = {"id": "a-7", "name": "Ieva"}
TW_SID = "AC" + os.urandom(16).hex()
TW_TOKEN = os.urandom(16).hex()
OUR_NUMBER = "+14155550100"
X_SECRET = os.urandom(16).hex()
X_TOKEN = "x-" + os.urandom(12).hex()
MAILGUN_KEY = "key-" + os.urandom(16).hex()
SENDGRID_INBOUND = "sg-" + os.urandom(16).hex()
SENDGRID_KEY = "SG." + os.urandom(16).hex()
POSTMARK_INBOUND = "pm-" + os.urandom(16).hex()
POSTMARK_TOKEN = os.urandom(16).hex()
MIME_TOKEN = "mta-" + os.urandom(16).hex()
SMTP_USER, SMTP_PASSWORD = "switchboard", "pw-" + os.urandom(8).hex()
FROM = "Acme Support <support@acme.example>"


def rfc5322_now(offset: float = -5) -> str:
    import datetime as dt
    return format_datetime(dt.datetime.fromtimestamp(int(time.time() + offset), dt.timezone.utc))


def thread_of(env: h.Env, conversation: str) -> list[dict[str, Any]]:
    r = env.client().request("GET", f"/v1/conversations/{conversation}", None,
                             {"Authorization": f"Bearer {TOKEN}"})
    return (r.json or {}).get("thread", []) if r.status == 200 else []


def wait_status(env: h.Env, conversation: str, message_id: str, status: str,
                timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    m: dict[str, Any] = {}
    while time.monotonic() < deadline:
        m = next((x for x in thread_of(env, conversation) if x.get("id") == message_id), {})
        if m.get("status") == status:
            return m
        time.sleep(0.1)
    return m


def main(ck: h.Checks) -> None:
    fakes = providers.Providers(telegram_token="-", whatsapp_token="-",
                                chat_secret="whsec_" + "A" * 32, twilio_sid=TW_SID,
                                twilio_token=TW_TOKEN, x_token=X_TOKEN, mailgun_key=MAILGUN_KEY,
                                sendgrid_key=SENDGRID_KEY, postmark_token=POSTMARK_TOKEN)
    h.on_cleanup("stop the providers' fakes", fakes.close)
    smtp = smtp_fake.SmtpServer(username=SMTP_USER, password=SMTP_PASSWORD)
    h.on_cleanup("stop the SMTP server", smtp.close)

    def out(**keys: str) -> str:
        return "    outbound:\n" + "".join(f"      {k}: {h.yq(v)}\n" for k, v in keys.items())

    channels = (
        h.channel_yaml("sms", "twilio", TW_TOKEN, public_url="http://127.0.0.1:@PORT@/v1/webhooks/sms",
                       default_country="LV")
        + out(api_base=fakes.url, account_sid=TW_SID, token=TW_TOKEN)
        + h.channel_yaml("x", "x", X_SECRET) + out(api_base=fakes.url, token=X_TOKEN)
        + h.channel_yaml("mail-mailgun", "mailgun", MAILGUN_KEY)
        + out(api_base=fakes.url, domain="mg.acme.example", token=MAILGUN_KEY, **{"from": FROM})
        + h.channel_yaml("mail-sendgrid", "sendgrid", SENDGRID_INBOUND, username="parse")
        + out(api_base=fakes.url, token=SENDGRID_KEY, **{"from": FROM})
        + h.channel_yaml("mail-postmark", "postmark", POSTMARK_INBOUND)
        + out(api_base=fakes.url, token=POSTMARK_TOKEN, **{"from": FROM})
        + h.channel_yaml("mail-mime", "mime", MIME_TOKEN)
        + out(smtp_url=f"smtp://{smtp.host}:{smtp.port}", username=SMTP_USER,
              password=SMTP_PASSWORD, starttls="optional", **{"from": FROM}))
    env = h.Env(api_tokens=[TOKEN], extra_channels=channels)
    env.config_text = env.config_text.replace("@PORT@", str(env.port))
    with open(env.config_path, "w") as f:
        f.write(env.config_text)
    env.check_config(ck, "twilio, x, mailgun, sendgrid, postmark and mime channels with outbound")
    env.start()
    c = env.client()
    agent = h.Consumer(env.amqp_url, list(env.queues.values()))
    tool = h.amqp_connect(env.amqp_url)
    amqp = tool.channel()
    amqp.confirm_delivery()
    pika = h._pika()
    events = h.EventTap(env)

    def publish(conversation: str, text: str, key: str) -> str:
        """Publishes a reply as an agent's tool does; returns its message id once in the
        thread."""
        reply = {"schema": "switchboard.reply/v1", "conversation_id": conversation,
                 "text": text, "agent": AGENT}
        amqp.basic_publish("", env.replies_queue, json.dumps(reply).encode(),
                           pika.BasicProperties(message_id=key, delivery_mode=2,
                                                content_type="application/json"),
                           mandatory=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            mine = [m for m in thread_of(env, conversation)
                    if m.get("direction") == "outbound" and m.get("text") == text]
            if mine:
                return mine[-1]["id"]
            time.sleep(0.1)
        return ""

    def accepted(r: h.Response, what: str) -> str:
        """The conversation of the customer's message (Twilio's answer is TwiML: the agent's
        payload names it)."""
        ck.require(r.status in (200, 202), f"{what}: accepted", r.body)
        got = agent.drain(until=lambda ms: len(ms) >= 1, idle=0.5)
        ck.require(got, f"{what}: the agent took the message")
        return got[-1].body["conversation"]["id"]

    def next_payload_holds(post: Callable[[], h.Response], conversation: str, reply_id: str,
                           what: str) -> None:
        r = post()
        ck.check(r.status in (200, 202), f"{what}: the customer's next message accepted", r.body)
        got = agent.drain(until=lambda ms: len(ms) >= 1, idle=0.5)
        payload = got[-1].body if got else {}
        ck.equal(payload.get("conversation", {}).get("id"), conversation,
                 f"{what}: the next message in the same conversation")
        ck.check(reply_id in [m.get("id") for m in payload.get("thread", [])],
                 f"{what}: the next payload's thread holds the reply",
                 [m.get("id") for m in payload.get("thread", [])])

    # ---- Twilio: SMS ---------------------------------------------------------------------
    public = f"{env.url}/v1/webhooks/sms"

    def twilio_post(params: dict[str, str]) -> h.Response:
        items = list(params.items())
        return c.request("POST", "/v1/webhooks/sms", urllib.parse.urlencode(items).encode(), {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": h.twilio_signature(TW_TOKEN, public, items)})

    def sms(sid: str, sender: str, body: str) -> dict[str, str]:
        to = f"whatsapp:{OUR_NUMBER}" if sender.startswith("whatsapp:") else OUR_NUMBER
        return {"ToCountry": "US", "SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid,
                "SmsStatus": "received", "Body": body, "To": to, "NumSegments": "1",
                "MessageSid": sid, "AccountSid": TW_SID, "From": sender, "ApiVersion": "2010-04-01"}

    h.log("twilio sms")
    conv = accepted(twilio_post(sms("SM" + "1" * 32, "+37120000001", "Kur ir mans sūtījums?")),
                    "twilio sms")
    reply_id = publish(conv, "Sūtījums ir ceļā.", "tw-sms-1")
    ck.check(reply_id, "twilio sms: the reply is in the thread")
    got = fakes.wait_for("twilio", 1)
    ck.equal(len(got), 1, "twilio sms: one Messages API request")
    sid = ""
    if got:
        ck.equal(got[0].path, f"/2010-04-01/Accounts/{TW_SID}/Messages.json",
                 "twilio sms: the account's Messages.json")
        ck.equal({k: got[0].body.get(k) for k in ("To", "From", "Body", "StatusCallback")},
                 {"To": "+37120000001", "From": OUR_NUMBER, "Body": "Sūtījums ir ceļā.",
                  "StatusCallback": public}, "twilio sms: the exact form")
        sid = got[0].answer["sid"]
    m = wait_status(env, conv, reply_id, "sent")
    ck.equal(m.get("status"), "sent", "twilio sms: sent")
    # Twilio's status callbacks, out of order: read before delivered ends at read.
    for status in ("read", "delivered"):
        r = twilio_post(fakes.twilio_status_form(sid, status))
        ck.equal(r.status, 200, f"twilio status callback {status}: 200")
        ck.check("<Response" in r.body.decode(), f"twilio status callback {status}: TwiML")
    m = wait_status(env, conv, reply_id, "read")
    ck.equal(m.get("status"), "read", "twilio sms: read before delivered ends read")
    events.wait(lambda _: len(events.of(reply_id)) >= 2)
    ck.equal([(e["previous_status"], e["status"], e["provider_message_id"])
              for e in events.of(reply_id)],
             [("queued", "sent", sid), ("sent", "read", sid)],
             "twilio sms: events sent then read; the late delivered makes none")
    next_payload_holds(lambda: twilio_post(sms("SM" + "2" * 32, "+37120000001", "Paldies!")),
                       conv, reply_id, "twilio sms")

    # ---- WhatsApp through Twilio; a failed callback ----
    h.log("twilio whatsapp")
    conv = accepted(twilio_post(sms("SM" + "3" * 32, "whatsapp:+37120000002", "Labdien")),
                    "twilio whatsapp")
    reply_id = publish(conv, "Labdien! Kā varu palīdzēt?", "tw-wa-1")
    got = fakes.wait_for("twilio", 2)
    if len(got) >= 2:
        ck.equal((got[1].body.get("To"), got[1].body.get("From")),
                 ("whatsapp:+37120000002", f"whatsapp:{OUR_NUMBER}"),
                 "twilio whatsapp: whatsapp: addresses on both ends")
        wait_status(env, conv, reply_id, "sent")
        r = twilio_post(fakes.twilio_status_form(got[1].answer["sid"], "undelivered",
                                                 error_code=30003))
        ck.equal(r.status, 200, "twilio undelivered callback: 200")
    m = wait_status(env, conv, reply_id, "failed")
    ck.equal(m.get("status"), "failed", "twilio whatsapp: undelivered ends failed")
    ck.equal(m.get("failure_reason"), "(30003) Unreachable destination handset",
             "twilio whatsapp: Twilio's error code as the reason")
    events.wait(lambda _: len(events.of(reply_id)) >= 2)
    ck.equal([(e["type"], e["reason"]) for e in events.of(reply_id)],
             [("message.status.sent", None),
              ("message.status.failed", "(30003) Unreachable destination handset")],
             "twilio whatsapp: an event message.status.failed with the reason")

    # ---- X: a direct message, its echo, and a public reply to a mention ----------------------
    h.log("x")
    account = fakes.x_user_id
    customer = "2244994945"

    def x_post(body: dict[str, Any]) -> h.Response:
        data = h.to_bytes(body)
        return c.request("POST", "/v1/webhooks/x", data,
                         {"Content-Type": "application/json",
                          "x-twitter-webhooks-signature": h.x_signature(X_SECRET, data)})

    def x_dm(sender: str, recipient: str, text: str, dm_id: str) -> dict[str, Any]:
        return {"for_user_id": account,
                "direct_message_events": [{"type": "message_create", "id": dm_id,
                                           "created_timestamp": str(int(time.time() * 1000)),
                                           "message_create": {
                                               "target": {"recipient_id": recipient},
                                               "sender_id": sender,
                                               "message_data": {"text": text}}}],
                "users": {customer: {"id": customer, "name": "Anna", "screen_name": "anna_b"},
                          account: {"id": account, "name": "Acme", "screen_name": "acme"}}}

    conv = accepted(x_post(x_dm(customer, account, "Hi, my order?", "1582838223385476001")), "x dm")
    reply_id = publish(conv, "It ships today.", "x-dm-1")
    got = fakes.wait_for("x", 1)
    ck.equal(len(got), 1, "x: one DM request")
    if got:
        ck.equal(got[0].params.get("participant_id"), customer, "x: to the customer")
        ck.equal(got[0].body, {"text": "It ships today."}, "x: the exact body")
        m = wait_status(env, conv, reply_id, "sent")
        ck.equal(m.get("status"), "sent", "x: sent")
        # X's webhook then reports our own DM: the same event id, not stored twice.
        echo = got[0].answer["data"]["dm_event_id"]
        r = x_post(x_dm(account, customer, "It ships today.", echo))
        ck.check(r.status in (200, 202), "x: the echo of our DM answered 2xx", r.body)
        time.sleep(0.5)
        copies = [t for t in thread_of(env, conv) if t.get("text") == "It ships today."]
        ck.equal(len(copies), 1, "x: the echo of the reply is not stored twice")
        # The customer read it: X's read event names the last DM event read.
        r = x_post({"for_user_id": account, "direct_message_mark_read_events": [{
            "created_timestamp": str(int(time.time() * 1000)), "sender_id": customer,
            "target": {"recipient_id": account}, "last_read_event_id": echo}]})
        ck.equal(r.status, 200, "x: the read event answered 200")
        ck.equal(wait_status(env, conv, reply_id, "read").get("status"), "read",
                 "x: the read event makes the reply read")
    next_payload_holds(lambda: x_post(x_dm(customer, account, "Thanks!", "1582838223385476002")),
                       conv, reply_id, "x dm")
    mention = {"for_user_id": account, "tweet_create_events": [{
        "created_at": time.strftime("%a %b %d %H:%M:%S +0000 %Y", time.gmtime()),
        "id_str": "1445880548472328192", "text": "@acme where is my parcel?",
        "user": {"id_str": "3344556677", "name": "Ben", "screen_name": "ben_c"},
        "entities": {"user_mentions": [{"screen_name": "acme", "id_str": account,
                                        "indices": [0, 5]}]},
        "timestamp_ms": str(int(time.time() * 1000))}]}
    conv = accepted(x_post(mention), "x mention")
    reply_id = publish(conv, "@ben_c We have sent you a DM.", "x-post-1")
    got = fakes.wait_for("x-post", 1)
    ck.equal(len(got), 1, "x: a mention is answered with one public reply")
    if got:
        ck.equal(got[0].body, {"text": "@ben_c We have sent you a DM.",
                               "reply": {"in_reply_to_tweet_id": "1445880548472328192"}},
                 "x: the reply names the post it answers")
    ck.equal(wait_status(env, conv, reply_id, "sent").get("status"), "sent", "x post: sent")

    # ---- e-mail through the send APIs --------------------------------------------------------
    def mailgun_in(msg_id: str, text: str) -> h.Response:
        body, hd = h.multipart_form(h.mailgun_form([
            ("recipient", "support@acme.example"), ("sender", "liga@example.lv"),
            ("from", "Līga <liga@example.lv>"), ("subject", "Pasūtījums 7781"),
            ("body-plain", text), ("Message-Id", f"<{msg_id}>"),
            ("References", "<t-1@acme.example>"), ("Date", rfc5322_now())], MAILGUN_KEY))
        return c.request("POST", "/v1/webhooks/mail-mailgun", body, hd)

    def sendgrid_in(msg_id: str, text: str) -> h.Response:
        headers = (f"Date: {rfc5322_now()}\nFrom: Renee <renee@example.fr>\n"
                   "To: support@acme.example\nSubject: Commande 4471\n"
                   f"Message-ID: <{msg_id}>\nMIME-Version: 1.0\n")
        body, hd = h.multipart_form([
            ("headers", headers), ("to", "support@acme.example"),
            ("from", "Renee <renee@example.fr>"), ("subject", "Commande 4471"), ("text", text),
            ("envelope", json.dumps({"to": ["support@acme.example"], "from": "renee@example.fr"})),
            ("charsets", json.dumps({"text": "UTF-8", "subject": "UTF-8", "from": "UTF-8"}))])
        return c.request("POST", "/v1/webhooks/mail-sendgrid", body,
                         {**hd, "Authorization": h.basic_auth("parse", SENDGRID_INBOUND)})

    def postmark_in(msg_id: str, text: str) -> h.Response:
        body = {"From": "janis@example.lv",
                "FromFull": {"Email": "janis@example.lv", "Name": "Jānis", "MailboxHash": ""},
                "To": "support@acme.example",
                "ToFull": [{"Email": "support@acme.example", "Name": "", "MailboxHash": ""}],
                "Subject": "Rēķins", "MessageID": os.urandom(8).hex(),
                "Date": rfc5322_now(), "TextBody": text,
                "Headers": [{"Name": "Message-ID", "Value": f"<{msg_id}>"}]}
        return c.request("POST", "/v1/webhooks/mail-postmark", h.to_bytes(body),
                         {"Content-Type": "application/json",
                          "Authorization": h.basic_auth("postmark", POSTMARK_INBOUND)})

    def thread_headers(name: str, in_reply_to: Any, references: Any, msg_id: str,
                       earlier: str | None) -> None:
        ck.equal(in_reply_to, f"<{msg_id}>", f"{name}: In-Reply-To the customer's mail")
        want = (f"<{earlier}> " if earlier else "") + f"<{msg_id}>"
        ck.equal(references, want, f"{name}: References the thread")

    h.log("mailgun")
    conv = accepted(mailgun_in("mg-1@example.lv", "Labdien, kur ir pasūtījums?"), "mailgun")
    reply_id = publish(conv, "Labdien! Tas ir ceļā.", "mg-1")
    got = fakes.wait_for("mailgun", 1)
    ck.equal(len(got), 1, "mailgun: one Messages API request")
    if got:
        b = got[0].body
        ck.equal(got[0].params.get("domain"), "mg.acme.example", "mailgun: the sending domain")
        ck.equal((b.get("from"), b.get("to"), b.get("subject"), b.get("text")),
                 (FROM, "liga@example.lv", "Re: Pasūtījums 7781", "Labdien! Tas ir ceļā."),
                 "mailgun: from, to, Re: subject, text")
        thread_headers("mailgun", b.get("h:In-Reply-To"), b.get("h:References"),
                       "mg-1@example.lv", "t-1@acme.example")
        ck.equal(b.get("h:Message-Id"), f"<{reply_id}@acme.example>",
                 "mailgun: the Message-ID is made of the reply's id")
    ck.equal(wait_status(env, conv, reply_id, "sent").get("status"), "sent", "mailgun: sent")
    # Mailgun's event webhook (JSON, signed like its routes): delivered, then opened.
    for event in ("opened", "delivered"):
        data = h.to_bytes({"signature": h.mailgun_signature(MAILGUN_KEY), "event-data": {
            "event": event, "timestamp": time.time(), "id": os.urandom(8).hex(),
            "recipient": "liga@example.lv",
            "message": {"headers": {"message-id": f"{reply_id}@acme.example"}}}})
        r = c.request("POST", "/v1/webhooks/mail-mailgun", data,
                      {"Content-Type": "application/json"})
        ck.equal(r.status, 200, f"mailgun {event} event: 200")
    ck.equal(wait_status(env, conv, reply_id, "read").get("status"), "read",
             "mailgun: opened before delivered ends read")
    next_payload_holds(lambda: mailgun_in("mg-2@example.lv", "Paldies!"), conv, reply_id, "mailgun")

    h.log("sendgrid")
    conv = accepted(sendgrid_in("sg-1@example.fr", "Où est ma commande ?"), "sendgrid")
    reply_id = publish(conv, "Elle part aujourd'hui.", "sg-1")
    got = fakes.wait_for("sendgrid", 1)
    ck.equal(len(got), 1, "sendgrid: one mail/send request")
    if got:
        b = got[0].body
        ck.equal(b.get("personalizations"), [{"to": [{"email": "renee@example.fr"}]}],
                 "sendgrid: to the customer")
        ck.equal(b.get("from"), {"email": "support@acme.example", "name": "Acme Support"},
                 "sendgrid: from")
        ck.equal(b.get("subject"), "Re: Commande 4471", "sendgrid: Re: subject")
        thread_headers("sendgrid", b.get("headers", {}).get("In-Reply-To"),
                       b.get("headers", {}).get("References"), "sg-1@example.fr", None)
    ck.equal(wait_status(env, conv, reply_id, "sent").get("status"), "sent", "sendgrid: sent")
    if got:
        # SendGrid's Event Webhook: sg_message_id is the X-Message-Id, then ".filter...".
        data = h.to_bytes([{"email": "renee@example.fr", "timestamp": int(time.time()),
                            "event": "delivered", "sg_event_id": os.urandom(8).hex(),
                            "sg_message_id": f"{got[0].answer}.filterdrecv-5bd8b9c4f-1.0"}])
        r = c.request("POST", "/v1/webhooks/mail-sendgrid", data,
                      {"Content-Type": "application/json",
                       "Authorization": h.basic_auth("parse", SENDGRID_INBOUND)})
        ck.equal(r.status, 200, "sendgrid delivered event: 200")
    ck.equal(wait_status(env, conv, reply_id, "delivered").get("status"), "delivered",
             "sendgrid: the delivered event")
    next_payload_holds(lambda: sendgrid_in("sg-2@example.fr", "Merci !"), conv, reply_id,
                       "sendgrid")

    h.log("postmark")
    conv = accepted(postmark_in("pm-1@example.lv", "Vai rēķins ir pareizs?"), "postmark")
    reply_id = publish(conv, "Jā, rēķins ir pareizs.", "pm-1")
    got = fakes.wait_for("postmark", 1)
    ck.equal(len(got), 1, "postmark: one /email request")
    if got:
        b = got[0].body
        ck.equal((b.get("From"), b.get("To"), b.get("Subject"), b.get("TextBody")),
                 (FROM, "janis@example.lv", "Re: Rēķins", "Jā, rēķins ir pareizs."),
                 "postmark: From, To, Re: Subject, TextBody")
        hdrs = {x["Name"]: x["Value"] for x in b.get("Headers", [])}
        thread_headers("postmark", hdrs.get("In-Reply-To"), hdrs.get("References"),
                       "pm-1@example.lv", None)
    ck.equal(wait_status(env, conv, reply_id, "sent").get("status"), "sent", "postmark: sent")
    if got:
        # Postmark's Delivery webhook, then its Open webhook (the unit tests read its bounces).
        for record in ({"RecordType": "Delivery", "ServerID": 23, "MessageStream": "outbound",
                        "MessageID": got[0].answer["MessageID"], "Recipient": "janis@example.lv",
                        "Tag": "", "DeliveredAt": h.rfc3339(), "Details": "Test delivery",
                        "Metadata": {}},
                       {"RecordType": "Open", "MessageStream": "outbound", "FirstOpen": True,
                        "MessageID": got[0].answer["MessageID"], "Recipient": "janis@example.lv",
                        "ReceivedAt": h.rfc3339(), "Platform": "WebMail", "Metadata": {}}):
            r = c.request("POST", "/v1/webhooks/mail-postmark", h.to_bytes(record),
                          {"Content-Type": "application/json",
                           "Authorization": h.basic_auth("postmark", POSTMARK_INBOUND)})
            ck.equal(r.status, 200, f"postmark {record['RecordType']} webhook: 200")
    ck.equal(wait_status(env, conv, reply_id, "read").get("status"), "read",
             "postmark: delivered, then opened: read")
    next_payload_holds(lambda: postmark_in("pm-2@example.lv", "Paldies"), conv, reply_id,
                       "postmark")

    # ---- SMTP for the raw-MIME channel; the customer's answer threads back ------------------
    def mime_in(subject: str, text: str, *, msg_id: str, in_reply_to: str | None = None,
                references: str | None = None) -> h.Response:
        msg = EmailMessage()
        msg["From"] = "Jānis Bērziņš <janis.berzins@example.lv>"
        msg["To"] = "support@acme.example"
        msg["Subject"] = subject
        msg["Date"] = rfc5322_now()
        msg["Message-ID"] = msg_id
        if in_reply_to:
            msg["In-Reply-To"] = in_reply_to
        if references:
            msg["References"] = references
        msg.set_content(text)
        return c.request("POST", "/v1/webhooks/mail-mime", bytes(msg),
                         {"Content-Type": "message/rfc822",
                          "Authorization": f"Bearer {MIME_TOKEN}"})

    h.log("smtp")
    first_id = make_msgid(domain="example.lv")
    conv = accepted(mime_in("Rēķins Nr. 2026-118", "Summa ir nepareiza.", msg_id=first_id),
                    "mime")
    reply_id = publish(conv, "Paldies, labojām.\n.\nAr cieņu, Ieva", "mime-1")
    mails = smtp.wait_for(1)
    ck.equal(len(mails), 1, "smtp: one mail to the relay")
    our_id = ""
    if mails:
        mail = mails[0]
        ck.equal(mail.login, SMTP_USER, "smtp: authenticated")
        ck.equal((mail.mail_from, mail.rcpt_tos),
                 ("support@acme.example", ["janis.berzins@example.lv"]), "smtp: the envelope")
        ck.equal(str(mail.message["Subject"]), "Re: Rēķins Nr. 2026-118", "smtp: Re: subject")
        ck.equal(str(mail.message["In-Reply-To"]), first_id, "smtp: In-Reply-To")
        ck.equal(str(mail.message["References"]), first_id, "smtp: References")
        our_id = str(mail.message["Message-ID"])
        ck.equal(our_id, f"<{reply_id}@acme.example>", "smtp: the Message-ID of the reply's id")
        ck.equal((mail.text or "").rstrip("\n"), "Paldies, labojām.\n.\nAr cieņu, Ieva",
                 "smtp: the text, its lone dot kept")
    ck.equal(wait_status(env, conv, reply_id, "sent").get("status"), "sent", "smtp: sent")
    # The customer answers our mail from their client: Re: Re:, In-Reply-To our Message-ID.
    answer_id = make_msgid(domain="example.lv")
    next_payload_holds(lambda: mime_in("Re: Re: Rēķins Nr. 2026-118", "Paldies, tagad pareizi.",
                                       msg_id=answer_id, in_reply_to=our_id,
                                       references=f"{first_id} {our_id}"),
                       conv, reply_id, "the customer's e-mail answer")
    last = thread_of(env, conv)[-1:] or [{}]
    ck.equal(last[0].get("email", {}).get("in_reply_to"), our_id.strip("<>"),
             "the answer names our reply's Message-ID")
    # A relay that refuses the recipient for good: failed with its words, no retry.
    smtp.reject(550, "5.1.1 mailbox unavailable", times=1, at="RCPT")
    reply_id = publish(conv, "Vēl viens jautājums?", "mime-2")
    m = wait_status(env, conv, reply_id, "failed")
    ck.equal(m.get("status"), "failed", "smtp: a 550 fails the reply")
    ck.check("550" in (m.get("failure_reason") or ""), "smtp: the relay's code in the reason",
             m.get("failure_reason"))

    ck.equal(events.errors, [], "events match docs/event.schema.json and their AMQP properties")
    ck.equal(fakes.violations, [], "every request matched its provider's documented format")
    ck.equal(smtp.violations, [], "every mail matched RFC 5322")
    tool.close()
    env.finish(ck, "replies on twilio, x and e-mail")


if __name__ == "__main__":
    h.run(main, timeout=240)
