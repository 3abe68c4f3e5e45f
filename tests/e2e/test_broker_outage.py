#!/usr/bin/python3
"""A broker outage under load: with clients posting continuously, the RabbitMQ application is
stopped for 10 s (`rabbitmqctl stop_app`, then `start_app`). During the outage the daemon must
keep answering 2xx (the outbox holds the messages) and /healthz must stay 200; after the broker
returns, the daemon reconnects on its own and every acknowledged message is consumed (lost = 0).

The broker is shared with the other tests: start_app runs in a cleanup, so a failing or
interrupted test never leaves it down.
"""

from __future__ import annotations

import collections
import http.client
import os
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

THREADS = 4
RATE_PER_THREAD = 30.0   # messages per second per client: the load spans the whole outage
PRE_SECONDS = 4.0
OUTAGE_SECONDS = 10.0
POST_SECONDS = 6.0
MIN_TOTAL = 1600
DRAIN_DEADLINE = 150.0   # the daemon's reconnect backoff is at most 30 s


BOUND = 40  # store.max_backlog of the second daemon, which checks /readyz past its bound


def main(ck: h.Checks) -> None:
    node = h.broker_node()
    env = h.Env(threads=2)
    d = env.start()
    bounded = h.Env(max_backlog=BOUND)
    bounded.start()
    ledger = h.Ledger()
    stop_load = threading.Event()
    phase = ["pre"]
    sent_by_phase: collections.Counter[str] = collections.Counter()
    acked_by_phase: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()

    def client(i: int) -> None:
        c = env.client(timeout=30, idle_limit=5)
        n = 0
        next_at = time.monotonic()
        try:
            while not stop_load.is_set():
                pid = f"outage-t{i}-{n:05d}"
                v = n % 40
                text = (f"refund request {n}" if v % 5 == 0 else f"client {i} message {n}")
                body = h.chat_message(pid, f"v-{i}-{v}", text, name=f"Visitor {i}-{v}",
                                      session=f"s-{i}-{v}")
                p = phase[0]
                with lock:
                    sent_by_phase[p] += 1
                if h.deliver(c, env, pid, body, ledger, give_up_after=120):
                    with lock:
                        acked_by_phase[p] += 1
                n += 1
                next_at += 1.0 / RATE_PER_THREAD
                time.sleep(max(0.0, next_at - time.monotonic()))
        finally:
            c.close()

    threads = [threading.Thread(target=client, args=(i,), name=f"client-{i}", daemon=True)
               for i in range(THREADS)]
    for t in threads:
        t.start()
    snapshots: dict[str, tuple[collections.Counter[int], collections.Counter[str]]] = {}

    def snapshot(name: str) -> None:
        with ledger.lock:
            snapshots[name] = (collections.Counter(ledger.statuses),
                               collections.Counter(ledger.errors))

    def delta(a: str, b: str) -> tuple[dict[int, int], dict[str, int]]:
        s = snapshots[b][0] - snapshots[a][0]
        e = snapshots[b][1] - snapshots[a][1]
        return dict(s), dict(e)

    snapshot("start")
    h.log(f"load: {THREADS} clients at {RATE_PER_THREAD:.0f} msg/s each")
    time.sleep(PRE_SECONDS)

    # ---- the outage ----
    stopped = [False]

    def restore_broker() -> None:
        if stopped[0]:
            r = h.rabbitmqctl("start_app")
            if r.returncode != 0:
                h.log(f"start_app failed ({r.returncode}): {r.stdout} {r.stderr}")
            stopped[0] = False

    h.on_cleanup("rabbitmqctl start_app", restore_broker)
    port = h.amqp_port(env.amqp_url)
    health = h.Client(env.port, timeout=10, idle_limit=1)
    health_status: collections.Counter[str] = collections.Counter()
    broker_down_seen = False

    snapshot("pre")
    phase[0] = "outage"
    stopped[0] = True
    t_stop = time.monotonic()
    r = h.rabbitmqctl("stop_app")
    ck.require(r.returncode == 0, f"rabbitmqctl -n {node} stop_app", f"{r.stdout} {r.stderr}")
    h.log(f"broker application stopped (stop_app took {time.monotonic() - t_stop:.1f}s)")
    t_down = time.monotonic()
    bounded_acked = check_bound_during_outage(ck, bounded)
    while time.monotonic() - t_down < OUTAGE_SECONDS:
        try:
            hr = health.get("/healthz")
            health_status[str(hr.status)] += 1
        except (OSError, http.client.HTTPException) as e:
            health_status[type(e).__name__] += 1
        if not broker_down_seen and not h.port_answers(port):
            broker_down_seen = True
        time.sleep(0.5)
    acked_in_outage_so_far = ledger.acked_count
    t_start = time.monotonic()
    r = h.rabbitmqctl("start_app")
    ck.require(r.returncode == 0, f"rabbitmqctl -n {node} start_app", f"{r.stdout} {r.stderr}")
    stopped[0] = False
    wait_until = time.monotonic() + 60
    while not h.port_answers(port) and time.monotonic() < wait_until:
        time.sleep(0.2)
    ck.require(h.port_answers(port), "the broker answers again after start_app")
    outage_s = time.monotonic() - t_stop
    h.log(f"broker application started (start_app took {time.monotonic() - t_start:.1f}s); "
          f"outage {outage_s:.1f}s")
    snapshot("outage")
    phase[0] = "post"

    # ---- after: keep the load a little longer, then stop it ----
    t_post = time.monotonic()
    while (time.monotonic() - t_post < POST_SECONDS
           or (len(ledger.sent) < MIN_TOTAL and time.monotonic() - t_post < 90)):
        time.sleep(0.2)
    stop_load.set()
    for t in threads:
        t.join(150)
    ck.check(not any(t.is_alive() for t in threads), "all clients stopped")
    snapshot("post")
    h.log(f"load stopped: {len(ledger.sent)} sent, {ledger.acked_count} acknowledged")

    # ---- the bounded daemon is ready again and delivers what it acknowledged ----
    bc = bounded.client()
    deadline = time.monotonic() + 60
    while bc.get("/readyz").status != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    ck.equal(bc.get("/readyz").status, 200, "/readyz is 200 again once the backlog drains")
    got_b = h.Consumer(bounded.amqp_url, list(bounded.queues.values())).drain(
        until=lambda ms: len(ms) >= len(bounded_acked), idle=1.0)
    ck.equal(sorted(m.provider_id for m in got_b), sorted(bounded_acked),
             "the bounded daemon's acknowledged messages are all consumed")
    ck.equal(bounded.daemon.stop(), 0, "the bounded daemon stops with exit 0")

    # ---- drain ----
    agent = h.Consumer(env.amqp_url, list(env.queues.values()))
    t_drain = time.monotonic()
    _, first_after = h.drain_acked(agent, ledger, DRAIN_DEADLINE)
    drain_s = time.monotonic() - t_drain

    rc = d.stop(signal.SIGTERM)
    integrity = h.integrity_check(env.store_path)

    s = ledger.report(f"broker outage: {OUTAGE_SECONDS:.0f}s stop_app under "
                      f"{THREADS * RATE_PER_THREAD:.0f} msg/s")
    rows = []
    for a, b in (("start", "pre"), ("pre", "outage"), ("outage", "post")):
        st, er = delta(a, b)
        non2xx = sum(v for k, v in st.items() if not 200 <= k < 300)
        rows.append((b, sent_by_phase[b], acked_by_phase[b],
                     sum(v for k, v in st.items() if 200 <= k < 300), non2xx,
                     sum(er.values())))
    h.print_table(rows, ("phase", "sent", "acked", "2xx replies", "non-2xx", "conn errors"))
    h.print_table([
        ("outage (stop_app .. broker answering)", f"{outage_s:.1f}s"),
        ("AMQP port refused during the outage", broker_down_seen),
        ("/healthz during the outage", dict(health_status)),
        ("acked by the end of the outage", acked_in_outage_so_far),
        ("drain time (first message after)",
         f"{drain_s:.1f}s ({first_after if first_after is None else round(first_after, 1)}s)"),
        ("daemon exit code on SIGTERM", rc),
        ("PRAGMA integrity_check", integrity),
        ("sanitizer reports", len(d.sanitizer_reports())),
    ], ("", "value"))
    for l in [l for l in d.log_text().splitlines()
              if "broker" in l.lower() or "publisher" in l.lower()][:12]:
        print(f"  daemon: {l.strip()[:200]}")

    st, er = delta("pre", "outage")
    ck.equal({k: v for k, v in st.items() if not 200 <= k < 300}, {},
             "non-2xx replies during the outage")
    ck.equal(er, {}, "connection errors during the outage")
    ck.check(acked_by_phase["outage"] > 0, "messages were acknowledged during the outage",
             acked_by_phase["outage"])
    ck.check(broker_down_seen, "the broker's AMQP port was really closed during the outage")
    ck.equal(set(health_status), {"200"}, "/healthz during the outage")
    ck.check(len(ledger.sent) >= 1500, "at least 1,500 messages were posted", len(ledger.sent))
    ck.equal(s["gave up"], 0, "every message was acknowledged")
    ck.equal(s["lost"], 0, "lost (acknowledged but never consumed)")
    ck.equal(s["unexpected"], 0, "unexpected (consumed but never sent)")
    ck.equal(s["dedupe failures"], 0, "provider ids stored as two Switchboard messages")
    ck.equal(rc, 0, "SIGTERM: the daemon drains and exits 0")
    ck.equal(integrity, "ok", "PRAGMA integrity_check")
    ck.equal(d.sanitizer_reports(), [], "no sanitizer reports in the daemon log")


