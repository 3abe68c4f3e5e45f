#!/usr/bin/python3
"""Skills-based routing against the real broker (issue #5):

- IVR digits and keywords pick the skill; the first matching route wins;
- a classic priority queue hands the agent the highest priority first;
- stickiness: a follow-up stays with its conversation's skill; `reroute: true` moves it, and
  GET /v1/conversations/{id} lists every skill change;
- escalation: a message nobody consumes within escalate_after is dead-lettered by the broker
  into the escalation skill's queue;
- overflow: a publish a full queue (max_length, reject-publish) nacks goes to overflow_to;
  without overflow_to it stays in the outbox and arrives once the agent makes room;
- a queue that exists with other arguments is reported (queue, argument, what to do) and the
  other skills still work;
- SIGHUP: a reload that adds a skill and a route takes effect without failing a request in
  flight; an invalid reload changes nothing;
- `switchboard route` explains the decision for a consumed payload."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

TOKEN = "routing-" + os.urandom(8).hex()
CALLBACK_SECRET = h.new_secret()

SKILLS = {
    "general": "",
    "billing": "    max_priority: 10\n",
    "technical": "",
    "sales": "",
    "slow": "    escalate_after: 2s\n    escalate_to: supervisors\n",
    "supervisors": "",
    "small": "    max_length: 2\n    overflow_to: spill\n",
    "spill": "    queue_type: quorum\n",
    "tiny": "    max_length: 1\n",
    "mismatch": "",
}

ROUTES = """\
  - when: {channel_type: callback, ivr_digits: "1"}
    skill: billing
    priority: 7
  - when: {channel_type: callback, ivr_digits: "2"}
    skill: technical
  - when: {text_matches: "(?i)refund|invoice"}
    skill: billing
    priority: 5
  - when: {text_matches: "(?i)urgent"}
    skill: billing
    priority: 9
  - when: {text_matches: "(?i)billing question"}
    skill: billing
    priority: 1
  - when: {text_matches: "(?i)switch me to sales"}
    skill: sales
    reroute: true
  - when: {text_matches: "escalate-me"}
    skill: slow
  - when: {text_matches: "fill-small"}
    skill: small
  - when: {text_matches: "fill-tiny"}
    skill: tiny
  - when: {text_matches: "mismatch-me"}
    skill: mismatch
  - skill: general
"""

counter = iter(range(1, 1_000_000))


def chat(env: h.Env, c: h.Client, ck: h.Checks, text: str, visitor: str | None = None,
         what: str = "") -> dict[str, Any]:
    n = next(counter)
    r = env.post(c, h.chat_message(f"r-{n}", visitor or f"v-{n}", text, name=None))
    ck.require(r.status == 202, f"{what or text}: 202", f"{r.status} {r.body[:200]!r}")
    return r.json["accepted"][0]


def api(env: h.Env, path: str) -> Any:
    r = env.client().request("GET", path, None, {"Authorization": f"Bearer {TOKEN}"})
    return r.json if r.status == 200 else None


def main(ck: h.Checks) -> None:
    env = h.Env(skills=SKILLS, routes=ROUTES, api_tokens=[TOKEN], extra_channels=f"""
  - name: callbacks
    type: callback
    secret: {h.yq(CALLBACK_SECRET)}
