"""No signature is good twice (issue #18, section 5), against the real daemon and broker:

- Mailgun signs only timestamp + token, not the mail. A triple taken from one request (here an
  event webhook, which every Mailgun account sends, signed with the same key) must not
  authenticate a forged mail: 401. At 9a97f07 the forged mail was stored and routed (202).
- Mailgun's retry of a route post (the same fields, a new multipart boundary) is still a
  duplicate (200), not a replay: nothing a provider really sends is refused.
- Standard Webhooks (chat): a webhook-id already used with another body is refused; the sender's
  retry of the same bytes is a duplicate.
- The memory survives a restart: after SIGTERM and a new start, the captured triple and the
  used webhook-id are still refused.
"""

from __future__ import annotations

import json
import secrets as pysecrets
import time

import harness as h

MAILGUN_KEY = "key-" + pysecrets.token_hex(16)


def mailgun_post(fields: list[tuple[str, str]], sig: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    return h.multipart_form([*fields, *sig.items()])


def mail_fields(msg_id: str, text: str) -> list[tuple[str, str]]:
    return [("recipient", "support@acme.example"), ("sender", "ann@example.com"),
            ("from", "Ann Lee <ann@example.com>"), ("subject", "Invoice"),
            ("body-plain", text), ("Message-Id", f"<{msg_id}@example.com>")]


def main(ck: h.Checks) -> None:
    env = h.Env(extra_channels=f"""
  - name: mg
    type: mailgun
    secret: {h.yq(MAILGUN_KEY)}
""")
    d = env.start()
    c = env.client()
    run = pysecrets.token_hex(4)

    # ---- a Mailgun event webhook: its triple is what an attacker could capture ----
    sig = h.mailgun_signature(MAILGUN_KEY)
    event = json.dumps({"signature": sig, "event-data": {"event": "delivered",
                                                         "id": "evt-" + run}}).encode()
    r = c.request("POST", "/v1/webhooks/mg", event, {"Content-Type": "application/json"})
    ck.equal(r.status, 200, "the event webhook: 200, ignored")

    body, hdrs = mailgun_post(mail_fields(f"forged-{run}", "Our bank details changed, pay to X"),
                              sig)
    r = c.request("POST", "/v1/webhooks/mg", body, hdrs)
    ck.equal((r.status, (r.json or {}).get("error")), (401, "bad_signature"),
             "a forged mail signed with the event's triple: 401")
    ck.check(d.log_grep("a signature already used came back with other content channel=mg"),
             "the replay is logged")

    # ---- a route post and Mailgun's retry of it (a new multipart boundary) ----
    sig2 = h.mailgun_signature(MAILGUN_KEY)
    fields = mail_fields(f"real-{run}", "Where is my invoice?")
    body, hdrs = mailgun_post(fields, sig2)
    r = c.request("POST", "/v1/webhooks/mg", body, hdrs)
    ck.equal(r.status, 202, "the mail: 202")
    body, hdrs = mailgun_post(fields, sig2)  # multipart_form picks a new boundary
    r = c.request("POST", "/v1/webhooks/mg", body, hdrs)
    ck.equal((r.status, (r.json or {}).get("duplicates")), (200, 1),
             "Mailgun's retry of it: a duplicate, not a replay")
    body, hdrs = mailgun_post(mail_fields(f"real2-{run}", "Where is my invoice? (changed)"), sig2)
    ck.equal(c.request("POST", "/v1/webhooks/mg", body, hdrs).status, 401,
             "its triple with another mail: 401")

    # ---- Standard Webhooks: one webhook-id, one body ----
    msg = h.chat_message(f"sw-{run}", "v-1", "hello")
    data = json.dumps(msg).encode()
    wid, ts = f"msg_{run}", int(time.time())
    r = c.request("POST", f"/v1/webhooks/{env.channel}", data,
                  h.webhook_headers(env.secret, data, webhook_id=wid, timestamp=ts))
    ck.equal(r.status, 202, "chat: 202")
    r = c.request("POST", f"/v1/webhooks/{env.channel}", data,
                  h.webhook_headers(env.secret, data, webhook_id=wid, timestamp=ts))
    ck.equal((r.status, (r.json or {}).get("duplicates")), (200, 1),
             "the sender's retry of the same bytes: a duplicate")
    other = json.dumps({**msg, "id": f"sw2-{run}", "text": "another text"}).encode()
    r = c.request("POST", f"/v1/webhooks/{env.channel}", other,
                  h.webhook_headers(env.secret, other, webhook_id=wid, timestamp=ts))
    ck.equal((r.status, (r.json or {}).get("error")), (401, "bad_signature"),
             "the same webhook-id with another body, validly signed: 401")

    # ---- after a restart ----
    ck.equal(d.stop(), 0, "SIGTERM: exit 0")
    d.start()
    c = env.client()
    body, hdrs = mailgun_post(mail_fields(f"forged2-{run}", "Pay to X, now"), sig)
    ck.equal(c.request("POST", "/v1/webhooks/mg", body, hdrs).status, 401,
             "after a restart, the event's triple still signs nothing else")
    r = c.request("POST", f"/v1/webhooks/{env.channel}", other,
                  h.webhook_headers(env.secret, other, webhook_id=wid, timestamp=ts))
    ck.equal(r.status, 401, "after a restart, the used webhook-id is still refused another body")
    body, hdrs = mailgun_post(fields, sig2)
    ck.equal(c.request("POST", "/v1/webhooks/mg", body, hdrs).status, 200,
             "after a restart, Mailgun's retry is still a duplicate")
    ck.equal(d.stop(), 0, "SIGTERM: exit 0")
    ck.equal(d.sanitizer_reports(), [], "no sanitizer reports")


if __name__ == "__main__":
    h.run(main, timeout=180)
