#!/usr/bin/python3
"""The `twilio`, `callback` and `telegram` channels end to end: the real daemon, the real broker,
pika as the agent. One signed request per type (a Twilio SMS and a missed call, a callback
request, a Telegram message) is consumed from its skill queue, normalized as documented
(E.164 phone identities, the `callback` object, Telegram ids); Twilio is answered with TwiML;
a bad signature per type is a 401 that queues nothing; a duplicate (same MessageSid, callback
id, update_id) is a 200 that queues nothing."""

from __future__ import annotations

import os
import secrets as pysecrets
import sys
import time
import urllib.parse
from typing import Any

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'
ACCOUNT = "AC3f9c2b7d41e6a8059c1d2e3f4a5b6c7d"
OUR_NUMBER = "+14155550100"


# ---- what each provider sends --------------------------------------------------------------


def twilio_post(c: h.Client, channel: str, token: str, public_url: str,
                params: list[tuple[str, str]], query: str = "") -> h.Response:
    path = f"/v1/webhooks/{channel}" + (f"?{query}" if query else "")
    url = public_url + (f"?{query}" if query else "")
    body = urllib.parse.urlencode(params).encode()
    return c.request("POST", path, body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": h.twilio_signature(token, url, params),
        "I-Twilio-Idempotency-Token": pysecrets.token_hex(16)})