""")
    q = env.queues
    # An ops mistake to report: the queue of skill "mismatch" already exists with a length
    # limit the config does not have.
    conn = h.amqp_connect(env.amqp_url)
    conn.channel().queue_declare(q["mismatch"], durable=True, arguments={"x-max-length": 5})
    conn.close()

    d = env.start(wait_queues=False)
    h.wait_for_queues(env.amqp_url, [v for k, v in q.items() if k != "mismatch"], timeout=60)
    c = env.client()

    # ---- a queue with other arguments: reported, the other skills work ----
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not d.log_grep("already exists with different"):
        time.sleep(0.2)
    lines = d.log_grep("already exists with different")
    ck.check(lines and f"queue={q['mismatch']}" in lines[0] and "x-max-length" in lines[0]
             and f"rabbitmqctl delete_queue {q['mismatch']}" in lines[0],
             "the mismatched queue is logged with its name, argument and the fix", lines[:1])
    acc = chat(env, c, ck, "mismatch-me please")
    ck.equal(acc.get("skill"), "mismatch", "a message for the mismatched skill is accepted")

    # ---- IVR digits and keywords; first match wins ----
    h.log("IVR and keyword routing")
    for digits, skill, prio in (("1", "billing", 7), ("2", "technical", 0), ("9", "general", 0)):
        cb = {"id": f"cb-{digits}-{os.urandom(3).hex()}", "phone": f"+1 555 010 200{digits}",
              "ivr_digits": digits, "reason": "please call"}
        r = h.post_webhook(c, "callbacks", cb, CALLBACK_SECRET)
        ck.equal(r.status, 202, f"callback with digits {digits}: 202")
        got = h.get_in_order(env.amqp_url, q[skill], 1, timeout=10)
        ck.equal(len(got), 1, f"IVR digits {digits}: consumed from {skill}")
        if got:
            ck.equal(got[0].properties.priority, prio, f"IVR digits {digits}: priority {prio}")
            ck.equal(got[0].header("x-skill"), skill, f"IVR digits {digits}: x-skill header")
    chat(env, c, ck, "I want a refund, it is urgent")
    got = h.get_in_order(env.amqp_url, q["billing"], 1, timeout=10)
    ck.equal([m.properties.priority for m in got], [5],
             "'refund ... urgent' takes the first matching route (refund, priority 5), not urgent")

    # ---- priority ordering on a classic priority queue ----
    h.log("priority ordering")
    texts = {1: "a billing question", 5: "refund please", 9: "URGENT: charged twice"}
    sent = []
    for i in range(4):
        for prio in (1, 5, 9):
            acc = chat(env, c, ck, f"{texts[prio]} #{i}")
            sent.append(acc["message_id"])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and h.queue_depths(env.amqp_url, [q["billing"]])[q["billing"]] != 12:
        time.sleep(0.2)
    got = h.get_in_order(env.amqp_url, q["billing"], 12, timeout=10)
    prios = [m.properties.priority for m in got]
    ck.equal(prios, [9] * 4 + [5] * 4 + [1] * 4, "the agent gets priority 9, then 5, then 1")
    ck.equal(sorted(m.message_id for m in got), sorted(sent), "all twelve consumed")

    # ---- stickiness, reroute, skill history ----
    h.log("stickiness")
    first = chat(env, c, ck, "hello there", visitor="v-sticky")
    ck.equal(first["skill"], "general", "a greeting goes to general")
    follow = chat(env, c, ck, "and about my invoice", visitor="v-sticky")
    ck.equal(follow["skill"], "general", "a follow-up about an invoice stays with general")
    ck.equal(follow["conversation_id"], first["conversation_id"], "same conversation")
    moved = chat(env, c, ck, "please switch me to sales", visitor="v-sticky")
    ck.equal(moved["skill"], "sales", "a reroute: true route moves the conversation")
    after = chat(env, c, ck, "refund?", visitor="v-sticky")
    ck.equal(after["skill"], "sales", "after the reroute the conversation stays with sales")
    got = h.get_in_order(env.amqp_url, q["general"], 2, timeout=10)
    ck.equal([m.body["message"]["text"] for m in got], ["hello there", "and about my invoice"],
             "general got the greeting and the sticky follow-up")
    got = h.get_in_order(env.amqp_url, q["sales"], 2, timeout=10)
    ck.equal([m.body["conversation"]["skill"] for m in got], ["sales", "sales"],
             "sales got the rerouted messages, the payload says skill sales")
    conv = api(env, f"/v1/conversations/{first['conversation_id']}") or {}
    history = conv.get("conversation", {}).get("skill_history", [])
    ck.equal([(x["previous_skill"], x["skill"]) for x in history],
             [(None, "general"), ("general", "sales")], "skill_history records both changes")
    ck.equal([x["message_id"] for x in history], [first["message_id"], moved["message_id"]],
             "skill_history names the messages that changed the skill")
    ck.check(len(history) == 2 and "switch me to sales" in history[1]["reason"],
             "skill_history gives the route", history)

    # ---- `switchboard route` on a consumed payload ----
    sample = got[-1].body if got else {}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(sample, f)
        sample_path = f.name
    h.on_cleanup("remove the route sample", lambda: os.unlink(sample_path))
    r = h.run_binary(["route", "--config", env.config_path, sample_path])
    ck.equal(r.returncode, 0, f"switchboard route exits 0 ({r.stderr.strip()})")
    ck.check("skill:    sales" in r.stdout and "sticky" in r.stdout,
             "switchboard route explains the sticky decision", r.stdout)
    r = subprocess.run([h.daemon_binary(), "route", "--config", env.config_path, "-"],
                       input='{"channel": "callbacks", "ivr_digits": "2"}', text=True,
                       capture_output=True, timeout=30)
    ck.check(r.returncode == 0 and "skill:    technical" in r.stdout and "ivr_digits" in r.stdout,
             "switchboard route reads a hand-written message on stdin", r.stdout + r.stderr)
    r = subprocess.run([h.daemon_binary(), "route", "--config", env.config_path, "-"],
                       input='{"channel": "sms"}', text=True, capture_output=True, timeout=30)
    ck.check(r.returncode == 2 and "channel \"sms\" is not in the config" in r.stderr,
             "switchboard route refuses an unknown channel with exit 2", r.stderr)

    # ---- escalation by the broker ----
    h.log("escalation")
    esc = chat(env, c, ck, "escalate-me: nobody is answering")
    ck.equal(esc["skill"], "slow", "routed to slow")
    time.sleep(1.0)
    ck.equal(h.queue_depths(env.amqp_url, [q["slow"]])[q["slow"]], 1,
             "the message waits in slow's queue first")
    got = h.get_in_order(env.amqp_url, q["supervisors"], 1, timeout=15)
    ck.equal([m.message_id for m in got], [esc["message_id"]],
             "left unconsumed past escalate_after (2s), it is consumed from supervisors")
    if got:
        death = (got[0].properties.headers or {}).get("x-death") or [{}]
        ck.equal(got[0].header("x-first-death-queue"), q["slow"],
                 "x-first-death-queue names slow's queue")
        ck.equal(death[0].get("reason", b"").decode() if isinstance(death[0].get("reason"), bytes)
                 else death[0].get("reason"), "expired", "x-death reason: expired")
    ck.equal(h.queue_depths(env.amqp_url, [q["slow"]])[q["slow"]], 0, "slow's queue is empty")

    # ---- overflow to another skill; back-pressure without overflow_to ----
    h.log("overflow")
    small_ids = [chat(env, c, ck, f"fill-small {i}")["message_id"] for i in range(5)]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        depth = h.queue_depths(env.amqp_url, [q["small"], q["spill"]])
        if depth[q["small"]] == 2 and depth[q["spill"]] == 3:
            break
        time.sleep(0.2)
    ck.equal(depth, {q["small"]: 2, q["spill"]: 3}, "small holds max_length 2, spill the rest")
    in_small = h.get_in_order(env.amqp_url, q["small"], 2, timeout=5)
    in_spill = h.get_in_order(env.amqp_url, q["spill"], 3, timeout=5)
    ck.equal(sorted(m.message_id for m in in_small + in_spill), sorted(small_ids),
             "all five fill-small messages consumed once, from small or spill")
    ck.equal({m.header("x-skill") for m in in_spill}, {"spill"}, "overflowed: x-skill spill")
    ck.equal({m.header("x-switchboard-overflow-from") for m in in_spill}, {"small"},
             "overflowed: x-switchboard-overflow-from small")
    ck.equal({m.header("x-switchboard-overflow-from") for m in in_small}, {None},
             "not overflowed: no overflow header")

    tiny_ids = [chat(env, c, ck, f"fill-tiny {i}")["message_id"] for i in range(3)]
    time.sleep(1.5)
    ck.equal(h.queue_depths(env.amqp_url, [q["tiny"]])[q["tiny"]], 1,
             "tiny (max_length 1, no overflow_to) holds one; the others wait in the outbox")
    in_tiny = h.get_in_order(env.amqp_url, q["tiny"], 3, timeout=40)
    ck.equal(sorted(m.message_id for m in in_tiny), sorted(tiny_ids),
             "as the agent makes room, the waiting messages arrive: none lost")

    # ---- SIGHUP: add a skill and a route while requests are in flight ----
    h.log("reload")
    env.queues["returns"] = f"{env.prefix}.returns"
    new_config = env.config_text.replace(
        "routes:\n", f"  - name: returns\n    queue: {h.yq(env.queues['returns'])}\n"
                     "routes:\n  - when: {text_matches: \"(?i)return label\"}\n"
                     "    skill: returns\n", 1)
    ck.require(new_config != env.config_text, "the reload config differs")
    statuses: list[int] = []
    stop = threading.Event()

    def background() -> None:
        cl = env.client()
        i = 0
        while not stop.is_set():
            i += 1
            r = env.post(cl, h.chat_message(f"bg-{i}", f"bg-{i}", "background traffic"))
            statuses.append(r.status)

    t = threading.Thread(target=background)
    t.start()
    time.sleep(0.5)
    before = d.reload(new_config, "reloaded")
    time.sleep(0.5)
    stop.set()
    t.join()
    ck.check(len(d.log_grep("reloaded")) > before, "the reload is logged")
    ck.check(len(statuses) > 20 and set(statuses) == {202},
             "every request around the reload got 202", f"{len(statuses)} requests, "
             f"statuses {sorted(set(statuses))}")
    acc = chat(env, c, ck, "I need a return label")
    ck.equal(acc["skill"], "returns", "the route added by the reload applies")
    got = h.get_in_order(env.amqp_url, env.queues["returns"], 1, timeout=15)
    ck.equal([m.message_id for m in got], [acc["message_id"]],
             "the new skill's queue was declared and gets the message")

    # An invalid config: logged, and nothing changes.
    broken = new_config.replace("(?i)return label", "(?i)return label(").replace(
        "routes:\n", "routes:\n  - when: {text_matches: \"never-seen\"}\n    skill: sales\n", 1)
    before = d.reload(broken, "reload refused")
    ck.check(len(d.log_grep("reload refused")) > before, "the invalid reload is refused")
    ck.check(any(env.config_path in l and "text_matches" in l for l in d.log_grep("error")),
             "the refusal names the file, line and key of the bad regex",
             d.log_grep("text_matches")[-2:])
    ck.equal(chat(env, c, ck, "never-seen")["skill"], "general",
             "a route only in the refused config does not apply")
    ck.equal(chat(env, c, ck, "another return label")["skill"], "returns",
             "the running config stays")
    ck.check(d.alive(), "the daemon is still running")
    rc = d.stop()
    ck.equal(rc, 0, "SIGTERM: exit 0")


if __name__ == "__main__":
    h.run(main, timeout=300)
