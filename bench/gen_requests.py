#!/usr/bin/python3
"""Builds the end-to-end benchmark's input: a daemon config and a file of signed webhook
requests in the providers' real formats, mixed over five channel types (web chat, WhatsApp,
Mailgun, Twilio SMS, Messenger; one Mailgun mail in five has an attachment), each message
with a unique provider id, spread over --customers distinct customers per type.
bench/loadgen replays the file.

    bench/gen_requests.py --out DIR --port P --amqp URL --exchange X --count N --customers C

writes DIR/switchboard.yaml and DIR/requests.bin (records: 4-byte little-endian length, then
one complete HTTP/1.1 request). Signatures carry the current time: the config gives every
channel a 1-hour tolerance so the file stays valid for the run. The signing helpers are the
end-to-end tests' own (tests/e2e).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import struct
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import harness as h  # noqa: E402
import test_channels_phone as phone  # noqa: E402
import test_channels_social as social  # noqa: E402

CHAT_SECRET = h.new_secret()
META_SECRET = secrets.token_hex(16)
MAILGUN_KEY = "key-" + secrets.token_hex(16)
TWILIO_TOKEN = secrets.token_hex(16)

TEXTS = ["Hi, where is my order {n}?", "My invoice {n} looks wrong, can you check?",
         "Thanks, that helped a lot", "Can I change the delivery address for {n}?",
         "I was charged twice for order {n}, please refund", "Is the shop open on Sunday?"]


def http_request(channel: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = [f"POST /v1/webhooks/{channel} HTTP/1.1", "Host: 127.0.0.1",
            f"Content-Length: {len(body)}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def chat(i: int, c: int, text: str) -> bytes:
    body = h.to_bytes(h.chat_message(f"bench-{i}", f"v-{c}", text, name=f"Visitor {c}",
                                     email=f"visitor{c}@example.com" if c % 3 == 0 else None))
    return http_request("web-chat", body, h.webhook_headers(CHAT_SECRET, body))


def whatsapp(i: int, c: int, text: str) -> bytes:
    body = json.dumps(social.whatsapp_batch(f"1555{c:07d}", f"Customer {c}", text,
                                            f"wamid.bench{i}", int(time.time()))).encode()
    return http_request("wa", body, {"Content-Type": "application/json",
                                     "X-Hub-Signature-256": h.meta_signature(META_SECRET,
                                                                                  body)})


def messenger(i: int, c: int, text: str) -> bytes:
    body = json.dumps(social.messenger_message(f"{7000000000000000 + c}", text, f"m_bench{i}",
                                               int(time.time() * 1000))).encode()
    return http_request("fb", body, {"Content-Type": "application/json",
                                     "X-Hub-Signature-256": h.meta_signature(META_SECRET,
                                                                                  body)})


def sms(i: int, c: int, text: str, port: int) -> bytes:
    params = phone.sms(f"SM{i:032x}", f"+1555{c:07d}", text)
    body = urllib.parse.urlencode(params).encode()
    url = f"http://127.0.0.1:{port}/v1/webhooks/sms"
    return http_request("sms", body, {"Content-Type": "application/x-www-form-urlencoded",
                                      "X-Twilio-Signature": h.twilio_signature(
                                          TWILIO_TOKEN, url, params)})


# A small image, as a customer's screenshot would be attached (the bytes are not decoded).
SCREENSHOT = b"\x89PNG\r\n\x1a\n" + secrets.token_bytes(2040)


def mailgun(i: int, c: int, text: str) -> bytes:
    """A Mailgun route post as Mailgun sends it: form-urlencoded, or multipart/form-data when
    the mail has attachments, which one in five of these has."""
    fields = [("recipient", "support@acme.example"), ("sender", f"customer{c}@example.org"),
              ("from", f"Customer {c} <customer{c}@example.org>"), ("subject", f"Order {i}"),
              ("body-plain", text + "\r\n"), ("stripped-text", text),
              ("Message-Id", f"<bench-{i}@example.org>")]
    if (i // 5) % 5 == 0:
        body, headers = h.multipart_form(h.mailgun_form(
            fields + [("attachment-count", "1")], MAILGUN_KEY,
            attachments=[("attachment-1", SCREENSHOT, "screenshot.png", "image/png")]))
        return http_request("mail", body, headers)
    body = urllib.parse.urlencode(h.mailgun_form(fields, MAILGUN_KEY)).encode()
    return http_request("mail", body, {"Content-Type": "application/x-www-form-urlencoded"})


def config(a: argparse.Namespace) -> str:
    channels = "".join([
        h.channel_yaml("web-chat", "chat", CHAT_SECRET, tolerance="1h"),
        h.channel_yaml("wa", "whatsapp", META_SECRET, verify_token="bench"),
        h.channel_yaml("fb", "messenger", META_SECRET, verify_token="bench"),
        h.channel_yaml("mail", "mailgun", MAILGUN_KEY, tolerance="1h"),
        h.channel_yaml("sms", "twilio", TWILIO_TOKEN,
                       public_url=f"http://127.0.0.1:{a.port}/v1/webhooks/sms"),
    ])
    return f"""\
# generated by bench/gen_requests.py
server:
  listen: "127.0.0.1:{a.port}"
  threads: {a.threads}
  rate_limit: {{per_channel: 0}}
store:
  path: {h.yq(a.store)}
  max_backlog: 10000000
broker:
  url: {h.yq(a.amqp)}
  exchange: {h.yq(a.exchange)}
  confirm_window: 512
channels:
{channels}skills:
  - name: general
    queue: {h.yq(a.exchange + ".general")}
  - name: billing
    queue: {h.yq(a.exchange + ".billing")}
    max_priority: 10
routes:
  - when: {{text_matches: "(?i)refund|invoice|charge"}}
    skill: billing
    priority: 5
  - skill: general
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--amqp", required=True)
    p.add_argument("--exchange", default="bench")
    p.add_argument("--store", required=True)
    p.add_argument("--count", type=int, default=100000)
    p.add_argument("--customers", type=int, default=10000)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "switchboard.yaml"), "w") as f:
        f.write(config(a))
    kinds = [chat, whatsapp, mailgun, lambda i, c, t: sms(i, c, t, a.port), messenger]
    with open(os.path.join(a.out, "requests.bin"), "wb") as f:
        for i in range(a.count):
            c = (i // len(kinds)) % a.customers
            text = TEXTS[(i // len(kinds) // a.customers + c) % len(TEXTS)].format(n=i)
            req = kinds[i % len(kinds)](i, c, text)
            f.write(struct.pack("<I", len(req)) + req)
    print(json.dumps({"queues": [a.exchange + ".general", a.exchange + ".billing"],
                      "count": a.count, "customers": a.customers}))


if __name__ == "__main__":
    main()
