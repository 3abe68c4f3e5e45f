"""A real SMTP server on loopback for the tests of replies sent by email (aiosmtpd, Debian's
python3-aiosmtpd), run by a thread of the test process.

It speaks ESMTP as a submission server does (EHLO, optional AUTH PLAIN/LOGIN without TLS, MAIL,
RCPT, DATA; 8BITMIME and SMTPUTF8 advertised). Every message accepted is recorded in
`messages` with its envelope, its raw bytes and its parse (email.policy.default), and checked
against RFC 5322 / 5321 basics: From, To, Date, Message-ID and Subject present once, a Date
that parses, msg-ids in <left@right> form, CRLF line ends, lines of at most 998 octets, no
8-bit header without SMTPUTF8, and a text body that decodes as UTF-8 (or US-ASCII). A message
that breaks them is still accepted (as a relay would) but recorded in `violations`, which a
test asserts empty. `reject(code, text, times, at=...)` answers the next RCPT or DATA commands
with a temporary (4xx) or permanent (5xx) refusal.

    with SmtpServer(username="sb", password="pw") as smtp:
        ... point the daemon at smtp.host, smtp.port ...
        [mail] = smtp.wait_for(1)
        assert mail.message["In-Reply-To"] == "<...>" and not smtp.violations
"""

from __future__ import annotations

import email.policy
import email.utils
import logging
import re
import socket
import threading
import time
import warnings
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

# aiosmtpd warns, once a connection, that AUTH without TLS is unsafe: on loopback it is meant.
logging.getLogger("mail.log").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)


@dataclass
class Mail:
    mail_from: str  # the envelope (MAIL FROM)
    rcpt_tos: list[str]  # the envelope (RCPT TO), in order
    raw: bytes  # the DATA as received (dot-unstuffed, CRLF line ends as sent)
    message: EmailMessage  # raw parsed with email.policy.default
    login: str | None = None  # the AUTH user, if the client authenticated
    mail_options: list[str] = field(default_factory=list)  # e.g. ["BODY=8BITMIME", "SMTPUTF8"]
    at: float = field(default_factory=time.time)

    @property
    def text(self) -> str | None:
        """The text/plain body (or text/html if there is none), decoded, with \\n line ends."""
        part = self.message.get_body(preferencelist=("plain", "html"))
        return part.get_content().replace("\r\n", "\n") if part is not None else None


@dataclass
class Rejection:
    code: int
    text: str
    times: int
    at: str  # "RCPT" | "DATA"