def check_bound_during_outage(ck: h.Checks, env: h.Env) -> list[str]:
    """With the broker down, a daemon whose outbox reaches store.max_backlog stops promising:
    webhooks get 503 + Retry-After and /readyz turns 503 saying why; /metrics agrees."""
    c = env.client()
    acked: list[str] = []
    statuses: collections.Counter[int] = collections.Counter()
    for n in range(BOUND + 10):
        pid = f"bound-{n}"
        r = env.post(c, h.chat_message(pid, f"v-bound-{n}", f"bounded {n}"))
        statuses[r.status] += 1
        if r.status == 202:
            acked.append(pid)
        elif r.status == 503:
            ck.check(r.headers.get("retry-after"), "503 past the bound has Retry-After")
    ck.equal(dict(statuses), {202: BOUND, 503: 10},
             f"broker down: {BOUND} accepted up to max_backlog, then 503")
    r = c.get("/readyz")
    ck.equal(r.status, 503, "/readyz is 503 past the bound while the broker is down")
    detail = (r.json or {}).get("detail", "")
    ck.check("max_backlog" in detail and "disconnected" in detail,
             "/readyz says why: the backlog bound and the broker state", detail)
    m = h.scrape_metrics(c)
    ck.check(h.metric(m, "switchboard_ready") == 0
             and h.metric(m, "switchboard_broker_connected") == 0,
             "/metrics: switchboard_ready 0 and switchboard_broker_connected 0")
    ck.check(h.metric(m, "switchboard_outbox_backlog") == BOUND, f"/metrics: backlog {BOUND}")
    return acked


if __name__ == "__main__":
    h.run(main, timeout=600)
