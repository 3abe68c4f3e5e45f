// The store's schema as an ordered list of migrations. PRAGMA user_version holds how many have
// run; a new release appends a migration and never edits a published one.
#pragma once

#include <array>

namespace sb::schema {

inline constexpr std::array migrations = {
    // 1: customers, identities, conversations, messages, outbox.
    R"sql(
CREATE TABLE customers (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL DEFAULT '',
  created_at  INTEGER NOT NULL,
  merged_into TEXT               -- set when this customer was merged into an older one
);
CREATE TABLE identities (
  type        TEXT NOT NULL,
  value       TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (type, value)
) WITHOUT ROWID;
CREATE INDEX identities_by_customer ON identities (customer_id);
CREATE TABLE customer_merges (
  merged_id   TEXT NOT NULL,
  survivor_id TEXT NOT NULL,
  merged_at   INTEGER NOT NULL
);
CREATE TABLE conversations (
  id              TEXT PRIMARY KEY,
  customer_id     TEXT NOT NULL,
  status          TEXT NOT NULL,   -- open | closed | merged
  skill           TEXT,
  priority        INTEGER NOT NULL DEFAULT 0,
  opened_at       INTEGER NOT NULL,
  last_message_at INTEGER NOT NULL,
  message_count   INTEGER NOT NULL DEFAULT 0,
  closed_at       INTEGER,
  merged_into     TEXT
);
-- One open conversation per customer, enforced by the database itself.
CREATE UNIQUE INDEX conversations_one_open ON conversations (customer_id) WHERE status = 'open';
CREATE INDEX conversations_by_customer ON conversations (customer_id);
CREATE TABLE messages (
  id              TEXT PRIMARY KEY,
  conversation_id TEXT NOT NULL,
  seq             INTEGER NOT NULL,  -- position in the conversation, 1-based, time order
  channel         TEXT NOT NULL,
  provider_id     TEXT NOT NULL,
  direction       TEXT NOT NULL,
  received_at     INTEGER NOT NULL,
  sent_at         INTEGER,
  body            TEXT NOT NULL      -- the message's JSON as it appears in payloads
);
CREATE UNIQUE INDEX messages_dedupe ON messages (channel, provider_id);
CREATE INDEX messages_by_conversation ON messages (conversation_id, seq);
CREATE TABLE outbox (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id      TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  skill           TEXT NOT NULL,
  channel         TEXT NOT NULL,
  channel_type    TEXT NOT NULL,
  priority        INTEGER NOT NULL,
  created_at      INTEGER NOT NULL,
  body            TEXT NOT NULL
);
)sql",
    // 2: email Message-IDs, so a reply that names one joins that message's conversation.
    R"sql(
CREATE TABLE email_ids (
  message_id      TEXT PRIMARY KEY,  -- RFC 5322 Message-ID without angle brackets
  conversation_id TEXT NOT NULL
) WITHOUT ROWID;
)sql",
    // 3: every skill a conversation was given, and why (stickiness is visible after the fact).
    R"sql(
CREATE TABLE skill_changes (
  conversation_id TEXT NOT NULL,
  message_id      TEXT NOT NULL,     -- the message whose routing changed the skill
  changed_at      INTEGER NOT NULL,
  skill           TEXT NOT NULL,
  previous_skill  TEXT,              -- NULL for the conversation's first skill
  reason          TEXT NOT NULL      -- the matched route, as `switchboard route` prints it
);
CREATE INDEX skill_changes_by_conversation ON skill_changes (conversation_id, changed_at);
)sql",
    // 4: one row the writer rewrites to learn whether the disk takes writes again after a
    // failed commit, while no request is there to try.
    R"sql(
CREATE TABLE write_probe (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  written_at INTEGER NOT NULL
);
)sql",
    // 5: outbox rows no longer carry the payload: the publisher assembles it from the stored
    // message, its conversation and customer when it publishes (store/outbox.hpp). Rows waiting
    // at the upgrade are assembled the same way.
    R"sql(
ALTER TABLE outbox DROP COLUMN body;
)sql",
    // 6: deliveries with events that could not be read, kept whole (the body exactly as it was
    // received and verified) for ops to see and replay (docs/operations.md, "Unreadable
    // events"). A provider's redelivery of the same body is kept once.
    R"sql(
