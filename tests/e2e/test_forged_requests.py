#!/usr/bin/python3
"""Forged requests cost little and take nothing from genuine ones (issue #18, sections 3 and 6).

1. A credential carried in the headers is judged when the headers arrive: a request with a
   wrong password, token or a missing signature is answered 401 before its body is read and
   before 100 Continue, so a forger cannot make the daemon read (or wait for) megabytes.
   A refused request whose body is already on its way still gets its answer (lingering close).
2. The channel's rate budget is spent only by authenticated requests: while one client floods a
   channel with unsigned requests at ten times the channel's rate, signed deliveries from
   another address all get 2xx, and the flood itself is cut to its own refusals budget (429).
3. The read API and GET handshakes have a per-client budget too, and wrong read API tokens are
   refused at the headers and counted against the refusals budget."""

from __future__ import annotations

import http.client
import os
import secrets as pysecrets
import socket
import sys
import threading
import time
from typing import Any

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SENDGRID_PASSWORD = "sg-" + pysecrets.token_hex(16)
MIME_TOKEN = "mta-" + pysecrets.token_hex(16)
TELEGRAM_TOKEN = pysecrets.token_hex(24)
META_SECRET = pysecrets.token_hex(16)
TWILIO_TOKEN = pysecrets.token_hex(16)
API_TOKEN = pysecrets.token_hex(20)

CHANNELS = (h.channel_yaml("mail-sendgrid", "sendgrid", SENDGRID_PASSWORD, username="parse")
            + h.channel_yaml("mail-mime", "mime", MIME_TOKEN)
            + h.channel_yaml("tg", "telegram", TELEGRAM_TOKEN)
            + h.channel_yaml("wa", "whatsapp", META_SECRET, verify_token="wa-verify-token")
            + h.channel_yaml("phone", "twilio", TWILIO_TOKEN,
                             public_url="https://support.example.com/v1/webhooks/phone"))

# The flood's rate is ten times the channel's.
CHANNEL_RATE = 20
FLOOD_RATE = 10 * CHANNEL_RATE
REFUSED_RATE = 5
READS_RATE = 5


def head_only(port: int, channel: str, headers: dict[str, str], length: int,
              expect: bool, source: str = "127.0.0.1") -> h.RawResponse:
    """Sends only the headers of a POST announcing `length` bytes, and waits for an answer."""
    lines = [f"POST /v1/webhooks/{channel} HTTP/1.1", f"Host: 127.0.0.1:{port}",
             f"Content-Length: {length}"] + [f"{k}: {v}" for k, v in headers.items()]
    if expect:
        lines.append("Expect: 100-continue")
    s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    try:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        t0 = time.monotonic()
        buf = b""
        closed = timed_out = False
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                timed_out = True
                break
            if not chunk:
                closed = True
                break
            buf += chunk
            status, hdrs, body = h.parse_raw_response(buf)
            if status is not None and status != 100 and \
                    len(body) >= int(hdrs.get("content-length", "0")):
                # The answer is whole; the connection must close (its body was never read).
                try:
                    s.settimeout(3)
                    closed = s.recv(1) == b""
                except (socket.timeout, ConnectionResetError):
                    closed = False
                break
            if status == 100:
                break
        status, hdrs, body = h.parse_raw_response(buf)
        return h.RawResponse(status, hdrs, body, time.monotonic() - t0, closed, timed_out)
    finally:
        s.close()


