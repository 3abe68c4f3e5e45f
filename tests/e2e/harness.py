"""Shared helpers for Switchboard's end-to-end tests.

The tests drive the real daemon binary (SB_BINARY) over loopback HTTP and read what it
publishes from the real RabbitMQ broker (SB_TEST_AMQP_URL, started by scripts/test.sh) with
pika, the way an agent's tool would. Only the standard library and pika are used (Debian's
/usr/bin/python3 has python3-pika).

Each test file is one ctest test:

    import harness as h

    def main(ck: h.Checks) -> None:
        env = h.Env(read_timeout="2s")
        env.start()
        ...

    if __name__ == "__main__":
        h.run(main, timeout=240)

`run` bounds the test in time (a watchdog kills the daemon and exits 1), turns any exception
into a failure, and always runs the cleanups registered with `on_cleanup` (daemon killed,
broker queues and exchange deleted, temp dir removed), also on a timeout or SIGTERM.

Running one test by hand (as root, from the repository root):

    eval "$(scripts/broker.sh start /tmp/sb-broker)"      # exports SB_TEST_AMQP_URL, ...
    SB_BINARY=build/test/switchboard /usr/bin/python3 tests/e2e/test_chat.py
    scripts/broker.sh stop /tmp/sb-broker

SB_E2E_KEEP=1 keeps the temp dir (config, store, daemon.log); SB_E2E_TIMEOUT=N overrides the
test's time bound. test_broker_outage stops the shared broker's application for ~15 s: do not
run it in parallel with other broker tests (ctest -j).

Daemons are started with a parent-death signal (SIGKILL), so they never outlive the test
process even when it is killed. Linux delivers that signal when the *thread* that started the
child exits, so daemons must be started from the main thread (Daemon.start checks this).
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import datetime as dt
import hashlib
import hmac
import http.client
import json
import logging
import os
import random
import re
import secrets as pysecrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from typing import Any, Callable, Iterable

_T0 = time.monotonic()


def log(msg: str) -> None:
    """Progress line with the seconds since the test began (ctest shows it on failure)."""
    print(f"[{time.monotonic() - _T0:7.2f}s] {msg}", flush=True)


class TestFailure(Exception):
    """A failed hard assertion: the test stops here (cleanups still run)."""


def fail(msg: str) -> None:
    raise TestFailure(msg)


class Interrupted(BaseException):
    """SIGTERM/SIGINT (ctest's timeout, Ctrl-C): a BaseException, so no `except Exception` in
    a test swallows it; the cleanups still run."""


class Checks:
    """Soft assertions: a failed check is recorded and the test goes on, so one run shows
    every problem. `run` fails the test if any check failed."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.passed = 0
        self._lock = threading.Lock()

    def check(self, cond: Any, what: str, detail: Any = "") -> bool:
        with self._lock:
            if cond:
                self.passed += 1
                return True
            line = f"{what}" + (f": {detail}" if detail != "" else "")
            self.failures.append(line)
        log(f"CHECK FAILED: {line}")
        return False

    def equal(self, actual: Any, expected: Any, what: str) -> bool:
        return self.check(actual == expected, what, f"expected {expected!r}, got {actual!r}")

    def require(self, cond: Any, what: str, detail: Any = "") -> None:
        """A check the rest of the test depends on: stop if it fails."""
        if not self.check(cond, what, detail):
            raise TestFailure(f"{what}" + (f": {detail}" if detail != "" else ""))


# ---- environment ---------------------------------------------------------------------------


def amqp_url() -> str:
    url = os.environ.get("SB_TEST_AMQP_URL", "")
    if not url:
        fail("SB_TEST_AMQP_URL is not set: the e2e tests need the RabbitMQ broker that "
             "scripts/test.sh starts (or `eval \"$(scripts/broker.sh start DIR)\"`)")
    return url


def broker_node() -> str:
    node = os.environ.get("SB_TEST_BROKER_NODE", "")
    if not node:
        fail("SB_TEST_BROKER_NODE is not set (scripts/test.sh exports it with SB_TEST_AMQP_URL)")
    return node


def daemon_binary() -> str:
    path = os.environ.get("SB_BINARY", "")
    if not path:
        fail("SB_BINARY is not set: ctest sets it to the switchboard binary; set it by hand "
             "to run a test directly")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        fail(f"SB_BINARY={path} is not an executable file")
    return os.path.abspath(path)  # the daemon runs in the test's temp dir


def unique_prefix() -> str:
    """Unique per test run: exchange and queue names never collide across reruns or with
    tests running in parallel on the same broker."""
    return f"sbtest-{os.getpid()}-{pysecrets.token_hex(4)}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_secret(nbytes: int = 32) -> str:
    return "whsec_" + base64.b64encode(os.urandom(nbytes)).decode()


def rfc3339(t: float | None = None) -> str:
    t = time.time() if t is None else t
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(s: Any) -> dt.datetime | None:
    """RFC 3339 → aware datetime, or None when it is not one."""
    if not isinstance(s, str):
        return None
    try:
        t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


# ---- cleanups, watchdog, runner ------------------------------------------------------------

_cleanups: list[tuple[str, Callable[[], None]]] = []
_cleanup_lock = threading.RLock()
_failed = threading.Event()


def on_cleanup(what: str, fn: Callable[[], None]) -> None:
    """Registers fn to run when the test ends, however it ends (LIFO order)."""
    with _cleanup_lock:
        _cleanups.append((what, fn))


def run_cleanups() -> None:
    with _cleanup_lock:
        while _cleanups:
            what, fn = _cleanups.pop()
            try:
                fn()
            except Exception as e:  # a cleanup must never stop the others
                log(f"cleanup '{what}' failed: {e!r}")


def run(main: Callable[[Checks], None], timeout: float) -> None:
    """Runs one test: bounded by `timeout` seconds, exit 0 when it passed, 1 otherwise."""
    name = os.path.basename(sys.argv[0])
    timeout = float(os.environ.get("SB_E2E_TIMEOUT", timeout))  # an override, for debugging
    logging.getLogger("pika").setLevel(logging.CRITICAL)  # connection errors are ours to report
    ck = Checks()

    def on_timeout() -> None:
        log(f"TIMEOUT: {name} did not finish within {timeout:.0f}s; cleaning up")
        _failed.set()
        # A cleanup that hangs (broker unreachable) must not keep the test alive forever.
        threading.Timer(90, lambda: os._exit(1)).start()
        run_cleanups()
        log(f"{name}: FAIL (timeout)")
        os._exit(1)

    watchdog = threading.Timer(timeout, on_timeout)
    watchdog.daemon = True
    watchdog.start()

    def on_signal(sig: int, _frame: Any) -> None:
        raise Interrupted(f"interrupted by {signal.Signals(sig).name}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    ok = False
    try:
        amqp_url()
        daemon_binary()
        main(ck)
        sweep_queues()
        for f in schema_failures:
            ck.check(False, "payload matches docs/payload.schema.json", f)
        ok = not ck.failures
    except (TestFailure, Interrupted) as e:
        log(f"FAILED: {e}")
    except Exception:
        log("FAILED with an exception:\n" + traceback.format_exc())
    finally:
        # A second signal must not cut the cleanups short (the daemon, the broker's state).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if not ok:
            _failed.set()
        watchdog.cancel()
        run_cleanups()
    elapsed = time.monotonic() - _T0
    if ck.failures:
        print(f"\n{len(ck.failures)} check(s) failed ({ck.passed} passed):", flush=True)
        for f in ck.failures:
            print(f"  - {f}", flush=True)
    print(f"\n{name}: {'PASS' if ok else 'FAIL'} in {elapsed:.1f}s", flush=True)
    sys.exit(0 if ok else 1)


def print_table(rows: Iterable[tuple[Any, ...]], header: tuple[str, ...] | None = None,
                title: str | None = None) -> None:
    rows = [tuple(str(c) for c in r) for r in rows]
    all_rows = ([tuple(header)] if header else []) + rows
    if not all_rows:
        return
    widths = [max(len(r[i]) for r in all_rows if i < len(r)) for i in range(len(all_rows[0]))]
    if title:
        print(f"\n{title}", flush=True)
    line = "+".join("-" * (w + 2) for w in widths)
    print(line, flush=True)
    for n, r in enumerate(all_rows):
        print(" | ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                         for i, c in enumerate(r)), flush=True)
        if header and n == 0:
            print(line, flush=True)
    print(line, flush=True)


# ---- the daemon ----------------------------------------------------------------------------

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer", "WARNING: ThreadSanitizer")


class Daemon:
    """One switchboard process on a fixed port and config; restartable on the same store.
    Its stderr (and stdout) go to `log_path`, appended across restarts."""

    def __init__(self, config_path: str, port: int, log_path: str, cwd: str) -> None:
        self.config_path = config_path
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.exit_codes: list[int] = []
        self.extra_args: list[str] = []       # e.g. ["--log-format", "json"]
        self.extra_env: dict[str, str] = {}   # e.g. NOTIFY_SOCKET

    def start(self, timeout: float = 90) -> None:
        if threading.current_thread() is not threading.main_thread():
            # The parent-death signal belongs to the starting thread (see the module doc).
            fail("Daemon.start must be called from the main thread")
        if self.alive():
            fail("Daemon.start: already running")
        self.starts += 1
        with open(self.log_path, "ab") as f:
            f.write(f"==== e2e harness: start #{self.starts} at {rfc3339()} ====\n".encode())
            # setpriv --pdeathsig: the daemon dies with this test process, however it ends.
            cmd = [daemon_binary(), "--config", self.config_path] + self.extra_args
            if shutil.which("setpriv"):
                cmd = ["setpriv", "--pdeathsig", "KILL", "--"] + cmd
            self.process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                                            cwd=self.cwd, env={**os.environ, **self.extra_env})
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process is None or self.process.poll() is not None:
                rc = None if self.process is None else self.process.returncode
                fail(f"the daemon exited during start-up (exit code {rc}); log tail:\n"
                     + self.log_tail(40))
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                r = conn.getresponse()
                r.read()
                conn.close()
                if r.status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                fail(f"the daemon did not answer /healthz within {timeout:.0f}s; log tail:\n"
                     + self.log_tail(40))
            time.sleep(0.1)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Sends sig and waits for the exit; returns the exit code (SIGKILL after timeout)."""
        if self.process is None:
            fail("Daemon.stop: never started")
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
                self.exit_codes.append(self.process.returncode)
                fail(f"the daemon did not exit within {timeout:.0f}s of "
                     f"{signal.Signals(sig).name}; killed. Log tail:\n" + self.log_tail(30))
        rc = self.process.returncode
        self.exit_codes.append(rc)
        return rc

    def kill(self) -> None:
        """SIGKILL: a crash, as far as the daemon can tell."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
            self.exit_codes.append(self.process.returncode)

    def restart(self, sig: int = signal.SIGTERM, timeout: float = 90) -> None:
        if self.alive():
            self.stop(sig)
        self.start(timeout)

    def reload(self, config_text: str, logged: str, timeout: float = 10) -> int:
        """Writes config_text over the config file and sends SIGHUP, then waits up to `timeout`
        s for one more log line containing `logged`. Returns how many there were before."""
        with open(self.config_path, "w") as f:
            f.write(config_text)
        before = len(self.log_grep(logged))
        os.kill(self.pid, signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.log_grep(logged)) == before:
            time.sleep(0.1)
        return before

    def log_text(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    def log_grep(self, needle: str) -> list[str]:
        return [l for l in self.log_text().splitlines() if needle in l]

    def sanitizer_reports(self) -> list[str]:
        return [l for l in self.log_text().splitlines()
                if any(m in l for m in SANITIZER_MARKERS)]


def run_binary(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Runs the daemon binary with a command line (--version, --check-config ...)."""
    return subprocess.run([daemon_binary()] + args, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


# ---- config and environment of one test ----------------------------------------------------


def source_dir() -> str:
    """The source tree: SB_SOURCE_DIR (ctest sets it), else the one this file is in."""
    return os.environ.get("SB_SOURCE_DIR") or os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))


def yq(s: str) -> str:
    """A YAML double-quoted scalar (JSON string syntax is valid YAML)."""
    return json.dumps(s)


def channel_yaml(name: str, kind: str, secret: str, **keys: Any) -> str:
    """One item of the config's `channels:` list, indented for Env(extra_channels=...): its
    name, type and secret, then `keys` in order. Values are written as JSON scalars (valid
    YAML): strings quoted, numbers and booleans plain, as the config reader wants them."""
    return (f"  - name: {name}\n    type: {kind}\n    secret: {yq(secret)}\n"
            + "".join(f"    {k}: {json.dumps(v)}\n" for k, v in keys.items()))


_envs: list["Env"] = []  # every Env of this test, for sweep_queues()


def sweep_queues() -> None:
    """Takes what is left in every Env's skill queues when a test ends and validates each payload
    against docs/payload.schema.json: every message the suite makes the daemon publish is
    checked, also those no test consumed. A broker a test left unreachable is only logged."""
    for env in _envs:
        try:
            agent = Consumer(env.amqp_url, list(env.queues.values()))
            left = agent.drain(idle=0.5, deadline=60.0)
            agent.close()
            if left:
                log(f"validated {len(left)} payload(s) left in the queues of {env.prefix}")
        except Exception as e:  # noqa: BLE001 - a broken broker is the test's own business
            log(f"could not sweep the queues of {env.prefix}: {e!r}")


class Env:
    """A temp dir, a generated config on a free port, unique broker names, and the daemon.
    Everything is cleaned up at the end of the test (registered with on_cleanup); what is left
    in its queues is validated against the payload schema (sweep_queues)."""

    def __init__(self, *, threads: int = 2, max_body_bytes: int = 1048576,
                 max_header_bytes: int = 16384, max_connections: int = 1024,
                 read_timeout: str = "10s", thread_limit: int = 50,
                 max_backlog: int = 1000000, confirm_window: int = 512,
                 max_payload_bytes: int | None = None,
                 extra_channels: str = "", api_tokens: list[str] | None = None,
                 reopen_after: str = "7d", skills: dict[str, str] | None = None,
                 routes: str | None = None, extra_config: str = "",
                 server_extra: str = "", refused_per_client: int | None = 0,
                 chat_extra: str = "") -> None:
        """extra_channels: more YAML items for the `channels:` list, each starting with
        "  - name: ...", indented like the generated chat channel.
        skills: skill name -> its extra YAML keys ("    max_priority: 10\n"), replacing the
        default general + billing; each gets the queue "<prefix>.<name>" (self.queues).
        routes: the `routes:` items, replacing the default keyword + general routes.
        extra_config: more top-level YAML (e.g. `schedules:`).
        server_extra: more keys of `server:`, indented two spaces.
        chat_extra: more keys of the generated web-chat channel, indented four spaces (its
        `outbound:` section, say).
        refused_per_client: server.rate_limit.refused_per_client, written when server_extra
        has no rate_limit of its own; 0 (off) by default, since most tests send refused
        requests on purpose, one after another from 127.0.0.1. None: the daemon's default."""
        if refused_per_client is not None and "rate_limit:" not in server_extra:
            server_extra += f"  rate_limit:\n    refused_per_client: {refused_per_client}\n"
        self.amqp_url = amqp_url()
        self.prefix = unique_prefix()
        self.exchange = self.prefix
        if skills is None:
            skills = {"general": "", "billing": "    max_priority: 10\n"}
        if routes is None:
            routes = """\
  - when: {text_matches: "(?i)refund|invoice|charge"}
    skill: billing
    priority: 5
  - skill: general
"""
        self.queues = {name: f"{self.prefix}.{name}" for name in skills}
        # Each test's own replies queues: another test's daemon must not take its replies.
        self.replies_queue = f"{self.prefix}.replies"
        self.rejected_queue = f"{self.prefix}.replies.rejected"
        self.events_exchange = f"{self.prefix}.events"
        self.channel = "web-chat"
        self.secret = new_secret()
        self.workdir = tempfile.mkdtemp(prefix="sb-e2e-")
        on_cleanup("remove temp dir", self._remove_workdir)
        on_cleanup("delete broker queues and exchange",
                   lambda: delete_broker_objects(self.amqp_url, list(self.queues.values())
                                                 + [self.replies_queue, self.rejected_queue],
                                                 self.exchange))
        on_cleanup("delete the events exchange",
                   lambda: delete_broker_objects(self.amqp_url, [], self.events_exchange))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.store_path = os.path.join(self.workdir, "switchboard.db")
        self.config_path = os.path.join(self.workdir, "switchboard.yaml")
        tokens_line = ""
        if api_tokens is not None:
            tokens_path = os.path.join(self.workdir, "api-tokens")
            with open(tokens_path, "w") as f:
                f.write("".join(t + "\n" for t in api_tokens))
            tokens_line = f"\n  api_tokens_file: {yq(tokens_path)}"
        payload_line = f"  max_payload_bytes: {max_payload_bytes}\n" if max_payload_bytes else ""
        self.config_text = f"""\
# generated by tests/e2e/harness.py
server:
  listen: {yq(f"127.0.0.1:{self.port}")}
  threads: {threads}
  max_body_bytes: {max_body_bytes}
  max_header_bytes: {max_header_bytes}
  max_connections: {max_connections}
  read_timeout: {read_timeout}{tokens_line}
{server_extra}store:
  path: {yq(self.store_path)}
  reopen_after: {reopen_after}
  thread_limit: {thread_limit}
  max_backlog: {max_backlog}
{payload_line}broker:
  url: {yq(self.amqp_url)}
  exchange: {yq(self.exchange)}
  confirm_window: {confirm_window}
replies:
  queue: {yq(self.replies_queue)}
  rejected_queue: {yq(self.rejected_queue)}
events:
  exchange: {yq(self.events_exchange)}
channels:
  - name: {self.channel}
    type: chat
    secret: {yq(self.secret)}
{chat_extra}{extra_channels.rstrip()}
{extra_config}skills:
""" + "".join(f"  - name: {name}\n    queue: {yq(self.queues[name])}\n{extra}"
              for name, extra in skills.items()) + "routes:\n" + routes
        with open(self.config_path, "w") as f:
            f.write(self.config_text)
        self.daemon = Daemon(self.config_path, self.port, os.path.join(self.workdir, "daemon.log"),
                             self.workdir)
        on_cleanup("kill the daemon", self._kill_daemon)
        _envs.append(self)

    def start(self, wait_queues: bool = True) -> Daemon:
        """Starts the daemon and waits for /healthz (and, by default, for its queues to be
        declared on the broker, i.e. for the publisher to have connected)."""
        self.daemon.start()
        log(f"daemon pid {self.daemon.pid} on {self.url}, store {self.store_path}, "
            f"exchange {self.exchange}")
        if wait_queues:
            wait_for_queues(self.amqp_url, list(self.queues.values()), timeout=60)
        return self.daemon

    def client(self, **kw: Any) -> Client:
        return Client(self.port, **kw)

    def check_config(self, ck: Checks, what: str) -> None:
        """`switchboard --check-config` must accept this config (`what`: what is in it)."""
        r = run_binary(["--check-config", self.config_path])
        ck.equal(r.returncode, 0, f"--check-config accepts {what} ({r.stderr})")

    def finish(self, ck: Checks, name: str, integrity: bool = False) -> None:
        """The end of a test: on SIGTERM the daemon drains and exits 0, with no sanitizer
        report in its log (and, with `integrity`, a store that passes PRAGMA integrity_check);
        then the count of checks passed and failed, in a table headed `name`."""
        d = self.daemon
        rc = d.stop(signal.SIGTERM)
        ck.equal(rc, 0, "SIGTERM: the daemon drains and exits 0")
        ck.equal(d.sanitizer_reports(), [], "no sanitizer reports in the daemon log")
        if integrity:
            ck.equal(integrity_check(self.store_path), "ok", "PRAGMA integrity_check")
        print_table([("checks passed", ck.passed), ("checks failed", len(ck.failures))],
                    (name, "count"))

    def post(self, client: Client, body: Any, **kw: Any) -> Response:
        return post_webhook(client, self.channel, body, self.secret, **kw)

    def _kill_daemon(self) -> None:
        d = self.daemon
        if d.alive():
            d.kill()
        if _failed.is_set() and os.path.exists(d.log_path):
            print(f"\n---- daemon log tail ({d.log_path}) ----\n{d.log_tail(60)}\n----",
                  flush=True)

    def _remove_workdir(self) -> None:
        if os.environ.get("SB_E2E_KEEP"):
            log(f"SB_E2E_KEEP set: leaving {self.workdir}")
            return
        shutil.rmtree(self.workdir, ignore_errors=True)


# ---- HTTP ----------------------------------------------------------------------------------


def json_or_none(data: bytes) -> Any:
    """`data` parsed as JSON, or None when it is not JSON."""
    try:
        return json.loads(data)
    except ValueError:
        return None


class _JsonBody:
    """`json`: the answer's body parsed, or None when it is not JSON."""
    body: bytes

    @property
    def json(self) -> Any:
        return json_or_none(self.body)


@dataclasses.dataclass
class Response(_JsonBody):
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes
    elapsed: float = 0.0

    def __repr__(self) -> str:
        b = self.body[:300].decode("utf-8", "replace")
        return f"<HTTP {self.status} {b!r}>"


class Client:
    """A keep-alive HTTP/1.1 client on one connection (http.client). A connection idle longer
    than `idle_limit` is replaced before use: the daemon closes idle keep-alive connections
    after read_timeout. Any error closes the connection and is raised to the caller."""

    def __init__(self, port: int, timeout: float = 30, idle_limit: float = 5.0) -> None:
        self.port = port
        self.timeout = timeout
        self.idle_limit = idle_limit
        self.conn: http.client.HTTPConnection | None = None
        self.last_used = 0.0
        self.connections = 0

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Response:
        now = time.monotonic()
        if self.conn is not None and now - self.last_used > self.idle_limit:
            self.close()
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self.connections += 1
        t0 = time.monotonic()
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            r = self.conn.getresponse()
            data = r.read()
        except BaseException:
            self.close()
            raise
        self.last_used = time.monotonic()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        if r.will_close:
            self.close()
        return Response(r.status, hdrs, data, time.monotonic() - t0)

    def get(self, path: str) -> Response:
        return self.request("GET", path)


def sign(secret: str, webhook_id: str, timestamp: int | str, body: bytes) -> str:
    """Standard Webhooks: v1,<base64(HMAC-SHA256(key, id.timestamp.body))>."""
    key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
    mac = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def to_bytes(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body, ensure_ascii=False).encode()


def webhook_headers(secret: str | None, body: bytes, *, webhook_id: str | None = None,
                    timestamp: int | None = None, content_type: str | None = "application/json",
                    signature: str | None = None) -> dict[str, str]:
    """Headers of a signed delivery; signature overrides the computed one, secret=None omits
    the three webhook-* headers."""
    h: dict[str, str] = {}
    if content_type is not None:
        h["Content-Type"] = content_type
    if secret is not None or signature is not None:
        wid = webhook_id or f"msg_{pysecrets.token_hex(12)}"
        ts = int(time.time()) if timestamp is None else timestamp
        h["webhook-id"] = wid
        h["webhook-timestamp"] = str(ts)
        h["webhook-signature"] = signature if signature is not None else sign(secret, wid, ts, body)
    return h


def post_webhook(client: Client, channel: str, body: Any, secret: str | None,
                 **kw: Any) -> Response:
    data = to_bytes(body)
    return client.request("POST", f"/v1/webhooks/{channel}", data,
                          webhook_headers(secret, data, **kw))


def chat_message(mid: str, visitor: str, text: str, *, name: str | None = "Ann Lee",
                 email: str | None = None, phone: str | None = None,
                 attachments: list[dict[str, Any]] | None = None, session: str = "s-77",
                 sent_at: str | None = None, verified: list[str] | None = None) -> dict[str, Any]:
    """verified: what the chat backend vouches for ("email", "phone"); without it the email and
    phone are the visitor's claims."""
    v: dict[str, Any] = {"id": visitor}
    if name is not None:
        v["name"] = name
    if email is not None:
        v["email"] = email
    if phone is not None:
        v["phone"] = phone
    if verified is not None:
        v["verified"] = verified
    m: dict[str, Any] = {"id": mid, "session_id": session, "sent_at": sent_at or rfc3339(),
                         "visitor": v, "text": text}
    if attachments is not None:
        m["attachments"] = attachments
    return m


# ---- the other providers' signing and forms (chat's Standard Webhooks is `sign` above) ----


def dmarc_mail(sender: str, subject: str, text: str, t: float, msgid: str | None = None,
               authserv: str = "mx.acme.example") -> Any:
    """A mail from `sender` (Ann Lee) to support@acme.example whose Authentication-Results (by
    `authserv`, the mime channel's trusted_authserv_id) say DMARC passed: an
    email.message.EmailMessage, for the caller to add parts to and turn into bytes."""
    from email import policy  # noqa: PLC0415
    from email.message import EmailMessage  # noqa: PLC0415
    from email.utils import format_datetime, make_msgid  # noqa: PLC0415
    domain = sender.split("@")[1]
    msg = EmailMessage(policy=policy.SMTP)
    msg["Authentication-Results"] = (f"{authserv}; spf=pass smtp.mailfrom={domain}; "
                                     f"dkim=pass header.d={domain}; dmarc=pass "
                                     f"header.from={domain}")
    msg["From"] = f"Ann Lee <{sender}>"
    msg["To"] = "support@acme.example"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(dt.datetime.fromtimestamp(int(t), dt.timezone.utc))
    msg["Message-ID"] = msgid or make_msgid(idstring="e2e", domain=domain)
    msg.set_content(text)
    return msg


def basic_auth(user: str, password: str) -> str:
    """An Authorization header value for HTTP Basic (postmark, sendgrid)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def meta_signature(secret: str, body: bytes) -> str:
    """Meta (WhatsApp, Messenger, Instagram) X-Hub-Signature-256:
    sha256=<hex(HMAC-SHA256(app secret, body))>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def x_signature(secret: str, body: bytes) -> str:
    """X x-twitter-webhooks-signature: sha256=<base64(HMAC-SHA256(consumer secret, body))>."""
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), body,
                                                 hashlib.sha256).digest()).decode()


def to_bytes_value(v: Any) -> bytes:
    """bytes as they are; anything else as its str(), UTF-8."""
    return v if isinstance(v, bytes) else str(v).encode()


def twilio_signature(token: str, url: str, params: list[tuple[Any, Any]]) -> str:
    """Twilio X-Twilio-Signature: base64(HMAC-SHA1(token, url + name + value for params
    sorted by name, then value))."""
    pairs = sorted((to_bytes_value(k), to_bytes_value(v)) for k, v in params)
    data = url.encode() + b"".join(k + v for k, v in pairs)
    return base64.b64encode(hmac.new(token.encode(), data, hashlib.sha1).digest()).decode()


def mailgun_signature(key: str, *, ts: int | str | None = None, token: str | None = None,
                      sig: str | None = None) -> dict[str, str]:
    """Mailgun's signature fields: timestamp (now unless given), token (random unless given)
    and signature = hex(HMAC-SHA256(key, timestamp + token)), or `sig` instead when given."""
    ts = str(int(time.time()) if ts is None else ts)
    token = token or pysecrets.token_hex(25)
    if sig is None:
        sig = hmac.new(key.encode(), (ts + token).encode(), hashlib.sha256).hexdigest()
    return {"timestamp": ts, "token": token, "signature": sig}


def mailgun_form(fields: list[tuple[Any, ...]], key: str, *,
                 attachments: Iterable[tuple[Any, ...]] = (), omit: tuple[str, ...] = (),
                 **signature: Any) -> list[tuple[Any, ...]]:
    """The form fields of a Mailgun route post, as Mailgun orders them: `fields`, then the
    signature fields (`signature`: ts, token or sig for mailgun_signature), then the
    attachments; fields named in `omit` are left out."""
    signed = [*fields, *mailgun_signature(key, **signature).items(), *attachments]
    return [f for f in signed if f[0] not in omit]


def multipart_form(fields: list[tuple[Any, ...]], boundary: str = "",
                   close: bool = True) -> tuple[bytes, dict[str, str]]:
    """multipart/form-data as providers write it, and its Content-Type header. A field is
    (name, value) or (name, bytes, filename, type); the boundary is random unless given;
    close=False leaves out the closing boundary."""
    boundary = boundary or "mg" + pysecrets.token_hex(8)
    out = b""
    for f in fields:
        out += f"--{boundary}\r\n".encode()
        if len(f) == 4:
            out += (f'Content-Disposition: form-data; name="{f[0]}"; filename="{f[2]}"\r\n'
                    f"Content-Type: {f[3]}\r\n").encode()
        else:
            out += f'Content-Disposition: form-data; name="{f[0]}"\r\n'.encode()
        out += b"\r\n" + to_bytes_value(f[1]) + b"\r\n"
    out += f"--{boundary}--\r\n".encode() if close else b""
    return out, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


@dataclasses.dataclass
class RawResponse(_JsonBody):
    status: int | None          # None: the connection closed (or timed out) without an answer
    headers: dict[str, str]
    body: bytes
    elapsed: float              # seconds from the last byte sent to the answer or the close
    closed: bool                # the server closed the connection
    timed_out: bool             # nothing (more) arrived within the wait
    send_error: str | None = None


def parse_raw_response(data: bytes) -> tuple[int | None, dict[str, str], bytes]:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return None, {}, b""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    try:
        status = int(parts[1])
    except (IndexError, ValueError):
        return None, {}, b""
    hdrs: dict[str, str] = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if "content-length" in hdrs:
        body = body[:int(hdrs["content-length"])]
    return status, hdrs, body


def recv_more(s: socket.socket, buf: bytes) -> tuple[bytes, bool, bool]:
    """One recv on a raw connection (socket.timeout is raised): the bytes so far, whether the
    server closed (or reset) the connection, and whether the bytes hold one whole answer."""
    try:
        chunk = s.recv(65536)
    except ConnectionResetError:
        return buf, True, False
    if not chunk:
        return buf, True, False
    buf += chunk
    status, hdrs, body = parse_raw_response(buf)
    return buf, False, status is not None and len(body) >= int(hdrs.get("content-length", "0"))


def raw_exchange(port: int, data: bytes, wait: float = 15.0) -> RawResponse:
    """Sends raw bytes (possibly an incomplete request) on a fresh connection and reads until
    one full response arrives, the server closes, or `wait` seconds pass. Send errors (the
    server may answer and close before reading a large request) are recorded, not raised."""
    s = socket.create_connection(("127.0.0.1", port), timeout=wait)
    send_error = None
    try:
        try:
            s.sendall(data)
        except OSError as e:
            send_error = repr(e)
        t0 = time.monotonic()
        buf = b""
        closed = timed_out = False
        while True:
            left = wait - (time.monotonic() - t0)
            if left <= 0:
                timed_out = True
                break
            s.settimeout(left)
            try:
                buf, closed, whole = recv_more(s, buf)
            except socket.timeout:
                timed_out = True
                break
            if closed or whole:
                break
        elapsed = time.monotonic() - t0
        status, hdrs, body = parse_raw_response(buf)
        return RawResponse(status, hdrs, body, elapsed, closed, timed_out, send_error)
    finally:
        s.close()


def signed_raw_request(port: int, channel: str, secret: str, body: bytes,
                       extra_headers: dict[str, str] | None = None, chunked: bool = False,
                       wait: float = 15.0) -> RawResponse:
    h = webhook_headers(secret, body)
    h.update(extra_headers or {})
    lines = [f"POST /v1/webhooks/{channel} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{k}: {v}" for k, v in h.items()]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        payload = b""
        for i in range(0, len(body), 8192):
            piece = body[i:i + 8192]
            payload += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        payload += b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
        payload = body
    return raw_exchange(port, ("\r\n".join(lines) + "\r\n\r\n").encode() + payload, wait)


# ---- /metrics (Prometheus text) ------------------------------------------------------------


def parse_metrics(text: str) -> dict[str, float]:
    """'name{labels} value' lines → {'name{labels}': value} (labels as written)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        out[key] = float(value)
    return out


def scrape_metrics(client: Client) -> dict[str, float]:
    """GET /metrics, parsed."""
    return parse_metrics(client.get("/metrics").body.decode())


def metric(m: dict[str, float], name: str, **labels: str) -> float | None:
    """The sample whose labels include all of `labels` (sum over the others); None when
    there is none."""
    total = None
    for key, v in m.items():
        base, _, rest = key.partition("{")
        if base != name:
            continue
        have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', rest))
        if all(have.get(k) == val for k, val in labels.items()):
            total = (total or 0) + v
    return total


# ---- the broker side (pika, as an agent's tool) --------------------------------------------


def _pika() -> Any:
    try:
        import pika  # noqa: PLC0415 (imported late so a missing pika is a clear failure)
    except ImportError:
        fail("pika is not importable: run the tests with Debian's /usr/bin/python3 "
             "(package python3-pika)")
    return pika


def amqp_connect(url: str) -> Any:
    pika = _pika()
    params = pika.URLParameters(url)
    params.socket_timeout = 10
    params.blocked_connection_timeout = 30
    params.connection_attempts = 3
    params.retry_delay = 1
    params.heartbeat = 60
    return pika.BlockingConnection(params)


def wait_for_queues(url: str, queues: list[str], timeout: float = 60) -> None:
    """Waits until every queue exists (the daemon declares them once its publisher is up)."""
    pika = _pika()
    deadline = time.monotonic() + timeout
    conn = amqp_connect(url)
    try:
        missing = list(queues)
        while missing:
            ch = conn.channel()
            try:
                ch.queue_declare(missing[0], passive=True)
                missing.pop(0)
                ch.close()
            except pika.exceptions.ChannelClosedByBroker:
                if time.monotonic() > deadline:
                    fail(f"queue {missing[0]} was not declared within {timeout:.0f}s "
                         "(did the daemon connect to the broker?)")
                time.sleep(0.2)
    finally:
        conn.close()


def queue_depths(url: str, queues: list[str]) -> dict[str, int | None]:
    pika = _pika()
    out: dict[str, int | None] = {}
    conn = amqp_connect(url)
    try:
        for q in queues:
            ch = conn.channel()
            try:
                out[q] = ch.queue_declare(q, passive=True).method.message_count
                ch.close()
            except pika.exceptions.ChannelClosedByBroker:
                out[q] = None
    finally:
        conn.close()
    return out


def delete_broker_objects(url: str, queues: list[str], exchange: str | None) -> None:
    pika = _pika()
    try:
        conn = amqp_connect(url)
    except Exception as e:
        log(f"cannot connect to the broker to delete {queues}: {e!r}")
        return

    def delete(op: Callable[[Any], Any]) -> None:
        """Runs op on a fresh channel; the broker closing it instead (no such object) is fine."""
        ch = conn.channel()
        try:
            op(ch)
            ch.close()
        except pika.exceptions.ChannelClosedByBroker:
            pass

    try:
        for q in queues:
            delete(lambda ch: ch.queue_delete(q))
        if exchange:
            delete(lambda ch: ch.exchange_delete(exchange))
    finally:
        conn.close()


@dataclasses.dataclass
class Consumed:
    queue: str
    exchange: str
    routing_key: str
    redelivered: bool
    properties: Any  # pika.BasicProperties
    raw: bytes
    body: Any        # parsed JSON, or None when the body is not JSON

    @property
    def message_id(self) -> str | None:
        return self.properties.message_id

    @property
    def provider_id(self) -> str | None:
        try:
            return self.body["message"]["provider_id"]
        except (TypeError, KeyError):
            return None

    def header(self, name: str) -> Any:
        v = (self.properties.headers or {}).get(name)
        return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


_schema_validator: Any = None
schema_failures: list[str] = []  # every consumed payload that breaks docs/payload.schema.json


def check_payload(body: Any, where: str) -> None:
    """Validates one consumed payload against the published JSON Schema (the contract with
    agents' tools). A failure fails the test at its end, whatever else it checked."""
    global _schema_validator
    if _schema_validator is None:
        import jsonschema  # Debian's python3-jsonschema
        with open(os.path.join(source_dir(), "docs", "payload.schema.json")) as f:
            schema = json.load(f)
        _schema_validator = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(_schema_validator.iter_errors(body), key=lambda e: list(e.path))
    for e in errors[:3]:
        path = "/".join(str(p) for p in e.path)
        schema_failures.append(f"{where}: payload breaks the schema at /{path}: {e.message[:200]}")


def receive(ch: Any, queue: str, method: Any, props: Any, body: bytes) -> Consumed:
    """One delivery from `queue` as an agent takes it: parsed, its payload validated against
    the schema (check_payload), acked on channel `ch`."""
    parsed = json_or_none(body)
    got = Consumed(queue, method.exchange, method.routing_key, method.redelivered, props, body,
                   parsed)
    check_payload(parsed, f"{queue} message_id={props.message_id}")
    ch.basic_ack(method.delivery_tag)
    return got


class EventTap:
    """An agent's tool listening to the events exchange (docs/replies.md, "Events"): a queue of
    its own (exclusive) bound with `binding`; each event parsed, checked against
    docs/event.schema.json (violations in `errors`) and against its AMQP properties."""

    def __init__(self, env: "Env", binding: str = "message.status.#") -> None:
        import jsonschema  # noqa: PLC0415 (Debian's python3-jsonschema)
        with open(os.path.join(source_dir(), "docs", "event.schema.json")) as f:
            self.validator = jsonschema.Draft202012Validator(json.load(f))
        self.conn = amqp_connect(env.amqp_url)
        self.ch = self.conn.channel()
        # Declared as the daemon declares it, so the binding does not wait for the daemon.
        self.ch.exchange_declare(env.events_exchange, "topic", durable=True)
        q = self.ch.queue_declare("", exclusive=True).method.queue
        self.ch.queue_bind(q, env.events_exchange, routing_key=binding)
        self.events: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.ch.basic_consume(q, self._on_event, auto_ack=True)
        on_cleanup("close the events tap", self.close)

    def _on_event(self, _ch: Any, method: Any, props: Any, body: bytes) -> None:
        event = json_or_none(body)
        if not isinstance(event, dict):
            self.errors.append(f"not a JSON object: {body[:200]!r}")
            return
        self.errors += [f"{event.get('type')}: {e.message}"
                        for e in self.validator.iter_errors(event)]
        if (method.routing_key, props.type, props.message_id, props.content_type) != (
                event.get("type"), event.get("type"), event.get("id"), "application/json"):
            self.errors.append(f"AMQP properties do not match the event: {method.routing_key} "
                               f"{props.type} {props.message_id} {props.content_type}")
        self.events.append(event)

    def of(self, message_id: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("message_id") == message_id]

    def wait(self, until: Callable[[list[dict[str, Any]]], bool], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not until(self.events):
            self.conn.process_data_events(time_limit=0.1)
        self.conn.process_data_events(time_limit=0.3)  # what follows closely (a duplicate)

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001 (closed already)
            pass


class Consumer:
    """An agent: consumes the given queues (manual acks, each message acked once received)."""

    def __init__(self, url: str, queues: list[str], prefetch: int = 500) -> None:
        self.url = url
        self.queues = queues
        self.conn = amqp_connect(url)
        self.ch = self.conn.channel()
        self.ch.basic_qos(prefetch_count=prefetch)
        self._got: list[Consumed] = []
        for q in queues:
            self.ch.basic_consume(q, self._make_cb(q), auto_ack=False)
        on_cleanup("close the AMQP consumer", self.close)

    def _make_cb(self, queue: str) -> Callable[..., None]:
        def cb(ch: Any, method: Any, props: Any, body: bytes) -> None:
            self._got.append(receive(ch, queue, method, props, body))
        return cb

    def drain(self, idle: float = 3.0, deadline: float = 60.0,
              until: Callable[[list[Consumed]], bool] | None = None) -> list[Consumed]:
        """Consumes until `until(messages)` holds (when given) and no message has arrived for
        `idle` seconds, or `deadline` seconds pass. Returns the messages of this call."""
        start = len(self._got)
        t0 = last = time.monotonic()
        while True:
            n = len(self._got)
            self.conn.process_data_events(time_limit=0.2)
            now = time.monotonic()
            if len(self._got) != n:
                last = now
            mine = self._got[start:]
            if (until is None or until(mine)) and now - last >= idle:
                return mine
            if now - t0 >= deadline:
                return mine

    def close(self) -> None:
        try:
            if self.conn.is_open:
                self.conn.close()
        except Exception:
            pass


def consume_one(ck: Checks, agent: Consumer, queue: str, what: str, idle: float,
                queue_name: str | None = None) -> Consumed | None:
    """Consumes until a message has come and then none for `idle` s (30 s at most), and checks
    that nothing came on the other queues and exactly one message on `queue` (`queue_name` in
    the check's message, by default the queue's own name). Returns that message, or None."""
    got = agent.drain(idle=idle, deadline=30, until=lambda ms: len(ms) >= 1)
    ck.equal([(m.queue, m.provider_id) for m in got if m.queue != queue], [],
             f"{what}: nothing on other queues")
    mine = [m for m in got if m.queue == queue]
    ck.equal(len(mine), 1, f"{what}: exactly one message on {queue_name or queue}")
    return mine[0] if mine else None


def get_in_order(url: str, queue: str, count: int, timeout: float = 30) -> list[Consumed]:
    """Takes `count` messages from `queue` one basic.get at a time (acked), so the result is
    exactly the order the queue hands them out (e.g. by priority), with no prefetch between.
    Returns fewer when the queue stays empty for `timeout` seconds."""
    conn = amqp_connect(url)
    out: list[Consumed] = []
    try:
        ch = conn.channel()
        last = time.monotonic()
        while len(out) < count and time.monotonic() - last < timeout:
            method, props, body = ch.basic_get(queue, auto_ack=False)
            if method is None:
                time.sleep(0.1)
                continue
            out.append(receive(ch, queue, method, props, body))
            last = time.monotonic()
    finally:
        try:
            conn.close()
        except Exception:
            pass
    return out


# ---- the ledger: what was sent, acknowledged and consumed ----------------------------------


class Ledger:
    """Thread-safe record of a load run, keyed by provider message id (the chat `id`).

    lost:        acknowledged (2xx) but never consumed: a broken durability promise
    duplicated:  deliveries beyond the first per AMQP message_id (at-least-once: allowed)
    dedupe_fail: provider ids consumed under more than one Switchboard message_id
                 (the store kept one provider message twice)
    unexpected:  consumed messages whose provider id was never sent
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: set[str] = set()
        self.acked: dict[str, str | None] = {}       # pid → message_id (None: 200 duplicate)
        self.acked_order: list[str] = []
        self.statuses: collections.Counter[int] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()
        self.attempts = 0
        self.gave_up: dict[str, str] = {}
        self.consumed_mids: collections.Counter[str] = collections.Counter()
        self.consumed_pid_mids: dict[str, set[str]] = collections.defaultdict(set)
        self.consumed_total = 0
        self.unexpected: list[str] = []
        self.no_ids = 0

    def record_sent(self, pid: str) -> None:
        with self.lock:
            self.sent.add(pid)

    def record_reply(self, pid: str, status: int, body: Any) -> None:
        with self.lock:
            self.attempts += 1
            self.statuses[status] += 1
            if 200 <= status < 300 and pid not in self.acked:
                mid = None
                try:
                    if body["accepted"]:
                        mid = body["accepted"][0]["message_id"]
                except (TypeError, KeyError, IndexError):
                    pass
                self.acked[pid] = mid
                self.acked_order.append(pid)

    def record_error(self, pid: str, exc: BaseException) -> None:
        with self.lock:
            self.attempts += 1
            self.errors[type(exc).__name__] += 1

    def record_gave_up(self, pid: str, why: str) -> None:
        with self.lock:
            self.gave_up[pid] = why

    @property
    def acked_count(self) -> int:
        with self.lock:
            return len(self.acked)

    def record_consumed(self, msgs: Iterable[Consumed]) -> None:
        with self.lock:
            for m in msgs:
                self.consumed_total += 1
                pid, mid = m.provider_id, m.message_id
                if pid is None or mid is None:
                    self.no_ids += 1
                    continue
                self.consumed_mids[mid] += 1
                self.consumed_pid_mids[pid].add(mid)
                if pid not in self.sent:
                    self.unexpected.append(pid)

    def all_acked_consumed(self) -> bool:
        with self.lock:
            return all(p in self.consumed_pid_mids for p in self.acked)

    def summary(self) -> dict[str, int]:
        with self.lock:
            lost = [p for p in self.acked if p not in self.consumed_pid_mids]
            mismatch = [p for p, mid in self.acked.items()
                        if mid is not None and p in self.consumed_pid_mids
                        and mid not in self.consumed_pid_mids[p]]
            return {
                "sent": len(self.sent),
                "acked (2xx)": len(self.acked),
                "acked as duplicate (200)": sum(1 for v in self.acked.values() if v is None),
                "gave up": len(self.gave_up),
                "http attempts": self.attempts,
                "connection errors": sum(self.errors.values()),
                "consumed (deliveries)": self.consumed_total,
                "consumed distinct ids": len(self.consumed_mids),
                "consumed but not acked": sum(1 for p in self.consumed_pid_mids
                                              if p in self.sent and p not in self.acked),
                "lost": len(lost),
                "duplicated": self.consumed_total - self.no_ids - len(self.consumed_mids),
                "dedupe failures": sum(1 for s in self.consumed_pid_mids.values() if len(s) > 1),
                "message_id mismatch": len(mismatch),
                "unexpected": len(self.unexpected) + self.no_ids,
            }

    def lost_ids(self, n: int = 10) -> list[str]:
        with self.lock:
            return [p for p in self.acked_order if p not in self.consumed_pid_mids][:n]

    def report(self, title: str) -> dict[str, int]:
        s = self.summary()
        print_table(s.items(), ("metric", "value"), title)
        with self.lock:
            st = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
            er = ", ".join(f"{k}: {v}" for k, v in self.errors.most_common())
        print(f"HTTP statuses: {st or '-'}; connection errors: {er or '-'}", flush=True)
        if s["lost"]:
            print(f"first lost ids: {self.lost_ids()}", flush=True)
        if self.gave_up:
            print(f"gave up on (first 10): {list(self.gave_up.items())[:10]}", flush=True)
        return s


def deliver(client: Client, env: Env, pid: str, body: Any, ledger: Ledger, *,
            max_attempts: int = 80, give_up_after: float = 150.0,
            stop: threading.Event | None = None) -> bool:
    """Posts one message as a provider would: a connection-level failure or a 5xx is retried
    with the same message id (and a fresh timestamp and signature) after a backoff, until a
    2xx or the attempts run out. Returns True when acknowledged."""
    data = to_bytes(body)
    ledger.record_sent(pid)
    webhook_id = f"msg_{pid}"  # a delivery keeps its webhook-id across retries
    t0 = time.monotonic()
    for attempt in range(1, max_attempts + 1):
        why = ""
        try:
            r = post_webhook(client, env.channel, data, env.secret, webhook_id=webhook_id)
        except (OSError, http.client.HTTPException) as e:
            ledger.record_error(pid, e)
            why = repr(e)
        else:
            ledger.record_reply(pid, r.status, r.json)
            if 200 <= r.status < 300:
                return True
            if r.status < 500:
                ledger.record_gave_up(pid, f"HTTP {r.status} {r.body[:200]!r}")
                return False
            why = f"HTTP {r.status}"
        if time.monotonic() - t0 > give_up_after or (stop is not None and stop.is_set()):
            break
        time.sleep(min(1.0, 0.05 * 2 ** min(attempt, 5)) * random.uniform(0.5, 1.0))
    ledger.record_gave_up(pid, f"after {attempt} attempts: {why}")
    return False


def drain_acked(agent: Consumer, ledger: Ledger,
                deadline: float) -> tuple[list[Consumed], float | None]:
    """Consumes until every id the ledger saw acknowledged was consumed and nothing came for
    3 s, or `deadline` seconds pass, and records the deliveries in the ledger. Returns them
    and the seconds until the first batch of them (None: nothing came)."""
    want = set(ledger.acked)
    seen: set[str] = set()
    got: list[Consumed] = []
    first_after = None
    t0 = time.monotonic()
    while True:
        batch = agent.drain(idle=3.0 if want <= seen else 0.5,
                            deadline=max(0.0, min(5.0, deadline - (time.monotonic() - t0))))
        if batch and first_after is None:
            first_after = time.monotonic() - t0
        got += batch
        seen.update(m.provider_id for m in batch if m.provider_id)
        if want <= seen and not batch:
            break
        if time.monotonic() - t0 > deadline:
            log("drain deadline passed")
            break
    ledger.record_consumed(got)
    return got, first_after


# ---- the store -----------------------------------------------------------------------------


def integrity_check(store_path: str) -> str:
    """PRAGMA integrity_check on the store (call it after the daemon has stopped)."""
    conn = sqlite3.connect(store_path, timeout=10)
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()
    return "\n".join(str(r[0]) for r in rows)


# ---- the broker node (outage tests) --------------------------------------------------------


def rabbitmqctl(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    cmd = ["rabbitmqctl", "-n", broker_node(), *args]
    log("$ " + " ".join(cmd))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def amqp_port(url: str) -> int:
    import urllib.parse  # noqa: PLC0415
    return urllib.parse.urlsplit(url).port or 5672


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
