#!/usr/bin/python3
"""Attachments kept (issue #21, docs/attachments.md), through HTTP, local fakes of the
providers' media APIs (tests/fakes/providers.py) and pika as the agent.

1. An e-mail with a 2 MB PDF (a canary inside): the payload's attachment is `stored`, its URL
   the read API's, and GET /v1/attachments/{id} serves the PDF byte for byte with its type.
   An e-mail with a 4 MB file, over attachments.max_file_bytes (3 MB): the message is taken,
   the file is `too_large` in the payload and 404 at its URL, and never written.
2. A WhatsApp image, fetched from the fake Graph API (media URL lookup, then the download, both
   with the channel's token): the payload says `pending`; the lookup answers 500 for the first
   seconds, the fetcher retries, and the image is then served byte for byte. Telegram
   (getFile), Twilio (MediaUrl with basic auth, a redirect to storage followed without it) and
   Messenger (a CDN URL) files likewise. A WhatsApp video whose size the Graph API names over
   the limit is `too_large` without being downloaded.
3. Erasure: the customer with the PDF is erased; `grep -c` of the canary in the database file,
   the WAL and the attachment directory is 0; another customer's identical file stays.
4. Every request to the fakes was in the provider's format (no violations); the metrics count
   the fetches."""

from __future__ import annotations

import hashlib
import json
import os
import secrets as pysecrets
import sys
import time
import urllib.parse
from typing import Any

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
import harness as h  # noqa: E402
import providers  # noqa: E402

TOKEN = "ops-" + pysecrets.token_hex(12)
MIME_TOKEN = pysecrets.token_urlsafe(24)
META_SECRET = pysecrets.token_hex(16)
WA_TOKEN = "EAAG" + pysecrets.token_hex(12)
PAGE_TOKEN = "EAAP" + pysecrets.token_hex(12)
TG_SECRET = "tg-" + pysecrets.token_hex(12)
TG_BOT = "7000001:AAH" + pysecrets.token_hex(8)
TW_TOKEN = pysecrets.token_hex(16)
TW_SID = "AC" + pysecrets.token_hex(16)
CANARY = "CANARY-" + pysecrets.token_hex(6)
PAGE = "1122334455"
MAX_FILE = 3_000_000


def pdf(size: int, marker: str) -> bytes:
    """A PDF-looking file of `size` bytes with every byte value in it and `marker` once."""
    head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + marker.encode() + b"\n"
    body = bytes(range(256)) * (size // 256 + 1)
    return (head + body)[: size - 6] + b"%%EOF\n"


def jpeg(n: int) -> bytes:
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(n) + b"\xff\xd9"


def mail(sender: str, file_name: str, data: bytes, t: float) -> bytes:
    msg = h.dmarc_mail(sender, "The signed contract", "Please find the contract attached.\n", t)
    msg.add_attachment(data, maintype="application", subtype="pdf", filename=file_name)
    return bytes(msg)


def whatsapp_media(wa_id: str, wamid: str, kind: str, media_id: str, mime: str,
                   t: int) -> bytes:
    media = {"id": media_id, "mime_type": mime, "sha256": "dGhpcyBpcyBub3QgY2hlY2tlZA=="}
    if kind == "image":
        media["caption"] = "the broken part"
    return json.dumps({"object": "whatsapp_business_account", "entry": [{
        "id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550009999",
                         "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Līga"}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": wamid, "timestamp": str(t), "type": kind,
                          kind: media}]}}]}]}).encode()


def telegram_photo(update_id: int, file_id: str, size: int) -> bytes:
    user = {"id": 5512398841, "is_bot": False, "first_name": "Jānis", "language_code": "lv"}
    return json.dumps({"update_id": update_id, "message": {
        "message_id": 1190, "from": user,
        "chat": {"id": 5512398841, "first_name": "Jānis", "type": "private"},
        "date": int(time.time()) - 5,
        "photo": [{"file_id": file_id + "-small", "file_unique_id": "AQADs", "file_size": 900,
                   "width": 90, "height": 67},
                  {"file_id": file_id, "file_unique_id": "AQADb", "file_size": size,
                   "width": 1280, "height": 960}]}}).encode()


