#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/) and dictionaries
(fuzz/dicts/<target>.dict) from the unit tests' fixtures (tests/data/) and configs.

Run it again after changing a fixture, a channel's config in fuzz/fuzz_support.hpp (the names,
secrets and options below must match it) or the request format; it rewrites both folders.
The seeds are real requests, signed as each provider signs them at fuzz_now, so they pass the
real checks too, not only the fuzzing build's (channels/crypto.cpp):

    fuzz/make_corpus.py && git status fuzz/
"""
import base64
import hashlib
import hmac
import json
import re
import shutil
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
CORPUS = ROOT / "fuzz" / "corpus"
DICTS = ROOT / "fuzz" / "dicts"

NOW_S = 1_795_341_630  # fuzz_now in fuzz/fuzz_support.hpp: 2026-11-22T10:00:30Z

# fuzz_support.hpp's config_for: name, secret (and options) of each channel type.
CHAT_KEY = b"chat-secret-A: 32 bytes of key!!"
CALLBACK_KEY = b"callback-secret-A: 32 bytes key!"
MAILGUN_KEY = b"key-7e1b3c9a2f0d4e6b8a1c3e5f7a9b0c2d"
SENDGRID_PASSWORD, SENDGRID_USER = "sg-inbound-9f3c2a7e5b1d4f60", "parse"
POSTMARK_PASSWORD = "pm-inbound-4c8e1a6f2b9d3e70"
MIME_TOKEN = "mta-pipe-2b7f9c4e1a6d8b30"
TWILIO_TOKEN = b"9f3c2b7d41e6a8059c1d2e3f4a5b6c7d"
TWILIO_URL = "https://support.example.com/v1/webhooks/phone"
META = {  # type: (channel name, app secret, verify_token)
    "messenger": ("fb-page", b"3c9a41e7b2d85f6094ae1b7c2d3e4f50", "verify-me-7731"),
    "instagram": ("ig-shop", b"9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b", "ig-verify-55"),
    "whatsapp": ("wa-support", b"5b1f0e3d2c9a8b7f6e5d4c3b2a190817", "wa-verify-918"),
}
TELEGRAM_TOKEN = "5c1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f"
X_SECRET = b"kT9vQ2xW7pL4mN8rS1yB6cF3hJ5dG0aZ2eU7iO9wX4qR8tY1uP"
NAMES = {"chat": "web-chat", "callback": "callbacks", "mailgun": "support-mailgun",
         "sendgrid": "support-sendgrid", "postmark": "support-postmark", "mime": "support-mail",
         "twilio": "phone", "telegram": "telegram", "x": "x-support",
         **{t: v[0] for t, v in META.items()}}


def fixture(path):
    return (DATA / path).read_bytes()


def b64(raw):
    return base64.b64encode(raw).decode()


def hmac256(key, data):
    return hmac.new(key, data, hashlib.sha256).digest()


# ---- requests: (name, method, target, [(header, value)], body) ------------------------------

def post(channel, headers, body, query=""):
    return ("POST", f"/v1/webhooks/{NAMES[channel]}{query}", headers, body)


def standard_webhook(channel, key, body, msg_id="msg_2bXyZ7", ts=NOW_S, extra_sigs=()):
    signature = "v1," + b64(hmac256(key, f"{msg_id}.{ts}.".encode() + body))
    return post(channel, [("Content-Type", "application/json"), ("webhook-id", msg_id),
                          ("webhook-timestamp", str(ts)),
                          ("webhook-signature", " ".join([*extra_sigs, signature]))], body)


def basic(user, password):
    return "Basic " + b64(f"{user}:{password}".encode())


def form_fields(body):
    """channels/form.cpp's parse_form: '&'-separated, '+' is a space, %XX decoded, bytes."""
    out = []
    for item in body.split(b"&"):
        if not item:
            continue
        name, eq, value = item.partition(b"=")
        decode = lambda s: urllib.parse.unquote_to_bytes(s.replace(b"+", b" "))
        out.append((decode(name), decode(value) if eq else b""))
    return out


def twilio(body, query=""):
    # base64(HMAC-SHA1(token, url + query + every name and value, sorted by name then value))
    signed = (TWILIO_URL + query).encode()
    for name, value in sorted(form_fields(body)):
        signed += name + value
    signature = b64(hmac.new(TWILIO_TOKEN, signed, hashlib.sha1).digest())
    return post("twilio", [("Host", "support.example.com"),
                           ("Content-Type", "application/x-www-form-urlencoded"),
                           ("X-Twilio-Signature", signature)], body, query)


