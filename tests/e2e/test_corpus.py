"""The corpus (tests/corpus/, its README): every webhook there, as its provider sends it,
replayed against the real daemon, signed as the provider signs it. Each answer is checked, and
every message stored from it (GET /v1/conversations/{id}), every event kept unreadable
(GET /v1/unreadable) and every payload published (pika, validated against
docs/payload.schema.json) against the file's expectation: what the provider means by it.

SB_CORPUS=whatsapp,x runs only those folders; SB_CORPUS_CASE=name only the cases of that name.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import json
import os
import re
import secrets as pysecrets
import sqlite3
import time
import urllib.parse
from typing import Any

import harness as h

CORPUS = os.path.join(h.source_dir(), "tests", "corpus")
TOKEN = "corpus-api-token-" + pysecrets.token_hex(8)
META_SECRET = pysecrets.token_hex(16)
X_SECRET = pysecrets.token_hex(25)
TG_SECRET = "tg_" + pysecrets.token_hex(16)
TWILIO_TOKEN = pysecrets.token_hex(16)
MAILGUN_KEY = "key-" + pysecrets.token_hex(16)
SHARED_SECRET = "corpus-" + pysecrets.token_hex(12)  # sendgrid, postmark (basic auth), mime
SW_SECRET = "whsec_" + base64.b64encode(pysecrets.token_bytes(24)).decode()
PUBLIC_BASE = "https://switchboard.example.com/v1/webhooks/"

# folder → (channel type, the body files' extensions)
TYPES = ["whatsapp", "messenger", "instagram", "telegram", "x", "twilio", "mailgun", "sendgrid",
         "postmark", "mime", "chat", "callback"]


def channel_name(kind: str) -> str:
    return f"corpus-{kind}"


def channels_yaml() -> str:
    out = ""
    for kind in TYPES:
        name = channel_name(kind)
        out += f"  - name: {name}\n    type: {kind}\n"
        if kind in ("whatsapp", "messenger", "instagram"):
            out += f"    secret: {h.yq(META_SECRET)}\n    verify_token: corpus-verify\n"
        elif kind == "x":
            out += f"    secret: {h.yq(X_SECRET)}\n"
        elif kind == "telegram":
            out += f"    secret: {h.yq(TG_SECRET)}\n    bot_username: corpus_support_bot\n"
        elif kind == "twilio":
            out += (f"    secret: {h.yq(TWILIO_TOKEN)}\n"
                    f"    public_url: {h.yq(PUBLIC_BASE + name)}\n")
        elif kind == "mailgun":
            out += f"    secret: {h.yq(MAILGUN_KEY)}\n"
        elif kind in ("sendgrid", "postmark", "mime"):
            out += f"    secret: {h.yq(SHARED_SECRET)}\n"
        else:  # chat, callback: Standard Webhooks; national numbers are Latvian
            out += f"    secret: {h.yq(SW_SECRET)}\n    default_country: LV\n"
    return out


# ---- matching --------------------------------------------------------------------------------


def match(actual: Any, expected: Any, path: str, problems: list[str]) -> None:
    """The corpus README's rules: objects by the keys they name, lists element by element,
    {"$absent": true}, {"$contains": s}, {"$re": p}, else equality."""
    if isinstance(expected, dict) and len(expected) == 1 and next(iter(expected)).startswith("$"):
        op, arg = next(iter(expected.items()))
        if op == "$absent":
            if arg and actual is not None:
                problems.append(f"{path}: expected absent or null, got {actual!r:.120}")
        elif op == "$contains":
            if not isinstance(actual, str) or arg not in actual:
                problems.append(f"{path}: expected a string containing {arg!r}, got {actual!r:.160}")
        elif op == "$re":
            if not isinstance(actual, str) or re.search(arg, actual) is None:
                problems.append(f"{path}: expected a string matching {arg!r}, got {actual!r:.160}")
        else:
            problems.append(f"{path}: unknown operator {op} in the expectation")
        return
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            problems.append(f"{path}: expected an object, got {actual!r:.120}")
            return
        for k, v in expected.items():
            if isinstance(v, dict) and v.get("$absent") and k not in actual:
                continue
            if k not in actual:
                problems.append(f"{path}.{k}: missing (expected {v!r:.120})")
                continue
            match(actual[k], v, f"{path}.{k}", problems)
        return
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            problems.append(f"{path}: expected {len(expected)} element(s), got {actual!r:.200}")
            return
        for i, (a, e) in enumerate(zip(actual, expected)):
            match(a, e, f"{path}[{i}]", problems)
        return
    if isinstance(expected, float) or isinstance(actual, float):
        if not isinstance(actual, (int, float)) or isinstance(actual, bool) or \
                abs(float(actual) - float(expected)) > 1e-9 * max(1.0, abs(float(expected))):
            problems.append(f"{path}: expected {expected!r}, got {actual!r:.120}")
        return
    if actual != expected:
        problems.append(f"{path}: expected {expected!r:.160}, got {actual!r:.160}")


def identities_present(have: list[dict[str, Any]], want: list[Any], problems: list[str]) -> None:
    for w in want:
        found = False
        for hv in have:
            p: list[str] = []
            match(hv, w, "identity", p)
            if not p:
                found = True
                break
        if not found:
            problems.append(f"customer.identities: no identity matches {w!r}; the customer has "
                            f"{have!r:.300}")


# ---- signing each provider's way ----------------------------------------------------------


def mailgun_fresh(fields: list[tuple[str, str]]) -> list[tuple[str, str]]:
    sig = h.mailgun_signature(MAILGUN_KEY)
    out = [(k, sig[k]) if k in sig else (k, v) for k, v in fields]
    for k in ("timestamp", "token", "signature"):
        if k not in {f[0] for f in out}:
            out.append((k, sig[k]))
    return out


def mailgun_multipart_fresh(body: bytes) -> bytes:
    sig = h.mailgun_signature(MAILGUN_KEY)
    for k, v in sig.items():
        pat = re.compile(rb'(Content-Disposition: form-data; name="' + k.encode() +
                         rb'"\r\n(?:[^\r\n]+\r\n)*\r\n)[^\r\n]*(\r\n)')
        body, n = pat.subn(lambda m: m.group(1) + v.encode() + m.group(2), body, count=1)
        if n != 1:
            h.fail(f"the multipart body has no {k} field to sign")
    return body


def build_request(kind: str, name: str, body: bytes, exp: dict[str, Any]
                  ) -> tuple[str, bytes, dict[str, str]]:
    """(target, body, headers) of one corpus case."""
    channel = channel_name(kind)
    query = exp.get("query", "")
    if query and not query.startswith("?"):
        query = "?" + query
    target = f"/v1/webhooks/{channel}" + query
    ct = exp.get("content_type")
    hdrs: dict[str, str] = {}
    if kind in ("whatsapp", "messenger", "instagram"):
        hdrs = {"Content-Type": ct or "application/json",
                "X-Hub-Signature-256": h.meta_signature(META_SECRET, body)}
    elif kind == "x":
        hdrs = {"Content-Type": ct or "application/json",
                "x-twitter-webhooks-signature": h.x_signature(X_SECRET, body)}
    elif kind == "telegram":
        hdrs = {"Content-Type": ct or "application/json",
                "X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    elif kind == "twilio":
        params = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)
        url = PUBLIC_BASE + channel + query
        hdrs = {"Content-Type": ct or "application/x-www-form-urlencoded",
                "X-Twilio-Signature": h.twilio_signature(TWILIO_TOKEN, url, params)}
    elif kind == "mailgun":
        if name.endswith(".form"):
            fields = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)
            body = urllib.parse.urlencode(mailgun_fresh(fields)).encode()
            hdrs = {"Content-Type": ct or "application/x-www-form-urlencoded"}
        elif name.endswith(".multipart"):
            body = mailgun_multipart_fresh(body)
            hdrs = {"Content-Type": ct}
        else:  # an event webhook: {"signature": {...}, "event-data": {...}}
            doc = json.loads(body)
            doc["signature"] = h.mailgun_signature(MAILGUN_KEY)
            body = json.dumps(doc).encode()
            hdrs = {"Content-Type": ct or "application/json"}
    elif kind in ("sendgrid", "postmark"):
        hdrs = {"Content-Type": ct or "application/json",
                "Authorization": h.basic_auth("corpus", SHARED_SECRET)}
    elif kind == "mime":
        hdrs = {"Content-Type": ct or "message/rfc822",
                "Authorization": f"Bearer {SHARED_SECRET}"}
    else:  # chat, callback
        hdrs = h.webhook_headers(SW_SECRET, body, content_type=ct or "application/json")
    return target, body, hdrs


# ---- the run -------------------------------------------------------------------------------


def api(c: h.Client, path: str, problems: list[str]) -> Any:
    r = c.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
    if r.status != 200:
        problems.append(f"GET {path}: {r}")
        return None
    return r.json


def metric_counts(c: h.Client, channel: str) -> dict[str, float]:
    m = h.scrape_metrics(c)
    return {o: h.metric(m, "switchboard_messages_total", channel=channel, outcome=o, reason="") or 0
            for o in ("accepted", "duplicate", "ignored", "unreadable")}


def cases(kind: str) -> list[tuple[str, str]]:
    folder = os.path.join(CORPUS, kind)
    only = os.environ.get("SB_CORPUS_CASE")
    out = []
    for f in sorted(os.listdir(folder)):
        if f.endswith(".expect.json"):
            base = f[: -len(".expect.json")]
            if only and base != only:
                continue
            bodies = [b for b in os.listdir(folder)
                      if b.startswith(base + ".") and not b.endswith(".expect.json")]
            if len(bodies) != 1:
                h.fail(f"{kind}/{base}: expected one body file beside the expectation, found "
                       f"{bodies}")
            out.append((base, bodies[0]))
    return out


def main(ck: h.Checks) -> None:
    selected = [t for t in os.environ.get("SB_CORPUS", ",".join(TYPES)).split(",") if t]
    env = h.Env(api_tokens=[TOKEN], extra_channels=channels_yaml(), max_body_bytes=4 << 20)
    env.start()
    c = env.client()
    agent = h.Consumer(env.amqp_url, list(env.queues.values()))
    db = sqlite3.connect(f"file:{env.store_path}?mode=ro", uri=True)

    readme = {t: open(os.path.join(CORPUS, t, "README.md")).read() for t in selected}
    per_type: dict[str, int] = collections.Counter()
    failed: dict[str, list[str]] = collections.defaultdict(list)
    routed: set[str] = set()  # inbound message ids the queues must carry

    for kind in selected:
        channel = channel_name(kind)
        for base, body_file in cases(kind):
            per_type[kind] += 1
            where = f"{kind}/{base}"
            with open(os.path.join(CORPUS, kind, base + ".expect.json")) as f:
                exp = json.load(f)
            with open(os.path.join(CORPUS, kind, body_file), "rb") as f:
                raw = f.read()
            problems: list[str] = []
            if not exp.get("source") or not exp.get("about"):
                problems.append("the expectation needs source and about")
            if body_file not in readme[kind]:
                problems.append(f"{body_file} is not in {kind}/README.md (its provenance)")

            before = metric_counts(c, channel)
            last_row = db.execute("SELECT coalesce(max(rowid), 0) FROM messages").fetchone()[0]
            target, body, hdrs = build_request(kind, body_file, raw, exp)
            r = c.request("POST", target, body, hdrs)
            want = exp["answer"]
            if r.status != want["status"]:
                problems.append(f"status {r.status}, expected {want['status']}: {r.body[:300]!r}")
                failed[where] = problems
                continue

            rows = db.execute(
                "SELECT id, conversation_id FROM messages WHERE rowid > ? AND channel = ? "
                "ORDER BY rowid", (last_row, channel)).fetchall()
            answer = r.json if r.headers.get("content-type", "").startswith("application/json") \
                else None
            if answer is not None and "accepted" in answer:
                counts = {"accepted": len(answer["accepted"]), "duplicates": answer["duplicates"],
                          "ignored": answer["ignored"], "unreadable": answer.get("unreadable")}
                ids = [a["message_id"] for a in answer["accepted"]]
                if ids != [row[0] for row in rows]:
                    problems.append(f"the answer's message ids {ids} are not the rows stored "
                                    f"{[row[0] for row in rows]}")
                skills = [a["skill"] for a in answer["accepted"]]
            else:  # TwiML: the counts from /metrics, the messages from the store
                after = metric_counts(c, channel)
                counts = {"accepted": int(after["accepted"] - before["accepted"]),
                          "duplicates": int(after["duplicate"] - before["duplicate"]),
                          "ignored": int(after["ignored"] - before["ignored"]),
                          "unreadable": int(after["unreadable"] - before["unreadable"])}
                skills = None
            for key in ("accepted", "duplicates", "ignored", "unreadable"):
                if key in want and counts[key] != want[key]:
                    problems.append(f"{key}: {counts[key]}, expected {want[key]}")

            expected_msgs = exp.get("messages", [])
            if len(expected_msgs) != len(rows):
                problems.append(f"{len(rows)} message(s) stored, the expectation lists "
                                f"{len(expected_msgs)}")
            for i, (row, em) in enumerate(zip(rows, expected_msgs)):
                conv = api(c, f"/v1/conversations/{row[1]}", problems)
                if conv is None:
                    continue
                stored = next((m for m in conv["thread"] if m["id"] == row[0]), None)
                if stored is None:
                    problems.append(f"message {i}: not in its conversation's thread")
                    continue
                if not stored.get("provider_id"):
                    problems.append(f"message {i}: empty provider_id")
                match(stored, em.get("message", {}), f"messages[{i}]", problems)
                identities_present(conv["customer"]["identities"], em.get("identities", []),
                                   problems)
                if "skill" in em:
                    skill = skills[i] if skills is not None else (
                        conv["conversation"]["skill"] if stored["direction"] == "inbound" else None)
                    if skill != em["skill"]:
                        problems.append(f"message {i}: skill {skill!r}, expected {em['skill']!r}")
                if stored["direction"] == "inbound":
                    routed.add(row[0])

            want_kept = exp.get("unreadable", [])
            if want_kept or counts.get("unreadable"):
                listing = api(c, f"/v1/unreadable?channel={channel}&limit=1", problems)
                kept = listing["unreadable"] if listing else []
                events = kept[0]["events"] if kept else []
                if len(events) != len(want_kept):
                    problems.append(f"unreadable events {events!r:.400}, expected {want_kept!r}")
                for got, w in zip(events, want_kept):
                    if got["path"] != w["path"]:
                        problems.append(f"unreadable path {got['path']!r}, expected {w['path']!r}")
                    if w.get("reason") and w["reason"] not in got["reason"]:
                        problems.append(f"unreadable reason {got['reason']!r} lacks {w['reason']!r}")
            if problems:
                failed[where] = problems

    # Every inbound message reached its skill queue, in a payload the schema accepts (the
    # harness validates each one it consumes).
    got = agent.drain(idle=2.0, deadline=60.0,
                      until=lambda ms: routed <= {m.message_id for m in ms})
    consumed = {m.message_id for m in got}
    missing = routed - consumed
    ck.check(not missing, f"all {len(routed)} routed corpus messages were published",
             sorted(missing)[:10])

    h.print_table(sorted((k, per_type[k], sum(1 for w in failed if w.startswith(k + "/")))
                         for k in per_type), ("type", "cases", "failed"))
    total = sum(per_type.values())
    h.log(f"{total} corpus cases, {len(failed)} failed, {len(consumed)} payloads consumed")
    for where, problems in sorted(failed.items()):
        for p in problems[:8]:
            ck.check(False, where, p)
    ck.check(total > 0, "the corpus has cases")
    db.close()


if __name__ == "__main__":
    h.run(main, timeout=600)
