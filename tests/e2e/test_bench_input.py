#!/usr/bin/python3
"""The benchmark's input stays valid: bench/gen_requests.py builds its config and signed
webhooks from this harness's builders, so a change here could break scripts/bench.sh without
any other test noticing. Generates a small file, starts the daemon on the generated config and
replays every record: each is answered 2xx and consumed once from the skill queues."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

COUNT = 25  # five of each channel type


def records(path: str) -> list[bytes]:
    out = []
    with open(path, "rb") as f:
        while header := f.read(4):
            (n,) = struct.unpack("<I", header)
            out.append(f.read(n))
    return out


def main(ck: h.Checks) -> None:
    src = h.source_dir()
    work = tempfile.mkdtemp(prefix="sb-bench-input-")
    h.on_cleanup("remove temp dir", lambda: shutil.rmtree(work, ignore_errors=True))
    port, exchange = h.free_port(), h.unique_prefix()
    queues = [exchange + ".general", exchange + ".billing"]
    h.on_cleanup("delete broker queues and exchange",
                 lambda: h.delete_broker_objects(h.amqp_url(), queues, exchange))
    gen = subprocess.run(
        [sys.executable, os.path.join(src, "bench", "gen_requests.py"), "--out", work,
         "--port", str(port), "--amqp", h.amqp_url(), "--exchange", exchange,
         "--store", os.path.join(work, "store.db"), "--count", str(COUNT), "--customers", "3"],
        capture_output=True, text=True, timeout=120)
    ck.require(gen.returncode == 0, "gen_requests.py runs", gen.stderr[-2000:])
    reqs = records(os.path.join(work, "requests.bin"))
    ck.equal(len(reqs), COUNT, "one record per request")

    daemon = h.Daemon(os.path.join(work, "switchboard.yaml"), port,
                      os.path.join(work, "daemon.log"), work)
    h.on_cleanup("kill the daemon", daemon.kill)
    daemon.start()
    h.wait_for_queues(h.amqp_url(), queues)
    agent = h.Consumer(h.amqp_url(), queues)
    for i, req in enumerate(reqs):
        r = h.raw_exchange(port, req)
        ck.check(r.status in (200, 202), f"record {i} ({req.split(b' ', 2)[1].decode()}): 2xx",
                 f"{r.status} {r.body[:300]!r}")
    got = agent.drain(until=lambda msgs: len(msgs) >= COUNT, deadline=60)
    ids = [m.message_id for m in got]
    ck.equal(len(ids), COUNT, "every request is consumed")
    ck.equal(len(set(ids)), COUNT, "each once")
    channels = {m.body["message"]["channel"] for m in got if m.body}
    ck.equal(channels, {"web-chat", "wa", "fb", "mail", "sms"}, "all five channel types")
    ck.equal(daemon.stop(), 0, "the daemon stops cleanly")


if __name__ == "__main__":
    h.run(main, timeout=300)