def meta(channel, body):
    _, secret, _ = META[channel]
    return post(channel, [("Content-Type", "application/json"),
                          ("X-Hub-Signature-256", "sha256=" + hmac256(secret, body).hex())], body)


def meta_handshake(channel):
    _, _, token = META[channel]
    return ("GET", f"/v1/webhooks/{NAMES[channel]}?hub.mode=subscribe&hub.challenge=1158201444"
                   f"&hub.verify_token={token}", [], b"")


def x_post(body):
    return post("x", [("Content-Type", "application/json"),
                      ("x-twitter-webhooks-signature", "sha256=" + b64(hmac256(X_SECRET, body)))],
                body)


def telegram(body):
    return post("telegram", [("Content-Type", "application/json"),
                             ("X-Telegram-Bot-Api-Secret-Token", TELEGRAM_TOKEN)], body)


def mailgun_form(fields):
    token = "5b2f3e8a1c9d4e7f6a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"
    ts = str(NOW_S - 30)
    signature = hmac256(MAILGUN_KEY, (ts + token).encode()).hex()
    fields = [*fields, ("timestamp", ts), ("token", token), ("signature", signature)]
    return urllib.parse.urlencode(fields).encode()


def channel_requests():
    """The seeds of each fuzz_channel_<type>: the fixtures, and a few cases from the tests."""
    seeds = {t: {} for t in NAMES}
    for f in ("message_full.json", "message_minimal.json"):
        seeds["chat"][f] = standard_webhook("chat", CHAT_KEY, fixture("chat/" + f))
    seeds["chat"]["rotated_signatures"] = standard_webhook(
        "chat", CHAT_KEY, b'{"id":"m-1","visitor":{"id":"v-1","phone":"07700 900123"},'
        b'"text":"hi","language":"en-GB","attachments":[{"name":"a.png","url":"https://x/a.png",'
        b'"content_type":"image/png","size":12}]}',
        extra_sigs=("v1a,ed25519-not-ours", "v1,AAAA"))
    for f in ("request_full.json", "request_minimal.json"):
        seeds["callback"][f] = standard_webhook("callback", CALLBACK_KEY, fixture("callback/" + f))
    seeds["callback"]["national_number"] = standard_webhook(
        "callback", CALLBACK_KEY, b'{"id":"cb-2","phone":"8 612 34567","ivr_digits":"1#",'
        b'"window":{"start":"2026-11-22T12:00:00Z","end":"2026-11-22T16:00:00+02:00"}}')

    seeds["mailgun"]["message_urlencoded.txt"] = post(
        "mailgun", [("Content-Type", "application/x-www-form-urlencoded")],
        fixture("mailgun/message_urlencoded.txt"))
    seeds["mailgun"]["message_multipart.txt"] = post(
        "mailgun", [("Content-Type", "multipart/form-data; boundary=a7Bx92kLmZq4")],
        fixture("mailgun/message_multipart.txt"))
    seeds["mailgun"]["event_delivered.json"] = post(
        "mailgun", [("Content-Type", "application/json")], fixture("mailgun/event_delivered.json"))
    seeds["mailgun"]["body_mime"] = post(
        "mailgun", [("Content-Type", "application/x-www-form-urlencoded")],
        mailgun_form([("recipient", "support@acme.example"),
                      ("body-mime", fixture("mime/windows1252.eml").decode("latin-1"))]))

    auth = [("Authorization", basic(SENDGRID_USER, SENDGRID_PASSWORD))]
    for f in ("parsed.txt", "raw.txt"):
        seeds["sendgrid"][f] = post(
            "sendgrid", [("Content-Type", "multipart/form-data; boundary=xYzZY"), *auth],
            fixture("sendgrid/" + f))
    seeds["sendgrid"]["events.json"] = post(
        "sendgrid", [("Content-Type", "application/json"), *auth], fixture("sendgrid/events.json"))

    auth = [("Authorization", basic("postmark", POSTMARK_PASSWORD))]
    for f in ("inbound.json", "inbound_minimal.json", "bounce.json"):
        seeds["postmark"][f] = post(
            "postmark", [("Content-Type", "application/json"), *auth], fixture("postmark/" + f))

    for f in sorted((DATA / "mime").iterdir()):
        seeds["mime"][f.name] = post(
            "mime", [("Content-Type", "message/rfc822"), ("Authorization", "Bearer " + MIME_TOKEN)],
            f.read_bytes())

    for f in sorted((DATA / "twilio").iterdir()):
        seeds["twilio"][f.name] = twilio(f.read_bytes().rstrip(b"\n"))
    seeds["twilio"]["query"] = twilio(fixture("twilio/sms_plain.form").rstrip(b"\n"),
                                      "?source=sms&x=%2F")

    for channel in META:
        for f in sorted((DATA / channel).iterdir()):
            seeds[channel][f.name] = meta(channel, f.read_bytes())
        seeds[channel]["handshake"] = meta_handshake(channel)

    for f in sorted((DATA / "telegram").iterdir()):
        seeds["telegram"][f.name] = telegram(f.read_bytes())

    for f in sorted((DATA / "x").iterdir()):
        seeds["x"][f.name] = x_post(f.read_bytes())
    seeds["x"]["crc"] = ("GET", "/v1/webhooks/x-support?crc_token=9b4507b3-4ad4-4c3c-8b8a", [], b"")
    return seeds


