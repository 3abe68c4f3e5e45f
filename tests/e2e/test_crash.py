#!/usr/bin/python3
"""The crash test: the durability promise under kill -9.

16 client threads post 5,000 uniquely identified signed chat messages (1,000 visitors x 5)
while the main thread SIGKILLs the daemon at three random moments (after about
20 %, 60 % and 84 % of the acknowledgements) and restarts it on the same
store. Clients retry connection-level failures and 5xx with the same message id, as a provider
would (dedupe makes that safe). Afterwards every acknowledged message must be consumed from
the queues (lost = 0), nothing unknown may appear (unexpected = 0), one provider message must
never become two Switchboard messages, and the store must pass PRAGMA integrity_check after a
graceful stop. Duplicate deliveries (at-least-once) are allowed and reported.
"""

from __future__ import annotations

import collections
import os
import random
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

VISITORS = int(os.environ.get("SB_E2E_CRASH_VISITORS", "1000"))
PER_VISITOR = 5
THREADS = 16
TOTAL = VISITORS * PER_VISITOR
LOAD_DEADLINE = 240.0  # seconds for all clients to finish posting
DRAIN_DEADLINE = 120.0


def message(visitor: int, k: int) -> tuple[str, dict]:
    pid = f"crash-v{visitor:05d}-{k}"
    if k == 0 and visitor % 4 == 0:
        text = f"Visitor {visitor}: question about invoice #{visitor}"  # → billing
    else:
        text = f"Visitor {visitor} says hello, message {k + 1} of {PER_VISITOR}"
    email = f"visitor{visitor}@example.com" if visitor % 2 == 0 else None
    return pid, h.chat_message(pid, f"v-{visitor:05d}", text, name=f"Visitor {visitor}",
                               email=email, session=f"s-{visitor}")