def messenger_image(psid: str, mid: str, url: str) -> bytes:
    t = int(time.time() * 1000)
    return json.dumps({"object": "page", "entry": [{"id": PAGE, "time": t, "messaging": [
        {"sender": {"id": psid}, "recipient": {"id": PAGE}, "timestamp": t,
         "message": {"mid": mid, "attachments": [
             {"type": "image", "payload": {"url": url}}]}}]}]}).encode()


def count_in(path: str, needle: bytes) -> int:
    try:
        with open(path, "rb") as f:
            return f.read().count(needle)
    except FileNotFoundError:
        return 0


def count_in_tree(root: str, needle: bytes) -> int:
    return sum(count_in(os.path.join(d, f), needle)
               for d, _, files in os.walk(root) for f in files)


def main(ck: h.Checks) -> None:
    fakes = providers.Providers(telegram_token=TG_BOT, whatsapp_token=WA_TOKEN,
                                chat_secret="whsec_" + "A" * 32, page_token=PAGE_TOKEN,
                                twilio_sid=TW_SID, twilio_token=TW_TOKEN)
    h.on_cleanup("stop the providers' fakes", fakes.close)
    channels = (
        h.channel_yaml("mail", "mime", MIME_TOKEN, trusted_authserv_id="mx.acme.example",
                       max_body_bytes=16_000_000)
        + f"""\
  - name: wa
    type: whatsapp
    secret: {h.yq(META_SECRET)}
    verify_token: verify-me
    outbound:
      api_base: {h.yq(fakes.url + '/v21.0')}
      token: {h.yq(WA_TOKEN)}
  - name: fb
    type: messenger
    secret: {h.yq(META_SECRET)}
    verify_token: verify-me
  - name: tg
    type: telegram
    secret: {h.yq(TG_SECRET)}
    outbound:
      api_base: {h.yq(fakes.url)}
      token: {h.yq(TG_BOT)}
  - name: sms
    type: twilio
    secret: {h.yq(TW_TOKEN)}
    public_url: "http://127.0.0.1:@PORT@/v1/webhooks/sms"
    outbound:
      api_base: {h.yq(fakes.url)}
      account_sid: {h.yq(TW_SID)}
      token: {h.yq(TW_TOKEN)}
""")
    env = h.Env(extra_channels=channels, api_tokens=[TOKEN],
                extra_config=f"attachments:\n  max_file_bytes: {MAX_FILE}\n"
                             f"  max_message_bytes: {2 * MAX_FILE}\n  fetch_for: 10m\n")
    env.config_text = env.config_text.replace("@PORT@", str(env.port))
    with open(env.config_path, "w") as f:
        f.write(env.config_text)
    env.check_config(ck, "mail, WhatsApp, Messenger, Telegram and Twilio with attachments:")
    env.start()
    agent = h.Consumer(env.amqp_url, list(env.queues.values()))
    c = env.client()
    attachment_dir = os.path.join(env.workdir, "attachments")

    def api(path: str, method: str = "GET") -> h.Response:
        return env.client().request(method, path, None, {"Authorization": f"Bearer {TOKEN}"})

    def accepted(what: str, r: h.Response) -> dict[str, Any]:
        ck.require(r.status in (200, 202), f"{what}: accepted", f"{r.status} {r.body[:300]!r}")
        return ((r.json or {}).get("accepted") or [{}])[0]

    def consumed(message_id: str | None, text: str | None = None) -> dict[str, Any]:
        """The payload's message of that id (or, for Twilio, whose answer is TwiML, that text)."""
        def mine(m: h.Consumed) -> bool:
            msg = (m.body or {}).get("message", {})
            return msg.get("id") == message_id if text is None else msg.get("text") == text
        got = agent.drain(idle=0.5, deadline=30, until=lambda ms: any(mine(m) for m in ms))
        for m in got:
            if mine(m):
                return m.body["message"]
        ck.check(False, f"message {message_id or text} consumed")
        return {}

    def fetched(att: dict[str, Any], timeout: float = 60) -> h.Response:
        """GET the attachment's URL until it is no longer 503 (being fetched)."""
        path = urllib.parse.urlsplit(att.get("url") or "").path
        deadline = time.monotonic() + timeout
        while True:
            r = api(path)
            if r.status != 503 or time.monotonic() > deadline:
                return r
            time.sleep(0.25)

    def post_mail(body: bytes) -> h.Response:
        return c.request("POST", "/v1/webhooks/mail", body, {
            "Content-Type": "message/rfc822", "Authorization": f"Bearer {MIME_TOKEN}"})

    def post_meta(channel: str, body: bytes) -> h.Response:
        return c.request("POST", f"/v1/webhooks/{channel}", body, {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": h.meta_signature(META_SECRET, body)})

    t0 = time.time() - 60
    # ---- 1. e-mail: a 2 MB PDF kept, a 4 MB file over the limit ----
    contract = pdf(2 * 1024 * 1024, CANARY)
    a_mail = accepted("the mail with a 2 MB PDF", post_mail(
        mail("ann.lee@example.com", "contract-2026.pdf", contract, t0)))
    m = consumed(a_mail.get("message_id"))
    att = (m.get("attachments") or [{}])[0]
    ck.equal(att.get("state"), "stored", "the PDF is stored before the 202")
    ck.equal(att.get("size"), len(contract), "its size in the payload")
    ck.equal(att.get("sha256"), hashlib.sha256(contract).hexdigest(), "its SHA-256 in the payload")
    ck.check(str(att.get("url")).endswith(f"/v1/attachments/{att.get('id')}"),
             "its URL is the read API's", att.get("url"))
    r = fetched(att, timeout=1)
    ck.equal(r.status, 200, "GET /v1/attachments/{id}: 200")
    ck.check(r.body == contract, "the PDF comes back byte for byte",
             f"{len(r.body)} bytes, sha256 {hashlib.sha256(r.body).hexdigest()}")
    ck.equal(r.headers.get("content-type"), "application/pdf", "with its content type")
    ck.check("contract-2026.pdf" in r.headers.get("content-disposition", ""),
             "with its name", r.headers.get("content-disposition"))
    ck.equal(r.headers.get("x-content-type-options"), "nosniff", "never sniffed")
    r = env.client().request("GET", urllib.parse.urlsplit(att["url"]).path)
    ck.equal(r.status, 401, "without the read API token: 401")

    big = pdf(4 * 1024 * 1024, "BIG-" + CANARY)
    a_big = accepted("the mail with a 4 MB file", post_mail(
        mail("ann.lee@example.com", "scan.pdf", big, t0 + 10)))
    m = consumed(a_big.get("message_id"))
    att_big = (m.get("attachments") or [{}])[0]
    ck.equal(att_big.get("state"), "too_large", "the 4 MB file is too_large in the payload")
    ck.equal(att_big.get("size"), len(big), "with its size")
    ck.equal(att_big.get("url"), None, "and no URL")
    ck.equal(count_in_tree(attachment_dir, b"BIG-" + CANARY.encode()), 0,
             "the file over the limit is not written")

    # ---- 2. provider media ----
    # WhatsApp: the lookup fails for the first seconds; the fetcher retries.
    photo = jpeg(180_000)
    fakes.add_media("1203981237129083", photo, "image/jpeg")
    fakes.fail("whatsapp-media", 500, {"error": {"message": "An unknown error occurred",
                                                 "type": "OAuthException", "code": 1,
                                                 "is_transient": True,
                                                 "fbtrace_id": "AzXyZ1"}}, seconds=3)
    a_wa = accepted("the WhatsApp image", post_meta("wa", whatsapp_media(
        "37120000001", "wamid.ATT1", "image", "1203981237129083", "image/jpeg", int(t0) + 20)))
    m = consumed(a_wa.get("message_id"))
    att_wa = (m.get("attachments") or [{}])[0]
    ck.equal(att_wa.get("state"), "pending", "the WhatsApp image is pending in the payload")
    ck.equal(m.get("text"), "the broken part", "its caption is the text")
    r = fetched(att_wa)
    ck.equal(r.status, 200, "the WhatsApp image is served once fetched")
    ck.check(r.body == photo, "byte for byte", f"{len(r.body)} bytes")
    ck.equal(r.headers.get("content-type"), "image/jpeg", "as image/jpeg")
    ck.check(len(fakes.attempts_of("whatsapp-media")) >= 2,
             "the lookup was tried again after the 500s",
             len(fakes.attempts_of("whatsapp-media")))
    ck.equal(len(fakes.requests("whatsapp-download")), 1, "one download")

    # WhatsApp: a video whose size the Graph API names over the limit is not downloaded.
    fakes.add_media("7700112233", b"\x00" * (MAX_FILE + 1), "video/mp4")
    a_vid = accepted("the WhatsApp video", post_meta("wa", whatsapp_media(
        "37120000001", "wamid.ATT2", "video", "7700112233", "video/mp4", int(t0) + 30)))
    att_vid = (consumed(a_vid.get("message_id")).get("attachments") or [{}])[0]
    r = fetched(att_vid)
    ck.equal(r.status, 404, "the video over the limit: 404 at its URL")
    ck.check("too_large" in r.body.decode(errors="replace"), "saying too_large", r.body[:200])
    ck.equal([q for q in fakes.requests("whatsapp-download") if "7700112233" in q.path], [],
             "and it is never downloaded")

    # Telegram: getFile, then the file, with the bot token.
    tg_photo = jpeg(64_000)
    fakes.add_media("AgACAgIAAxkBAAIBYmZ", tg_photo, "image/jpeg")
    r = c.request("POST", "/v1/webhooks/tg", telegram_photo(880001, "AgACAgIAAxkBAAIBYmZ",
                                                            len(tg_photo)),
                  {"Content-Type": "application/json",
                   "X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
    a_tg = accepted("the Telegram photo", r)
    att_tg = (consumed(a_tg.get("message_id")).get("attachments") or [{}])[0]
    r = fetched(att_tg)
    ck.equal(r.status, 200, "the Telegram photo is served")
    ck.check(r.body == tg_photo, "byte for byte", f"{len(r.body)} bytes")

    # Twilio: the MediaUrl with basic auth, redirected to storage (no credentials there).
    mms = jpeg(50_000)
    fakes.add_media("ME0a1b2c3d4e5f60718293a4b5c6d7e8f9", mms, "image/jpeg")
    media_url = (f"{fakes.url}/2010-04-01/Accounts/{TW_SID}/Messages/"
                 f"MM1f2e3d4c5b6a79881706f5e4d3c2b1a0/Media/ME0a1b2c3d4e5f60718293a4b5c6d7e8f9")
    params = [("ToCountry", "US"), ("NumMedia", "1"), ("SmsSid", "MM1f2e3d4c5b6a79881706f5e4d3c2b1a0"),
              ("SmsStatus", "received"), ("Body", "photo of the meter"), ("To", "+15550001111"),
              ("MessageSid", "MM1f2e3d4c5b6a79881706f5e4d3c2b1a0"), ("AccountSid", TW_SID),
              ("From", "+37120000002"), ("ApiVersion", "2010-04-01"),
              ("MediaUrl0", media_url), ("MediaContentType0", "image/jpeg")]
    public_url = f"{env.url}/v1/webhooks/sms"
    r = c.request("POST", "/v1/webhooks/sms", urllib.parse.urlencode(params).encode(), {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": h.twilio_signature(TW_TOKEN, public_url, params)})
    ck.require(r.status == 200, "the Twilio MMS: 200 (TwiML)", f"{r.status} {r.body[:300]!r}")
    att_tw = (consumed(None, "photo of the meter").get("attachments") or [{}])[0]
    r = fetched(att_tw)
    ck.equal(r.status, 200, "the Twilio media is served")
    ck.check(r.body == mms, "byte for byte", f"{len(r.body)} bytes")

    # Messenger: a CDN URL, fetched as it is.
    cdn_image = jpeg(30_000)
    fakes.add_media("461230987_n.jpg", cdn_image, "image/jpeg")
    a_fb = accepted("the Messenger image", post_meta("fb", messenger_image(
        "6543210987654321", "m_ATT1", f"{fakes.url}/cdn/461230987_n.jpg?_nc_cat=1&oe=6A1B")))
    att_fb = (consumed(a_fb.get("message_id")).get("attachments") or [{}])[0]
    r = fetched(att_fb)
    ck.equal(r.status, 200, "the Messenger image is served")
    ck.check(r.body == cdn_image, "byte for byte", f"{len(r.body)} bytes")

    # ---- 3. erasure: the canary leaves the database, the WAL and the attachment directory ----
    # Bob sends the same contract: one blob, which stays for him.
    a_bob = accepted("Bob's mail with the same PDF", post_mail(
        mail("bob@example.org", "contract-2026.pdf", contract, t0 + 40)))
    att_bob = (consumed(a_bob.get("message_id")).get("attachments") or [{}])[0]
    # Ann's own file, only hers.
    own = pdf(300_000, "OWN-" + CANARY)
    own_mail = mail("ann.lee@example.com", "id-card.pdf", own, t0 + 50)
    a_own = accepted("Ann's second PDF", post_mail(own_mail))
    consumed(a_own.get("message_id"))
    needle = b"OWN-" + CANARY.encode()
    ck.equal(count_in_tree(attachment_dir, needle), 1, "Ann's own PDF is in the directory")
    r = api(f"/v1/customers/{a_own.get('customer_id')}", "DELETE")
    ck.require(r.status == 200, "erasure: 200", f"{r.status} {r.body[:300]!r}")
    ck.equal(count_in_tree(attachment_dir, needle), 0,
             "grep -c of her canary in the attachment directory: 0")
    ck.equal(count_in(env.store_path, needle), 0, "... in the database file: 0")
    ck.equal(count_in(env.store_path + "-wal", needle), 0, "... in the WAL: 0")
    ck.equal(api(urllib.parse.urlsplit(att["url"]).path).status, 404,
             "her PDF's URL: 404")
    r = post_mail(own_mail)
    ck.check(r.status == 200 and (r.json or {}).get("duplicates") == 1,
             "the provider's retry of her mail: a duplicate", f"{r.status} {r.body[:200]!r}")
    ck.equal(count_in_tree(attachment_dir, needle), 0,
             "and its file does not come back to the directory")
    r = api(urllib.parse.urlsplit(att_bob["url"]).path)
    ck.check(r.status == 200 and r.body == contract, "Bob's identical PDF is still served",
             r.status)

    # ---- 4. the fakes saw only well-formed requests; the metrics ----
    ck.equal(fakes.violations, [], "every request to the fakes was in the provider's format")
    metrics = env.client().get("/metrics").body.decode()
    for outcome in ("stored", "retried", "too_large"):
        ck.check(f'outcome="{outcome}"' in metrics,
                 f"switchboard_media_fetches_total counts {outcome}")
    ck.check("switchboard_media_pending 0" in metrics, "nothing left to fetch")
    agent.close()
    env.finish(ck, "test_attachments")


if __name__ == "__main__":
    h.run(main, timeout=600)
