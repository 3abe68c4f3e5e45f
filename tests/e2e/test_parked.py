#!/usr/bin/python3
"""A message the broker refuses for good never stalls the publisher (issue #18, section 4).

RabbitMQ refuses a publish above its max_message_size by closing the channel (406), which
also costs every message in flight on it. Before, the publisher published the same outbox row
again after each reopen, for ever, and nothing behind it went out. Now the daemon learns the
limit from the broker's reply, parks what is above it (moved out of the outbox), counts it
(switchboard_parked_total, switchboard_outbox_parked), lists it (GET /v1/parked), and lets ops
publish it again or forget it.

The broker's limit is lowered to 5 MiB for this test only (application:set_env, which new
channels read; restored at the end); no other test publishes payloads above 4 MiB (the
default store.max_payload_bytes), so tests running beside this one are not affected.
"""

from __future__ import annotations

import os
import secrets as pysecrets
import sys
import time
from typing import Any, Callable

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

LIMIT = 5 * 1024 * 1024
DEFAULT_LIMIT = 128 * 1024 * 1024  # RabbitMQ 3.10's default max_message_size
TOKEN = "parked-api-token-" + pysecrets.token_hex(8)


def set_broker_limit(ck: h.Checks, size: int) -> None:
    r = h.rabbitmqctl("eval", f"application:set_env(rabbit, max_message_size, {size}).")
    ck.require(r.returncode == 0, f"rabbitmqctl eval: max_message_size = {size}",
               f"{r.stdout} {r.stderr}")


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got or time.monotonic() >= deadline:
            return got
        time.sleep(0.2)