# ---- writing ---------------------------------------------------------------------------------

def as_text(method, target, headers, body):
    """The channel and signature targets' format (fuzz_support.hpp's text_request)."""
    head = f"{method} {target}\n" + "".join(f"{n}: {v}\n" for n, v in headers)
    return head.encode() + b"\n" + body


def as_http(method, target, headers, body, chunked=False, close=False):
    """Raw HTTP/1.1, as a provider sends it (fuzz_http)."""
    head = [f"{method} {target} HTTP/1.1", "Host: support.example.com", "User-Agent: provider/1.0"]
    head += [f"{n}: {v}" for n, v in headers if n.lower() != "host"]
    if chunked:
        head.append("Transfer-Encoding: chunked")
        half = len(body) // 2
        body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:half], body[half:]) if p)
        body += b"0\r\n\r\n"
    elif method == "POST":
        head.append(f"Content-Length: {len(body)}")
    if close:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def write_corpus(target, files):
    folder = CORPUS / target
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / re.sub(r"[^A-Za-z0-9_.-]", "_", name)).write_bytes(data)


def write_dict(target, tokens):
    DICTS.mkdir(exist_ok=True)
    lines = [f"# {target}: written by fuzz/make_corpus.py from the fixtures; do not edit."]
    for t in sorted({t if isinstance(t, bytes) else t.encode() for t in tokens}):
        if t and len(t) <= 64:
            escaped = "".join("\\" + chr(b) if chr(b) in '"\\' else chr(b) if 0x20 <= b < 0x7f
                              else f"\\x{b:02x}" for b in t)
            lines.append(f'"{escaped}"')
    (DICTS / f"{target}.dict").write_text("\n".join(lines) + "\n")


def json_tokens(body):
    """Every key of a JSON body, quoted as it appears on the wire."""
    tokens = []

    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                tokens.append(json.dumps(k))
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str) and len(v) <= 24:
            tokens.append(json.dumps(v))

    try:
        walk(json.loads(body))
    except ValueError:
        pass
    return tokens


COMMON = ["POST ", "GET ", "\n\n", "content-type: ", "application/json", "; charset=utf-8",
          "authorization: ", "Basic ", "Bearer ", "sha256=", "v1,", "=", "%", "%00", "%ff",
          "\\u0000", "\\ud800", "null", "true", "-1", "1e999", "18446744073709551616",
          "9223372036854775807", "[", "]", "{", "}", "\":\"", b"\xff", b"\xc3\xa9", b"\xed\xa0\x80"]
MIME = ["\r\n", "\r\n\r\n", "Content-Type: ", "multipart/mixed; boundary=", "multipart/alternative",
        "multipart/report", "message/rfc822", "text/plain; charset=", "text/html",
        "Content-Transfer-Encoding: ", "quoted-printable", "base64", "Content-Disposition: ",
        "attachment; filename=", "form-data; name=", "=?utf-8?q?", "=?iso-8859-1?b?", "?=",
        "From: ", "To: ", "Cc: ", "Subject: ", "Message-ID: ", "In-Reply-To: ", "References: ",
        "Date: ", "<", ">", "@", "koi8-r", "windows-1252", "utf-7", "&#x", "&amp;", "<br>", "<p>",
        "<script>", "--"]
FORM = ["&", "=", "+", "%2B", "%26", "%3D", "%0D%0A"]


def text_tokens(method, target, headers, body):
    tokens = [n + ": " for n, _ in headers] + [target.split("?")[0]]
    if target.count("?"):
        tokens += [p.split("=")[0] + "=" for p in target.split("?", 1)[1].split("&")]
    ct = dict((n.lower(), v) for n, v in headers).get("content-type", "")
    if "json" in ct:
        tokens += json_tokens(body)
    elif "urlencoded" in ct:
        tokens += [n.decode("latin-1") + "=" for n, _ in form_fields(body)] + FORM
    else:
        tokens += MIME
        tokens += re.findall(r'name="([^"]+)"', body.decode("latin-1"))
    return tokens


