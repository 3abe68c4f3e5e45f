#!/usr/bin/python3
"""The read API and conversation life cycle: bearer tokens (401 without), GET conversation and
customer (by id and by identity, 404 for unknown ids) agreeing with what the agent consumed;
thread truncation at thread_limit; close and reopen; two messages that link the same two
customers, posted at the same time, end in one customer with no message lost."""

from __future__ import annotations

import json
import os
import sys
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

TOKEN = "t0ken-" + os.urandom(8).hex()
THREAD_LIMIT = 3


def api(env: h.Env, method: str, path: str, token: str | None = TOKEN) -> h.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return env.client().request(method, path, None, headers)


def main(ck: h.Checks) -> None:
    env = h.Env(api_tokens=[TOKEN, "second-token-for-rotation"], thread_limit=THREAD_LIMIT)
    env.start()
    agent = h.Consumer(env.amqp_url, list(env.queues.values()))
    c = env.client()

    # ---- bearer tokens ----
    for what, token in (("no token", None), ("wrong token", "nope"), ("empty token", "")):
        r = api(env, "GET", "/v1/customers?identity=email:ann@example.com", token)
        ck.equal(r.status, 401, f"read API with {what}: 401")
        ck.check("Bearer" in r.headers.get("www-authenticate", ""), f"{what}: WWW-Authenticate",
                 r.headers.get("www-authenticate"))
    r = api(env, "GET", "/v1/conversations/0000", "second-token-for-rotation")
    ck.equal(r.status, 404, "a second configured token is accepted (unknown id: 404)")
    ck.equal((r.json or {}).get("error"), "not_found", "404 body is the JSON error")
    ck.equal(api(env, "GET", "/v1/customers/nope").status, 404, "unknown customer: 404")
    ck.equal(api(env, "GET", "/v1/customers?identity=email:nobody@example.com").status, 404,
             "unknown identity: 404")
    ck.equal(api(env, "GET", "/v1/customers?identity=bogus").status, 400,
             "identity without type:value: 400")
    ck.equal(api(env, "DELETE", "/v1/conversations/x").status, 405, "DELETE: 405")

    # ---- a thread longer than thread_limit ----
    conv_id = None
    for i in range(5):
        # The chat backend vouches for both: proven identities, which lookups find.
        msg = h.chat_message(f"t-{i}", "v-ann", f"message {i}", email="Ann@Example.com",
                             phone="+1 (555) 010-2000", verified=["email", "phone"])
        r = env.post(c, msg)
        ck.equal(r.status, 202, f"message {i}: 202")
        conv_id = conv_id or r.json["accepted"][0]["conversation_id"]
    got = agent.drain(until=lambda ms: len(ms) >= 5)
    ck.equal(len(got), 5, "five messages consumed")
    last = got[-1].body if got else {}
    ck.equal(len(last.get("thread", [])), THREAD_LIMIT, "the payload's thread holds thread_limit")
    ck.equal(last.get("thread_truncated"), True, "thread_truncated is true")
    ck.equal([m["text"] for m in last.get("thread", [])], ["message 2", "message 3", "message 4"],
             "the thread is the newest messages, oldest first")
    ck.equal(last.get("conversation", {}).get("message_count"), 5, "message_count counts all")

    r = api(env, "GET", f"/v1/conversations/{conv_id}")
    ck.equal(r.status, 200, "GET conversation: 200")
    full = r.json or {}
    ck.equal([m["text"] for m in full.get("thread", [])], [f"message {i}" for i in range(5)],
             "GET conversation has the whole thread in time order")
    ck.equal(full.get("thread", [None])[-1], last.get("message"),
             "the API's last message equals the consumed payload's message")
    ck.equal(full.get("customer", {}).get("id"), last.get("customer", {}).get("id"),
             "same customer in the API and the payload")

    for ident in ("email:ann@example.com", "email:ANN@example.com", "phone:+15550102000",
                  "phone:+1 (555) 010-2000", "chat:web-chat:v-ann"):
        r = api(env, "GET", "/v1/customers?identity=" + ident.replace(" ", "%20")
                .replace("+", "%2B").replace("(", "%28").replace(")", "%29"))
        ck.equal(r.status, 200, f"customer by identity {ident}: 200")
        ck.equal((r.json or {}).get("id"), full.get("customer", {}).get("id"),
                 f"customer by identity {ident}: the same customer")

    # ---- close, and the next message opens a new conversation ----
    r = api(env, "POST", f"/v1/conversations/{conv_id}/close")
    ck.equal(r.status, 200, "close: 200")
    ck.equal(r.json, {"id": conv_id, "status": "closed"}, "close answers the new status")
    ck.equal(api(env, "GET", f"/v1/conversations/{conv_id}").json["conversation"]["status"],
             "closed", "GET shows the conversation closed")
    r = env.post(c, h.chat_message("t-after-close", "v-ann", "hello again"))
    ck.equal(r.status, 202, "message after close: 202")
    new_conv = r.json["accepted"][0]["conversation_id"]
    ck.check(new_conv != conv_id, "the message after close opened a new conversation")
    got = agent.drain(until=lambda ms: len(ms) >= 1)
    ck.equal(len(got[0].body["thread"]) if got else None, 1, "the new conversation's thread: 1")
    cust = api(env, "GET", f"/v1/customers/{full['customer']['id']}").json or {}
    ck.equal(sorted(x["status"] for x in cust.get("conversations", [])), ["closed", "open"],
             "the customer has the closed and the new conversation")

    # ---- two concurrent messages linking the same two customers ----
    r1 = env.post(c, h.chat_message("m-a", "v-a", "I am A", email="merge-a@example.com",
                                    verified=["email"]))
    r2 = env.post(c, h.chat_message("m-b", "v-b", "I am B", phone="+44 20 7946 0018",
                                    verified=["phone"]))
    a_id = r1.json["accepted"][0]["customer_id"]
    b_id = r2.json["accepted"][0]["customer_id"]
    ck.check(a_id != b_id, "A and B start as two customers")
    answers: dict[str, int] = {}

    def post(mid: str, visitor: str) -> None:
        cl = env.client()
        msg = h.chat_message(mid, visitor, "it is me, both", email="merge-a@example.com",
                             phone="+442079460018", verified=["email", "phone"])
        answers[mid] = env.post(cl, msg).status

    threads = [threading.Thread(target=post, args=(f"m-both-{i}", f"v-both-{i}"))
               for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ck.equal(sorted(answers.values()), [202, 202], "both concurrent linking messages: 202")
    got = agent.drain(until=lambda ms: len(ms) >= 4)
    ck.equal(sorted(m.provider_id for m in got), ["m-a", "m-b", "m-both-0", "m-both-1"],
             "every message of the merge is consumed once")
    survivor = api(env, "GET", f"/v1/customers/{b_id}").json or {}
    ck.equal(survivor.get("id"), a_id, "the younger customer resolves to the older (survivor)")
    ck.equal(survivor.get("merged_ids"), [b_id], "the merge is recorded")
    kinds = sorted(f"{i['type']}:{i['value']}" for i in survivor.get("identities", []))
    ck.equal(kinds, ["chat:web-chat:v-a", "chat:web-chat:v-b", "chat:web-chat:v-both-0",
                     "chat:web-chat:v-both-1", "email:merge-a@example.com", "phone:+442079460018"],
             "the survivor has every identity")
    open_convs = [x for x in survivor.get("conversations", []) if x["status"] == "open"]
    ck.equal(len(open_convs), 1, "one open conversation after the merge")
    if open_convs:
        conv = api(env, "GET", f"/v1/conversations/{open_convs[0]['id']}").json or {}
        texts = [m["text"] for m in conv.get("thread", [])]
        ck.equal(texts[:2], ["I am A", "I am B"], "both threads merged in time order")
        ck.equal(len(texts), 4, "the merged thread holds all four messages")
    h.log(json.dumps({"survivor": a_id, "merged": b_id}))


if __name__ == "__main__":
    h.run(main, timeout=240)