CREATE TABLE unreadable (
  id           TEXT PRIMARY KEY,        -- UUIDv7 of received_at
  channel      TEXT NOT NULL,
  channel_type TEXT NOT NULL,
  received_at  INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  body         BLOB NOT NULL,
  body_sha256  TEXT NOT NULL,
  events       TEXT NOT NULL,           -- JSON [{"path", "reason", "event"}]
  event_count  INTEGER NOT NULL,
  status       TEXT NOT NULL,           -- pending | replayed
  replayed_at  INTEGER
);
CREATE UNIQUE INDEX unreadable_by_body ON unreadable (channel, body_sha256);
CREATE INDEX unreadable_by_status ON unreadable (status, received_at);
)sql",
    // 7: claimed identities (typed by the customer, mail whose authentication failed or is
    // unknown) apart from the verified ones in `identities`: a claim is shown with its customer
    // and never links a message to another customer (sqlite_store.cpp, resolve_customer).
    // Identities stored before this migration stay in `identities`, verified
    // (docs/operations.md). Every merge records the message and the verified identity that
    // proved it.
    R"sql(
CREATE TABLE claims (
  customer_id TEXT NOT NULL,
  type        TEXT NOT NULL,
  value       TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  refuted     INTEGER NOT NULL DEFAULT 0,  -- made by a mail whose authentication failed
  PRIMARY KEY (customer_id, type, value)
) WITHOUT ROWID;
CREATE INDEX claims_by_value ON claims (type, value);
ALTER TABLE customer_merges ADD COLUMN message_id TEXT;
ALTER TABLE customer_merges ADD COLUMN identity_type TEXT;
ALTER TABLE customer_merges ADD COLUMN identity_value TEXT;
)sql",
    // 8: signatures already used (daemon/replay_guard.hpp), until they expire, so that a
    // restart does not make a captured one good again.
    R"sql(
CREATE TABLE signatures_seen (
  channel    TEXT NOT NULL,
  key        TEXT NOT NULL,      -- Mailgun's token, the Standard Webhooks webhook-id
  digest     TEXT NOT NULL,      -- of what the signed request carried
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (channel, key)
) WITHOUT ROWID;
CREATE INDEX signatures_seen_by_expiry ON signatures_seen (expires_at);
)sql",
    // 9: outbox rows the broker refuses for good (a payload above its max_message_size) are
    // moved here, out of the way of the rows behind them, for ops to see and publish again
    // (GET /v1/parked, docs/operations.md "Parked messages"). `seq` is the row's outbox seq.
    R"sql(
CREATE TABLE outbox_parked (
  seq             INTEGER PRIMARY KEY,
  message_id      TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  skill           TEXT NOT NULL,
  channel         TEXT NOT NULL,
  channel_type    TEXT NOT NULL,
  priority        INTEGER NOT NULL,
  created_at      INTEGER NOT NULL,
  parked_at       INTEGER NOT NULL,
  bytes           INTEGER NOT NULL,   -- the payload's size when it was refused
  reason          TEXT NOT NULL       -- what the broker said
);
)sql",
    // 10: the signatures already used, as a log in the order they were used instead of a table
    // keyed by (channel, key). Keys are random (Mailgun's tokens, webhook-ids), so each insert
    // into the keyed table and its expiry index dirtied a page of its own, in a table of
    // rate x tolerance rows: every commit wrote a page per request for them (the writer's
    // COMMIT grew with it). A log is appended at its end and cut at its start; it is read
    // only at start, into the replay guard's memory, which does the lookups.
    R"sql(
CREATE TABLE signatures_log (
  id         INTEGER PRIMARY KEY,
  channel    TEXT NOT NULL,
  key        TEXT NOT NULL,
  digest     TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
INSERT INTO signatures_log (channel, key, digest, expires_at)
  SELECT channel, key, digest, expires_at FROM signatures_seen ORDER BY expires_at;
DROP TABLE signatures_seen;
)sql",
    // 11: agents' replies (docs/replies.md). A reply is a message of its conversation
    // (direction 'outbound', its author and status in its JSON) with a delivery row written in
    // the same transaction: what the delivery needs and how far it got. `answers` is the
    // customer's message it answers, which says whom to send it to and from which address.
    // reply_keys remembers each idempotency key (an AMQP message_id, an Idempotency-Key) with
    // a digest of the reply it came with.
    R"sql(
