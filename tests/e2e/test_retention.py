#!/usr/bin/python3
"""Retention in a running daemon (issue #21): with `retention.max_age: 2s`, conversations
silent for 2 s are deleted by the daemon's own passes between the writer's batches, with their
customers; a provider's retry of a deleted message is still answered as a duplicate (the
dedupe horizon keeps its key as a hash); a conversation still being written to stays; the
metrics count what went; the store passes its integrity check."""

from __future__ import annotations

import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

TOKEN = "ret-" + os.urandom(8).hex()
N = 20


def main(ck: h.Checks) -> None:
    env = h.Env(api_tokens=[TOKEN], extra_config=(
        "retention:\n  max_age: 2s\n  dedupe_horizon: 1h\n  interval: 200ms\n  batch: 5\n"))
    env.start()
    agent = h.Consumer(env.amqp_url, list(env.queues.values()))
    c = env.client()

    def api(path: str) -> h.Response:
        return env.client().request("GET", path, None, {"Authorization": f"Bearer {TOKEN}"})

    first = [h.chat_message(f"old-{i}", f"v-{i}", f"message {i}") for i in range(N)]
    accepted = []
    for m in first:
        r = env.post(c, m)
        ck.require(r.status == 202, f"{m['id']}: 202", r.status)
        accepted.append(r.json["accepted"][0])
    ck.equal(len(agent.drain(until=lambda ms: len(ms) >= N)), N, f"{N} messages consumed")

    # A conversation kept busy: a message every half second while the others age.
    busy = None
    deadline = time.monotonic() + 20
    gone = 0
    i = 0
    while time.monotonic() < deadline:
        r = env.post(c, h.chat_message(f"busy-{i}", "v-busy", f"still here {i}"))
        ck.require(r.status == 202, f"busy-{i}: 202", r.status)
        busy = busy or r.json["accepted"][0]
        i += 1
        gone = sum(api(f"/v1/customers/{a['customer_id']}").status == 404 for a in accepted)
        if gone == N:
            break
        time.sleep(0.5)
    ck.equal(gone, N, f"all {N} silent customers deleted within 20 s")
    ck.equal(api(f"/v1/customers/{busy['customer_id']}").status, 200,
             "the conversation still written to stays")
    m = h.scrape_metrics(c)
    ck.check((h.metric(m, "switchboard_retention_deleted_total", what="messages") or 0) >= N,
             "switchboard_retention_deleted_total{what=messages} counts them",
             h.metric(m, "switchboard_retention_deleted_total", what="messages"))
    ck.check((h.metric(m, "switchboard_retention_passes_total") or 0) >= N / 5,
             "in passes of at most batch (5) messages",
             h.metric(m, "switchboard_retention_passes_total"))
    # The provider retries a deleted message: a duplicate, nothing stored again.
    r = env.post(c, first[0])
    ck.equal((r.status, (r.json or {}).get("duplicates")), (200, 1),
             "a retry of a deleted message is answered as a duplicate")
    ck.equal(api("/v1/customers?identity=chat:web-chat:v-0").status, 404,
             "and stores nothing")
    agent.drain(idle=1)
    env.finish(ck, "retention", integrity=True)


if __name__ == "__main__":
    h.run(main, timeout=120)