class SmtpServer:
    def __init__(self, *, username: str | None = None, password: str | None = None,
                 hostname: str = "smtp.switchboard.test") -> None:
        """With `username`, clients must AUTH (PLAIN or LOGIN) with it and `password` before
        MAIL (530 5.7.0 otherwise; 535 5.7.8 for wrong credentials)."""
        self.username, self.password = username, password
        self.messages: list[Mail] = []
        self.violations: list[str] = []
        self.attempts: list[float] = []  # time.monotonic() of every MAIL FROM
        self.rejections: list[Rejection] = []
        self.lock = threading.Lock()
        self.host = "127.0.0.1"
        self.port = self._free_port()
        kwargs: dict[str, Any] = {}
        if username is not None:
            kwargs = {"authenticator": self._authenticate, "auth_required": True,
                      "auth_require_tls": False}
        # Controller checks it is up by connecting to its port: port 0 cannot work.
        self.controller = Controller(self, hostname=self.host, port=self.port,
                                     server_hostname=hostname, ident="Switchboard fake ESMTP",
                                     enable_SMTPUTF8=True, **kwargs)
        self.controller.start()

    @staticmethod
    def _free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def close(self) -> None:
        self.controller.stop()

    def __enter__(self) -> SmtpServer:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    # ---- control -------------------------------------------------------------------------

    def reject(self, code: int, text: str | None = None, times: int = 1, *,
               at: str = "DATA") -> None:
        """Answers the next `times` RCPT (at="RCPT") or DATA (at="DATA", after the message was
        sent) commands with `code` and `text`: e.g. 451 (try again later) or 550 (refused)."""
        if at not in ("RCPT", "DATA"):
            raise ValueError("reject: at must be RCPT or DATA")
        if text is None:
            text = ("4.3.0 Temporary failure, try again later" if code < 500 else
                    "5.1.1 Recipient address rejected: User unknown" if at == "RCPT" else
                    "5.7.1 Message rejected")
        with self.lock:
            self.rejections.append(Rejection(code, text, times, at))

    def wait_for(self, count: int, timeout: float = 30) -> list[Mail]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        with self.lock:
            return list(self.messages)

    def violation(self, what: str) -> None:
        with self.lock:
            self.violations.append(what)

    # ---- aiosmtpd hooks ------------------------------------------------------------------

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, auth_data: Any) -> AuthResult:
        ok = (mechanism in ("PLAIN", "LOGIN") and isinstance(auth_data, LoginPassword)
              and auth_data.login == (self.username or "").encode()
              and auth_data.password == (self.password or "").encode())
        if not ok:
            self.violation(f"smtp: AUTH {mechanism} with wrong credentials")
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=auth_data)

    def _take(self, at: str) -> Rejection | None:
        with self.lock:
            for r in self.rejections:
                if r.at == at and r.times > 0:
                    r.times -= 1
                    return r
        return None

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,  # noqa: N802
                          address: str, mail_options: list[str]) -> str:
        with self.lock:
            self.attempts.append(time.monotonic())
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,  # noqa: N802
                          address: str, rcpt_options: list[str]) -> str:
        r = self._take("RCPT")
        if r:
            return f"{r.code} {r.text}"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session,  # noqa: N802
                          envelope: Envelope) -> str:
        r = self._take("DATA")
        if r:
            return f"{r.code} {r.text}"
        raw = envelope.original_content or b""
        message = BytesParser(policy=email.policy.default).parsebytes(raw)
        if "SMTPUTF8" in envelope.mail_options:
            self.utf8_headers(message)  # RFC 6532: UTF-8 in the header, as text
        auth = getattr(session, "auth_data", None)
        login = auth.login.decode(errors="replace") if isinstance(auth, LoginPassword) else None
        mail = Mail(envelope.mail_from or "", list(envelope.rcpt_tos), raw, message, login,
                    list(envelope.mail_options))
        for problem in self.check(mail):
            self.violation(f"smtp: {problem} (Message-ID {message.get('Message-ID')!r})")
        with self.lock:
            self.messages.append(mail)
        return "250 2.0.0 OK: queued"

    @staticmethod
    def utf8_headers(message: EmailMessage) -> None:
        """The parser keeps 8-bit header octets as surrogates (defects, mojibake): read them as
        the UTF-8 that SMTPUTF8 allows. Headers that are not UTF-8 stay as they are."""
        items = list(message.raw_items())
        for name in {n.lower() for n, _ in items}:
            del message[name]
        for name, value in items:
            try:
                value = value.encode("ascii", "surrogateescape").decode("utf-8")
            except UnicodeError:
                pass
            message.set_raw(name, value)

    # ---- the checks ----------------------------------------------------------------------

    @staticmethod
    def check(mail: Mail) -> list[str]:
        """What in `mail` breaks RFC 5322 (and RFC 5321's line rules)."""
        problems: list[str] = []
        raw, msg = mail.raw, mail.message
        utf8 = "SMTPUTF8" in mail.mail_options
        head = raw.split(b"\r\n\r\n", 1)[0]
        if re.search(rb"(?<!\r)\n", raw):
            problems.append("a bare LF line end (RFC 5321 2.3.8: CRLF only)")
        if any(len(line) > 998 for line in raw.split(b"\r\n")):
            problems.append("a line longer than 998 octets (RFC 5322 2.1.1)")
        if re.search(rb"[\x80-\xff]", head) and not utf8:
            problems.append("8-bit octets in the header without SMTPUTF8 (use RFC 2047 words)")
        for name in ("From", "To", "Date", "Message-ID", "Subject"):
            n = len(msg.get_all(name) or [])
            if n != 1:
                problems.append(f"{name} appears {n} times (RFC 5322 3.6: exactly once here)")
        for name in ("From", "To", "Cc", "Reply-To", "Date", "Message-ID", "In-Reply-To",
                     "References", "Subject"):
            try:
                value = msg[name]
            except Exception as e:  # a header the parser cannot take
                problems.append(f"{name}: {e}")
                continue
            defects = [type(d).__name__ for d in getattr(value, "defects", None) or []
                       if not (utf8 and type(d).__name__ == "NonASCIILocalPartDefect")]
            if defects:
                problems.append(f"{name}: {defects}")
        date = msg.get("Date")
        if date is not None:
            try:
                email.utils.parsedate_to_datetime(str(date))
            except (TypeError, ValueError):
                problems.append(f"Date {str(date)!r} does not parse (RFC 5322 3.3)")
        msg_id = r"<[^<>@\s]+@[^<>@\s]+>"
        for name in ("Message-ID", "In-Reply-To"):
            value = msg.get(name)
            if value is not None and not re.fullmatch(msg_id, str(value).strip()):
                problems.append(f"{name} {str(value)!r} is not one <left@right> msg-id")
        refs = msg.get("References")
        if refs is not None and not re.fullmatch(rf"\s*{msg_id}(\s+{msg_id})*\s*", str(refs)):
            problems.append(f"References {str(refs)!r} is not a list of msg-ids")
        if msg.defects:
            problems.append(f"MIME defects: {[type(d).__name__ for d in msg.defects]}")
        part = msg.get_body(preferencelist=("plain", "html"))
        if part is None:
            problems.append("no text/plain or text/html body")
        else:
            charset = (part.get_content_charset() or "us-ascii").lower()
            cte = part.get("Content-Transfer-Encoding", "7bit").lower()
            payload = part.get_payload(decode=True) or b""
            if charset not in ("utf-8", "us-ascii"):
                problems.append(f"the text body's charset is {charset}, not utf-8")
            try:
                payload.decode("utf-8")
            except UnicodeDecodeError:
                problems.append("the text body does not decode as UTF-8")
            raw_body = part.get_payload(decode=False)
            if cte in ("7bit", "") and isinstance(raw_body, str) and \
                    re.search(r"[^\x00-\x7f]", raw_body):
                problems.append("8-bit text in a 7bit part (declare 8bit, or use QP/base64)")
        return problems
