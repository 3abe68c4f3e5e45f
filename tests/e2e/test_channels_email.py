#!/usr/bin/python3
"""The email channel types end to end: mailgun, sendgrid, postmark and mime.

One daemon with all four channels, the real broker, pika as the agent. For each type one
request in the provider's own format is answered 202 and reaches the general queue, normalized
as docs/channels/<type>.md documents it (sender identity, subject, text, attachments,
threading headers in message.email). The `mime` message is produced by Python's own `email`
package: a quoted-printable UTF-8 body, an RFC 2047 encoded-word subject and an attachment.
Every type refuses a bad signature or credentials with 401 (never 403 or 406) and queues
nothing; a repeated delivery is answered 200 as a duplicate and queues nothing."""

from __future__ import annotations

import base64
import json
import os
import secrets as pysecrets
import sys
import time
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
import datetime as dt
from typing import Any

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

MAILGUN_KEY = "key-" + pysecrets.token_hex(16)
SENDGRID_PASSWORD = "sg-" + pysecrets.token_hex(16)
POSTMARK_PASSWORD = "pm-" + pysecrets.token_hex(16)
MIME_TOKEN = "mta-" + pysecrets.token_hex(16)

CHANNELS = (h.channel_yaml("mail-mailgun", "mailgun", MAILGUN_KEY)
            + h.channel_yaml("mail-sendgrid", "sendgrid", SENDGRID_PASSWORD, username="parse")
            + h.channel_yaml("mail-postmark", "postmark", POSTMARK_PASSWORD)
            + h.channel_yaml("mail-mime", "mime", MIME_TOKEN))

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) + b"\n%%EOF\n"  # 271 bytes
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 56  # 64 bytes


def now_rfc5322(offset_s: float = 0) -> str:
    t = dt.datetime.fromtimestamp(int(time.time() + offset_s), dt.timezone(dt.timedelta(hours=2)))
    return format_datetime(t)


# ---- one request per channel type, in the provider's format ---------------------------------


def mailgun_request(msg_id: str, *, key: str = MAILGUN_KEY) -> tuple[bytes, dict[str, str]]:
    return h.multipart_form(h.mailgun_form([
        ("recipient", "support@acme.example"),
        ("sender", "juergen.mueller@example.de"),
        ("from", "\"Müller, Jürgen\" <Juergen.Mueller@Example.DE>"),
        ("subject", "Schadensmeldung – Fotos anbei"),
        ("body-plain", "Guten Tag,\r\n\r\nanbei die Fotos des beschädigten Pakets.\r\n"),
        ("stripped-text", "Guten Tag,\r\n\r\nanbei die Fotos des beschädigten Pakets."),
        ("body-html", "<p>Guten Tag,</p><p>anbei die Fotos.</p>"),
        ("Message-Id", f"<{msg_id}>"),
        ("In-Reply-To", "<ticket-9001@acme.example>"),
        ("References", "<ticket-9000@acme.example> <ticket-9001@acme.example>"),
        ("Date", now_rfc5322(-5)),
        ("To", "Acme Support <support@acme.example>"),
        ("attachment-count", "1"),
    ], key, attachments=[("attachment-1", PNG, "Paket_beschädigt.png", "image/png")]))


