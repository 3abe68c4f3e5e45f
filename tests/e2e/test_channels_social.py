#!/usr/bin/python3
"""The social channel types end to end: `messenger`, `instagram`, `whatsapp` and `x`.

Meta's verification GET and X's challenge-response check are answered exactly as the
providers expect (and refused as they expect); one signed request per type, in the provider's
own format, is consumed by pika from its skill queue with the normalized fields checked
(WhatsApp's phone identity "+<wa_id>", a page comment with visibility public, an echo stored
in the thread but not queued); a bad signature per type is a 401 that queues nothing; a
duplicate is a 200; WhatsApp's 3 MiB body limit holds."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets as pysecrets
import sys
import time
import urllib.parse
from typing import Any

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

META_SECRET = pysecrets.token_hex(16)        # a Meta app secret: 32 hex characters
OTHER_META_SECRET = pysecrets.token_hex(16)
VERIFY_TOKEN = "sb-verify-" + pysecrets.token_urlsafe(12)
X_SECRET = pysecrets.token_urlsafe(37)[:50]  # an X consumer secret: 50 characters
OTHER_X_SECRET = pysecrets.token_urlsafe(37)[:50]

PAGE = "104872915532871"
IG_ACCOUNT = "17841405822304914"
WA_NUMBER = "15550783881"
X_ACCOUNT = "1460987654321098752"

CHANNELS = {"messenger": "fb-page", "instagram": "ig-shop", "whatsapp": "wa-support",
            "x": "x-support"}


def extra_channels() -> str:
    meta = [h.channel_yaml(CHANNELS[kind], kind, META_SECRET, verify_token=VERIFY_TOKEN)
            for kind in ("messenger", "instagram", "whatsapp")]
    return "".join(meta) + h.channel_yaml(CHANNELS["x"], "x", X_SECRET)


# ---- the providers' signed posts --------------------------------------------------------------


def post_meta(c: h.Client, kind: str, body: Any, secret: str | None = META_SECRET,
              signature: str | None = None, content_type: str = "application/json") -> h.Response:
    data = h.to_bytes(body)
    headers = {"Content-Type": content_type}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    elif secret is not None:
        headers["X-Hub-Signature-256"] = h.meta_signature(secret, data)
    return c.request("POST", f"/v1/webhooks/{CHANNELS[kind]}", data, headers)


def post_x(c: h.Client, body: Any, secret: str | None = X_SECRET,
           signature: str | None = None) -> h.Response:
    data = h.to_bytes(body)
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if signature is not None:
        headers["x-twitter-webhooks-signature"] = signature
    elif secret is not None:
        headers["x-twitter-webhooks-signature"] = h.x_signature(secret, data)
    return c.request("POST", f"/v1/webhooks/{CHANNELS['x']}", data, headers)


# ---- the providers' payloads ----------------------------------------------------------------


def now_ms() -> int:
    return int(time.time() * 1000)


def messenger_batch(psid: str, text: str, mid: str, echo_text: str, echo_mid: str,
                    t: int) -> dict[str, Any]:
    return {"object": "page", "entry": [{"id": PAGE, "time": t + 500, "messaging": [
        {"sender": {"id": psid}, "recipient": {"id": PAGE}, "timestamp": t,
         "message": {"mid": mid, "text": text,
                     "attachments": [{"type": "image", "payload": {
                         "url": "https://scontent.xx.fbcdn.net/v/t1.15752-9/461230987_n.jpg?_nc_cat=1"}}]}},
        {"sender": {"id": PAGE}, "recipient": {"id": psid}, "timestamp": t + 200,
         "message": {"is_echo": True, "app_id": 1517776481860111, "mid": echo_mid,
                     "text": echo_text}},
        {"sender": {"id": psid}, "recipient": {"id": PAGE}, "timestamp": t + 300,
         "delivery": {"mids": [echo_mid], "watermark": t + 200}},
    ]}]}


def messenger_message(psid: str, text: str, mid: str, t: int) -> dict[str, Any]:
    return {"object": "page", "entry": [{"id": PAGE, "time": t + 100, "messaging": [
        {"sender": {"id": psid}, "recipient": {"id": PAGE}, "timestamp": t,
         "message": {"mid": mid, "text": text}}]}]}


def page_comment(user: str, name: str, text: str, comment_id: str, t_s: int) -> dict[str, Any]:
    post_id = f"{PAGE}_912345678901234"
    return {"object": "page", "entry": [{"id": PAGE, "time": t_s, "changes": [
        {"field": "feed", "value": {
            "from": {"id": user, "name": name}, "message": text, "post_id": post_id,
            "comment_id": comment_id, "created_time": t_s, "item": "comment",
            "parent_id": post_id, "verb": "add"}}]}]}


def instagram_dm(igsid: str, text: str, mid: str, t: int) -> dict[str, Any]:
    return {"object": "instagram", "entry": [{"id": IG_ACCOUNT, "time": t + 50, "messaging": [
        {"sender": {"id": igsid}, "recipient": {"id": IG_ACCOUNT}, "timestamp": t,
         "message": {"mid": mid, "text": text}}]}]}


def whatsapp_batch(wa_id: str, name: str, text: str, wamid: str, t_s: int,
                   context: str | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"from": wa_id, "id": wamid, "timestamp": str(t_s), "type": "text",
                           "text": {"body": text}}
    if context:
        msg["context"] = {"from": WA_NUMBER, "id": context}
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [
        {"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": WA_NUMBER, "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
            "messages": [msg],
            "statuses": [{"id": "wamid.HBgLMTU1NTAxMDIwMDAVAgARGBI0RkI2QzlBMzdFQUQ5MkY1QTgA",
                          "status": "read", "timestamp": str(t_s), "recipient_id": wa_id}]}}]}]}


def whatsapp_statuses(wa_id: str, t_s: int) -> dict[str, Any]:
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [
        {"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": WA_NUMBER, "phone_number_id": "106540352242922"},
            "statuses": [{"id": "wamid.S1", "status": s, "timestamp": str(t_s),
                          "recipient_id": wa_id} for s in ("sent", "delivered")]}}]}]}


def x_dm(sender: str, recipient: str, text: str, dm_id: str, t: int,
         users: dict[str, tuple[str, str]]) -> dict[str, Any]:
    return {"for_user_id": X_ACCOUNT,
            "direct_message_events": [{"type": "message_create", "id": dm_id,
                                       "created_timestamp": str(t),
                                       "message_create": {"target": {"recipient_id": recipient},
                                                          "sender_id": sender,
                                                          "message_data": {"text": text}}}],
            "users": {uid: {"id": uid, "name": n, "screen_name": s}
                      for uid, (n, s) in users.items()},
            "direct_message_indicate_typing_events": [
                {"created_timestamp": str(t - 1000), "sender_id": sender,
                 "target": {"recipient_id": recipient}}]}


def x_mention(user: str, name: str, screen: str, text: str, tweet_id: str,
              t: int) -> dict[str, Any]:
    return {"for_user_id": X_ACCOUNT, "user_has_blocked": False, "tweet_create_events": [{
        "created_at": time.strftime("%a %b %d %H:%M:%S +0000 %Y", time.gmtime(t / 1000)),
        "id_str": tweet_id, "text": text,
        "user": {"id_str": user, "name": name, "screen_name": screen},
        "entities": {"hashtags": [], "urls": [], "symbols": [],
                     "user_mentions": [{"screen_name": "zilaisveikals", "id_str": X_ACCOUNT,
                                        "indices": [0, 14]}]},
        "timestamp_ms": str(t)}]}


# ---- checks -----------------------------------------------------------------------------------


def expect_error(ck: h.Checks, r: Any, status: int, what: str) -> None:
    ck.equal(r.status, status, f"{what}: status")
    body = r.json
    ck.check(isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]
             and isinstance(body.get("detail"), str),
             f"{what}: body is JSON with \"error\" and \"detail\"", repr(r.body[:300]))


def accepted(ck: h.Checks, r: h.Response, count: int, what: str, ignored: int = 0,
             status: int = 202) -> list[dict[str, Any]]:
    ck.equal(r.status, status, f"{what}: status")
    body = r.json if isinstance(r.json, dict) else {}
    acc = body.get("accepted")
    ck.check(isinstance(acc, list) and len(acc) == count, f"{what}: {count} accepted", r)
    ck.equal(body.get("ignored"), ignored, f"{what}: ignored")
    ck.equal(body.get("duplicates"), 0, f"{what}: duplicates")
    return acc if isinstance(acc, list) else []


def identities(b: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((i.get("type"), i.get("value")) for i in b["customer"].get("identities") or [])


def check_common(ck: h.Checks, m: h.Consumed, kind: str, provider_id: str, text: str,
                 visibility: str, sent_ms: int | None, acc: dict[str, Any], what: str) -> dict:
    b = m.body
    ck.require(isinstance(b, dict), f"{what}: body is a JSON object", m.raw[:300])
    msg = b.get("message") or {}
    ck.equal(m.header("x-channel"), CHANNELS[kind], f"{what}: header x-channel")
    ck.equal(m.header("x-channel-type"), kind, f"{what}: header x-channel-type")
    ck.equal(m.properties.message_id, acc.get("message_id"), f"{what}: AMQP message_id")
    ck.equal(msg.get("channel"), CHANNELS[kind], f"{what}: message.channel")
    ck.equal(msg.get("channel_type"), kind, f"{what}: message.channel_type")
    ck.equal(msg.get("direction"), "inbound", f"{what}: message.direction")
    ck.equal(msg.get("provider_id"), provider_id, f"{what}: message.provider_id")
    ck.equal(msg.get("text"), text, f"{what}: message.text verbatim")
    ck.equal(msg.get("visibility"), visibility, f"{what}: message.visibility")
    if sent_ms is not None:
        st = h.parse_time(msg.get("sent_at"))
        ck.check(st is not None and abs(st.timestamp() * 1000 - sent_ms) < 1,
                 f"{what}: message.sent_at is the provider's", (msg.get("sent_at"), sent_ms))
    thread = b.get("thread")
    ck.check(isinstance(thread, list) and thread and thread[-1] == msg,
             f"{what}: the thread ends with the new message", thread)
    return msg


def handshakes(ck: h.Checks, c: h.Client) -> None:
    h.log("Meta verification and X CRC")
    for kind in ("messenger", "instagram", "whatsapp"):
        path = f"/v1/webhooks/{CHANNELS[kind]}"
        q = urllib.parse.urlencode({"hub.mode": "subscribe", "hub.challenge": "1158201444",
                                    "hub.verify_token": VERIFY_TOKEN})
        r = c.get(f"{path}?{q}")
        ck.equal(r.status, 200, f"{kind} verify: status")
        ck.equal(r.body, b"1158201444", f"{kind} verify: the body is hub.challenge exactly")
        ck.check(r.headers.get("content-type", "").startswith("text/plain"),
                 f"{kind} verify: Content-Type text/plain", r.headers.get("content-type"))
        for bad, why in ((dict(mode="subscribe", token="wrong-token"), "a wrong verify token"),
                         (dict(mode="unsubscribe", token=VERIFY_TOKEN), "mode unsubscribe"),
                         (dict(mode="subscribe", token=None), "no verify token")):
            params = {"hub.mode": bad["mode"], "hub.challenge": "1158201444"}
            if bad["token"] is not None:
                params["hub.verify_token"] = bad["token"]
            r = c.get(f"{path}?{urllib.parse.urlencode(params)}")
            ck.equal(r.status, 403, f"{kind} verify with {why}: 403")
            ck.check(b"1158201444" not in r.body, f"{kind} verify with {why}: no challenge echoed")
        r = c.get(f"{path}?hub.mode=subscribe&hub.verify_token={urllib.parse.quote(VERIFY_TOKEN)}")
        expect_error(ck, r, 400, f"{kind} verify without hub.challenge")

    path = f"/v1/webhooks/{CHANNELS['x']}"
    token = "9b4507b3-9040-4669-9ca3-6b94edb50553"
    r = c.get(f"{path}?crc_token={token}&nonce=MTU3OTE5MTQ5Mzk3Ng")
    ck.equal(r.status, 200, "X CRC: status")
    ck.check(r.headers.get("content-type", "").startswith("application/json"),
             "X CRC: Content-Type application/json", r.headers.get("content-type"))
    ck.equal(r.json, {"response_token": h.x_signature(X_SECRET, token.encode())},
             "X CRC: response_token = sha256=base64(HMAC-SHA256(consumer secret, crc_token))")
    r = c.get(f"{path}?crc_token={urllib.parse.quote('YWJj+ZGVm/=')}")
    ck.equal(r.json, {"response_token": h.x_signature(X_SECRET, b"YWJj+ZGVm/=")},
             "X CRC: a percent-encoded token is decoded before signing")
    r = c.get(path)
    expect_error(ck, r, 400, "X CRC without crc_token")
    forged = json.dumps(x_dm("3001969357", X_ACCOUNT, "forged", "1", now_ms(), {}))
    r = c.get(f"{path}?crc_token={urllib.parse.quote(forged)}")
    expect_error(ck, r, 400, "X CRC of a JSON body (a signing oracle) is refused")


def refusals(ck: h.Checks, c: h.Client, agent: h.Consumer) -> None:
    h.log("refusals: bad signatures and other errors queue nothing")
    t = now_ms()
    fb = messenger_message("7034519946284417", "never queue this", "m_bad_1", t)
    r = post_meta(c, "messenger", fb, secret=OTHER_META_SECRET)
    expect_error(ck, r, 401, "messenger signed by another app")
    r = post_meta(c, "messenger", fb, secret=None)
    expect_error(ck, r, 401, "messenger without X-Hub-Signature-256")
    data = h.to_bytes(fb)
    r = post_meta(c, "messenger", data.replace(b"never", b"NEVER"),
                  signature=h.meta_signature(META_SECRET, data))
    expect_error(ck, r, 401, "messenger body changed after signing")

    ig = instagram_dm("1130945826719384", "never queue this", "ig_bad_1", t)
    r = post_meta(c, "instagram", ig, signature="sha1=" + hmac.new(
        META_SECRET.encode(), h.to_bytes(ig), hashlib.sha1).hexdigest())
    expect_error(ck, r, 401, "instagram with a sha1= signature")
    r = post_meta(c, "instagram", ig, secret=OTHER_META_SECRET)
    expect_error(ck, r, 401, "instagram signed by another app")

    wa = whatsapp_batch("15550109999", "Nobody", "never queue this", "wamid.bad1", t // 1000)
    r = post_meta(c, "whatsapp", wa, signature="sha256=" + "z" * 64)
    expect_error(ck, r, 401, "whatsapp with a signature that is not hex")
    r = post_meta(c, "whatsapp", wa, secret=OTHER_META_SECRET)
    expect_error(ck, r, 401, "whatsapp signed by another app")

    xd = x_dm("3001969357", X_ACCOUNT, "never queue this", "1999", t, {})
    r = post_x(c, xd, secret=OTHER_X_SECRET)
    expect_error(ck, r, 401, "x signed with another consumer secret")
    r = post_x(c, xd, secret=None)
    expect_error(ck, r, 401, "x without x-twitter-webhooks-signature")
    r = post_x(c, xd, signature="sha256=" + hmac.new(X_SECRET.encode(), h.to_bytes(xd),
                                                      hashlib.sha256).hexdigest())
    expect_error(ck, r, 401, "x with a hex signature instead of base64")

    # Validly signed, but wrong in other ways.
    r = post_meta(c, "whatsapp", wa, content_type="text/plain")
    expect_error(ck, r, 415, "whatsapp signed, Content-Type text/plain")
    r = post_meta(c, "messenger", b'{"object":"page","entry":[{"id":')
    expect_error(ck, r, 400, "messenger signed, truncated JSON")
    r = post_meta(c, "messenger", wa)
    expect_error(ck, r, 400, "a WhatsApp payload posted to the messenger channel")
    ck.check("whatsapp_business_account" in (r.json or {}).get("detail", ""),
             "the 400 names the payload's object", r)
    r = post_x(c, {"direct_message_events": []})
    expect_error(ck, r, 400, "x signed, no for_user_id")

    got = agent.drain(idle=3.0, deadline=20)
    ck.equal([(m.queue, m.provider_id) for m in got], [], "no refused request reached a queue")


def main(ck: h.Checks) -> None:
    env = h.Env(extra_channels=extra_channels())
    env.check_config(ck, "the four social channels")

    d = env.start()
    c = env.client()
    general, billing = env.queues["general"], env.queues["billing"]
    agent = h.Consumer(env.amqp_url, [general, billing])

    def one(what: str, queue: str = general) -> h.Consumed | None:
        return h.consume_one(ck, agent, queue, what, idle=1.5)

    handshakes(ck, c)
    refusals(ck, c, agent)

    # ---- messenger: a message with an attachment, the page's echo, a delivery receipt ----
    h.log("messenger")
    t = now_ms() - 20_000
    psid = "7034519946284417"
    text = "Labdien! Mans pasūtījums #4471 vēl nav atnācis 📦"
    batch = messenger_batch(psid, text, "m_Rk3vXq1aYbCz9PdWuTe0L", "Paldies, pārbaudām!",
                            "m_Ua9xZs3cAdEb1RfYwVg2N", t)
    r = post_meta(c, "messenger", batch)
    acc = accepted(ck, r, 2, "messenger batch (message + echo + receipt)", ignored=1)
    ck.check(len(acc) == 2 and acc[1].get("skill") is None,
             "messenger: the echo is stored without a skill (not routed)", acc)
    m = one("messenger message (the echo is not queued)")
    if m and acc:
        msg = check_common(ck, m, "messenger", "m_Rk3vXq1aYbCz9PdWuTe0L", text, "private", t,
                           acc[0], "messenger")
        ck.equal(identities(m.body), [("messenger", f"{PAGE}:{psid}")],
                 "messenger: identity <page id>:<PSID>")
        atts = msg.get("attachments") or []
        ck.check(len(atts) == 1 and atts[0].get("name") == "461230987_n.jpg"
                 and atts[0].get("content_type") == "image/jpeg"
                 and atts[0].get("source_url", "").startswith("https://scontent.xx.fbcdn.net/")
                 and atts[0].get("url") == f"/v1/attachments/{atts[0].get('id')}"
                 and atts[0].get("state") == "pending",
                 "messenger: the attachment's name, type, CDN URL, and the read API's URL", atts)

    r = post_meta(c, "messenger", messenger_message(psid, "Vai ir kādas ziņas?",
                                                    "m_Vb0yAt4dBeFc2SgZxWh3O", t + 10_000))
    acc = accepted(ck, r, 1, "messenger follow-up")
    m = one("messenger follow-up")
    if m and acc:
        thread = m.body.get("thread") or []
        ck.equal([(x.get("provider_id"), x.get("direction")) for x in thread],
                 [("m_Rk3vXq1aYbCz9PdWuTe0L", "inbound"), ("m_Ua9xZs3cAdEb1RfYwVg2N", "outbound"),
                  ("m_Vb0yAt4dBeFc2SgZxWh3O", "inbound")],
                 "messenger: the echo is in the thread as outbound, between the two messages")
        ck.equal(m.body["conversation"].get("message_count"), 3, "messenger: message_count 3")

    # ---- a page comment: public ----
    h.log("page comment")
    t_s = int(time.time()) - 15
    r = post_meta(c, "messenger", page_comment("6120918273645512", "Līga Ozola",
                                               "Kad būs pieejams zilais izmērs M? 💙",
                                               "912345678901234_1187364529018273", t_s))
    acc = accepted(ck, r, 1, "page comment")
    m = one("page comment")
    if m and acc:
        msg = check_common(ck, m, "messenger", "912345678901234_1187364529018273",
                           "Kad būs pieejams zilais izmērs M? 💙", "public", t_s * 1000, acc[0],
                           "page comment")
        ck.equal(msg.get("post"), {"post_id": f"{PAGE}_912345678901234",
                                   "comment_id": "912345678901234_1187364529018273"},
                 "page comment: message.post")
        ck.equal(m.body["customer"].get("name"), "Līga Ozola", "page comment: customer.name")
        ck.equal(identities(m.body), [("messenger", f"{PAGE}:6120918273645512")],
                 "page comment: identity")

    # ---- instagram: a direct message ----
    h.log("instagram")
    t = now_ms() - 10_000
    igsid = "1130945826719384"
    ig_text = "Sveiki! Vai šī kleita ir pieejama sarkanā krāsā? 👗"
    r = post_meta(c, "instagram", instagram_dm(igsid, ig_text, "aWdfZAG1faXRlbToxOklHTWVz", t))
    acc = accepted(ck, r, 1, "instagram DM")
    m = one("instagram DM")
    if m and acc:
        check_common(ck, m, "instagram", "aWdfZAG1faXRlbToxOklHTWVz", ig_text, "private", t,
                     acc[0], "instagram")
        ck.equal(identities(m.body), [("instagram", f"{IG_ACCOUNT}:{igsid}")],
                 "instagram: identity <account id>:<IGSID>")

    # ---- whatsapp: a reply about a charge → billing; statuses ignored ----
    h.log("whatsapp")
    t_s = int(time.time()) - 5
    wa_id = "15550102000"
    wa_text = "I was charged twice for order 4471 😕"
    wa = whatsapp_batch(wa_id, "Ann Lee", wa_text,
                        "wamid.HBgLMTU1NTAxMDIwMDAVAgASGBQzRUIwQjJFOUMyRDdBNjE4QjQ4RgA=", t_s,
                        context="wamid.HBgLMTU1NTAxMDIwMDAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA")
    wa_bytes = h.to_bytes(wa)
    r = post_meta(c, "whatsapp", wa_bytes)
    acc = accepted(ck, r, 1, "whatsapp message + status", ignored=1)
    m = one("whatsapp message (routed to billing by its text)", billing)
    if m and acc:
        msg = check_common(ck, m, "whatsapp",
                           "wamid.HBgLMTU1NTAxMDIwMDAVAgASGBQzRUIwQjJFOUMyRDdBNjE4QjQ4RgA=",
                           wa_text, "private", t_s * 1000, acc[0], "whatsapp")
        ck.equal(identities(m.body), [("phone", "+15550102000"), ("whatsapp", "15550102000")],
                 "whatsapp: identities whatsapp <wa_id> and phone +<wa_id>")
        ck.equal(m.body["customer"].get("name"), "Ann Lee", "whatsapp: customer.name from contacts")
        ck.equal(msg.get("reply_to"), "wamid.HBgLMTU1NTAxMDIwMDAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA",
                 "whatsapp: message.reply_to from context.id")
        ck.equal((msg.get("whatsapp") or {}).get("phone_number_id"), "106540352242922",
                 "whatsapp: message.whatsapp.phone_number_id")
        ck.equal(m.properties.priority, 5, "whatsapp: the billing route's priority")

    r = post_meta(c, "whatsapp", whatsapp_statuses(wa_id, t_s))
    accepted(ck, r, 0, "whatsapp statuses only", ignored=2, status=200)

    # ---- x: a DM and a mention ----
    h.log("x")
    t = now_ms() - 3000
    x_text = "Sveiki! Mans pasūtījums #4471 nav piegādāts 😟"
    users = {"3001969357": ("Līga Ozola", "liga_ozola"), X_ACCOUNT: ("Zilais Veikals", "zilaisveikals")}
    xd_bytes = h.to_bytes(x_dm("3001969357", X_ACCOUNT, x_text, "1859613472905728001", t, users))
    r = post_x(c, xd_bytes)
    acc = accepted(ck, r, 1, "x DM (+ a typing event)", ignored=1)
    m = one("x DM")
    if m and acc:
        msg = check_common(ck, m, "x", "1859613472905728001", x_text, "private", t, acc[0], "x DM")
        ck.equal(identities(m.body), [("x", "3001969357")], "x DM: identity x <user id>")
        ck.equal(m.body["customer"].get("name"), "Līga Ozola", "x DM: customer.name from users")
        ck.equal(msg.get("screen_name"), "liga_ozola", "x DM: message.screen_name")

    r = post_x(c, x_dm(X_ACCOUNT, "3001969357", "Atvainojamies! Pārbaudām.", "1859613799123456002",
                       t + 1000, users))
    acc = accepted(ck, r, 1, "x DM sent by the account", ignored=1)
    ck.check(len(acc) == 1 and acc[0].get("skill") is None, "x: the account's DM is not routed", acc)

    mention = "@zilaisveikals mana pakete jau nedēļu ir ceļā 😤"
    r = post_x(c, x_mention("982734561029384756", "Marek Nowak", "mnowak", mention,
                            "1859620000000000001", t + 2000))
    acc = accepted(ck, r, 1, "x mention")
    m = one("x mention")
    if m and acc:
        msg = check_common(ck, m, "x", "1859620000000000001", mention, "public", t + 2000, acc[0],
                           "x mention")
        ck.equal(msg.get("post"), {"tweet_id": "1859620000000000001"}, "x mention: message.post")

    got = agent.drain(idle=2.0, deadline=10)
    ck.equal([(x.queue, x.provider_id) for x in got], [],
             "the account's own DM and the echo were not queued")

    # ---- duplicates: Meta and X retry; a retry is a 200 and queues nothing ----
    h.log("duplicates")
    r = post_meta(c, "whatsapp", wa_bytes)
    ck.equal(r.status, 200, "whatsapp duplicate: 200")
    ck.equal((r.json or {}).get("duplicates"), 1, "whatsapp duplicate: duplicates 1")
    r = post_meta(c, "messenger", batch)
    ck.equal(r.status, 200, "messenger batch duplicate: 200")
    ck.equal((r.json or {}).get("duplicates"), 2, "messenger batch duplicate: duplicates 2")
    r = post_x(c, xd_bytes)
    ck.equal(r.status, 200, "x DM duplicate: 200")
    got = agent.drain(idle=2.0, deadline=10)
    ck.equal([(x.queue, x.provider_id) for x in got], [], "duplicates are not queued again")

    # ---- WhatsApp bodies: up to 3 MiB by default, over the server's 1 MiB ----
    h.log("whatsapp body limit")
    big_text = "Skat. pielikumā: " + "a" * 1_500_000
    big = h.to_bytes(whatsapp_batch("15550107777", "Big Sender", big_text, "wamid.BIG1",
                                  int(time.time()), None))
    r = post_meta(c, "whatsapp", big)
    accepted(ck, r, 1, f"whatsapp body of {len(big)} bytes (over 1 MiB, under 3 MiB)", ignored=1)
    m = one("the large whatsapp message")
    if m:
        # Twice 1.5 MB (in `message` and in `thread`) is within store.max_payload_bytes (4 MiB).
        ck.equal(len((m.body.get("message") or {}).get("text", "")), len(big_text),
                 "the large whatsapp text arrives whole")
    huge = h.to_bytes(whatsapp_batch("15550107777", "Big Sender", "a" * (3 * 1024 * 1024),
                                   "wamid.HUGE1", int(time.time()), None))
    head = (f"POST /v1/webhooks/{CHANNELS['whatsapp']} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nX-Hub-Signature-256: {h.meta_signature(META_SECRET, huge)}\r\n"
            f"Content-Length: {len(huge)}\r\n\r\n").encode()
    rr = h.raw_exchange(env.port, head + huge)
    ck.equal(rr.status, 413, f"whatsapp body of {len(huge)} bytes (over 3 MiB): 413")

    ck.check(d.alive(), "the daemon is still running")
    env.finish(ck, "test_channels_social", integrity=True)


if __name__ == "__main__":
    h.run(main, timeout=300)