def check_head_refusals(ck: h.Checks, port: int) -> None:
    h.log("a wrong credential is answered when the headers arrive")
    mb = 900_000  # within every channel's body limit
    cases: list[tuple[str, str, dict[str, str]]] = [
        ("chat: stale signed timestamp", "web-chat",
         {"Content-Type": "application/json", "webhook-id": "msg_1",
          "webhook-timestamp": str(int(time.time()) - 3600), "webhook-signature": "v1,AAAA"}),
        ("chat: no signature", "web-chat", {"Content-Type": "application/json"}),
        ("sendgrid: wrong password", "mail-sendgrid",
         {"Content-Type": "multipart/form-data; boundary=xyz",
          "Authorization": h.basic_auth("parse", "not-the-password-123")}),
        ("mime: wrong bearer token", "mail-mime",
         {"Content-Type": "message/rfc822", "Authorization": "Bearer wrong-token-000000"}),
        ("telegram: wrong secret token", "tg",
         {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "nope"}),
        ("whatsapp: no signature", "wa", {"Content-Type": "application/json"}),
        ("whatsapp: not a signature", "wa",
         {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=zz"}),
        ("twilio: no signature", "phone",
         {"Content-Type": "application/x-www-form-urlencoded"}),
    ]
    for what, channel, headers in cases:
        for expect in (True, False):
            r = head_only(port, channel, headers, mb, expect)
            label = f"{what}{' (Expect: 100-continue)' if expect else ''}"
            # Before the check moved to the headers: 100 Continue, or a wait for the body.
            ck.equal(r.status, 401, f"{label}: 401 without the body")
            ck.check(r.elapsed < 2.0, f"{label}: answered at once", f"{r.elapsed:.2f} s")
            ck.check(r.closed, f"{label}: the connection is closed (its body was never read)")
            ck.equal((r.json or {}).get("error"), "bad_signature" if channel in
                     ("web-chat", "tg", "wa", "phone") else "unauthorized", f"{label}: error")

    # A refusal sent while the body is still arriving: the client reads the answer, it is not
    # reset by the close (the unread body is drained for a moment first).
    body = b"x" * 600_000
    r = h.raw_exchange(port, (f"POST /v1/webhooks/mail-mime HTTP/1.1\r\nHost: x\r\n"
                              f"Content-Type: message/rfc822\r\nAuthorization: Bearer wrong-0000"
                              f"\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body, wait=10)
    ck.check(r.status == 401, "a refusal while the body is on its way is read by the client",
             (r.status, r.send_error))

    # The genuine credential passes the headers: 100 Continue, then the body is read.
    r = head_only(port, "tg", {"Content-Type": "application/json",
                               "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_TOKEN}, 10, True)
    ck.equal(r.status, 100, "the right telegram token: 100 Continue")


class Flood:
    """Unsigned chat deliveries from 127.0.0.2 at `rate` a second, a new connection each (the
    daemon closes one after a refusal), counting the answers."""

    def __init__(self, port: int, rate: int) -> None:
        self.port = port
        self.rate = rate
        self.statuses: dict[int, int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        body = h.to_bytes(h.chat_message("forged", "v-forged", "give me Ann's thread"))
        headers = h.webhook_headers(None, body)
        headers["webhook-id"] = "msg_forged"
        headers["webhook-timestamp"] = str(int(time.time()))
        headers["webhook-signature"] = "v1," + "A" * 43 + "="
        t0 = time.monotonic()
        n = 0
        while not self.stop.is_set():
            n += 1
            wait = t0 + n / self.rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5,
                                              source_address=("127.0.0.2", 0))
            try:
                conn.request("POST", "/v1/webhooks/web-chat", body, headers)
                status = conn.getresponse().status
            except OSError:
                status = 0
            finally:
                conn.close()
            self.statuses[status] = self.statuses.get(status, 0) + 1

    def sent(self) -> int:
        return sum(self.statuses.values())


def check_flood(ck: h.Checks, env: h.Env) -> None:
    h.log(f"unsigned flood at {FLOOD_RATE}/s against a channel budget of {CHANNEL_RATE}/s")
    flood = Flood(env.port, FLOOD_RATE)
    flood.thread.start()
    time.sleep(0.5)
    c = env.client()
    signed: list[int] = []
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < 4.0:
        n += 1
        r = env.post(c, h.chat_message(f"genuine-{n}", f"v-genuine-{n}", "hello"))
        signed.append(r.status)
        time.sleep(0.1)  # 10/s: half the channel's rate
    flood.stop.set()
    flood.thread.join(10)
    elapsed = time.monotonic() - t0 + 0.5
    h.log(f"flood: {flood.sent()} requests in {elapsed:.1f} s {flood.statuses}; "
          f"signed: {len(signed)}")
    ck.check(flood.sent() >= 8 * CHANNEL_RATE * elapsed * 0.8,
             "the flood ran at about ten times the channel's rate", flood.sent())
    ck.equal(signed, [202] * len(signed), "every signed delivery during the flood got 202")
    # The flood: refused (401) until its refusals budget ran out, then 429 at its headers.
    budget = 2 * REFUSED_RATE + REFUSED_RATE * elapsed
    ck.check(flood.statuses.get(401, 0) <= budget + 2,
             "the flood's refusals are bounded by its own budget", flood.statuses)
    ck.check(flood.statuses.get(429, 0) >= flood.sent() - budget - 2,
             "the rest of the flood is answered 429", flood.statuses)

    agent = h.Consumer(env.amqp_url, list(env.queues.values()))
    got = agent.drain(idle=1.5, until=lambda ms: len(ms) >= len(signed))
    ck.equal(len(got), len(signed), "every signed delivery was queued, nothing forged")


def check_reads(ck: h.Checks, env: h.Env) -> None:
    h.log("the read API and GET handshakes have a budget per client")

    def get(path: str, source: str, token: str | None = API_TOKEN) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", env.port, timeout=5,
                                          source_address=(source, 0))
        try:
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token
                         else {})
            return conn.getresponse().status
        finally:
            conn.close()

    statuses = [get("/v1/customers?identity=email:nobody@example.com", "127.0.0.3")
                for _ in range(2 * READS_RATE + 3)]
    ck.check(statuses[:2 * READS_RATE] == [404] * (2 * READS_RATE) and
             statuses[-1] == 429, "read API: a burst of twice the rate, then 429", statuses)
    hs = "/v1/webhooks/wa?hub.mode=subscribe&hub.verify_token=wa-verify-token&hub.challenge=42"
    statuses = [get(hs, "127.0.0.4", None) for _ in range(2 * READS_RATE + 3)]
    ck.check(statuses[:2 * READS_RATE] == [200] * (2 * READS_RATE) and statuses[-1] == 429,
             "GET handshakes: a burst of twice the rate, then 429", statuses)
    # Wrong read API tokens are refusals: 401 at the headers, then 429 once the client's
    # refusals budget is spent; another client is not affected.
    statuses = [get("/v1/customers?identity=email:a@example.com", "127.0.0.5", "wrong-token")
                for _ in range(2 * REFUSED_RATE + 3)]
    ck.check(statuses[:2 * REFUSED_RATE] == [401] * (2 * REFUSED_RATE) and statuses[-1] == 429,
             "wrong read API tokens: 401, then 429", statuses)
    ck.equal(get("/v1/customers?identity=email:a@example.com", "127.0.0.6"), 404,
             "another client reads on")


def main(ck: h.Checks) -> None:
    env = h.Env(extra_channels=CHANNELS, api_tokens=[API_TOKEN], server_extra=f"""\
  rate_limit:
    per_channel: {CHANNEL_RATE}
    refused_per_client: {REFUSED_RATE}
    reads_per_client: {READS_RATE}
""")
    env.start()
    check_head_refusals(ck, env.port)
    check_flood(ck, env)
    check_reads(ck, env)
    m = h.scrape_metrics(env.client())
    ck.check(h.metric(m, "switchboard_messages_total", outcome="rejected", reason="bad_signature"),
             "/metrics counts the refusals")


if __name__ == "__main__":
    h.run(main, timeout=240)