CREATE TABLE deliveries (
  message_id          TEXT PRIMARY KEY,
  conversation_id     TEXT NOT NULL,
  channel             TEXT NOT NULL,
  channel_type        TEXT NOT NULL,
  answers             TEXT NOT NULL,
  status              TEXT NOT NULL,      -- queued | sent | delivered | read | failed
  created_at          INTEGER NOT NULL,
  updated_at          INTEGER NOT NULL,
  attempts            INTEGER NOT NULL DEFAULT 0,
  next_attempt_at     INTEGER NOT NULL,
  provider_message_id TEXT,               -- the provider's id for it, once sent
  reason              TEXT                -- why it failed, in the provider's words
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'queued';
CREATE UNIQUE INDEX deliveries_by_provider_id ON deliveries (channel, provider_message_id);
CREATE TABLE reply_keys (
  key         TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,            -- sha256 of the reply (replies/reply.hpp, canonical_json)
  message_id  TEXT NOT NULL,
  created_at  INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
    // 12: the events outbox (docs/replies.md, "Events"): a row per event for agents' tools (a
    // reply's status moved), written in the transaction that made it happen and deleted once
    // the broker confirmed its publish to the events exchange. And the replies a watermark
    // receipt may move, found by conversation.
    R"sql(
CREATE TABLE events (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  id          TEXT NOT NULL,             -- the event's id: its AMQP message_id
  routing_key TEXT NOT NULL,             -- message.status.sent, ...
  body        TEXT NOT NULL,             -- switchboard.event/v1 JSON
  created_at  INTEGER NOT NULL
);
-- Replies that a receipt may still move on, by conversation (Messenger's watermarks).
CREATE INDEX deliveries_unread ON deliveries (conversation_id)
  WHERE status IN ('sent', 'delivered');
)sql",
    // 13: the customer's data on purpose (docs/operations.md, "Data"). An erased or expired
    // message's dedupe key is kept as a hash only (of its provider id), with when it was
    // forgotten, so that a provider's retry of it is still refused as a duplicate without
    // keeping anything the provider sent. And the indexes erasure and retention find rows by.
    R"sql(
CREATE TABLE forgotten_keys (
  channel      TEXT NOT NULL,
  key_sha256   TEXT NOT NULL,      -- sha256 of the provider id (hex)
  forgotten_at INTEGER NOT NULL,
  PRIMARY KEY (channel, key_sha256)
) WITHOUT ROWID;
CREATE INDEX forgotten_keys_by_time ON forgotten_keys (forgotten_at);
CREATE INDEX customers_merged ON customers (merged_into) WHERE merged_into IS NOT NULL;
CREATE INDEX email_ids_by_conversation ON email_ids (conversation_id);
CREATE INDEX reply_keys_by_message ON reply_keys (message_id);
-- A merge now moves the Message-IDs with the messages (a merged conversation keeps none, so
-- retention deleting it early loses nothing); those of earlier merges follow, chains too.
UPDATE email_ids SET conversation_id = (SELECT c.merged_into FROM conversations c
  WHERE c.id = email_ids.conversation_id)
  WHERE conversation_id IN (SELECT id FROM conversations WHERE merged_into IS NOT NULL);
UPDATE email_ids SET conversation_id = (SELECT c.merged_into FROM conversations c
  WHERE c.id = email_ids.conversation_id)
  WHERE conversation_id IN (SELECT id FROM conversations WHERE merged_into IS NOT NULL);
UPDATE email_ids SET conversation_id = (SELECT c.merged_into FROM conversations c
  WHERE c.id = email_ids.conversation_id)
  WHERE conversation_id IN (SELECT id FROM conversations WHERE merged_into IS NOT NULL);
)sql",
    // 14: attachments kept (docs/attachments.md). A row per file a customer sent, written with
    // its message; the bytes live in the blob store under sha256 (store/blob_store.hpp), shared
    // by every row with the same content. Provider media wait in state 'pending' for the media
    // fetcher, which records each attempt here.
    R"sql(
CREATE TABLE attachments (
  id              TEXT PRIMARY KEY,  -- GET /v1/attachments/{id}
  message_id      TEXT NOT NULL,
  position        INTEGER NOT NULL,  -- in the message's attachments, 0-based
  channel         TEXT NOT NULL,
  name            TEXT NOT NULL,
  content_type    TEXT NOT NULL,
  size            INTEGER,           -- bytes, once known
  sha256          TEXT,              -- the blob's key (hex) once stored
  state           TEXT NOT NULL,     -- stored | pending | failed | too_large | not_kept
  fetch_kind      TEXT,              -- channels/fetch.hpp, while pending
  fetch_ref       TEXT,
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,
  last_error      TEXT,
  created_at      INTEGER NOT NULL
);
CREATE INDEX attachments_by_message ON attachments (message_id);
CREATE INDEX attachments_by_blob ON attachments (sha256) WHERE sha256 IS NOT NULL;
CREATE INDEX attachments_due ON attachments (next_attempt_at) WHERE state = 'pending';
)sql",
};

}  // namespace sb::schema