def config_seeds():
    secret = "whsec_" + b64(CHAT_KEY)
    every_type = "".join(
        f"  - name: {NAMES[t]}\n    type: {t}\n    secret: \"{s}\"\n{opts}"
        for t, s, opts in [
            ("chat", secret, "    tolerance: 2m\n    default_country: GB\n"),
            ("callback", "whsec_" + b64(CALLBACK_KEY), "    default_country: LT\n"),
            ("mailgun", MAILGUN_KEY.decode(), "    max_body_bytes: 30000000\n"),
            ("sendgrid", SENDGRID_PASSWORD, "    username: parse\n"),
            ("postmark", POSTMARK_PASSWORD, ""),
            ("mime", MIME_TOKEN, ""),
            ("twilio", TWILIO_TOKEN.decode(), f"    public_url: {TWILIO_URL}\n"),
            *[(t, v[1].decode(), f"    verify_token: {v[2]}\n") for t, v in META.items()],
            ("telegram", TELEGRAM_TOKEN, "    bot_username: \"@SupportBot\"\n"),
            ("x", X_SECRET.decode(), ""),
        ])
    full = f"""# every section, every channel type
server:
  listen: "[::1]:9090"
  threads: 4
  max_body_bytes: 2097152
  max_header_bytes: 8192
  max_connections: 64
  read_timeout: 1500ms
  rate_limit: {{per_client: 20, per_client_burst: 40, per_channel: 500, trust_forwarded_for: true}}
store:
  path: "${{STATE_DIRECTORY:-state}}/switchboard.db"
  reopen_after: 3d
  thread_limit: 20
  max_backlog: 5000
broker:
  url: "amqps://user:pw@rabbit.example:5671/prod"
  exchange: sb.events
  confirm_window: 128
channels:
{every_type}skills:
  - name: general
    max_length: 50000
    overflow_to: overflow
  - name: billing
    queue: billing-q
    queue_type: classic
    max_priority: 10
    escalate_after: 5m
    escalate_to: supervisors
  - name: supervisors
    queue_type: quorum
  - name: overflow
schedules:
  business_hours:
    timezone: Europe/Riga
    hours:
      mon-fri: "09:00-18:00"
      sat: ["10:00-12:00", "13:00-14:00"]
    closed: [2026-12-24, "2026-12-25"]
  night_shift:
    timezone: America/New_York
    hours: {{fri-mon: "22:00-06:00"}}
routes:
  - when: {{channel: web-chat, channel_type: chat, text_matches: "(?i)refund|invoice|charge"}}
    skill: billing
    priority: 5
    reroute: true
  - when: {{outside: business_hours, first_message: true}}
    skill: supervisors
  - when: {{channel_kind: phone, ivr_digits: ["1", "*9#"]}}
    skill: billing
  - when:
      recipient: [sales@example.com, "+37167000000"]
      subject_matches: "(?i)invoice"
      identity_type: [email, phone]
    skill: billing
  - when: {{language: [lv, lt], during: night_shift}}
    skill: general
  - skill: general
"""
    many_errors = """server:
  threads: x
  read_timeout: 10x
channels:
  - name: web-chat
    type: chat
skills:
  - name: billing
    queue_type: quorum
    max_priority: 3
routes:
  - when: {text_matches: "("}
    skill: nobody
"""
    minimal = (f"channels:\n  - name: web-chat\n    type: chat\n    secret: \"{secret}\"\n"
               "skills:\n  - name: general\nroutes:\n  - skill: general\n")
    anchors = ("channels:\n  - &chat {name: a, type: chat, secret: \"" + secret + "\"}\n"
               "  - *chat\n  - {<<: *chat, name: b}\n"
               "skills: [{name: general}]\nroutes: [{skill: general}]\n")
    return {"switchboard.yaml": (ROOT / "conf" / "switchboard.yaml").read_bytes(),
            "full.yaml": full.encode(), "many_errors.yaml": many_errors.encode(),
            "minimal.yaml": minimal.encode(), "anchors.yaml": anchors.encode()}


