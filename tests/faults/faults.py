#!/usr/bin/python3
"""The fault-injection suite: the durability promise under the failures that happen in
production, checked the way Jepsen's RabbitMQ checker counts (lost / duplicated / unexpected).

Every scenario runs the real daemon against a private RabbitMQ node that this suite starts
(and may kill), posts uniquely identified signed messages from several concurrent clients
that retry like providers (same message id, fresh signature), records which got a 2xx, drains
every skill queue with pika, and reports:

  lost        acknowledged (2xx) but never consumed: must be 0
  duplicated  deliveries beyond the first of one message (at-least-once after a crash): counted
  unexpected  consumed but never sent: must be 0
  integrity   PRAGMA integrity_check of the store after a graceful stop: must be ok

Scenarios: daemon_sigkill (repeated SIGKILL under load), broker_restart (node stopped and
started), broker_sigkill (node killed with SIGKILL and started again), broker_disk_alarm
(disk_free_limit above the free space: the broker blocks publishers), store_full (the
daemon's own disk full: a small tmpfs, or SQLite's max_page_count where mounting is not
allowed), duplicate_storm (one provider message id 50 times at once, and again across a
restart), full_queue (a skill queue at max_length, with and without overflow_to),
replies_sigkill (1,000 agents' replies on the replies queue to a slow chat backend, the daemon
killed with SIGKILL while it sends them: for replies, "acked" is committed, "consumed" the
replies the backend received, "duplicated" those it received more than once).

    tests/faults/faults.py                      # every scenario, short (what ctest runs)
    tests/faults/faults.py broker_sigkill ...   # some scenarios
    tests/faults/faults.py --soak 600           # scenarios in turn, 3x the load, for 600 s
    scripts/soak.sh [SECONDS]                   # the same, building and starting what it needs

Needs root (the broker runs as the rabbitmq user; the tmpfs mount), SB_BINARY (the daemon),
Debian's /usr/bin/python3 (pika). It does not use the shared test broker.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
sys.path.insert(0, os.path.join(ROOT, "tests", "fakes"))
import harness as h  # noqa: E402
import providers  # noqa: E402

DRAIN_DEADLINE = 180.0  # the publisher's retry backoff is at most 30 s


# ---- the private broker ----------------------------------------------------------------------


class Broker:
    """A RabbitMQ node of our own (scripts/broker.sh), restartable on the same data."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="sb-faults-broker-")
        os.chmod(self.dir, 0o755)
        h.on_cleanup("stop the faults broker", self.stop)
        self.port = ""
        self.node = ""
        self.start()

    def _script(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run([os.path.join(ROOT, "scripts", "broker.sh"), *args],
                              capture_output=True, text=True, timeout=timeout)

    def start(self) -> None:
        t0 = time.monotonic()
        r = self._script("start", self.dir, self.port, self.node)
        if r.returncode != 0:
            h.fail(f"cannot start the faults broker: {r.stderr[-2000:]}")
        for line in r.stdout.splitlines():
            for part in line.replace("export ", "").split():
                k, _, v = part.partition("=")
                os.environ[k] = v.strip("'")
        env = {}
        with open(os.path.join(self.dir, "broker.env")) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                env[k] = v.strip("'")
        self.port, self.node = env["SB_BROKER_PORT"], env["SB_BROKER_NODE"]
        h.log(f"broker {self.node} on port {self.port} up in {time.monotonic() - t0:.1f}s")

    def beam_pid(self) -> int | None:
        try:
            with open(os.path.join(self.dir, "rabbitmq.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def kill(self) -> None:
        """SIGKILL to the Erlang VM and its process group: a crash, as far as it can tell."""
        pid = self.beam_pid()
        if pid is None:
            h.fail("the broker has no pid file")
        try:
            pgid = os.getpgid(pid)
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def stop_node(self) -> None:
        r = self._script("stop", self.dir, "--keep")
        if r.returncode != 0:
            h.log(f"broker stop: {r.stderr[-500:]}")

    def stop(self) -> None:
        self._script("stop", self.dir)


# ---- load -------------------------------------------------------------------------------------


class Load:
    """Client threads posting uniquely identified messages until stopped (or `count` each),
    retrying as providers do. Visitors write several messages, so conversations grow."""

    def __init__(self, env: h.Env, ledger: h.Ledger, name: str, clients: int = 8,
                 rate: float | None = None, count: int | None = None,
                 text: Callable[[int, int], str] | None = None, visitors: int = 25) -> None:
        """visitors: how many visitors each client writes as, in turn (their conversations
        grow); 0 gives every message a visitor of its own (no stickiness between them)."""
        self.env, self.ledger, self.name = env, ledger, name
        self.stop_event = threading.Event()
        self.rate, self.count, self.visitors = rate, count, visitors
        self.text = text or (lambda i, n: f"{name} client {i} message {n}"
                             + (" about my invoice" if n % 7 == 0 else ""))
        self.threads = [threading.Thread(target=self._client, args=(i,), daemon=True)
                        for i in range(clients)]

    def _client(self, i: int) -> None:
        c = self.env.client(timeout=30, idle_limit=5)
        n = 0
        next_at = time.monotonic()
        try:
            while not self.stop_event.is_set() and (self.count is None or n < self.count):
                pid = f"{self.name}-c{i}-{n:06d}"
                v = n % self.visitors if self.visitors else n
                body = h.chat_message(pid, f"v-{self.name}-{i}-{v}", self.text(i, n),
                                      name=f"Visitor {i}-{v}", session=f"s-{i}-{v}")
                h.deliver(c, self.env, pid, body, self.ledger, give_up_after=150,
                          stop=self.stop_event)
                n += 1
                if self.rate:
                    next_at += 1.0 / self.rate
                    time.sleep(max(0.0, next_at - time.monotonic()))
        finally:
            c.close()

    def start(self) -> "Load":
        for t in self.threads:
            t.start()
        return self

    def wait(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        # Clients finish the delivery in hand (it may be mid-retry): what they were told
        # counts, and a message given up is recorded as such.
        self.stop_event.set()
        self.wait(200)


def drain(env: h.Env, ledger: h.Ledger, queues: list[str] | None = None) -> list[h.Consumed]:
    """Consumes every queue until each acknowledged id was seen and nothing came for 3 s."""
    agent = h.Consumer(env.amqp_url, queues or list(env.queues.values()))
    got, _ = h.drain_acked(agent, ledger, DRAIN_DEADLINE)
    agent.close()
    return got


def metric(env: h.Env, name: str) -> float | None:
    """A sample of the daemon's /metrics; None when the daemon does not answer."""
    try:
        return h.metric(h.scrape_metrics(env.client(timeout=5)), name)
    except OSError:
        return None


def wait_for(what: str, cond: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if cond():
                return True
        except (OSError, h.http.client.HTTPException):
            pass  # e.g. the daemon is restarting
        time.sleep(0.1)
    h.log(f"timed out waiting for {what}")
    return False


# ---- the report -------------------------------------------------------------------------------

ROWS: list[dict[str, Any]] = []


def finish(ck: h.Checks, scenario: str, env: h.Env, ledger: h.Ledger,
           notes: str = "", allow_duplicates: bool = True) -> None:
    """Stops the daemon gracefully, checks the store, records the scenario's row and checks
    the pass criteria."""
    d = env.daemon
    rc = d.stop() if d.alive() else None
    integrity = h.integrity_check(env.store_path)
    s = ledger.summary()
    row = {"scenario": scenario, "sent": s["sent"], "acked": s["acked (2xx)"],
           "consumed": s["consumed (deliveries)"], "lost": s["lost"],
           "duplicated": s["duplicated"], "unexpected": s["unexpected"],
           "integrity": integrity, "notes": notes}
    ROWS.append(row)
    h.log(f"{scenario}: " + ", ".join(f"{k} {v}" for k, v in row.items() if k != "scenario"))
    ck.check(s["lost"] == 0, f"{scenario}: lost 0", ledger.lost_ids())
    ck.equal(s["unexpected"], 0, f"{scenario}: unexpected 0")
    ck.equal(s["dedupe failures"], 0, f"{scenario}: one provider message is one message")
    ck.equal(integrity, "ok", f"{scenario}: PRAGMA integrity_check")
    ck.equal(rc, 0, f"{scenario}: SIGTERM exit 0")
    ck.check(s["acked (2xx)"] > 0, f"{scenario}: something was acknowledged")
    if not allow_duplicates:
        ck.equal(s["duplicated"], 0, f"{scenario}: no duplicate without a crash")
    ck.equal(d.sanitizer_reports(), [], f"{scenario}: no sanitizer reports")


# ---- scenarios --------------------------------------------------------------------------------


def daemon_sigkill(ck: h.Checks, scale: float) -> None:
    env = h.Env(threads=2, server_extra="  rate_limit: {per_channel: 0}\n")
    d = env.start()
    ledger = h.Ledger()
    load = Load(env, ledger, "kill", clients=12).start()
    kills = 0
    t_end = time.monotonic() + 12 * scale
    while time.monotonic() < t_end:
        time.sleep(random.uniform(1.5, 3.5))
        d.kill()
        kills += 1
        time.sleep(random.uniform(0.1, 0.8))
        d.start()
    time.sleep(1.0)
    load.stop()
    drain(env, ledger)
    finish(ck, "daemon_sigkill", env, ledger, f"{kills} SIGKILLs")
    ck.check(kills >= 3, "daemon_sigkill: killed at least 3 times", kills)


def broker_outage(ck: h.Checks, scale: float, broker: Broker, how: str) -> None:
    env = h.Env(threads=2)
    env.start()
    ledger = h.Ledger()
    load = Load(env, ledger, f"b{how[:4]}", clients=6, rate=25).start()
    outages = 0
    t_end = time.monotonic() + 10 * scale
    while time.monotonic() < t_end or outages == 0:
        time.sleep(2.0)
        t0 = time.monotonic()
        if how == "kill":
            broker.kill()
        else:
            broker.stop_node()
        acked = ledger.acked_count
        time.sleep(2.0)
        broker.start()
        outages += 1
        h.log(f"broker {how} #{outages}: down {time.monotonic() - t0:.1f}s; "
              f"{ledger.acked_count - acked} acknowledged meanwhile")
    time.sleep(2.0)
    load.stop()
    drain(env, ledger)
    finish(ck, f"broker_{'sigkill' if how == 'kill' else 'restart'}", env, ledger,
           f"{outages} outage(s)")


def broker_disk_alarm(ck: h.Checks, scale: float, broker: Broker) -> None:
    env = h.Env(threads=2)
    env.start()
    ledger = h.Ledger()
    load = Load(env, ledger, "alarm", clients=6, rate=25).start()
    time.sleep(2.0)
    restore = lambda: h.rabbitmqctl("set_disk_free_limit", "50MB")  # noqa: E731
    h.on_cleanup("clear the disk alarm", restore)
    r = h.rabbitmqctl("set_disk_free_limit", "1000000GB")
    ck.require(r.returncode == 0, "rabbitmqctl set_disk_free_limit", r.stderr)
    blocked = wait_for("switchboard_broker_blocked 1",
                       lambda: metric(env, "switchboard_broker_blocked") == 1, 30)
    ck.check(blocked, "broker_disk_alarm: the daemon sees the broker block publishing")
    acked = ledger.acked_count
    time.sleep(4.0 * scale)
    during = ledger.acked_count - acked
    ck.check(during > 0, "broker_disk_alarm: webhooks are still acknowledged while blocked",
             during)
    backlog = metric(env, "switchboard_outbox_backlog") or 0
    ck.check(backlog > 0, "broker_disk_alarm: the outbox holds them", backlog)
    restore()
    wait_for("switchboard_broker_blocked 0",
             lambda: metric(env, "switchboard_broker_blocked") == 0, 60)
    time.sleep(1.0)
    load.stop()
    drain(env, ledger)
    finish(ck, "broker_disk_alarm", env, ledger,
           f"{during} acked while blocked, backlog {backlog:.0f}", allow_duplicates=False)


def can_mount_tmpfs(path: str) -> bool:
    os.makedirs(path, exist_ok=True)
    if os.environ.get("SB_FAULTS_NO_MOUNT"):  # to try the max_page_count way here
        return False
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", path],
                       capture_output=True)
    return r.returncode == 0


def store_full(ck: h.Checks, scale: float) -> None:
    env = h.Env(threads=2)
    store_dir = os.path.join(env.workdir, "store")
    mounted = can_mount_tmpfs(store_dir)
    if mounted:
        h.on_cleanup("unmount the store tmpfs",
                     lambda: subprocess.run(["umount", "-l", store_dir], capture_output=True))
        how = "tmpfs 2 MiB"
    else:
        # No mount here: SQLite's own size limit, raised by a restart once "space is freed".
        how = "max_page_count 400"
    env.store_path = os.path.join(store_dir, "switchboard.db")
    env.config_text = env.config_text.replace(
        f"  path: {h.yq(os.path.join(env.workdir, 'switchboard.db'))}\n",
        f"  path: {h.yq(env.store_path)}\n" + ("" if mounted else "  max_page_count: 400\n"))
    with open(env.config_path, "w") as f:
        f.write(env.config_text)
    d = env.start()
    ledger = h.Ledger()
    load = Load(env, ledger, "full", clients=6, rate=40,
                text=lambda i, n: f"filling the disk, client {i} message {n} " + "x" * 600).start()
    c = env.client(timeout=10, idle_limit=0.5)
    full = wait_for("/readyz 503 (store full)",
                    lambda: c.get("/readyz").status == 503, 60 * scale)
    ck.check(full, "store_full: /readyz turns 503 when the store cannot commit")
    detail = (c.get("/readyz").json or {}).get("detail", "")
    ck.check("store cannot commit" in detail, "store_full: /readyz says why", detail)
    statuses_before = dict(ledger.statuses)
    time.sleep(2.0)
    refused = ledger.statuses.get(503, 0) - statuses_before.get(503, 0)
    ck.check(refused > 0, "store_full: webhooks are answered 503 while the disk is full", refused)
    ck.equal(metric(env, "switchboard_store_writable"), 0.0, "store_full: store_writable 0")
    # The clients give up (as a load balancer would stop sending on /readyz 503): with no
    # traffic at all, the daemon must notice by itself that space was freed.
    load.stop()
    # Free space.
    if mounted:
        subprocess.run(["mount", "-o", "remount,size=64m", store_dir], check=True)
    else:
        env.config_text = env.config_text.replace("  max_page_count: 400\n", "")
        with open(env.config_path, "w") as f:
            f.write(env.config_text)
        d.restart()
    ok = wait_for("/readyz 200 after space is freed", lambda: c.get("/readyz").status == 200, 30)
    ck.check(ok, "store_full: ready again once space is freed, with no request to prove it")
    acked = ledger.acked_count
    load = Load(env, ledger, "full2", clients=4, rate=40).start()
    time.sleep(2.0)
    load.stop()
    ck.check(ledger.acked_count > acked, "store_full: acknowledging again")
    drain(env, ledger)
    finish(ck, "store_full", env, ledger, f"{how}; {refused} answered 503 while full",
           allow_duplicates=mounted)


def duplicate_storm(ck: h.Checks, scale: float) -> None:
    env = h.Env(threads=2)
    d = env.start()
    ledger = h.Ledger()
    rounds = max(1, int(3 * scale))
    statuses: collections.Counter[int] = collections.Counter()
    for k in range(rounds):
        pid = f"storm-{k}"
        body = h.chat_message(pid, f"v-storm-{k}", f"the same message {k}, 50 times")
        barrier = threading.Barrier(50)
        lock = threading.Lock()

        def fire() -> None:
            c = env.client()
            barrier.wait()
            # A fresh webhook-id each: a provider retrying after a timeout, not a replay.
            r = h.post_webhook(c, env.channel, body, env.secret)
            with lock:
                statuses[r.status] += 1
                ledger.record_sent(pid)
                ledger.record_reply(pid, r.status, r.json)

        threads = [threading.Thread(target=fire) for _ in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # Again after a restart: still the same message.
        d.restart()
        for _ in range(50):
            r = h.post_webhook(env.client(), env.channel, body, env.secret)
            statuses[r.status] += 1
            ledger.record_reply(pid, r.status, r.json)
    got = drain(env, ledger)
    per_id = collections.Counter(m.provider_id for m in got)
    ck.equal(dict(statuses), {202: rounds, 200: 99 * rounds},
             "duplicate_storm: one 202 per message, 200 for the 99 copies")
    ck.equal(sorted(per_id.values()), [1] * rounds,
             "duplicate_storm: each message consumed exactly once")
    finish(ck, "duplicate_storm", env, ledger, f"{rounds} x 100 copies, restart between",
           allow_duplicates=False)


def full_queue(ck: h.Checks, scale: float) -> None:
    env = h.Env(threads=2, skills={
        "general": "",
        "capped": "    max_length: 30\n",
        "capped_of": "    max_length: 30\n    overflow_to: spill\n",
        "spill": "",
    }, routes="""\
  - when: {text_matches: "capped-of"}
    skill: capped_of
  - when: {text_matches: "capped-only"}
    skill: capped
  - skill: general
""")
    env.start()
    ledger = h.Ledger()
    n = int(150 * scale)
    # A visitor per message: a conversation keeps its skill (stickiness), which would send a
    # visitor's later "capped-of" message to capped.
    load = Load(env, ledger, "fullq", clients=4, count=n // 4, visitors=0,
                text=lambda i, k: "capped-of" if k % 2 else "capped-only").start()
    load.wait(120)
    q = env.queues
    spill_want = 4 * ((n // 4) // 2) - 30  # the odd-numbered messages of each client
    wait_for("capped_of's surplus in spill",
             lambda: h.queue_depths(env.amqp_url, [q["spill"]])[q["spill"]] == spill_want, 30)
    depth = h.queue_depths(env.amqp_url, [q["capped"], q["capped_of"], q["spill"]])
    h.log(f"depths with no consumer: {depth}")
    if depth[q["spill"]] != spill_want:  # what the publisher did, for the report
        page = env.client(timeout=5).get("/metrics").body.decode()
        h.log("\n".join(l for l in page.splitlines() if l.startswith(
            ("switchboard_nacked", "switchboard_overflowed", "switchboard_returned",
             "switchboard_published", "switchboard_confirmed", "switchboard_outbox"))))
    ck.equal(depth[q["capped"]], 30, "full_queue: capped holds its max_length")
    ck.equal(depth[q["capped_of"]], 30, "full_queue: capped_of holds its max_length")
    ck.equal(depth[q["spill"]], spill_want, "full_queue: the surplus of capped_of is in spill")
    backlog = metric(env, "switchboard_outbox_backlog") or 0
    ck.check(backlog > 0, "full_queue: capped's surplus waits in the outbox", backlog)
    drain(env, ledger)
    finish(ck, "full_queue", env, ledger,
           f"{depth[q['spill']]} overflowed, {backlog:.0f} waited in the outbox",
           allow_duplicates=False)


REPLIES = 1000
MAX_IN_FLIGHT = 32  # delivery/engine.hpp, max_in_flight


def replies_sigkill(ck: h.Checks, scale: float) -> None:
    """Agents' replies under a crash: 1,000 replies published to the replies queue, delivered to
    a chat backend that takes 0.2 s per request; the daemon is killed with SIGKILL while it
    sends them, and started again. Every reply must be committed once, delivered at least once,
    and end `sent` in the store; the duplicates are the requests the crash left unrecorded.
    Every reply's message.status.sent event reaches the events exchange (at least once: the
    crash may publish some twice), and the events outbox ends empty."""
    secret = "whsec_" + __import__("base64").b64encode(os.urandom(24)).decode()
    fake = providers.Providers(telegram_token="-", whatsapp_token="-", chat_secret=secret)
    h.on_cleanup("stop the chat backend's fake", fake.close)
    env = h.Env(threads=2, api_tokens=["replies-fault-token-0123456789"],
                chat_extra=f"    outbound:\n      url: {h.yq(fake.url + '/chat')}\n"
                           f"      secret: {h.yq(secret)}\n")
    d = env.start()
    h.wait_for_queues(env.amqp_url, [env.replies_queue, env.rejected_queue])
    events = h.EventTap(env)
    r = env.post(env.client(), h.chat_message("m-1", "v-ann", "Where is my order?"))
    ck.require(r.status == 202, "replies_sigkill: the customer's message", r.body)
    conv = r.json["accepted"][0]["conversation_id"]
    # Published while the daemon is down: the kill then finds it in the middle of them.
    d.stop()
    conn = h.amqp_connect(env.amqp_url)
    ch = conn.channel()
    ch.confirm_delivery()
    pika = h._pika()
    n = int(REPLIES * scale)
    ids = [f"fault-{i}" for i in range(n)]
    for i, key in enumerate(ids):
        body = {"schema": "switchboard.reply/v1", "conversation_id": conv,
                "text": f"reply {i}", "agent": {"id": "a-7"}}
        ch.basic_publish("", env.replies_queue, json.dumps(body).encode(),
                         pika.BasicProperties(message_id=key, delivery_mode=2), mandatory=True)
    conn.close()
    fake.slow("chat", 0.2)
    d.start()
    wait_for("a tenth of the replies delivered", lambda: len(fake.requests("chat")) >= n // 10,
             120)
    d.kill()
    before = len(fake.requests("chat"))
    d.start()

    def sent_in_store() -> int:
        import sqlite3  # noqa: PLC0415
        db = sqlite3.connect(f"file:{env.store_path}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute("SELECT count(*) FROM deliveries WHERE status = 'sent'").fetchone()[0]
        finally:
            db.close()
    wait_for("every reply sent", lambda: sent_in_store() >= n, 300)
    received = [req.body.get("message_id") for req in fake.requests("chat")]
    texts = {req.body.get("text") for req in fake.requests("chat")}
    events.wait(lambda evs: len({e["message_id"] for e in evs}) >= n, 60)
    rc = d.stop()
    integrity = h.integrity_check(env.store_path)
    import sqlite3  # noqa: PLC0415
    db = sqlite3.connect(f"file:{env.store_path}?mode=ro", uri=True)
    committed = db.execute("SELECT count(*) FROM reply_keys WHERE key LIKE 'fault-%'").fetchone()[0]
    reply_ids = {row[0] for row in db.execute(
        "SELECT message_id FROM deliveries WHERE status = 'sent'")}
    final = db.execute("SELECT count(*) FROM deliveries WHERE status != 'sent'").fetchone()[0]
    events_left = db.execute("SELECT count(*) FROM events").fetchone()[0]
    db.close()
    announced = [e["message_id"] for e in events.events if e["type"] == "message.status.sent"]
    distinct = set(received)
    lost = len(reply_ids - distinct)
    duplicated = len(received) - len(distinct)
    unexpected = len(distinct - reply_ids)
    ROWS.append({"scenario": "replies_sigkill", "sent": n, "acked": committed,
                 "consumed": len(distinct), "lost": lost, "duplicated": duplicated,
                 "unexpected": unexpected, "integrity": integrity,
                 "notes": f"killed at {before} delivered; window {MAX_IN_FLIGHT} in flight"})
    h.log(f"replies_sigkill: committed {committed}, delivered {len(distinct)}, "
          f"duplicated {duplicated}, killed at {before}")
    ck.equal(committed, n, "replies_sigkill: every reply committed once")
    ck.equal(lost, 0, "replies_sigkill: lost 0 (every committed reply delivered)")
    ck.equal(unexpected, 0, "replies_sigkill: unexpected 0")
    ck.equal(final, 0, "replies_sigkill: every final status recorded (sent)")
    ck.equal(len(texts), n, "replies_sigkill: every reply's text arrived")
    ck.check(0 < before < n, "replies_sigkill: the kill came during the sending", before)
    # The documented window: the requests in flight at the crash, and those answered whose
    # record had not committed yet (the writer commits them within milliseconds).
    ck.check(duplicated <= 2 * MAX_IN_FLIGHT, "replies_sigkill: duplicates within the window",
             duplicated)
    ck.equal(set(announced), reply_ids, "replies_sigkill: every reply's sent event published")
    h.log(f"replies_sigkill: {len(announced)} sent events for {len(set(announced))} replies")
    ck.equal(events_left, 0, "replies_sigkill: the events outbox drained at the stop")
    ck.equal(events.errors, [], "replies_sigkill: events in the switchboard.event/v1 contract")
    ck.equal(fake.violations, [], "replies_sigkill: every request in the chat-reply format")
    ck.equal(integrity, "ok", "replies_sigkill: PRAGMA integrity_check")
    ck.equal(rc, 0, "replies_sigkill: SIGTERM exit 0")
    ck.equal(d.sanitizer_reports(), [], "replies_sigkill: no sanitizer reports")


SCENARIOS = ["daemon_sigkill", "broker_restart", "broker_sigkill", "broker_disk_alarm",
             "store_full", "duplicate_storm", "full_queue", "replies_sigkill"]


def run_one(name: str, ck: h.Checks, scale: float, broker: Broker) -> None:
    h.log(f"==== {name} ====")
    if name == "daemon_sigkill":
        daemon_sigkill(ck, scale)
    elif name == "broker_restart":
        broker_outage(ck, scale, broker, "restart")
    elif name == "broker_sigkill":
        broker_outage(ck, scale, broker, "kill")
    elif name == "broker_disk_alarm":
        broker_disk_alarm(ck, scale, broker)
    elif name == "store_full":
        store_full(ck, scale)
    elif name == "duplicate_storm":
        duplicate_storm(ck, scale)
    elif name == "full_queue":
        full_queue(ck, scale)
    elif name == "replies_sigkill":
        replies_sigkill(ck, scale)
    else:
        h.fail(f"unknown scenario {name}; scenarios: {', '.join(SCENARIOS)}")
    h.run_cleanups()  # this scenario's daemon, queues and temp dir; the broker stays


def main(ck: h.Checks) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("scenarios", nargs="*", default=SCENARIOS)
    p.add_argument("--soak", type=float, default=0,
                   help="run the scenarios in turn, with 3x the load, for this many seconds")
    args = p.parse_args()
    broker = Broker()
    # The broker's cleanup must run last: keep it out of the per-scenario cleanups.
    with h._cleanup_lock:
        broker_cleanup = h._cleanups.pop()
    t0 = time.monotonic()
    try:
        if args.soak:
            i = 0
            while time.monotonic() - t0 < args.soak:
                run_one(args.scenarios[i % len(args.scenarios)], ck, 3.0, broker)
                i += 1
        else:
            for name in args.scenarios:
                run_one(name, ck, 1.0, broker)
    finally:
        h.print_table([(r["scenario"], r["sent"], r["acked"], r["consumed"], r["lost"],
                        r["duplicated"], r["unexpected"], r["integrity"], r["notes"])
                       for r in ROWS],
                      ("scenario", "sent", "acked", "consumed", "lost", "duplicated",
                       "unexpected", "integrity", "notes"),
                      title=f"fault-injection suite ({time.monotonic() - t0:.0f} s"
                            + (", soak" if args.soak else "") + ")")
        with h._cleanup_lock:  # first in the list: it runs after every other cleanup
            h._cleanups.insert(0, broker_cleanup)


if __name__ == "__main__":
    os.environ.setdefault("SB_TEST_AMQP_URL", "set-by-the-suite")
    os.environ.setdefault("SB_TEST_BROKER_NODE", "set-by-the-suite")
    soak = "--soak" in sys.argv
    h.run(main, timeout=float(os.environ.get("SB_FAULTS_TIMEOUT", 7200 if soak else 900)))