def main(ck: h.Checks) -> None:
    h.on_cleanup("restore the broker's max_message_size", lambda: h.rabbitmqctl(
        "eval", f"application:set_env(rabbit, max_message_size, {DEFAULT_LIMIT})."))
    set_broker_limit(ck, LIMIT)
    env = h.Env(max_body_bytes=16 * 1024 * 1024, max_payload_bytes=12 * 1024 * 1024,
                api_tokens=[TOKEN])
    d = env.start()
    c = env.client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    agent = h.Consumer(env.amqp_url, list(env.queues.values()))
    run = pysecrets.token_hex(4)

    def api(method: str, path: str) -> h.Response:
        return c.request(method, path, headers=auth)

    def parked() -> list[dict]:
        r = api("GET", "/v1/parked")
        ck.require(r.status == 200, "GET /v1/parked: 200", r)
        return r.json["parked"]

    def post(mid: str, visitor: str, text: str) -> dict:
        r = env.post(c, h.chat_message(mid, visitor, text))
        ck.require(r.status == 202, f"{mid}: 202", r)
        return r.json["accepted"][0]

    # ---- two messages above the broker's limit among small ones, each its own customer ----
    huge = {k: f"{k} " + "z" * (6 * 1024 * 1024) for k in ("A", "B")}
    small, big = [], {}
    for i in range(3):
        small.append(post(f"small-{run}-{i}", f"v-small-{run}-{i}", f"small message {i}"))
    big["A"] = post(f"huge-{run}-A", f"v-huge-{run}-A", huge["A"])
    for i in range(3, 6):
        small.append(post(f"small-{run}-{i}", f"v-small-{run}-{i}", f"small message {i}"))
    big["B"] = post(f"huge-{run}-B", f"v-huge-{run}-B", huge["B"])
    for i in range(6, 9):
        small.append(post(f"small-{run}-{i}", f"v-small-{run}-{i}", f"small message {i}"))

    small_ids = {a["message_id"] for a in small}
    big_ids = {a["message_id"] for a in big.values()}
    got = agent.drain(until=lambda ms: small_ids <= {m.message_id for m in ms}, deadline=60)
    got_ids = {m.message_id for m in got}
    ck.check(small_ids <= got_ids, "every message around the refused ones reached its queue",
             len(small_ids - got_ids))
    ck.check(not (big_ids & got_ids), "the refused ones did not")

    rows = wait_for("both parked", lambda: len(parked()) == 2 and parked())
    ck.require(rows and len(rows) == 2, "GET /v1/parked lists both refused messages", rows)
    by_mid = {r["message_id"]: r for r in rows}
    ck.equal(set(by_mid), big_ids, "the parked rows are the two huge messages")
    for k, a in big.items():
        row = by_mid.get(a["message_id"], {})
        ck.equal(row.get("conversation_id"), a["conversation_id"], f"{k}: its conversation")
        ck.equal(row.get("skill"), "general", f"{k}: its skill")
        ck.equal(row.get("channel"), env.channel, f"{k}: its channel")
        ck.check(row.get("bytes", 0) > LIMIT, f"{k}: its payload's size, above the limit",
                 row.get("bytes"))
        ck.check(str(LIMIT) in row.get("reason", ""), f"{k}: the reason names the limit",
                 row.get("reason"))
    m = h.scrape_metrics(c)
    ck.equal(h.metric(m, "switchboard_outbox_parked"), 2.0, "/metrics: two parked")
    ck.equal(h.metric(m, "switchboard_parked_total", skill="general"), 2.0,
             "/metrics: parked_total counts them")
    backlog = wait_for("backlog 0", lambda: h.metric(h.scrape_metrics(c),
                                                     "switchboard_outbox_backlog") == 0.0)
    ck.check(backlog, "the outbox backlog is back to 0: parked rows hold nothing up")
    ck.equal(c.get("/readyz").status, 200, "/readyz: ready")
    ck.check("parked seq=" in d.log_text() and "max_message_size" in d.log_text(),
             "the log says what was parked and why")

    # ---- the API's errors ----
    ck.equal(c.request("GET", "/v1/parked").status, 401, "GET /v1/parked without a token: 401")
    ck.equal(api("GET", "/v1/parked?limit=0").status, 400, "limit=0: 400")
    ck.equal(api("GET", "/v1/parked?nope=1").status, 400, "an unknown parameter: 400")
    ck.equal(api("DELETE", "/v1/parked/abc").status, 404, "a seq that is not a number: 404")
    ck.equal(api("DELETE", "/v1/parked/999999").status, 404, "an unknown seq: 404")
    ck.equal(api("POST", "/v1/parked/999999/republish").status, 404, "republish unknown: 404")
    ck.equal(api("PUT", f"/v1/parked/{by_mid[big['A']['message_id']]['seq']}").status, 405,
             "PUT on a parked row: 405")
    ck.equal(len(api("GET", "/v1/parked?limit=1").json["parked"]), 1, "limit=1: one row")

    # ---- DELETE forgets B (its message stays stored, in the read API) ----
    seq_b = by_mid[big["B"]["message_id"]]["seq"]
    r = api("DELETE", f"/v1/parked/{seq_b}")
    ck.equal(r.status, 200, "DELETE /v1/parked/{seq}: 200")
    ck.equal(r.json, {"seq": seq_b, "status": "deleted"}, "it says so")
    ck.equal([x["message_id"] for x in parked()], [big["A"]["message_id"]], "only A is left")
    conv = api("GET", f"/v1/conversations/{big['B']['conversation_id']}")
    ck.equal(conv.status, 200, "B's conversation is still in the read API")
    ck.check(conv.json["thread"][-1]["text"] == huge["B"], "with B's message whole")

    # ---- republished while the broker still refuses it: parked again, nothing stalls ----
    seq_a = by_mid[big["A"]["message_id"]]["seq"]
    r = api("POST", f"/v1/parked/{seq_a}/republish")
    ck.equal(r.status, 200, "POST /v1/parked/{seq}/republish: 200")
    new_seq = (r.json or {}).get("new_seq", 0)
    ck.check(new_seq > seq_a, "it went back into the outbox as a new row", r.json)
    again = wait_for("parked again", lambda: [x for x in parked() if x["seq"] == new_seq])
    ck.check(again, "still above the broker's limit: parked again under its new seq", parked())
    later = post(f"small-{run}-later", f"v-small-{run}-later", "after the republish")
    got = agent.drain(until=lambda ms: later["message_id"] in {x.message_id for x in ms},
                      deadline=30)
    ck.check(later["message_id"] in {x.message_id for x in got}, "and messages behind it go out")
    ck.check(big["A"]["message_id"] not in {x.message_id for x in got}, "A was not delivered")

    # ---- the broker takes it once its limit is raised (a restart, here the daemon's) ----
    set_broker_limit(ck, DEFAULT_LIMIT)
    d.restart()
    c.close()  # its keep-alive connection was to the daemon before the restart
    r = api("POST", f"/v1/parked/{new_seq}/republish")
    ck.equal(r.status, 200, "republished after the limit was raised: 200")
    got = agent.drain(until=lambda ms: big["A"]["message_id"] in {x.message_id for x in ms},
                      deadline=60)
    a_msgs = [x for x in got if x.message_id == big["A"]["message_id"]]
    ck.check(a_msgs, "A reached its queue")
    if a_msgs:  # cut to the payload bound (it is in `message` and in `thread`), but A's
        text = a_msgs[0].body["message"]["text"]
        ck.check(len(text) > LIMIT // 2 and huge["A"].startswith(text[:1024]),
                 "with A's text", len(text))
    ck.equal(parked(), [], "nothing is parked now")
    ck.equal(h.metric(h.scrape_metrics(c), "switchboard_outbox_parked"), 0.0,
             "/metrics: none parked")
    agent.close()


if __name__ == "__main__":
    h.run(main, timeout=300)