def main():
    for d in (CORPUS, DICTS):
        shutil.rmtree(d, ignore_errors=True)
    seeds = channel_requests()
    for channel, requests in seeds.items():
        target = f"fuzz_channel_{channel}"
        write_corpus(target, {n: as_text(*r) for n, r in requests.items()})
        tokens = COMMON[:]
        for r in requests.values():
            tokens += text_tokens(*r)
        write_dict(target, tokens)

    # Signatures: every channel's smallest POST (the heads are what matters), and the GETs.
    smallest = {c: min((q for q in r.values() if q[0] == "POST"), key=lambda q: len(q[3]))
                for c, r in seeds.items()}
    write_corpus("fuzz_signatures", {c: as_text(*r) for c, r in smallest.items()}
                 | {"meta_handshake": as_text(*meta_handshake("messenger")),
                    "x_crc": as_text(*seeds["x"]["crc"])})
    write_dict("fuzz_signatures", COMMON + [n + ": " for r in smallest.values() for n, _ in r[2]]
               + ["hub.mode=subscribe", "hub.verify_token=", "hub.challenge=", "whsec_", "v1a,",
                  "==", "webhook-id: ", "webhook-timestamp: ", "webhook-signature: "])

    # HTTP: one request per channel as its provider sends it, chunked and pipelined variants.
    http = {c: as_http(*seeds[c][f]) for c, f in [
        ("chat", "message_minimal.json"), ("callback", "request_minimal.json"),
        ("mailgun", "message_urlencoded.txt"), ("sendgrid", "raw.txt"),
        ("postmark", "inbound_minimal.json"), ("mime", "no_message_id.eml"),
        ("twilio", "sms_plain.form"), ("messenger", "messaging_batch.json"),
        ("instagram", "messaging_batch.json"), ("whatsapp", "text_batch.json"),
        ("telegram", "message_text.json"), ("x", "dm_batch.json")]}
    http["chunked"] = as_http(*seeds["chat"]["message_minimal.json"], chunked=True)
    http["pipelined"] = (as_http(*meta_handshake("whatsapp"))
                         + as_http(*seeds["telegram"]["message_text.json"])
                         + as_http("GET", "/healthz", [], b"", close=True))
    method, target, headers, body = seeds["callback"]["request_full.json"]
    http["expect_continue"] = as_http(method, target, [*headers, ("Expect", "100-continue")], body)
    write_corpus("fuzz_http", http)
    write_dict("fuzz_http", COMMON + [
        " HTTP/1.1\r\n", " HTTP/1.0\r\n", "\r\n", "\r\n\r\n", "Host: ", "Content-Length: ",
        "Transfer-Encoding: chunked", "Transfer-Encoding: gzip, chunked", "Connection: close",
        "Connection: keep-alive", "Expect: 100-continue", "0\r\n\r\n", ";ext=1", "/healthz",
        "/metrics", "/readyz", "/v1/conversations", "?"] +
        [f"/v1/webhooks/{n}" for n in NAMES.values()])

    # Replies: every body of the cases both the reply parser and its schema are tested with.
    replies = json.loads((ROOT / "tests/data/replies/cases.json").read_text(encoding="utf-8"))
    bodies = {f"{i:02d}_{c['name']}": (c["raw"] if "raw" in c else json.dumps(c["body"],
                                       ensure_ascii=False)).encode()
              for i, c in enumerate(replies["cases"])}
    write_corpus("fuzz_reply", bodies)
    write_dict("fuzz_reply", COMMON + [t for b in bodies.values() for t in json_tokens(b)])

    write_corpus("fuzz_config", config_seeds())
    # Every key each layer's settings parser takes (core/config_reader.hpp lists them).
    settings = ["daemon/config.cpp", "daemon/server_settings.cpp", "store/settings.cpp",
                "broker/settings.cpp", "channels/settings.cpp", "routing/settings.cpp"]
    keys = re.findall(r'(?:take|require)\("([a-z_]+)"',
                      "".join((ROOT / f).read_text() for f in settings))
    write_dict("fuzz_config", [k + ": " for k in keys] + [f"type: {t}" for t in NAMES] + [
        "name: ", "skill: ", "secret: ", "default_country: ", "verify_token: ", "public_url: ",
        "username: ", "bot_username: ", "per_client: ", "per_channel: ", "timezone: ", "hours: ",
        "mon-fri", "sat", "sun", "\"09:00-18:00\"", "Europe/Riga", "channels:\n", "skills:\n",
        "routes:\n", "\n  - ", "\n    ", "{", "}", "[", "]", "&a ", "*a", "<<: ", "!!str ", "---",
        "${", "${HOME}", "$${", ":-", "10s", "500ms", "7d", "quorum", "classic", "true", "~"])
    print(f"wrote {sum(1 for _ in CORPUS.rglob('*') if _.is_file())} seeds in "
          f"{len(list(CORPUS.iterdir()))} corpora and {len(list(DICTS.iterdir()))} dictionaries")


if __name__ == "__main__":
    main()
