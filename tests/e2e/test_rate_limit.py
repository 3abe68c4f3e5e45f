#!/usr/bin/python3
"""Per-source rate limiting (issue #7): token buckets by client address and by channel, 429
with Retry-After and the JSON error, nothing queued for a refused request; one noisy client
does not use up its channel's budget, and one flooded channel does not stop another."""

from __future__ import annotations

import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

OTHER_SECRET = h.new_secret()


def main(ck: h.Checks) -> None:
    env = h.Env(server_extra="""\
  rate_limit:
    per_client: 2
    per_client_burst: 5
    per_channel: 2
    per_channel_burst: 30
    trust_forwarded_for: true
""", extra_channels=f"""
  - name: other-chat
    type: chat
    secret: {h.yq(OTHER_SECRET)}
""")
    env.start()
    c = env.client()
    n = [0]

    def post(xff: str, channel: str = "web-chat") -> h.Response:
        n[0] += 1
        body = h.to_bytes(h.chat_message(f"rl-{n[0]}", f"v-rl-{n[0]}", "hello"))
        secret = env.secret if channel == "web-chat" else OTHER_SECRET
        headers = h.webhook_headers(secret, body)
        headers["X-Forwarded-For"] = f"203.0.113.9, {xff}"
        return c.request("POST", f"/v1/webhooks/{channel}", body, headers)

    accepted = 0
    # One client: its burst of 5, then 429.
    got = [post("198.51.100.1") for _ in range(9)]
    ck.equal([r.status for r in got], [202] * 5 + [429] * 4, "client A: burst 5, then 429")
    accepted += 5
    r = got[-1]
    ck.equal((r.json or {}).get("error"), "rate_limited", "429 body: error rate_limited")
    ck.check(r.headers.get("retry-after", "").isdigit() and int(r.headers["retry-after"]) >= 1,
             "429 has Retry-After in whole seconds", r.headers.get("retry-after"))
    # Another client (the last X-Forwarded-For entry differs) has its own bucket, and client A's
    # refused requests did not use up the channel's (30 - 5 used).
    got = [post("198.51.100.2") for _ in range(5)]
    ck.equal([r.status for r in got], [202] * 5, "client B: its own bucket")
    accepted += 5
    # Many clients, one request each: the channel's burst (30) runs out; 20 left.
    statuses = [post(f"198.51.100.{100 + i}").status for i in range(25)]
    ck.check(statuses.count(202) in (20, 21) and statuses.count(429) in (4, 5),
             "the channel's burst of 30 runs out across clients", statuses)
    accepted += statuses.count(202)
    # The other channel is not affected.
    r = post("198.51.100.200", channel="other-chat")
    ck.equal(r.status, 202, "a flooded channel does not stop another")
    accepted += 1
    # Tokens come back at the rate.
    time.sleep(1.1)
    ck.equal(post("198.51.100.1").status, 202, "client A again after its tokens refilled")
    accepted += 1

    agent = h.Consumer(env.amqp_url, list(env.queues.values()))
    got_msgs = agent.drain(idle=1.5, until=lambda ms: len(ms) >= accepted)
    ck.equal(len(got_msgs), accepted, "only the accepted requests were queued")
    m = h.scrape_metrics(c)
    ck.check(h.metric(m, "switchboard_messages_total", outcome="rejected", reason="rate_limited"),
             "/metrics counts rate_limited")


if __name__ == "__main__":
    h.run(main, timeout=120)
