"""Local fakes of the providers' send APIs, for the tests of agents' replies (docs/replies.md).

One HTTP server on loopback (a thread of the test process) answers as each provider does:
- Telegram Bot API: POST /bot<token>/sendMessage
- WhatsApp Cloud API (Graph): POST /<version>/<phone-number-id>/messages
- Messenger / Instagram Send API (Graph): POST /<version>/me/messages
- a chat backend: POST /chat, Standard Webhooks-signed switchboard.chat-reply/v1

Every request is checked against the provider's documented format (method, path, auth,
content type, required JSON fields and their types); a request that breaks it is answered
as the provider answers a bad request, and recorded in `violations`, which a test asserts
empty. Good requests are recorded in `received` and answered with the provider's real success
body. `fail(route, ...)` makes a route answer errors for a while (500, 429 with Retry-After, a
permanent 400 with the provider's error body) or slowly; the daemon cannot tell it from the
provider, except by the base URL its config points at. `slow(route, seconds)` delays every
answer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass
class Request:
    route: str  # "telegram" | "whatsapp" | "chat"
    path: str
    headers: dict[str, str]
    body: Any
    answer: Any = None  # what the fake answered (its id for the message)
    at: float = field(default_factory=time.time)


@dataclass
class Failure:
    status: int
    body: Any
    until: float  # time.monotonic() deadline; requests after it are answered normally
    times: int  # at most this many answers (-1: until `until`)
    headers: dict[str, str]
    delay: float = 0.0


class Providers:
    def __init__(self, *, telegram_token: str, whatsapp_token: str, chat_secret: str,
                 page_token: str = "-") -> None:
        self.telegram_token = telegram_token
        self.whatsapp_token = whatsapp_token
        self.page_token = page_token
        self.chat_key = base64.b64decode(chat_secret.removeprefix("whsec_"))
        self.received: list[Request] = []
        self.violations: list[str] = []
        self.failures: dict[str, Failure] = {}
        self.attempts: dict[str, list[float]] = {}  # route -> time.monotonic() of each request
        self.delays: dict[str, float] = {}  # route -> seconds every answer takes
        self.lock = threading.Lock()
        self.ids = itertools.count(1000)
        fakes = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status, body, headers = fakes.answer(self.path, dict(self.headers.items()), raw)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                except (BrokenPipeError, ConnectionResetError):
                    return
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the daemon gave up on this request (a timeout, a kill)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ---- control -------------------------------------------------------------------------

    def fail(self, route: str, status: int, body: Any = None, *, seconds: float = 3600,
             times: int = -1, headers: dict[str, str] | None = None, delay: float = 0.0) -> None:
        """Answers `route`'s requests with `status` and `body` for `seconds` (or `times`
        answers), after `delay` seconds each."""
        with self.lock:
            self.failures[route] = Failure(status, body if body is not None else {},
                                           time.monotonic() + seconds, times, headers or {},
                                           delay)

    def slow(self, route: str, seconds: float) -> None:
        """Every answer of `route` (good or failing) takes `seconds` from now on."""
        with self.lock:
            self.delays[route] = seconds

    def heal(self, route: str) -> None:
        with self.lock:
            self.failures.pop(route, None)

    def attempts_of(self, route: str) -> list[float]:
        with self.lock:
            return list(self.attempts.get(route, []))

    def requests(self, route: str) -> list[Request]:
        with self.lock:
            return [r for r in self.received if r.route == route]

    def wait_for(self, route: str, count: int, timeout: float = 30) -> list[Request]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.requests(route)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        return self.requests(route)

    # ---- the providers -------------------------------------------------------------------

    def answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any, dict]:
        lower = {k.lower(): v for k, v in headers.items()}
        routes: list[tuple[str, str, Callable[..., tuple[int, Any]]]] = [
            ("telegram", r"^/bot(?P<token>[^/]+)/sendMessage$", self.telegram),
            ("whatsapp", r"^/v\d+\.\d+/(?P<number>\d+)/messages$", self.whatsapp),
            ("messenger", r"^/v\d+\.\d+/me/messages$", self.messenger),
            ("chat", r"^/chat$", self.chat),
        ]
        for name, pattern, handler in routes:
            m = re.match(pattern, path)
            if not m:
                continue
            with self.lock:
                self.attempts.setdefault(name, []).append(time.monotonic())
                delay = self.delays.get(name, 0.0)
                f = self.failures.get(name)
                if f and (time.monotonic() > f.until or f.times == 0):
                    self.failures.pop(name)
                    f = None
                if f and f.times > 0:
                    f.times -= 1
            if delay:
                time.sleep(delay)
            if f:
                if f.delay:
                    time.sleep(f.delay)
                return f.status, f.body, f.headers
            status, body = handler(m, lower, raw)
            return status, body, {}
        self.violation(f"unknown path {path}")
        return 404, {"error": "not found"}, {}

    def violation(self, what: str) -> None:
        with self.lock:
            self.violations.append(what)

    def record(self, route: str, path: str, headers: dict[str, str], body: Any,
               answer: Any = None) -> None:
        with self.lock:
            self.received.append(Request(route, path, headers, body, answer))

    def json_body(self, route: str, headers: dict[str, str], raw: bytes) -> Any:
        if not headers.get("content-type", "").startswith("application/json"):
            self.violation(f"{route}: Content-Type {headers.get('content-type')!r}")
            return None
        try:
            return json.loads(raw)
        except ValueError:
            self.violation(f"{route}: the body is not JSON")
            return None

    def telegram(self, m: re.Match[str], headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        # https://core.telegram.org/bots/api#sendmessage
        if m["token"] != self.telegram_token:
            self.violation("telegram: wrong bot token")
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        body = self.json_body("telegram", headers, raw)
        if not isinstance(body, dict) or not isinstance(body.get("chat_id"), (int, str)) \
                or not isinstance(body.get("text"), str) or not 1 <= len(body["text"]) <= 4096:
            self.violation(f"telegram: not a sendMessage body: {body!r}")
            return 400, {"ok": False, "error_code": 400,
                         "description": "Bad Request: message text is empty"}
        self.record("telegram", m.string, headers, body)
        return 200, {"ok": True, "result": {
            "message_id": next(self.ids), "date": int(time.time()),
            "chat": {"id": body["chat_id"], "type": "private"},
            "from": {"id": 7000001, "is_bot": True, "first_name": "Switchboard"},
            "text": body["text"]}}

    def whatsapp(self, m: re.Match[str], headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        # https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages
        if headers.get("authorization") != f"Bearer {self.whatsapp_token}":
            self.violation("whatsapp: wrong or missing bearer token")
            return 401, {"error": {"message": "Invalid OAuth access token - Cannot parse access "
                                   "token", "type": "OAuthException", "code": 190,
                                   "fbtrace_id": "AzAbCdEf"}}
        body = self.json_body("whatsapp", headers, raw)
        ok = (isinstance(body, dict) and body.get("messaging_product") == "whatsapp"
              and isinstance(body.get("to"), str) and body.get("type") == "text"
              and isinstance(body.get("text"), dict) and isinstance(body["text"].get("body"), str)
              and 1 <= len(body["text"]["body"]) <= 4096)
        if not ok:
            self.violation(f"whatsapp: not a text message body: {body!r}")
            return 400, {"error": {"message": "(#100) Invalid parameter", "type":
                                   "OAuthException", "code": 100, "fbtrace_id": "AzAbCdEg"}}
        wamid = f"wamid.HBgL{next(self.ids)}"
        answer = {"messaging_product": "whatsapp",
                  "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                  "messages": [{"id": wamid}]}
        self.record("whatsapp", m.string, headers, body, answer)
        return 200, answer

    def messenger(self, m: re.Match[str], headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        # https://developers.facebook.com/docs/messenger-platform/reference/send-api
        if headers.get("authorization") != f"Bearer {self.page_token}":
            self.violation("messenger: wrong or missing page access token")
            return 400, {"error": {"message": "Invalid OAuth access token.", "type":
                                   "OAuthException", "code": 190, "fbtrace_id": "AzAbCdEh"}}
        body = self.json_body("messenger", headers, raw)
        kind = body.get("messaging_type") if isinstance(body, dict) else None
        ok = (isinstance(body, dict) and isinstance(body.get("recipient"), dict)
              and isinstance(body["recipient"].get("id"), str)
              and kind in ("RESPONSE", "UPDATE", "MESSAGE_TAG")
              and (kind != "MESSAGE_TAG" or body.get("tag") == "HUMAN_AGENT")
              and isinstance(body.get("message"), dict)
              and isinstance(body["message"].get("text"), str)
              and 1 <= len(body["message"]["text"]) <= 2000)
        if not ok:
            self.violation(f"messenger: not a Send API text body: {body!r}")
            return 400, {"error": {"message": "(#100) Invalid parameter", "type":
                                   "OAuthException", "code": 100, "fbtrace_id": "AzAbCdEi"}}
        answer = {"recipient_id": body["recipient"]["id"],
                  "message_id": f"m_AG5Hz2Uq{next(self.ids)}"}
        self.record("messenger", m.string, headers, body, answer)
        return 200, answer

    def chat(self, m: re.Match[str], headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        # Standard Webhooks: v1,base64(HMAC-SHA256(key, id.timestamp.body)), timestamp fresh.
        wid, ts = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
        sigs = headers.get("webhook-signature", "").split()
        want = "v1," + base64.b64encode(hmac.new(self.chat_key, f"{wid}.{ts}.".encode() + raw,
                                                 hashlib.sha256).digest()).decode()
        if not wid or not ts.isdigit() or abs(int(ts) - time.time()) > 300 or want not in sigs:
            self.violation("chat: missing or wrong Standard Webhooks signature")
            return 401, {"error": "bad signature"}
        body = self.json_body("chat", headers, raw)
        ok = (isinstance(body, dict) and body.get("schema") == "switchboard.chat-reply/v1"
              and body.get("message_id") == wid
              and all(isinstance(body.get(k), str) for k in
                      ("message_id", "conversation_id", "visitor_id", "text", "sent_at"))
              and isinstance(body.get("agent"), dict) and isinstance(body.get("attachments"), list))
        if not ok:
            self.violation(f"chat: not a switchboard.chat-reply/v1 body: {body!r}")
            return 400, {"error": "bad body"}
        self.record("chat", m.string, headers, body)
        return 200, {"id": f"cb-{next(self.ids)}"}
