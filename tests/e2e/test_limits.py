#!/usr/bin/python3
"""Connection cap and keep-alive: past server.max_connections a new connection is answered 503
and closed while the connections inside the cap keep working; a keep-alive connection serves
many requests; once connections close, new ones are served again."""

from __future__ import annotations

import os
import socket
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

CAP = 4


def main(ck: h.Checks) -> None:
    env = h.Env(max_connections=CAP, read_timeout="30s")
    env.start()

    r = env.client().get("/readyz")
    ck.equal(r.status, 200, "/readyz: 200 once the daemon is up")
    ck.equal(r.json, {"status": "ready"}, "/readyz body")

    # Keep-alive: one connection, many requests.
    c = env.client()
    for i in range(20):
        r = env.post(c, h.chat_message(f"ka-{i}", "v-keepalive", f"message {i}"))
        ck.check(r.status in (200, 202), f"keep-alive request {i}: 2xx", r)
    ck.equal(c.connections, 1, "20 requests used one keep-alive connection")
    c.close()
    time.sleep(0.5)  # let the daemon notice the close

    # Fill the cap with idle connections (each has sent nothing yet).
    idle = [socket.create_connection(("127.0.0.1", env.port), timeout=10) for _ in range(CAP)]
    time.sleep(0.5)
    try:
        over = h.raw_exchange(env.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", wait=10)
        ck.equal(over.status, 503, "a connection past max_connections is answered 503")
        ck.check(over.json and over.json.get("error") == "unavailable",
                 "the 503 is the JSON error 'unavailable'", over.body)
        ck.check(over.closed or over.headers.get("connection", "").lower() == "close",
                 "the over-cap connection is closed", over)

        # The connections inside the cap still work.
        idle[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        idle[0].settimeout(10)
        data = idle[0].recv(65536)
        ck.check(data.startswith(b"HTTP/1.1 200"), "a connection inside the cap is served",
                 data[:80])
    finally:
        for s in idle:
            s.close()
    time.sleep(0.5)

    # Below the cap again: served.
    r = env.client().get("/healthz")
    ck.equal(r.status, 200, "after the connections closed, a new connection is served")


if __name__ == "__main__":
    h.run(main, timeout=180)