def main(ck: h.Checks) -> None:
    env = h.Env(threads=2)
    d = env.start()
    ledger = h.Ledger()
    stop = threading.Event()

    # Thread i owns visitors i, i+16, ...; it posts round k of all its visitors before round
    # k+1, so each visitor's messages are sent in order and conversations grow over the run.
    work: list[list[tuple[str, dict]]] = [[] for _ in range(THREADS)]
    for i in range(THREADS):
        mine = range(i, VISITORS, THREADS)
        for k in range(PER_VISITOR):
            for v in mine:
                work[i].append(message(v, k))

    def client(items: list[tuple[str, dict]]) -> None:
        c = env.client(timeout=30, idle_limit=5)
        try:
            for pid, body in items:
                if stop.is_set():
                    return
                h.deliver(c, env, pid, body, ledger, stop=stop)
        finally:
            c.close()

    threads = [threading.Thread(target=client, args=(w,), name=f"client-{i}", daemon=True)
               for i, w in enumerate(work)]
    t_load = time.monotonic()
    for t in threads:
        t.start()
    h.log(f"{THREADS} clients posting {TOTAL} messages")

    # The killer (the main thread: daemons are started from it, see harness.py).
    kill_points = sorted([random.randint(int(TOTAL * 0.16), int(TOTAL * 0.26)),
                          random.randint(int(TOTAL * 0.54), int(TOTAL * 0.66)),
                          random.randint(int(TOTAL * 0.80), int(TOTAL * 0.88))])
    kills: list[tuple[int, float, float]] = []  # (acked at kill, down seconds, restart seconds)
    deadline = t_load + LOAD_DEADLINE
    for point in kill_points:
        while ledger.acked_count < point and any(t.is_alive() for t in threads):
            if time.monotonic() > deadline:
                break
            time.sleep(0.005)
        if not any(t.is_alive() for t in threads) or time.monotonic() > deadline:
            break
        time.sleep(random.uniform(0, 0.05))
        at = ledger.acked_count
        d.kill()
        down = random.uniform(0.1, 1.0)
        h.log(f"SIGKILL #{len(kills) + 1} at {at} acks (pid {d.pid}); restarting in {down:.2f}s")
        time.sleep(down)
        t0 = time.monotonic()
        d.start()
        kills.append((at, down, time.monotonic() - t0))
        h.log(f"restarted (pid {d.pid}) in {kills[-1][2]:.2f}s")

    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    if any(t.is_alive() for t in threads):
        stop.set()
        for t in threads:
            t.join(30)
        ck.check(False, f"all clients finished posting within {LOAD_DEADLINE:.0f}s")
    load_s = time.monotonic() - t_load
    h.log(f"load done in {load_s:.1f}s: {ledger.acked_count} of {TOTAL} acknowledged")
    ck.check(len(kills) >= 2, "the daemon was SIGKILLed at least twice during the load",
             f"{len(kills)} kill(s)")
    ck.check(d.alive(), "the daemon is running after the load")

    # Drain like an agent: until every acknowledged id was seen and nothing came for 3 s.
    agent = h.Consumer(env.amqp_url, list(env.queues.values()))
    t_drain = time.monotonic()
    seen: set[str] = set()
    want = set(ledger.acked)

    got: list[h.Consumed] = []
    while True:
        batch = agent.drain(idle=3.0 if want <= seen else 0.5,
                            deadline=min(5.0, DRAIN_DEADLINE - (time.monotonic() - t_drain)))
        got += batch
        seen.update(m.provider_id for m in batch if m.provider_id)
        if want <= seen and not batch:
            break
        if time.monotonic() - t_drain > DRAIN_DEADLINE:
            h.log("drain deadline passed")
            break
    drain_s = time.monotonic() - t_drain
    ledger.record_consumed(got)
    h.log(f"drained {len(got)} deliveries in {drain_s:.1f}s")

    # One conversation per visitor (each visitor's messages were posted in order by one thread).
    convs: dict[str, set[str]] = collections.defaultdict(set)
    per_queue = collections.Counter(m.queue.rsplit(".", 1)[-1] for m in got)
    for m in got:
        if m.provider_id:
            convs[m.provider_id.rsplit("-", 1)[0]].add(m.properties.correlation_id)
    split = sum(1 for s in convs.values() if len(s) > 1)

    rc = d.stop(signal.SIGTERM)
    integrity = h.integrity_check(env.store_path)

    s = ledger.report(f"crash test: {TOTAL} messages, {THREADS} clients, "
                      f"{len(kills)} SIGKILLs")
    h.print_table([(f"kill #{i + 1}", at, f"{down:.2f}s", f"{up:.2f}s")
                   for i, (at, down, up) in enumerate(kills)],
                  ("event", "acked at kill", "down", "restart to healthy"))
    h.print_table([
        ("load time", f"{load_s:.1f}s"),
        ("drain time", f"{drain_s:.1f}s"),
        ("queue general / billing", f"{per_queue.get('general', 0)} / "
                                    f"{per_queue.get('billing', 0)}"),
        ("visitors with split conversations", split),
        ("daemon exit code on SIGTERM", rc),
        ("PRAGMA integrity_check", integrity),
        ("sanitizer reports", len(d.sanitizer_reports())),
    ], ("", "value"))
    for l in d.log_grep("waiting in the outbox"):
        print(f"  daemon: {l.strip()}")

    ck.equal(s["gave up"], 0, "every message was eventually acknowledged")
    ck.equal(s["acked (2xx)"], TOTAL, "acknowledged messages")
    ck.equal(s["lost"], 0, "lost (acknowledged but never consumed)")
    ck.equal(s["unexpected"], 0, "unexpected (consumed but never sent)")
    ck.equal(s["dedupe failures"], 0, "provider ids stored as two Switchboard messages")
    ck.equal(s["message_id mismatch"], 0, "consumed message_id differs from the acknowledged")
    ck.equal(split, 0, "visitors whose messages went to more than one conversation")
    ck.equal(rc, 0, "SIGTERM: the daemon drains and exits 0")
    ck.equal(integrity, "ok", "PRAGMA integrity_check")
    ck.equal(d.sanitizer_reports(), [], "no sanitizer reports in the daemon log")


if __name__ == "__main__":
    h.run(main, timeout=600)
