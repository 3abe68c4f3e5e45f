"""Local fakes of the providers' send APIs, for the tests of agents' replies (docs/replies.md).

One HTTP server on loopback (a thread of the test process) answers as each provider does:
- Telegram Bot API: POST /bot<token>/sendMessage
- WhatsApp Cloud API (Graph): POST /<version>/<phone-number-id>/messages
- Messenger / Instagram Send API (Graph): POST /<version>/me/messages
- a chat backend: POST /chat, Standard Webhooks-signed switchboard.chat-reply/v1
- Twilio Programmable Messaging (SMS, WhatsApp): POST /2010-04-01/Accounts/<sid>/Messages.json
- X API v2 direct messages: POST /2/dm_conversations/with/<participant_id>/messages
- Mailgun: POST /v3/<domain>/messages (form or multipart)
- SendGrid v3: POST /v3/mail/send
- Postmark: POST /email

and their media downloads (GET), for the tests of attachments kept (docs/attachments.md):
- WhatsApp Cloud API: GET /<version>/<media-id> (the media's URL), then GET that URL
  (/whatsapp_business/attachments/?mid=..), both with the channel's bearer token
- Telegram Bot API: GET /bot<token>/getFile?file_id=.., then GET /file/bot<token>/<file_path>
- Twilio: GET /2010-04-01/Accounts/<sid>/Messages/<MM..>/Media/<ME..> with basic auth, answered
  with a redirect to an unauthenticated storage URL (/twilio-storage/..), as Twilio does
- a CDN (Messenger, Instagram): GET /cdn/<name>, no credentials
`add_media(key, data, mime)` makes a file downloadable under `key` (a media id, a file_id, a
Twilio media sid, a CDN name).

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
import datetime
import email.parser
import email.policy
import email.utils
import hashlib
import hmac
import itertools
import json
import os
import re
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass
class Request:
    route: str  # "telegram" | "whatsapp" | "messenger" | "chat" | "twilio" | "x" | "mailgun" | ...
    path: str
    headers: dict[str, str]
    body: Any
    answer: Any = None  # what the fake answered (its id for the message)
    at: float = field(default_factory=time.time)
    params: dict[str, str] = field(default_factory=dict)  # the path's parameters (sid, domain, ..)


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
                 page_token: str = "-", twilio_sid: str = "AC" + "0" * 32,
                 twilio_token: str = "-", x_token: str = "-", mailgun_key: str = "-",
                 sendgrid_key: str = "-", postmark_token: str = "-") -> None:
        self.telegram_token = telegram_token
        self.whatsapp_token = whatsapp_token
        self.page_token = page_token
        self.twilio_sid = twilio_sid
        self.twilio_token = twilio_token
        self.x_token = x_token
        self.x_user_id = "1146654567674912769"  # the user the X token acts for (the sender)
        self.mailgun_key = mailgun_key
        self.sendgrid_key = sendgrid_key
        self.postmark_token = postmark_token
        self.postmark_inactive: set[str] = set()  # addresses Postmark refuses (ErrorCode 406)
        self.twilio_sent: dict[str, dict[str, Any]] = {}  # sid -> the Message resource answered
        self.chat_key = base64.b64decode(chat_secret.removeprefix("whsec_"))
        self.received: list[Request] = []
        self.violations: list[str] = []
        self.failures: dict[str, Failure] = {}
        self.attempts: dict[str, list[float]] = {}  # route -> time.monotonic() of each request
        self.delays: dict[str, float] = {}  # route -> seconds every answer takes
        self.lock = threading.Lock()
        self.ids = itertools.count(1000)
        self.media: dict[str, tuple[bytes, str]] = {}  # key -> (bytes, content type)
        fakes = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                self.do_POST("GET")

            def do_POST(self, method: str = "POST") -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status, body, headers = fakes.answer(self.path, dict(self.headers.items()), raw,
                                                     method)
                # None: no body (SendGrid's 202); str: text/plain (Mailgun's 401 "Forbidden");
                # bytes as they are; anything else as JSON. A Content-Type in `headers` wins.
                ctype: str | None = "application/json"
                if body is None:
                    data, ctype = b"", None
                elif isinstance(body, str):
                    data, ctype = body.encode(), "text/plain; charset=utf-8"
                else:
                    data = body if isinstance(body, bytes) else json.dumps(body).encode()
                extra = {k: v for k, v in headers.items() if k.lower() != "content-type"}
                ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), ctype)
                try:
                    self.send_response(status)
                except (BrokenPipeError, ConnectionResetError):
                    return
                if ctype is not None:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in extra.items():
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

    def postmark_deactivate(self, address: str) -> None:
        """Postmark refuses sends to `address` from now on (422, ErrorCode 406), as after a hard
        bounce or a spam complaint."""
        with self.lock:
            self.postmark_inactive.add(address.lower())

    def twilio_status_form(self, sid: str, status: str, *, error_code: int | str | None = None,
                           to: str | None = None, from_: str | None = None) -> dict[str, str]:
        """The form Twilio POSTs to a message's StatusCallback when its status becomes `status`
        (sent, delivered, undelivered, failed, read); To and From default to the message the
        fake answered with `sid`. ErrorCode is there for failed and undelivered (30008, unknown
        error, unless given).
        https://www.twilio.com/docs/messaging/guides/track-outbound-message-status"""
        with self.lock:
            sent = self.twilio_sent.get(sid, {})
        to = to if to is not None else sent.get("to")
        from_ = from_ if from_ is not None else sent.get("from")
        if to is None or from_ is None:
            raise ValueError(f"twilio_status_form: unknown message {sid}; pass to= and from_=")
        form = {"SmsSid": sid, "SmsStatus": status, "MessageStatus": status, "To": to,
                "MessageSid": sid, "AccountSid": self.twilio_sid, "From": from_,
                "ApiVersion": "2010-04-01"}
        if sent.get("messaging_service_sid"):
            form["MessagingServiceSid"] = sent["messaging_service_sid"]
        if status in ("failed", "undelivered"):
            form["ErrorCode"] = str(error_code if error_code is not None else 30008)
        elif error_code is not None:
            form["ErrorCode"] = str(error_code)
        return form

    def twilio_signature(self, url: str, form: dict[str, str]) -> str:
        """X-Twilio-Signature of a POST of `form` to `url`: base64(HMAC-SHA1(AuthToken, url +
        each parameter name and value, sorted by name)).
        https://www.twilio.com/docs/usage/security#validating-requests"""
        data = url + "".join(k + v for k, v in sorted(form.items()))
        return base64.b64encode(hmac.new(self.twilio_token.encode(), data.encode(),
                                         hashlib.sha1).digest()).decode()

    # ---- the providers -------------------------------------------------------------------

    def add_media(self, key: str, data: bytes, mime: str) -> None:
        with self.lock:
            self.media[key] = (data, mime)

    def answer(self, path: str, headers: dict[str, str], raw: bytes,
               method: str = "POST") -> tuple[int, Any, dict]:
        lower = {k.lower(): v for k, v in headers.items()}
        # A handler answers (status, body) or (status, body, headers).
        get_routes: list[tuple[str, str, Callable[..., tuple]]] = [
            ("whatsapp-media", r"^/v\d+\.\d+/(?P<media_id>\d+)$", self.whatsapp_media),
            ("whatsapp-download", r"^/whatsapp_business/attachments/\?mid=(?P<media_id>\d+)&",
             self.whatsapp_download),
            ("telegram-getfile", r"^/bot(?P<token>[^/]+)/getFile\?file_id=(?P<file_id>[^&]+)$",
             self.telegram_get_file),
            ("telegram-file", r"^/file/bot(?P<token>[^/]+)/(?P<file_path>.+)$",
             self.telegram_file),
            ("twilio-media", r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages/(?P<mm>MM\w+)/Media/"
             r"(?P<me>ME\w+)$", self.twilio_media),
            ("twilio-storage", r"^/twilio-storage/(?P<me>ME\w+)\?Expires=", self.twilio_storage),
            ("cdn", r"^/cdn/(?P<name>[\w.-]+)(\?.*)?$", self.cdn),
        ]
        routes: list[tuple[str, str, Callable[..., tuple]]] = get_routes if method == "GET" else [
            ("telegram", r"^/bot(?P<token>[^/]+)/sendMessage$", self.telegram),
            ("whatsapp", r"^/v\d+\.\d+/(?P<number>\d+)/messages$", self.whatsapp),
            ("messenger", r"^/v\d+\.\d+/me/messages$", self.messenger),
            ("chat", r"^/chat$", self.chat),
            ("twilio", r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json$", self.twilio),
            ("x", r"^/2/dm_conversations/with/(?P<participant_id>[^/]+)/messages$", self.x),
            ("x-post", r"^/2/tweets$", self.x_post),
            ("sendgrid", r"^/v3/mail/send$", self.sendgrid),
            ("mailgun", r"^/v3/(?P<domain>[^/]+)/messages$", self.mailgun),
            ("postmark", r"^/email$", self.postmark),
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
            answered = handler(m, lower, raw)
            return answered[0], answered[1], (answered[2] if len(answered) > 2 else {})
        self.violation(f"unknown path {path}")
        return 404, {"error": "not found"}, {}

    def violation(self, what: str) -> None:
        with self.lock:
            self.violations.append(what)

    def record(self, route: str, path: str, headers: dict[str, str], body: Any,
               answer: Any = None, params: dict[str, str] | None = None) -> None:
        with self.lock:
            self.received.append(Request(route, path, headers, body, answer,
                                         params=dict(params or {})))

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

    # ---- media downloads -------------------------------------------------------------------

    def media_of(self, route: str, key: str) -> tuple[int, Any, dict] | None:
        """The file under `key` as a download answer; None (after a violation) when unknown."""
        with self.lock:
            found = self.media.get(key)
        if found is None:
            self.violation(f"{route}: no media {key!r}")
            return None
        self.record(route, key, {}, None)
        return 200, found[0], {"Content-Type": found[1]}

    def whatsapp_media(self, m: re.Match[str], headers: dict[str, str], raw: bytes) -> tuple:
        # https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#retrieve-media-url
        if headers.get("authorization") != f"Bearer {self.whatsapp_token}":
            self.violation("whatsapp-media: wrong or missing bearer token")
            return 401, {"error": {"message": "Invalid OAuth access token - Cannot parse access "
                                   "token", "type": "OAuthException", "code": 190,
                                   "fbtrace_id": "AzAbCdEj"}}
        with self.lock:
            found = self.media.get(m["media_id"])
        if found is None:
            return 400, {"error": {"message": "(#100) Invalid parameter", "type":
                                   "OAuthException", "code": 100, "error_subcode": 33,
                                   "fbtrace_id": "AzAbCdEk"}}
        data, mime = found
        self.record("whatsapp-media", m.string, headers, None)
        return 200, {"messaging_product": "whatsapp",
                     "url": f"{self.url}/whatsapp_business/attachments/?mid={m['media_id']}"
                            f"&ext=1733500000&hash=ATu{next(self.ids)}",
                     "mime_type": mime, "sha256": hashlib.sha256(data).hexdigest(),
                     "file_size": str(len(data)), "id": m["media_id"]}

    def whatsapp_download(self, m: re.Match[str], headers: dict[str, str], raw: bytes) -> tuple:
        if headers.get("authorization") != f"Bearer {self.whatsapp_token}":
            self.violation("whatsapp-download: wrong or missing bearer token")
            return 401, "Unauthorized"
        return self.media_of("whatsapp-download", m["media_id"]) or (404, "Not Found")

    def telegram_get_file(self, m: re.Match[str], headers: dict[str, str], raw: bytes) -> tuple:
        # https://core.telegram.org/bots/api#getfile
        if m["token"] != self.telegram_token:
            self.violation("telegram-getfile: wrong bot token")
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        file_id = urllib.parse.unquote(m["file_id"])
        with self.lock:
            found = self.media.get(file_id)
        if found is None:
            return 400, {"ok": False, "error_code": 400,
                         "description": "Bad Request: invalid file_id"}
        self.record("telegram-getfile", m.string, headers, None)
        return 200, {"ok": True, "result": {"file_id": file_id, "file_unique_id": "AgAD" + file_id[-6:],
                                            "file_size": len(found[0]),
                                            "file_path": f"photos/{file_id}.jpg"}}

    def telegram_file(self, m: re.Match[str], headers: dict[str, str], raw: bytes) -> tuple:
        if m["token"] != self.telegram_token:
            self.violation("telegram-file: wrong bot token")
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        key = m["file_path"].removeprefix("photos/").removesuffix(".jpg")
        return self.media_of("telegram-file", key) or (404, {"ok": False, "error_code": 404,
                                                             "description": "Not Found"})

    def twilio_media(self, m: re.Match[str], headers: dict[str, str], raw: bytes) -> tuple:
        # https://www.twilio.com/docs/messaging/api/media-resource#fetch-a-media-resource
        if self.basic_auth(headers) != (self.twilio_sid, self.twilio_token) \
                or m["sid"] != self.twilio_sid:
            self.violation("twilio-media: wrong or missing basic auth")
            return 401, {"code": 20003, "message": "Authenticate", "status": 401,
                         "more_info": "https://www.twilio.com/docs/errors/20003"}
        self.record("twilio-media", m.string, headers, None)
        # Another host, as Twilio's storage is: "localhost" rather than 127.0.0.1.
        return 307, b"", {"Location": f"http://localhost:{self.port}/twilio-storage/{m['me']}"
                                      f"?Expires=1733500000"
                                      f"&Signature=abc{next(self.ids)}"}

    def twilio_storage(self, m: re.Match[str], headers: dict[str, str], raw: bytes) -> tuple:
        if "authorization" in headers:
            self.violation("twilio-storage: credentials sent to the storage host")
        return self.media_of("twilio-storage", m["me"]) or (403, "AccessDenied")

    def cdn(self, m: re.Match[str], headers: dict[str, str], raw: bytes) -> tuple:
        if "authorization" in headers:
            self.violation("cdn: credentials sent to a CDN")
        return self.media_of("cdn", m["name"]) or (404, "Not Found")

    # ---- helpers of the handlers below -----------------------------------------------------

    @staticmethod
    def basic_auth(headers: dict[str, str]) -> tuple[str, str] | None:
        value = headers.get("authorization", "")
        if not value[:6].lower() == "basic ":
            return None
        try:
            user, sep, password = base64.b64decode(value[6:].strip(), validate=True) \
                .decode().partition(":")
        except ValueError:
            return None
        return (user, password) if sep else None

    def form_body(self, route: str, headers: dict[str, str], raw: bytes,
                  multipart: bool = False) -> list[tuple[str, Any]] | None:
        """The fields of an application/x-www-form-urlencoded (or, if `multipart`, also a
        multipart/form-data) body, in order; a file part is {filename, content_type, data}."""
        ctype = headers.get("content-type", "")
        if ctype.startswith("application/x-www-form-urlencoded"):
            try:
                return urllib.parse.parse_qsl(raw.decode("ascii"), keep_blank_values=True,
                                              strict_parsing=bool(raw), errors="strict")
            except (UnicodeDecodeError, ValueError):
                self.violation(f"{route}: the body is not application/x-www-form-urlencoded")
                return None
        if multipart and ctype.startswith("multipart/form-data"):
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + raw)
            if not msg.is_multipart() or msg.defects:
                self.violation(f"{route}: a broken multipart/form-data body: {msg.defects}")
                return None
            fields: list[tuple[str, Any]] = []
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if part.get_content_disposition() != "form-data" or not name:
                    self.violation(f"{route}: a multipart part without form-data; name=")
                    return None
                name = email.utils.collapse_rfc2231_value(name)
                data = part.get_payload(decode=True) or b""
                if part.get_filename() is not None:
                    fields.append((name, {"filename": part.get_filename(),
                                          "content_type": part.get_content_type(), "data": data}))
                    continue
                try:
                    fields.append((name, data.decode(part.get_content_charset() or "utf-8")))
                except (UnicodeDecodeError, LookupError):
                    self.violation(f"{route}: field {name} is not UTF-8 text")
                    return None
            return fields
        self.violation(f"{route}: Content-Type {ctype!r}")
        return None

    @staticmethod
    def is_address(value: Any) -> bool:
        atom = r"[^@\s<>(),;:\"]+"
        return isinstance(value, str) and bool(re.fullmatch(rf"{atom}@{atom}\.[\w-]+", value))

    def addresses(self, value: Any) -> list[str] | None:
        """The addresses of an address-list header value ("Name <a@b.c>, d@e.f"); None if any
        is not an address."""
        if not isinstance(value, str) or not value.strip():
            return None
        found = [a for _, a in email.utils.getaddresses([value])]
        return found if found and all(self.is_address(a) for a in found) else None

    @staticmethod
    def is_msg_id(value: str) -> bool:  # RFC 5322 3.6.4: "<" id-left "@" id-right ">"
        return bool(re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", value))

    # ---- Twilio, X ----------------------------------------------------------------------------

    def twilio(self, m: re.Match[str], headers: dict[str, str], raw: bytes) -> tuple:
        # https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource
        # Errors: {code, message, more_info, status} (https://www.twilio.com/docs/api/errors).
        def error(status: int, code: int, message: str) -> tuple[int, Any]:
            return status, {"code": code, "message": message, "status": status,
                            "more_info": f"https://www.twilio.com/docs/errors/{code}"}
        if self.basic_auth(headers) != (self.twilio_sid, self.twilio_token) \
                or m["sid"] != self.twilio_sid:
            self.violation("twilio: wrong or missing basic auth AccountSid:AuthToken, or another "
                           "AccountSid in the path")
            return (*error(401, 20003, "Authenticate"),
                    {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        fields = self.form_body("twilio", headers, raw)
        if fields is None:
            return error(400, 21604, "A 'To' phone number is required.")
        form: dict[str, Any] = {}
        for k, v in fields:
            if k == "MediaUrl":
                form.setdefault(k, []).append(v)
            elif k in form:
                self.violation(f"twilio: {k} given twice")
                return error(400, 21604 if k == "To" else 21602, f"Duplicate parameter {k}.")
            else:
                form[k] = v
        to, frm = form.get("To", ""), form.get("From", "")
        service, text, media = form.get("MessagingServiceSid", ""), form.get("Body", ""), \
            form.get("MediaUrl", [])
        e164, bare = r"\+[1-9]\d{6,14}", lambda n: n.removeprefix("whatsapp:")
        problem: tuple[int, str] | None = None
        if not to:
            problem = 21604, "A 'To' phone number is required."
        elif not frm and not service:
            problem = 21603, "A 'From' phone number is required."
        elif service and not re.fullmatch(r"MG[0-9a-f]{32}", service):
            problem = 21701, f"The Messaging Service Sid {service} is invalid."
        elif not text and not media:
            problem = 21602, "Message body is required."
        elif len(text) > 1600:
            problem = 21617, "The concatenated message body exceeds the 1600 character limit."
        elif frm and to.startswith("whatsapp:") != frm.startswith("whatsapp:"):
            problem = 21910, ("Invalid 'From' and 'To' pair. 'From' and 'To' should be of the "
                              "same channel")
        elif not re.fullmatch(e164, bare(to)):
            problem = 21211, f"The 'To' number {to} is not a valid phone number."
        elif frm and not (re.fullmatch(e164, bare(frm)) or (frm == bare(frm) and (
                re.fullmatch(r"\d{5,6}", frm) or re.fullmatch(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}",
                                                              frm)))):
            problem = 21212, (f"The 'From' number {frm} is not a valid phone number, shortcode, "
                              "or alphanumeric sender ID.")
        elif "StatusCallback" in form and not self.is_url(form["StatusCallback"], 4000):
            problem = 21609, f"The StatusCallback URL {form['StatusCallback']} is not a valid URL."
        elif not all(self.is_url(u, 2048) for u in media) or len(media) > 10:
            problem = 21620, "Invalid media URL(s)"
        if problem:
            self.violation(f"twilio: {problem[1]} ({problem[0]}): {form!r}")
            return error(400, *problem)
        sid = "SM" + uuid.uuid4().hex
        now = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        uri = f"/2010-04-01/Accounts/{self.twilio_sid}/Messages/{sid}"
        gsm = re.fullmatch(r"[A-Za-z0-9 \n\r@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,\-./:;<=>?"
                           r"¡ÄÖÑÜ§¿äöñüà^{}\\\[~\]|€]*", text)  # GSM 03.38 and its extension
        units = len(text.encode("utf-16-le")) // 2
        single, part = (160, 153) if gsm else (70, 67)
        segments = 1 if to.startswith("whatsapp:") or units <= single else -(-units // part)
        answer = {
            "account_sid": self.twilio_sid, "api_version": "2010-04-01", "body": text,
            "date_created": now, "date_sent": None, "date_updated": now,
            "direction": "outbound-api", "error_code": None, "error_message": None,
            "from": frm or None, "messaging_service_sid": service or None,
            "num_media": str(len(media)), "num_segments": "0" if service else str(segments),
            "price": None, "price_unit": "USD", "sid": sid,
            "status": "accepted" if service else "queued",
            "subresource_uris": {"media": f"{uri}/Media.json"}, "to": to, "uri": f"{uri}.json"}
        with self.lock:
            self.twilio_sent[sid] = answer
        self.record("twilio", m.string, headers, form, answer, m.groupdict())
        return 201, answer

    @staticmethod
    def is_url(value: str, limit: int) -> bool:
        u = urllib.parse.urlsplit(value)
        return (u.scheme in ("http", "https") and bool(u.hostname) and "_" not in u.netloc
                and len(value) <= limit and not re.search(r"\s", value))

    def x(self, m: re.Match[str], headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        # https://docs.x.com/x-api/direct-messages/create-dm-message-by-participant-id
        # OAuth 2.0 user context (dm.write); errors as RFC 7807 problems.
        if headers.get("authorization") != f"Bearer {self.x_token}":
            self.violation("x: wrong or missing bearer token")
            return 401, {"title": "Unauthorized", "type": "about:blank", "status": 401,
                         "detail": "Unauthorized"}

        def invalid(parameter: str, value: Any, message: str) -> tuple[int, Any]:
            self.violation(f"x: {message}")
            return 400, {"errors": [{"parameters": {parameter: [value]}, "message": message}],
                         "title": "Invalid Request",
                         "detail": "One or more parameters to your request was invalid.",
                         "type": "https://api.twitter.com/2/problems/invalid-request"}
        pid = m["participant_id"]
        if not re.fullmatch(r"\d{1,19}", pid):
            return invalid("participant_id", pid,
                           f"The `participant_id` query parameter value [{pid}] is not valid")
        body = self.json_body("x", headers, raw)
        if not isinstance(body, dict):
            return invalid("body", "", "The request body is not a JSON object")
        extra = set(body) - {"text", "attachments"}
        text, files = body.get("text"), body.get("attachments")
        if extra:
            return invalid(sorted(extra)[0], "", f"$.{sorted(extra)[0]}: is not defined in the "
                           "schema and the schema does not allow additional properties")
        if text is None and files is None:
            return invalid("text", "", "One of text or attachments is required")
        if text is not None and (not isinstance(text, str) or not 1 <= len(text) <= 10000):
            return invalid("text", text, "$.text: must be a string of 1 to 10000 characters")
        if files is not None and (not isinstance(files, list) or len(files) != 1 or not all(
                isinstance(f, dict) and set(f) == {"media_id"} and isinstance(f["media_id"], str)
                and f["media_id"].isdigit() for f in files)):
            return invalid("attachments", files, "$.attachments: must hold one {media_id}")
        low, high = sorted((int(pid), int(self.x_user_id)))
        snowflake = ((int(time.time() * 1000) - 1288834974657) << 22) | (next(self.ids) & 0x3fffff)
        answer = {"data": {"dm_conversation_id": f"{low}-{high}", "dm_event_id": str(snowflake)}}
        self.record("x", m.string, headers, body, answer, m.groupdict())
        return 201, answer

    def x_post(self, m: re.Match[str], headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        # https://docs.x.com/x-api/posts/create-post: a reply is {"text", "reply":
        # {"in_reply_to_tweet_id"}}; OAuth 2.0 user context (tweet.write).
        if headers.get("authorization") != f"Bearer {self.x_token}":
            self.violation("x-post: wrong or missing bearer token")
            return 401, {"title": "Unauthorized", "type": "about:blank", "status": 401,
                         "detail": "Unauthorized"}
        body = self.json_body("x-post", headers, raw)
        reply = body.get("reply") if isinstance(body, dict) else None
        ok = (isinstance(body, dict) and set(body) <= {"text", "reply"}
              and isinstance(body.get("text"), str) and 1 <= len(body["text"]) <= 280
              and (reply is None or (isinstance(reply, dict) and set(reply) <= {
                  "in_reply_to_tweet_id", "exclude_reply_user_ids"}
                  and re.fullmatch(r"\d{1,19}", str(reply.get("in_reply_to_tweet_id", ""))))))
        if not ok:
            self.violation(f"x-post: not a create-post body: {body!r}")
            return 400, {"errors": [{"message": "$.text: invalid"}], "title": "Invalid Request",
                         "detail": "One or more parameters to your request was invalid.",
                         "type": "https://api.twitter.com/2/problems/invalid-request"}
        snowflake = ((int(time.time() * 1000) - 1288834974657) << 22) | (next(self.ids) & 0x3fffff)
        answer = {"data": {"id": str(snowflake), "text": body["text"],
                           "edit_history_tweet_ids": [str(snowflake)]}}
        self.record("x-post", m.string, headers, body, answer)
        return 201, answer

    # ---- email APIs ---------------------------------------------------------------------------

    def mailgun(self, m: re.Match[str], headers: dict[str, str], raw: bytes) -> tuple:
        # https://documentation.mailgun.com/docs/mailgun/api-reference/send/mailgun/messages
        if self.basic_auth(headers) != ("api", self.mailgun_key):
            self.violation("mailgun: wrong or missing basic auth api:<key>")
            return 401, "Forbidden"
        fields = self.form_body("mailgun", headers, raw, multipart=True)
        if fields is None:
            return 400, {"message": "'from' parameter is missing"}
        form: dict[str, Any] = {}
        for k, v in fields:
            if k in ("attachment", "inline"):
                form.setdefault(k, []).append(v)
            elif k in form:
                form[k] = (form[k] if isinstance(form[k], list) else [form[k]]) + [v]
            else:
                form[k] = v
        one = {k: v for k, v in form.items() if isinstance(v, str)}
        problem = None
        for k, v in form.items():
            if k not in ("to", "cc", "bcc", "attachment", "inline") and not isinstance(v, str):
                problem = f"'{k}' parameter must be given once, as text"
        recipients = [a for k in ("to", "cc", "bcc") for v in
                      (form.get(k) if isinstance(form.get(k), list) else [form.get(k)]) if v
                      for a in (self.addresses(v) or [None])]
        if problem:
            pass  # answered below
        elif not one.get("from"):
            problem = "'from' parameter is missing"
        elif not form.get("to"):
            problem = "'to' parameter is missing"
        elif not one.get("subject"):
            problem = "'subject' parameter is missing"
        elif not (one.get("text") or one.get("html")):
            problem = "Need at least one of 'text', 'html', 'amp-html' or 'template' parameters " \
                      "specified"
        elif len(self.addresses(one["from"]) or []) != 1:
            problem = "'from' parameter is not a valid address. please check documentation"
        elif None in recipients:
            problem = "'to' parameter is not a valid address. please check documentation"
        if problem:
            self.violation(f"mailgun: {problem}: {form!r}")
            return 400, {"message": problem}
        for k, v in one.items():
            if k.startswith("h:") and ("\r" in v or "\n" in v):
                self.violation(f"mailgun: header {k} has a line break: {v!r}")
            if k.lower() in ("h:in-reply-to", "h:message-id") and not self.is_msg_id(v):
                self.violation(f"mailgun: {k} is not an RFC 5322 msg-id <left@right>: {v!r}")
            if k.lower() == "h:references" and not all(self.is_msg_id(r) for r in v.split()):
                self.violation(f"mailgun: {k} is not a list of msg-ids: {v!r}")
        given = next((v for k, v in one.items() if k.lower() == "h:message-id"), None)
        mid = given.strip().strip("<>") if given else (
            f"{time.strftime('%Y%m%d%H%M%S', time.gmtime())}.{next(self.ids)}."
            f"{os.urandom(8).hex().upper()}@{m['domain']}")
        answer = {"id": f"<{mid}>", "message": "Queued. Thank you."}
        self.record("mailgun", m.string, headers, form, answer, m.groupdict())
        return 200, answer

    SENDGRID_RESERVED = {"x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type",
                         "content-transfer-encoding", "to", "from", "subject", "reply-to", "cc",
                         "bcc"}

    def sendgrid(self, m: re.Match[str], headers: dict[str, str], raw: bytes) -> tuple:
        # https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send
        # Errors: https://www.twilio.com/docs/sendgrid/api-reference/mail-send/errors
        if headers.get("authorization") != f"Bearer {self.sendgrid_key}":
            self.violation("sendgrid: wrong or missing bearer API key")
            return 401, {"errors": [{"field": None, "help": None, "message":
                                     "The provided authorization grant is invalid, expired, "
                                     "or revoked"}]}
        body = self.json_body("sendgrid", headers, raw)
        if not isinstance(body, dict):
            return 400, {"errors": [{"field": None, "help": None, "message": "Bad Request"}]}
        problem = self.sendgrid_problem(body)
        if problem:
            message, where, anchor = problem
            self.violation(f"sendgrid: {where}: {message}: {body!r}")
            return 400, {"errors": [{"message": message, "field": where, "help":
                                     "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/"
                                     f"errors.html#{anchor}"}]}
        message_id = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        self.record("sendgrid", m.string, headers, body, message_id)
        return 202, None, {"X-Message-Id": message_id}

    def sendgrid_problem(self, body: dict[str, Any]) -> tuple[str, str, str] | None:
        """(message, field, help anchor) of the first thing SendGrid refuses in `body`."""
        def strings(v: Any) -> bool:
            return isinstance(v, dict) and all(isinstance(x, str) for x in v.values())

        def bad_email(v: Any) -> bool:
            return (not isinstance(v, dict) or not self.is_address(v.get("email"))
                    or not isinstance(v.get("name", ""), str))
        ps = body.get("personalizations")
        if not isinstance(ps, list) or not 1 <= len(ps) <= 1000:
            return ("The personalizations field is required and must have at least one "
                    "personalization.", "personalizations", "-Personalizations-Errors")
        for i, p in enumerate(ps):
            if not isinstance(p, dict) or not isinstance(p.get("to"), list) or not p["to"]:
                return ("The to array is required for all personalization objects, and must "
                        "have at least one email object with a valid email address.",
                        f"personalizations.{i}.to", "message.personalizations.to")
            for kind in ("to", "cc", "bcc"):
                for j, e in enumerate(p.get(kind) or []):
                    if bad_email(e):
                        return ("Does not contain a valid address.",
                                f"personalizations.{i}.{kind}.{j}.email",
                                f"message.personalizations.{kind}")
            if "subject" in p and (not isinstance(p["subject"], str) or not p["subject"]):
                return ("The subject of a personalization must be a string.",
                        f"personalizations.{i}.subject", "message.personalizations.subject")
            for k in ("headers", "custom_args"):
                if k in p and not strings(p[k]):
                    return ("Invalid type. Expected: object of strings.",
                            f"personalizations.{i}.{k}", f"message.personalizations.{k}")
        if not isinstance(body.get("from"), dict) or "email" not in body["from"]:
            return ("The from object must be provided for every email send. It is an object "
                    "that requires the email parameter, but may also contain a name parameter.",
                    "from", "message.from")
        if bad_email(body["from"]):
            return "The from email does not contain a valid address.", "from.email", "message.from"
        if "reply_to" in body and bad_email(body["reply_to"]):
            return "The reply_to email does not contain a valid address.", "reply_to.email", \
                "message.reply_to"
        subject = body.get("subject")
        if not (isinstance(subject, str) and subject) and not all("subject" in p for p in ps):
            return ("The subject is required. You can get around this requirement if you use a "
                    "template with a subject defined or if every personalization has a subject "
                    "defined.", "subject", "message.subject")
        content = body.get("content")
        if not isinstance(content, list) or not content:
            return ("Unless a valid template_id is provided, the content parameter is required. "
                    "There must be at least one defined content block. We typically suggest both "
                    "text/plain and text/html blocks are included, but only one block is "
                    "required.", "content", "message.content")
        for i, c in enumerate(content):
            if not isinstance(c, dict) or not isinstance(c.get("type"), str) or not c["type"] \
                    or re.search(r"[;\r\n]", c["type"]):
                return ("The content type cannot contain ';', or CRLF characters.",
                        f"content.{i}.type", "message.content.type")
            if not isinstance(c.get("value"), str) or not c["value"]:
                return ("The content value must be a string at least one character in length.",
                        f"content.{i}.value", "message.content.value")
        kinds = [c["type"] for c in content]
        if "text/plain" in kinds and kinds[0] != "text/plain":
            return ("If present, text/plain must be first, followed by text/html, followed by "
                    "any other content.", "content.0.type", "message.content.type")
        for scope, hs in [("headers", body.get("headers"))] + [
                (f"personalizations.{i}.headers", p.get("headers")) for i, p in enumerate(ps)]:
            if hs is None:
                continue
            if not strings(hs):
                return "Invalid type. Expected: object of strings.", scope, "message.headers"
            for name, value in hs.items():
                if name.lower() in self.SENDGRID_RESERVED:
                    return "Header can not be one of the reserved keys.", f"{scope}.{name}", \
                        "message.headers"
                if re.search(r"[\r\n]", name + value):
                    return "Header can not contain CRLF characters.", f"{scope}.{name}", \
                        "message.headers"
        if "custom_args" in body and not strings(body["custom_args"]):
            return "Invalid type. Expected: object of strings.", "custom_args", \
                "message.custom_args"
        return None

    def postmark(self, m: re.Match[str], headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        # https://postmarkapp.com/developer/api/email-api#send-a-single-email
        # Errors: 401, or 422 {ErrorCode, Message} (https://postmarkapp.com/developer/api/overview)
        token = headers.get("x-postmark-server-token")
        if token != self.postmark_token:
            self.violation("postmark: wrong or missing X-Postmark-Server-Token")
            return 401, {"ErrorCode": 10, "Message": (
                "No Account or Server API tokens were supplied in the HTTP headers. Please add a "
                "header for either X-Postmark-Server-Token or X-Postmark-Account-Token."
                if not token else "The Server Token you provided in the X-Postmark-Server-Token "
                "request header was invalid. Please verify that you are using a valid token.")}

        def error(code: int, message: str) -> tuple[int, Any]:
            self.violation(f"postmark: {message} ({code})")
            return 422, {"ErrorCode": code, "Message": message}
        if not headers.get("content-type", "").startswith("application/json") \
                or "application/json" not in headers.get("accept", ""):
            return error(409, "JSON Required: the Accept and Content-Type headers must be "
                         "'application/json'.")
        try:
            body = json.loads(raw)
        except ValueError:
            return error(402, "Received invalid JSON input.")
        if not isinstance(body, dict):
            return error(403, "Incompatible JSON")
        to = body.get("To")
        recipients = [a for k in ("To", "Cc", "Bcc") if body.get(k) is not None
                      for a in (self.addresses(body[k]) or [None])]
        hs, meta = body.get("Headers", []), body.get("Metadata", {})
        if not self.addresses(body.get("From")):
            return error(300, f"Invalid 'From' address: '{body.get('From')}'.")
        if not to:
            return error(300, "Zero recipients specified")
        if None in recipients:
            return error(300, f"Error parsing 'To': Illegal email address '{to}'. It must "
                         "contain the '@' symbol.")
        if len(recipients) > 50:
            return error(300, "Maximum of 50 recipients allowed.")
        if not isinstance(body.get("Subject"), str) or not body["Subject"]:
            return error(300, "Invalid email request: Subject is missing.")
        if not any(isinstance(body.get(k), str) and body[k] for k in ("TextBody", "HtmlBody")):
            return error(300, "Provide either email TextBody or HtmlBody or both.")
        if not isinstance(hs, list) or not all(
                isinstance(h, dict) and set(h) == {"Name", "Value"} and isinstance(h["Name"], str)
                and isinstance(h["Value"], str) and not re.search(r"[\r\n]", h["Name"] + h["Value"])
                for h in hs):
            return error(300, f"Invalid email request: Headers must be a list of {{Name, Value}} "
                         f"strings: {hs!r}")
        if not isinstance(meta, dict) or len(meta) > 10 or not all(
                isinstance(k, str) and len(k) <= 20 and isinstance(v, (str, int, float))
                and len(str(v)) <= 80 for k, v in meta.items()):
            return error(300, f"Invalid email request: Metadata: {meta!r}")
        if not isinstance(body.get("MessageStream", ""), str):
            return error(300, "Invalid email request: MessageStream must be a string.")
        for h in hs:
            name = h["Name"].lower()
            if name in ("in-reply-to", "message-id") and not self.is_msg_id(h["Value"]):
                self.violation(f"postmark: header {h['Name']} is not a msg-id: {h['Value']!r}")
            if name == "references" and not all(
                    self.is_msg_id(r) for r in h["Value"].split()):
                self.violation(f"postmark: References is not a list of msg-ids: {h['Value']!r}")
        with self.lock:
            inactive = [a for a in recipients if a.lower() in self.postmark_inactive]
        if inactive:
            return 422, {"ErrorCode": 406, "Message": (
                "You tried to send to recipient(s) that have been marked as inactive. Found "
                f"inactive addresses: {', '.join(inactive)}. Inactive recipients are ones that "
                "have generated a hard bounce, a spam complaint, or a manual suppression.")}
        now = datetime.datetime.now(datetime.timezone.utc)
        answer = {"To": to, "SubmittedAt": now.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0+00:00",
                  "MessageID": str(uuid.uuid4()), "ErrorCode": 0, "Message": "OK"}
        self.record("postmark", m.string, headers, body, answer)
        return 200, answer