def sms(sid: str, sender: str, body: str, media: list[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    p = [("ToCountry", "US"), ("SmsMessageSid", sid), ("NumMedia", str(len(media))),
         ("SmsSid", sid), ("SmsStatus", "received"), ("Body", body), ("To", OUR_NUMBER),
         ("NumSegments", "1"), ("MessageSid", sid), ("AccountSid", ACCOUNT), ("From", sender),
         ("FromCountry", "LV"), ("ApiVersion", "2010-04-01")]
    for i, (url, ctype) in enumerate(media):
        p += [(f"MediaUrl{i}", url), (f"MediaContentType{i}", ctype)]
    return p


def incoming_call(sid: str, caller: str) -> list[tuple[str, str]]:
    return [("AccountSid", ACCOUNT), ("ApiVersion", "2010-04-01"), ("CallSid", sid),
            ("CallStatus", "ringing"), ("Called", OUR_NUMBER), ("Caller", caller),
            ("Direction", "inbound"), ("From", caller), ("FromCountry", "GB"),
            ("To", OUR_NUMBER), ("ToCountry", "US")]


def telegram_post(c: h.Client, channel: str, token: str, update: dict[str, Any]) -> h.Response:
    return c.request("POST", f"/v1/webhooks/{channel}", h.to_bytes(update),
                     {"Content-Type": "application/json",
                      "X-Telegram-Bot-Api-Secret-Token": token})


def telegram_text(update_id: int, text: str) -> dict[str, Any]:
    user = {"id": 5512398841, "is_bot": False, "first_name": "Jānis", "last_name": "Bērziņš",
            "username": "janis_b", "language_code": "lv"}
    return {"update_id": update_id,
            "message": {"message_id": 1187, "from": user,
                        "chat": {"id": 5512398841, "first_name": "Jānis", "type": "private"},
                        "date": int(time.time()) - 5, "text": text}}


# ---- checks ---------------------------------------------------------------------------------


def expect_error(ck: h.Checks, r: Any, status: int, what: str) -> None:
    ck.equal(r.status, status, f"{what}: status")
    body = r.json
    ck.check(isinstance(body, dict) and body.get("error") and isinstance(body.get("detail"), str),
             f"{what}: JSON error body", repr(r.body[:300]))


def expect_twiml(ck: h.Checks, r: h.Response, what: str) -> None:
    ck.equal(r.status, 200, f"{what}: status")
    ck.check(r.headers.get("content-type", "").startswith("text/xml"),
             f"{what}: Content-Type text/xml", r.headers.get("content-type"))
    ck.equal(r.body, TWIML, f"{what}: an empty TwiML <Response/>")


def expect_accepted(ck: h.Checks, r: h.Response, skill: str, what: str) -> None:
    ck.equal(r.status, 202, f"{what}: status")
    body = r.json if isinstance(r.json, dict) else {}
    acc = body.get("accepted") or [{}]
    ck.equal(len(acc), 1, f"{what}: one accepted message")
    ck.equal(acc[0].get("skill"), skill, f"{what}: skill")


def identities_of(b: dict[str, Any]) -> list[tuple[str, str]]:
    cu = b.get("customer") or {}
    return sorted((i.get("type"), i.get("value")) for i in cu.get("identities") or [])


def one(ck: h.Checks, agent: h.Consumer, queue: str, what: str) -> dict[str, Any]:
    """Consumes what the last request queued: exactly one message, on `queue`; its body."""
    got = agent.drain(idle=0.5, deadline=30, until=lambda ms: len(ms) >= 1)
    ck.equal([(m.queue, m.provider_id) for m in got if m.queue != queue], [],
             f"{what}: nothing on other queues")
    mine = [m for m in got if m.queue == queue]
    ck.require(len(mine) == 1, f"{what}: exactly one message on {queue}",
               [m.provider_id for m in mine])
    m = mine[0]
    ck.require(isinstance(m.body, dict) and isinstance(m.body.get("message"), dict),
               f"{what}: body has a message object", m.raw[:300])
    return m.body


def main(ck: h.Checks) -> None:
    twilio_token = pysecrets.token_hex(16)     # an Auth Token's shape
    callback_secret = h.new_secret()
    telegram_token = pysecrets.token_hex(32)   # openssl rand -hex 32
    env = h.Env(extra_channels=(
        h.channel_yaml("phone", "twilio", twilio_token,
                       public_url="http://127.0.0.1:@PORT@/v1/webhooks/phone", default_country="GB")
        + h.channel_yaml("callbacks", "callback", callback_secret, default_country="LV")
        + h.channel_yaml("tg", "telegram", telegram_token, bot_username="@example_support_bot")))
    # The public URL Twilio calls is this daemon's own URL, known once the port is chosen.
    env.config_text = env.config_text.replace("@PORT@", str(env.port))
    with open(env.config_path, "w") as f:
        f.write(env.config_text)
    public_url = f"{env.url}/v1/webhooks/phone"

    env.check_config(ck, "the three channel types")

    env.start()
    c = env.client()
    general, billing = env.queues["general"], env.queues["billing"]
    agent = h.Consumer(env.amqp_url, [general, billing])

    # ---- refusals: a bad signature per type, nothing queued ----
    h.log("bad signatures")
    bad_sms = sms("SM0000000000000000000000000000dead", "+37126123456", "never queued")
    r = twilio_post(c, "phone", pysecrets.token_hex(16), public_url, bad_sms)
    expect_error(ck, r, 401, "twilio: signed with another auth token")
    r = twilio_post(c, "phone", twilio_token, "https://attacker.example/v1/webhooks/phone", bad_sms)
    expect_error(ck, r, 401, "twilio: signed for another URL")
    body = urllib.parse.urlencode(bad_sms).encode()
    r = c.request("POST", "/v1/webhooks/phone", body,
                  {"Content-Type": "application/x-www-form-urlencoded"})
    expect_error(ck, r, 401, "twilio: no X-Twilio-Signature")

    bad_cb = {"id": "cb-bad", "phone": "+37126123456", "reason": "never queued"}
    r = h.post_webhook(c, "callbacks", bad_cb, h.new_secret())
    expect_error(ck, r, 401, "callback: signed with another secret")
    r = h.post_webhook(c, "callbacks", bad_cb, callback_secret, timestamp=int(time.time()) - 600)
    expect_error(ck, r, 401, "callback: a replayed timestamp")

    r = telegram_post(c, "tg", pysecrets.token_hex(32), telegram_text(1, "never queued"))
    expect_error(ck, r, 401, "telegram: another secret token")
    r = c.request("POST", "/v1/webhooks/tg", h.to_bytes(telegram_text(1, "never queued")),
                  {"Content-Type": "application/json"})
    expect_error(ck, r, 401, "telegram: no secret token")

    got = agent.drain(idle=2.0, deadline=15)
    ck.equal([(m.queue, m.provider_id) for m in got], [], "no refused request reached a queue")

    # ---- Twilio SMS with a picture → general ----
    h.log("twilio sms")
    sid = "MM5e8a1f0c2b9d4e7a6c3b1d0e9f8a7b6c"
    text = "Labdien! Vai varat man piezvanīt rīt? Paldies 🙏"
    media = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}/Media/ME1"
    sms_params = sms(sid, "+37126123456", text, [(media, "image/jpeg")])
    r = twilio_post(c, "phone", twilio_token, public_url, sms_params, query="src=sms")
    expect_twiml(ck, r, "twilio sms (signed over a URL with a query string)")
    b = one(ck, agent, general, "twilio sms")
    msg = b["message"]
    ck.equal(msg.get("channel"), "phone", "twilio sms: channel")
    ck.equal(msg.get("channel_type"), "twilio", "twilio sms: channel_type")
    ck.equal(msg.get("provider_id"), sid, "twilio sms: provider_id is the MessageSid")
    ck.equal(msg.get("text"), text, "twilio sms: text (UTF-8 kept)")
    ck.equal(msg.get("from"), {"type": "phone", "value": "+37126123456", "name": None},
             "twilio sms: from")
    # Not kept: the channel has no outbound credentials to fetch it with (docs/attachments.md).
    ck.equal([{k: a.get(k) for k in ("name", "content_type", "size", "url", "state")}
              for a in msg.get("attachments") or []],
             [{"name": "", "content_type": "image/jpeg", "size": None, "url": media,
               "state": "not_kept"}], "twilio sms: attachments")
    ck.equal(msg.get("callback"), None, "twilio sms: callback is null")
    ck.equal((msg.get("twilio") or {}).get("message_sid"), sid, "twilio sms: twilio.message_sid")
    ck.equal(identities_of(b), [("phone", "+37126123456")], "twilio sms: customer identities")

    # ---- Twilio: a call nobody answered → a callback request on general ----
    h.log("twilio missed call")
    call_sid = "CA7e2f1d0c9b8a7f6e5d4c3b2a1f0e9d8c"
    r = twilio_post(c, "phone", twilio_token, public_url, incoming_call(call_sid, "+442079460018"))
    expect_twiml(ck, r, "twilio missed call")
    b = one(ck, agent, general, "twilio missed call")
    msg = b["message"]
    ck.equal(msg.get("provider_id"), f"{call_sid}:missed", "missed call: provider_id")
    ck.equal(msg.get("text"), "missed call", "missed call: text")
    ck.equal(msg.get("callback"), {"phone": "+442079460018", "window": None,
                                   "reason": "missed call", "ivr_digits": None,
                                   "transcript": None, "recording_url": None},
             "missed call: the callback object")
    ck.equal(identities_of(b), [("phone", "+442079460018")], "missed call: customer identities")

    # ---- callback request → general; another, about a charge, → billing by its transcript ----
    h.log("callback")
    cb = {"id": "cb-9", "phone": "2612 3456", "name": "Jānis Bērziņš",
          "requested_at": h.rfc3339(time.time() - 60),
          "window": {"start": "2026-11-22T16:00:00+02:00", "end": "2026-11-22T18:00:00+02:00"},
          "reason": "konta jautājums", "ivr_digits": "2", "language": "lv",
          "recording_url": "https://ivr.example.lv/rec/cb-9.mp3",
          "transcript": "Labdien, lūdzu, piezvaniet man par manu kontu 📞",
          # The IVR took the number from the call's caller ID and vouches for it.
          "verified": ["phone"]}
    r = h.post_webhook(c, "callbacks", cb, callback_secret)
    expect_accepted(ck, r, "general", "callback")
    b = one(ck, agent, general, "callback")
    msg = b["message"]
    ck.equal(msg.get("channel_type"), "callback", "callback: channel_type")
    ck.equal(msg.get("provider_id"), "cb-9", "callback: provider_id is the id")
    ck.equal(msg.get("text"), cb["transcript"], "callback: text is the transcript")
    ck.equal(msg.get("language"), "lv", "callback: language")
    ck.equal(msg.get("callback"), {
        "phone": "+37126123456",
        "window": {"start": "2026-11-22T14:00:00Z", "end": "2026-11-22T16:00:00Z"},
        "reason": "konta jautājums", "ivr_digits": "2", "transcript": cb["transcript"],
        "recording_url": "https://ivr.example.lv/rec/cb-9.mp3"}, "callback: the callback object")
    ck.equal(identities_of(b), [("phone", "+37126123456")],
             "callback: the national number with default_country LV, in E.164")
    # The same phone number as the SMS: the same customer.
    ck.equal((b.get("customer") or {}).get("name"), "Jānis Bērziņš", "callback: customer.name")
    ck.equal((b.get("conversation") or {}).get("message_count"), 2,
             "callback: joins the SMS sender's conversation (same phone number)")

    cb2 = {"id": "cb-10", "phone": "+1 (555) 010-2000", "reason": "billing",
           "transcript": "I was charged twice this month"}
    r = h.post_webhook(c, "callbacks", cb2, callback_secret)
    expect_accepted(ck, r, "billing", "callback routed on its transcript")
    b = one(ck, agent, billing, "callback routed on its transcript")
    ck.equal((b.get("conversation") or {}).get("priority"), 5, "billing callback: priority")

    # ---- Telegram text → general ----
    h.log("telegram")
    tg_text = "Sveiki! Kur ir mans pasūtījums? 📦"
    r = telegram_post(c, "tg", telegram_token, telegram_text(732104519, tg_text))
    expect_accepted(ck, r, "general", "telegram")
    b = one(ck, agent, general, "telegram")
    msg = b["message"]
    ck.equal(msg.get("channel_type"), "telegram", "telegram: channel_type")
    ck.equal(msg.get("provider_id"), "732104519", "telegram: provider_id is the update_id")
    ck.equal(msg.get("text"), tg_text, "telegram: text")
    ck.equal(msg.get("language"), "lv", "telegram: language from language_code")
    ck.equal(msg.get("from"), {"type": "telegram", "value": "5512398841",
                               "name": "Jānis Bērziņš"}, "telegram: from")
    ck.equal(msg.get("telegram"), {"chat_id": 5512398841, "chat_type": "private",
                                   "message_id": 1187, "username": "janis_b"},
             "telegram: the telegram object")
    ck.equal(identities_of(b), [("telegram", "5512398841")], "telegram: customer identities")

    # ---- ignored events: 200, nothing queued ----
    h.log("ignored events")
    r = twilio_post(c, "phone", twilio_token, public_url, [
        ("SmsSid", sid), ("SmsStatus", "delivered"), ("MessageStatus", "delivered"),
        ("To", "+37126123456"), ("MessageSid", "SM8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e"),
        ("AccountSid", ACCOUNT), ("From", OUR_NUMBER), ("ApiVersion", "2010-04-01")])
    expect_twiml(ck, r, "twilio delivery status callback")
    r = telegram_post(c, "tg", telegram_token, {
        "update_id": 732104530,
        "callback_query": {"id": "2367411931284521877", "data": "solved:no",
                           "from": {"id": 5512398841, "is_bot": False, "first_name": "Jānis"},
                           "chat_instance": "-4398712385547741923"}})
    ck.equal(r.status, 200, "telegram callback_query: status")
    ck.equal(r.json, {"accepted": [], "duplicates": 0, "ignored": 1, "unreadable": 0},
             "telegram callback_query: counted as ignored")

    # ---- duplicates: 200 and nothing queued ----
    h.log("duplicates")
    r = twilio_post(c, "phone", twilio_token, public_url, sms_params, query="src=sms")
    expect_twiml(ck, r, "twilio: the same MessageSid again")
    r = twilio_post(c, "phone", twilio_token, public_url, incoming_call(call_sid, "+442079460018"))
    expect_twiml(ck, r, "twilio: the same call's missed-call webhook again")
    r = h.post_webhook(c, "callbacks", cb, callback_secret)  # fresh webhook-id and timestamp
    ck.equal(r.status, 200, "callback: the same id again: status")
    ck.equal(r.json, {"accepted": [], "duplicates": 1, "ignored": 0, "unreadable": 0}, "callback: duplicate body")
    r = telegram_post(c, "tg", telegram_token, telegram_text(732104519, tg_text))
    ck.equal(r.status, 200, "telegram: the same update_id again: status")
    ck.equal(r.json, {"accepted": [], "duplicates": 1, "ignored": 0, "unreadable": 0}, "telegram: duplicate body")

    got = agent.drain(idle=3.0, deadline=20)
    ck.equal([(m.queue, m.provider_id) for m in got], [],
             "no duplicate or ignored event reached a queue")

    env.finish(ck, "test_channels_phone")


if __name__ == "__main__":
    h.run(main, timeout=300)
