"""Claimed identities are not proven identities (issue #18, section 1), against the real daemon
and broker, with a config 9a97f07 also reads (every check here failed there):

- Ann is proven: her WhatsApp number (wa_id, and the phone identity it proves), and her web-chat
  visitor id;
- an impostor opens a web chat and types Ann's number: the agent's payload carries none of Ann's
  messages, and the number is shown as a claim;
- a callback form with Ann's number: the same;
- one chat message typing Ann's number and Bob's email merges nobody;
- what is proven still links: Ann's chat backend vouching for her number (visitor.verified)
  joins her chat visitor to her WhatsApp thread, and GET /v1/customers shows why.
"""

from __future__ import annotations

import json
import secrets as pysecrets
import time
from typing import Any

import harness as h

TOKEN = "trust-api-token-" + pysecrets.token_hex(8)
META_SECRET = pysecrets.token_hex(16)
CB_SECRET = h.new_secret()
ANN_WA = "15550104000"
ANN_PHONE = "+15550104000"


def whatsapp(wamid: str, text: str) -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": [{
        "id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "1"},
            "contacts": [{"profile": {"name": "Ann Lee"}, "wa_id": ANN_WA}],
            "messages": [{"from": ANN_WA, "id": wamid, "timestamp": str(int(time.time())),
                          "type": "text", "text": {"body": text}}]}}]}]}).encode()


def main(ck: h.Checks) -> None:
    env = h.Env(api_tokens=[TOKEN], extra_channels=(
        h.channel_yaml("wa", "whatsapp", META_SECRET, verify_token="trust-test")
        + h.channel_yaml("callbacks", "callback", CB_SECRET)))
    env.start()
    c = env.client()
    agent = h.Consumer(env.amqp_url, list(env.queues.values()))
    run = pysecrets.token_hex(4)

    def one(what: str, r: h.Response) -> tuple[dict[str, Any], dict[str, Any]]:
        ck.require(r.status == 202, f"{what}: 202", r)
        acc = r.json["accepted"][0]
        got = agent.drain(until=lambda ms: acc["message_id"] in {m.message_id for m in ms})
        payload = next((m.body for m in got if m.message_id == acc["message_id"]), None)
        ck.require(payload is not None, f"{what}: consumed")
        return acc, payload

    def ids(payload: dict[str, Any]) -> list[tuple[str, str, Any]]:
        return [(i["type"], i["value"], i.get("verified"))
                for i in payload["customer"]["identities"]]

    # Ann, proven by WhatsApp.
    body = whatsapp(f"wamid.TRUST{run}", "my order 4471, please")
    ann, _ = one("Ann on WhatsApp", c.request("POST", "/v1/webhooks/wa", body, {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": h.meta_signature(META_SECRET, body)}))

    # An impostor types her number into the web chat.
    imp, p = one("impostor on chat", env.post(c, h.chat_message(
        f"imp-{run}", f"v-imp-{run}", "what did I order last week?", name="Ann Lee",
        phone=ANN_PHONE)))
    ck.check(imp["customer_id"] != ann["customer_id"], "the impostor is not joined to Ann",
             (imp["customer_id"], ann["customer_id"]))
    ck.equal([m["id"] for m in p["thread"]], [imp["message_id"]],
             "the impostor's payload holds none of Ann's messages")
    ck.equal(ids(p), [("chat", f"web-chat:v-imp-{run}", True), ("phone", ANN_PHONE, False)],
             "the typed number is shown as a claim")

    # A callback form with her number.
    cb, p = one("callback form", h.post_webhook(c, "callbacks", {
        "id": f"cb-{run}", "phone": ANN_PHONE, "name": "Not Ann", "reason": "call me"}, CB_SECRET))
    ck.check(cb["customer_id"] != ann["customer_id"], "the callback form is not joined to Ann")
    ck.equal(len(p["thread"]), 1, "the callback's payload holds only itself")
    ck.equal(ids(p), [("phone", ANN_PHONE, False)], "its number is a claim")

    # Bob, proven by his chat visitor id, typing an email; then one message claiming both.
    bob, _ = one("Bob on chat", env.post(c, h.chat_message(
        f"bob-{run}", f"v-bob-{run}", "hello", name="Bob", email=f"bob-{run}@example.com")))
    both, p = one("claims of both", env.post(c, h.chat_message(
        f"both-{run}", f"v-both-{run}", "hi", name="Eve", email=f"bob-{run}@example.com",
        phone=ANN_PHONE)))
    ck.check(both["customer_id"] not in (ann["customer_id"], bob["customer_id"]),
             "claiming Ann's number and Bob's email merges nobody")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for who, acc in (("Ann", ann), ("Bob", bob)):
        r = c.request("GET", f"/v1/customers/{acc['customer_id']}", headers=auth)
        ck.equal(((r.json or {}).get("id"), (r.json or {}).get("merged_ids")),
                 (acc["customer_id"], []), f"{who} absorbed nobody")

    # Unicode (issue #18): an address written two ways is one identity; one with a character
    # nobody sees is none, and invisible characters are stripped from names.
    carol, _ = one("Carol, her domain in Unicode", env.post(c, h.chat_message(
        f"carol1-{run}", f"v-carol1-{run}", "hallo", name="Carol",
        email=f"Carol-{run}@B\u00dcCHER.example", verified=["email"])))
    carol2, p = one("Carol, her domain as A-labels", env.post(c, h.chat_message(
        f"carol2-{run}", f"v-carol2-{run}", "again", name="Carol",
        email=f"carol-{run}@xn--bcher-kva.example", verified=["email"])))
    ck.equal(carol2["customer_id"], carol["customer_id"],
             "a domain in Unicode and as A-labels is one identity")
    ck.check(("email", f"carol-{run}@b\u00fccher.example", True) in ids(p),
             "the address is written in Unicode, lower case", ids(p))
    zw, p = one("a zero-width space in a vouched-for address", env.post(c, h.chat_message(
        f"zw-{run}", f"v-zw-{run}", "hi", name="\u202eBob\u200b Smith",
        email=f"bob-{run}\u200b@example.com", verified=["email"])))
    ck.check(zw["customer_id"] != bob["customer_id"], "it does not join Bob")
    ck.equal([i for i in ids(p) if i[0] == "email"], [],
             "an address with a zero-width space is no identity")
    ck.equal(p["message"]["from"]["name"], "Bob Smith",
             "the name reaches the agent without its bidi override and zero-width space")

    # What is proven links: Ann's own chat visitor, her number vouched for by the backend.
    ann_chat, p = one("Ann on chat, logged in", env.post(c, h.chat_message(
        f"annchat-{run}", f"v-ann-{run}", "it is me, Ann", name="Ann Lee", phone=ANN_PHONE,
        verified=["phone"])))
    ck.equal(ann_chat["customer_id"], ann["customer_id"], "a vouched-for number joins Ann")
    ck.equal([m["text"] for m in p["thread"]], ["my order 4471, please", "it is me, Ann"],
             "into her thread")
    r = c.request("GET", f"/v1/customers/{ann['customer_id']}", headers=auth)
    ck.equal([(m.get("identity") or {}).get("type") for m in (r.json or {}).get("merges", [])],
             [], "nothing to merge: the visitor was new, so it simply joined")
    r = c.request("GET", "/v1/customers?identity=phone:" + ANN_PHONE.replace("+", "%2B"), headers=auth)
    ck.equal((r.json or {}).get("id"), ann["customer_id"], "a lookup by the number finds Ann only")


if __name__ == "__main__":
    h.run(main, timeout=180)