def sendgrid_request(msg_id: str, *, password: str = SENDGRID_PASSWORD) -> tuple[bytes, dict[str, str]]:
    headers = (f"Date: {now_rfc5322(-5)}\n"
               "From: =?iso-8859-1?q?Ren=E9e_Lef=E8vre?= <renee.lefevre@example.fr>\n"
               "To: Acme Support <support@acme.example>\n"
               "Subject: =?iso-8859-1?q?Commande_n=B0_4471?=\n"
               f"Message-ID: <{msg_id}>\n"
               "In-Reply-To: <ticket-4471@acme.example>\n"
               "MIME-Version: 1.0\n")
    fields = [
        ("headers", headers),
        ("dkim", "{@example.fr : pass}"),
        ("to", "Acme Support <support@acme.example>"),
        ("from", "Renée Lefèvre <renee.lefevre@example.fr>"),
        ("text", "Le colis n°4471 n'est pas arrivé.\n".encode("latin-1")),
        ("envelope", json.dumps({"to": ["support@acme.example"], "from": "renee.lefevre@example.fr"})),
        ("attachments", "1"),
        ("subject", "Commande n°4471"),
        ("attachment-info", json.dumps({"attachment1": {"filename": "bon.pdf", "type": "application/pdf"}})),
        ("charsets", json.dumps({"to": "UTF-8", "subject": "UTF-8", "from": "UTF-8", "text": "iso-8859-1"})),
        ("SPF", "pass"),
        ("attachment1", PDF, "bon.pdf", "application/pdf"),
    ]
    body, content_type = h.multipart_form(fields, "xYzZY")
    return body, {**content_type, "Authorization": h.basic_auth("parse", password)}


def postmark_request(pm_id: str, rfc_id: str, *,
                     password: str = POSTMARK_PASSWORD) -> tuple[bytes, dict[str, str]]:
    body = {
        "FromName": "Līga Ozoliņa", "MessageStream": "inbound",
        "From": "liga.ozolina@example.lv",
        "FromFull": {"Email": "Liga.Ozolina@Example.LV", "Name": "Līga Ozoliņa", "MailboxHash": ""},
        "To": "support@acme.example",
        "ToFull": [{"Email": "support@acme.example", "Name": "", "MailboxHash": ""}],
        "Cc": "", "CcFull": [],
        "OriginalRecipient": "abc123+support@inbound.postmarkapp.com",
        "Subject": "Kvīts par pasūtījumu 7781",
        "MessageID": pm_id,
        "Date": now_rfc5322(-5).replace("+0200", "+02:00"),
        "TextBody": "Labdien!\n\nPielikumā kvīts.\n\nLīga\n",
        "HtmlBody": "<p>Labdien!</p>",
        "StrippedTextReply": "Labdien!\n\nPielikumā kvīts.",
        "Headers": [{"Name": "Message-ID", "Value": f"<{rfc_id}>"},
                    {"Name": "References", "Value": "<ticket-7781@acme.example>"}],
        "Attachments": [{"Name": "kvīts.pdf", "Content": base64.b64encode(PDF).decode(),
                         "ContentType": "application/pdf", "ContentLength": len(PDF)}],
    }
    return (json.dumps(body, ensure_ascii=False).encode(),
            {"Content-Type": "application/json",
             "Authorization": h.basic_auth("postmark", password)})


