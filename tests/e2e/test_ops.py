#!/usr/bin/python3
"""What ops see (issue #6): the sd_notify protocol, /metrics, the logs.

- The daemon runs with NOTIFY_SOCKET pointing at a datagram socket this test reads, and
  WATCHDOG_USEC=1s: it must send READY=1, WATCHDOG=1 pings (every 0.5 s) with STATUS= lines,
  RELOADING=1 then READY=1 around a SIGHUP, and STOPPING=1 on SIGTERM (then exit 0).
- /metrics is Prometheus text that `promtool check metrics` accepts, and its counters follow
  the traffic this test drives (requests by channel and status, messages by outcome, publishes
  and confirms by skill, histograms, backlog, reloads).
- --log-format json: every line the daemon writes is one JSON object.
- Logs carry no message text or customer address at the default level (PII), and a refusal
  repeated 30 times is logged at most 5 times (rate limit) while the metric counts all 30.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

PII_EMAIL = "pii.canary@example.org"
PII_TEXT = "CANARY-BODY-7f3a my card number is 4111"


class Notifications:
    """Collects what the daemon sends to $NOTIFY_SOCKET, with arrival times."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.items: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        h.on_cleanup("close the notify socket", self.close)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                for line in data.decode(errors="replace").splitlines():
                    self.items.append((time.monotonic(), line))

    def lines(self) -> list[str]:
        with self.lock:
            return [l for _, l in self.items]

    def wait_for(self, line: str, after: int = 0, timeout: float = 15) -> int:
        """Index of the first `line` at or after index `after`, or -1 on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.lines()
            for i in range(after, len(got)):
                if got[i] == line:
                    return i
            time.sleep(0.05)
        return -1

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def main(ck: h.Checks) -> None:
    env = h.Env()
    notify_path = os.path.join(env.workdir, "notify.sock")
    notes = Notifications(notify_path)
    d = env.daemon
    d.extra_env = {"NOTIFY_SOCKET": notify_path, "WATCHDOG_USEC": "1000000"}
    d.extra_args = ["--log-format", "json"]
    env.start()
    c = env.client()

    # ---- sd_notify: READY=1, then watchdog pings with STATUS ----
    ready = notes.wait_for("READY=1")
    ck.require(ready >= 0, "READY=1 arrives", notes.lines()[:10])
    start = len(notes.lines())
    time.sleep(2.6)
    pings = notes.lines()[start:].count("WATCHDOG=1")
    ck.check(pings >= 4, "WATCHDOG=1 every 0.5 s (WatchdogSec/2): at least 4 in 2.6 s", pings)
    status = [l for l in notes.lines() if l.startswith("STATUS=")]
    ck.check(status and "backlog" in status[-1] and "broker" in status[-1],
             "STATUS= lines tell the backlog and the broker's state", status[-1:])

    # ---- traffic: accepted, a duplicate, refusals, an unknown channel ----
    before = h.scrape_metrics(c)
    n_ok = 12
    for i in range(n_ok):
        text = PII_TEXT if i == 0 else f"metrics message {i}"
        # The backend vouches for the email: each new visitor merges into the first (the
        # merges are logged; the canary address must not be).
        r = env.post(c, h.chat_message(f"met-{i}", f"v-met-{i}", text, email=PII_EMAIL,
                                       verified=["email"]))
        ck.equal(r.status, 202, f"message {i}: 202")
    r = env.post(c, h.chat_message("met-0", "v-met-0", PII_TEXT, email=PII_EMAIL,
                                   verified=["email"]))
    ck.equal(r.status, 200, "duplicate: 200")
    n_bad = 30
    for i in range(n_bad):
        r = h.post_webhook(c, env.channel, h.chat_message(f"bad-{i}", "v-bad", "forged"),
                           h.new_secret())
        if r.status != 401:
            ck.equal(r.status, 401, f"forged {i}: 401")
    ck.equal(c.request("POST", "/v1/webhooks/no-such-channel", b"{}",
                       {"Content-Type": "application/json"}).status, 404, "unknown channel: 404")
    agent = h.Consumer(env.amqp_url, list(env.queues.values()))
    got = agent.drain(until=lambda ms: len(ms) >= n_ok, idle=1.0)
    ck.equal(len(got), n_ok, "every accepted message consumed")

    # ---- /metrics: valid, and the counters moved by what was sent ----
    deadline = time.monotonic() + 10
    while True:
        r = c.get("/metrics")
        m = h.parse_metrics(r.body.decode())
        if h.metric(m, "switchboard_outbox_backlog") == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    ck.equal(r.status, 200, "GET /metrics: 200")
    ck.check(r.headers.get("content-type", "").startswith("text/plain; version=0.0.4"),
             "Prometheus text content type", r.headers.get("content-type"))
    promtool = shutil.which("promtool")
    ck.require(promtool, "promtool is installed (scripts/deps.sh installs prometheus)")
    p = subprocess.run([promtool, "check", "metrics"], input=r.body, capture_output=True,
                       timeout=30)
    ck.check(p.returncode == 0, "promtool check metrics accepts the page",
             (p.stdout + p.stderr).decode()[:2000])

    # The runbook's metric table names exactly the families the page has: no metric an
    # operator cannot find there, none documented that does not exist.
    page_families = set(re.findall(r"^# TYPE (\S+) ", r.body.decode(), re.M))
    src = h.source_dir()
    with open(os.path.join(src, "docs", "operations.md")) as f:
        documented = set(re.findall(r"^\| `((?:switchboard|process)_\w+)` \|", f.read(), re.M))
    ck.check(page_families and page_families == documented,
             f"docs/operations.md documents the {len(page_families)} metric families of /metrics",
             f"undocumented: {sorted(page_families - documented)}; "
             f"documented, absent: {sorted(documented - page_families)}")

    def delta(name: str, **labels: str) -> float:
        return (h.metric(m, name, **labels) or 0) - (h.metric(before, name, **labels) or 0)

    ck.equal(delta("switchboard_http_requests_total", handler="webhook", channel="web-chat",
                   code="202"), n_ok, "requests_total{web-chat, 202}")
    ck.equal(delta("switchboard_http_requests_total", handler="webhook", channel="web-chat",
                   code="401"), n_bad, "requests_total{web-chat, 401}")
    ck.equal(delta("switchboard_http_requests_total", handler="webhook", channel="", code="404"),
             1, "requests_total for an unknown channel: channel label empty (bounded series)")
    ck.equal(delta("switchboard_messages_total", channel="web-chat", outcome="accepted"), n_ok,
             "messages_total accepted")
    ck.equal(delta("switchboard_messages_total", channel="web-chat", outcome="duplicate"), 1,
             "messages_total duplicate")
    ck.equal(delta("switchboard_messages_total", channel="web-chat", outcome="rejected",
                   reason="bad_signature"), n_bad, "messages_total rejected bad_signature")
    ck.equal(delta("switchboard_confirmed_total", skill="general"), n_ok,
             "confirmed_total{general}")
    ck.check(delta("switchboard_published_total", skill="general") >= n_ok,
             "published_total{general} at least the accepted count")
    ck.check(delta("switchboard_publish_confirm_seconds_count") >= n_ok,
             "confirm latency histogram counts each confirm")
    ck.check(delta("switchboard_http_request_duration_seconds_count", handler="webhook")
             >= n_ok + n_bad + 1, "HTTP latency histogram counts each webhook request")
    ck.check(delta("switchboard_store_batch_size_count") >= 1, "batch size histogram moves")
    ck.equal(h.metric(m, "switchboard_outbox_backlog"), 0.0, "backlog back to 0")
    ck.equal(h.metric(m, "switchboard_outbox_oldest_age_seconds"), 0.0, "oldest age 0 when empty")
    ck.equal(h.metric(m, "switchboard_broker_connected"), 1.0, "broker_connected 1")
    ck.equal(h.metric(m, "switchboard_ready"), 1.0, "ready 1")
    rss = h.metric(m, "process_resident_memory_bytes") or 0
    ck.check(rss > 1e6, "process RSS reported")
    ck.check(0 < (h.metric(m, "switchboard_heap_bytes") or 0) < rss,
             "heap in use reported, below RSS")
    ck.check(0 < (h.metric(m, "switchboard_store_cache_bytes") or 0) <= 64 * 2**20 * 1.25,
             "the writer's page cache reported, within store.cache_bytes")

    # ---- SIGHUP: RELOADING=1 then READY=1, counted ----
    mark = len(notes.lines())
    os.kill(d.pid, signal.SIGHUP)
    i_reloading = notes.wait_for("RELOADING=1", mark)
    i_ready = notes.wait_for("READY=1", max(i_reloading, mark))
    ck.check(0 <= i_reloading < i_ready, "SIGHUP: RELOADING=1 then READY=1",
             notes.lines()[mark:mark + 10])
    m = h.scrape_metrics(c)
    ck.equal(h.metric(m, "switchboard_config_reloads_total", result="ok"), 1.0,
             "config_reloads_total{ok} 1")

    # ---- SIGTERM: STOPPING=1, exit 0 ----
    mark = len(notes.lines())
    rc = d.stop()
    ck.equal(rc, 0, "SIGTERM: exit 0")
    ck.check(notes.wait_for("STOPPING=1", mark, timeout=2) >= 0, "SIGTERM: STOPPING=1")

    # ---- the log: JSON lines, no PII, refusals rate-limited ----
    lines = [l for l in d.log_text().splitlines() if l and not l.startswith("==== e2e harness")]
    bad_json = []
    for l in lines:
        try:
            o = json.loads(l)
            if not {"time", "level", "priority", "component", "message"} <= o.keys():
                bad_json.append(l)
        except ValueError:
            bad_json.append(l)
    ck.check(lines and not bad_json, "--log-format json: every line is a JSON object with "
             "time, level, priority, component, message", bad_json[:3])
    text = d.log_text()
    ck.check(PII_EMAIL not in text and "CANARY-BODY" not in text,
             "no customer address or message text in the log")
    secret_b64 = env.secret.removeprefix("whsec_")
    ck.check(env.secret not in text and secret_b64 not in text, "the channel secret is not logged")
    refusals = [l for l in lines if "rejected channel=web-chat" in l]
    ck.check(1 <= len(refusals) <= 5, f"{n_bad} refusals logged at most 5 times",
             len(refusals))
    h.log(f"{pings} watchdog pings in 2.6 s; {len(refusals)} refusal lines for {n_bad} refusals")


if __name__ == "__main__":
    h.run(main, timeout=240)