def mime_message() -> tuple[bytes, dict[str, Any]]:
    """A message written by Python's email package, as a mail script or MTA hook would."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = Address("Jānis Bērziņš", addr_spec="janis.berzins@example.lv")
    msg["To"] = Address("Acme Support", addr_spec="support@acme.example")
    msg["Cc"] = "liga.ozolina@example.lv"
    msg["Subject"] = "Rēķins Nr. 2026-118 — jautājums"
    msg["Date"] = now_rfc5322(-5)
    msg_id = make_msgid(idstring="e2e", domain="example.lv")
    msg["Message-ID"] = msg_id
    msg["In-Reply-To"] = "<ticket-7781.reply-2@acme.example>"
    msg["References"] = "<ticket-7781@acme.example> <ticket-7781.reply-2@acme.example>"
    text = ("Labdien!\n\nMans rēķins Nr. 2026-118 ir nepareizs: summa ir 149,00 €, "
            "nevis 94,00 €.\nLūdzu, pārbaudiet — paldies! 🙏\n\nJānis Bērziņš\n")
    msg.set_content(text, charset="utf-8", cte="quoted-printable")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="rēķins-2026-118.pdf")
    raw = msg.as_bytes()
    want = {"message_id": msg_id.strip("<>"), "text": text.rstrip("\n"),
            "subject": "Rēķins Nr. 2026-118 — jautājums"}
    return raw, want


# ---- checks -------------------------------------------------------------------------------


def check_accepted(ck: h.Checks, r: h.Response, what: str) -> dict[str, Any]:
    ck.equal(r.status, 202, f"{what}: status 202")
    body = r.json if isinstance(r.json, dict) else {}
    acc = body.get("accepted")
    ck.require(isinstance(acc, list) and len(acc) == 1, f"{what}: one accepted message", r)
    ck.equal(acc[0].get("skill"), "general", f"{what}: routed to general")
    ck.equal(body.get("duplicates"), 0, f"{what}: duplicates")
    return acc[0]


def check_refused(ck: h.Checks, r: h.Response, status: int, what: str) -> None:
    ck.equal(r.status, status, f"{what}: status {status}")
    body = r.json
    ck.check(isinstance(body, dict) and isinstance(body.get("error"), str)
             and isinstance(body.get("detail"), str),
             f"{what}: JSON error body", r)


def check_message(ck: h.Checks, m: h.Consumed, acc: dict[str, Any], want: dict[str, Any],
                  what: str) -> None:
    b = m.body if isinstance(m.body, dict) else {}
    msg = b.get("message") or {}
    ck.equal(m.message_id, acc.get("message_id"), f"{what}: AMQP message_id")
    ck.equal(m.header("x-channel"), want["channel"], f"{what}: header x-channel")
    ck.equal(m.header("x-channel-type"), want["type"], f"{what}: header x-channel-type")
    ck.equal(msg.get("channel"), want["channel"], f"{what}: message.channel")
    ck.equal(msg.get("channel_type"), want["type"], f"{what}: message.channel_type")
    ck.equal(msg.get("direction"), "inbound", f"{what}: message.direction")
    ck.equal(msg.get("visibility"), "private", f"{what}: message.visibility")
    ck.equal(msg.get("provider_id"), want["provider_id"], f"{what}: message.provider_id")
    ck.equal(msg.get("subject"), want["subject"], f"{what}: message.subject")
    ck.equal(msg.get("text"), want["text"], f"{what}: message.text")
    sent = h.parse_time(msg.get("sent_at"))
    ck.check(sent is not None and abs(sent.timestamp() - time.time()) < 120,
             f"{what}: message.sent_at from the Date", msg.get("sent_at"))
    got_att = [{k: a.get(k) for k in ("name", "content_type", "size")}
               for a in msg.get("attachments") or []]
    ck.equal(got_att, want["attachments"], f"{what}: message.attachments")
    email = msg.get("email") or {}
    for k, v in want["email"].items():
        ck.equal(email.get(k), v, f"{what}: message.email.{k}")
    cu = b.get("customer") or {}
    ck.equal(cu.get("name"), want["name"], f"{what}: customer.name")
    ck.equal([(i.get("type"), i.get("value")) for i in cu.get("identities") or []],
             [("email", want["email_identity"])], f"{what}: customer.identities")


def main(ck: h.Checks) -> None:
    env = h.Env(extra_channels=CHANNELS)
    env.check_config(ck, "the four email channels")
    env.start()
    c = env.client()
    agent = h.Consumer(env.amqp_url, list(env.queues.values()))
    general = env.queues["general"]

    def post(channel: str, body: bytes, headers: dict[str, str]) -> h.Response:
        return c.request("POST", f"/v1/webhooks/{channel}", body, headers)

    def accepted_and_queued(kind: str, body: bytes, headers: dict[str, str],
                            want: dict[str, Any]) -> None:
        """One delivery to the mail-<kind> channel: answered 202, one message on the general
        queue and nothing elsewhere, normalized as `want` says (check_message)."""
        acc = check_accepted(ck, post(f"mail-{kind}", body, headers), kind)
        m = h.consume_one(ck, agent, general, kind, idle=0.5, queue_name="the general queue")
        if m:
            check_message(ck, m, acc, {"channel": f"mail-{kind}", "type": kind, **want}, kind)

    # ---- refusals first: nothing below may reach a queue ----
    h.log("refusals")
    mg_id = f"mg-{pysecrets.token_hex(6)}@mail.example.de"
    body, hd = mailgun_request(mg_id, key="key-" + pysecrets.token_hex(16))
    check_refused(ck, post("mail-mailgun", body, hd), 401, "mailgun signed with another key")
    body, hd = sendgrid_request("sg-bad@example.fr", password="not-the-password-123")
    check_refused(ck, post("mail-sendgrid", body, hd), 401, "sendgrid wrong password")
    body, hd = postmark_request("pm-bad", "pm-bad@example.lv", password="not-the-password-456")
    r = post("mail-postmark", body, hd)
    check_refused(ck, r, 401, "postmark wrong password (401, never 403)")
    raw, _ = mime_message()
    r = post("mail-mime", raw, {"Content-Type": "message/rfc822",
                                "Authorization": "Bearer not-the-token-0123456789"})
    check_refused(ck, r, 401, "mime wrong bearer token")
    r = post("mail-mime", raw, {"Content-Type": "message/rfc822"})
    check_refused(ck, r, 401, "mime without Authorization")
    r = post("mail-mime", raw, {"Content-Type": "text/plain",
                                "Authorization": f"Bearer {MIME_TOKEN}"})
    check_refused(ck, r, 415, "mime with Content-Type text/plain")
    got = agent.drain(idle=2.0, deadline=10)
    ck.equal([m.provider_id for m in got], [], "refused requests queue nothing")

    # ---- mailgun: multipart route post with an attachment ----
    h.log("mailgun")
    accepted_and_queued("mailgun", *mailgun_request(mg_id), {
        "provider_id": f"{mg_id} from juergen.mueller@example.de (unverified)",
        "subject": "Schadensmeldung – Fotos anbei",
        "text": "Guten Tag,\n\nanbei die Fotos des beschädigten Pakets.",
        "attachments": [{"name": "Paket_beschädigt.png", "content_type": "image/png",
                         "size": len(PNG)}],
        "email": {"message_id": mg_id, "in_reply_to": "ticket-9001@acme.example",
                  "references": ["ticket-9000@acme.example", "ticket-9001@acme.example"],
                  "to": ["support@acme.example"], "cc": [],
                  "stripped_text": "Guten Tag,\n\nanbei die Fotos des beschädigten Pakets."},
        "name": "Müller, Jürgen", "email_identity": "juergen.mueller@example.de"})

    # ---- sendgrid: Inbound Parse, parsed mode, a latin-1 text field ----
    h.log("sendgrid")
    sg_id = f"sg-{pysecrets.token_hex(6)}@example.fr"
    accepted_and_queued("sendgrid", *sendgrid_request(sg_id), {
        "provider_id": f"{sg_id} from renee.lefevre@example.fr",
        "subject": "Commande n°4471", "text": "Le colis n°4471 n'est pas arrivé.",
        "attachments": [{"name": "bon.pdf", "content_type": "application/pdf",
                         "size": len(PDF)}],
        "email": {"message_id": sg_id, "in_reply_to": "ticket-4471@acme.example",
                  "references": [], "to": ["support@acme.example"], "cc": [],
                  "stripped_text": None},
        "name": "Renée Lefèvre", "email_identity": "renee.lefevre@example.fr"})

    # ---- postmark: inbound JSON ----
    h.log("postmark")
    pm_id = f"{pysecrets.token_hex(4)}-66eb-11e1-8e72-a8904824019b"
    pm_rfc = f"pm-{pysecrets.token_hex(6)}@mail.example.lv"
    accepted_and_queued("postmark", *postmark_request(pm_id, pm_rfc), {
        "provider_id": pm_id,
        "subject": "Kvīts par pasūtījumu 7781", "text": "Labdien!\n\nPielikumā kvīts.\n\nLīga",
        "attachments": [{"name": "kvīts.pdf", "content_type": "application/pdf",
                         "size": len(PDF)}],
        "email": {"message_id": pm_rfc, "in_reply_to": None,
                  "references": ["ticket-7781@acme.example"], "to": ["support@acme.example"],
                  "cc": [], "stripped_text": "Labdien!\n\nPielikumā kvīts."},
        "name": "Līga Ozoliņa", "email_identity": "liga.ozolina@example.lv"})

    # ---- mime: a message written by Python's email package ----
    h.log("mime")
    raw, want = mime_message()
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    ck.check("Subject: =?utf-8?" in head, "the generated Subject is an RFC 2047 encoded word", head)
    ck.check(b"Content-Transfer-Encoding: quoted-printable" in raw,
             "the generated body is quoted-printable")
    ck.check(b"Content-Transfer-Encoding: base64" in raw, "the generated attachment is base64")
    mime_headers = {"Content-Type": "message/rfc822", "Authorization": f"Bearer {MIME_TOKEN}"}
    accepted_and_queued("mime", raw, mime_headers, {
        "provider_id": f"{want['message_id']} from janis.berzins@example.lv (unverified)",
        "subject": want["subject"], "text": want["text"],
        "attachments": [{"name": "rēķins-2026-118.pdf", "content_type": "application/pdf",
                         "size": len(PDF)}],
        "email": {"message_id": want["message_id"],
                  "in_reply_to": "ticket-7781.reply-2@acme.example",
                  "references": ["ticket-7781@acme.example", "ticket-7781.reply-2@acme.example"],
                  "to": ["support@acme.example"], "cc": ["liga.ozolina@example.lv"],
                  "stripped_text": None},
        "name": "Jānis Bērziņš", "email_identity": "janis.berzins@example.lv"})

    # ---- duplicates: the providers' retries are answered 200 and queue nothing ----
    h.log("duplicates")
    dup = {"accepted": [], "duplicates": 1, "ignored": 0, "unreadable": 0}
    retries = [("mailgun", mailgun_request(mg_id)),  # a fresh timestamp, token and signature
               ("sendgrid", sendgrid_request(sg_id)),
               ("postmark", postmark_request(pm_id, pm_rfc)),
               ("mime", (raw, mime_headers))]
    for kind, (body, hd) in retries:
        r = post(f"mail-{kind}", body, hd)
        ck.equal((r.status, r.json), (200, dup), f"{kind} retry: 200 duplicate")

    # ---- a Mailgun event webhook: signed, not a message: 200, ignored ----
    event = {"signature": h.mailgun_signature(MAILGUN_KEY),
             "event-data": {"event": "delivered", "recipient": "janis.berzins@example.lv"}}
    r = post("mail-mailgun", json.dumps(event).encode(), {"Content-Type": "application/json"})
    ck.equal((r.status, r.json), (200, {"accepted": [], "duplicates": 0, "ignored": 1, "unreadable": 0}),
             "mailgun event webhook: 200, ignored")

    # A Message-ID is no secret (every reply's In-Reply-To holds it): a mail sent first with it
    # from another address does not make the real mail a duplicate (issue #18).
    stolen = f"stolen-{pysecrets.token_hex(6)}@example.lv"
    for what, sender in (("forged first", "x@attacker.example"),
                         ("the real mail", "Jānis <janis.berzins@example.lv>")):
        mail = (f"From: {sender}\r\nTo: support@acme.example\r\nSubject: Bank details\r\n"
                f"Message-ID: <{stolen}>\r\n\r\nPlease pay to the new account.\r\n")
        r = post("mail-mime", mail.encode(), mime_headers)
        ck.equal((r.status, len((r.json or {}).get("accepted", []))), (202, 1),
                 f"a stolen Message-ID, {what}: 202, stored")
    got = agent.drain(idle=3.0, deadline=15)
    ck.equal(sorted(m.provider_id for m in got),
             [f"{stolen} from janis.berzins@example.lv (unverified)",
              f"{stolen} from x@attacker.example (unverified)"],
             "duplicates and events queue nothing; both mails of the stolen Message-ID are queued")

    env.finish(ck, "test_channels_email")


if __name__ == "__main__":
    h.run(main, timeout=300)
