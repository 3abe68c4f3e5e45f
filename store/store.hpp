// The conversation store: identities → customer, customer → open conversation, dedupe by
// (channel, provider id), the routing decision, the message and its outbox row, all in one
// transaction. One writer thread group-commits (store/writer.hpp); the HTTP reply is sent only
// after the commit is durable. This header holds what every backend shares: the requests, their
// outcomes and the backend interface.
#pragma once

#include "channels/channel.hpp"
#include "channels/message.hpp"
#include "core/error.hpp"
#include "replies/channels.hpp"
#include "replies/reply.hpp"
#include "routing/rules.hpp"
#include "store/blob_store.hpp"
#include "store/delivery.hpp"
#include "store/handoff.hpp"
#include "store/media.hpp"
#include "store/options.hpp"
#include "store/outbox.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace sb {

// What the store writes of one message that does not depend on what is stored already.
struct prepared_message {
  std::string id;           // the message's id, a UUIDv7 of received_at
  std::string provider_id;  // the dedupe key: the provider's id, else a hash of the content
  std::string body;         // the message's JSON as stored and as payloads carry it
  std::string key_sha256;   // sha256 of provider_id (hex): an erased message's dedupe key
};

// A delivery with unreadable events, kept whole beside what could be read of it.
struct kept_delivery {
  std::vector<unreadable_event> events;
  std::string content_type;
  std::string body;
  std::string replay_of;  // set when an operator replays an earlier kept delivery: that row is
                          // updated (replayed, or its events refreshed) instead of a new one kept
  // Filled by prepare(), off the writer thread:
  std::string id;           // the kept row's id, a UUIDv7 of received_at
  std::string body_sha256;  // hex; with the channel, what recognises a redelivery
  std::string events_json;  // the events as stored: [{"path","reason","event"}]
};

// A signature use remembered apart from a request (one that stored nothing: an event webhook).
struct seen_signature {
  std::string channel;
  signature_use use;
};

// An agent's reply (replies/reply.hpp) to commit: a request of its own in the writer's batch,
// in the transaction of the webhooks around it. The store finds the conversation (following
// merges), the channel (the one named, else that of the customer's latest message on a
// channel that sends replies) and the customer's message it answers, checks the provider's
// window, and writes the outbound message, its delivery row and its idempotency key.
struct reply_request {
  reply content;
  std::string key;  // the idempotency key: the AMQP message_id, the Idempotency-Key header
  std::shared_ptr<const reply_channels> channels;  // of the config the reply arrived under
  // Filled by prepare():
  std::string id;           // the message's id, a UUIDv7 of received_at
  std::string fingerprint;  // sha256 of canonical_json(content): a key used again for another
                            // reply is refused (errc::conflict)
};

// What a committed reply became.
struct reply_receipt {
  std::string message_id;
  std::string conversation_id;
  std::string channel;
  std::string status;     // its delivery status now: queued when just committed
  bool replayed = false;  // the key was used before: this is the reply committed then
};

struct ingest_request {
  std::string channel;
  std::string channel_type;
  millis received_at = 0;
  std::vector<inbound_message> messages;
  std::size_t ignored = 0;
  std::optional<kept_delivery> kept;  // unreadable events, when there are any (or a replay)
  std::optional<signature_use> seen;  // a signature used for the first time, to remember
  std::shared_ptr<const routing_table> routing;  // the config snapshot the request arrived under
  std::vector<prepared_message> prepared;        // one per message once prepare() ran
  std::optional<reply_request> reply;            // an agent's reply: then `messages` is empty
  // Providers' reports on sent replies (channels/channel.hpp): applied to the reply the
  // channel's send answered with that id, only forward; one matching none is skipped.
  std::vector<delivery_status> statuses;
};

// Fills `r.prepared`. The pipeline calls it on an HTTP thread, so that the single writer thread
// spends its time on the transaction only; commit() prepares a request that was not.
void prepare(ingest_request& r);

struct accepted_message {
  std::string message_id;
  std::string conversation_id;
  std::string customer_id;
  std::string skill;  // empty for outbound messages (stored, not routed)
};

struct ingest_outcome {
  std::vector<accepted_message> accepted;
  std::size_t duplicates = 0;
  std::size_t ignored = 0;
  std::size_t unreadable = 0;  // events kept unreadable (also when kept by an earlier delivery)
  bool kept_new = false;       // this request kept a delivery no earlier one had kept
  std::optional<reply_receipt> reply;  // for a reply request
};

// What erasing a customer (store_backend::erase_customer) removed.
struct erasure_report {
  std::string customer_id;                    // the customer erased (a survivor of merges)
  std::vector<std::string> merged_ids;        // customers merged into it, erased with it
  std::vector<std::string> conversation_ids;  // every one of theirs, merged ones included
  std::int64_t messages = 0;                  // inbound and outbound
  std::int64_t identities = 0;                // verified identities and claims
  std::int64_t unpublished = 0;               // outbox rows (and parked ones) never published
  std::int64_t parked = 0;                    // of which parked ones
  std::int64_t deliveries = 0;                // agents' replies' delivery rows
  std::int64_t keys_kept = 0;                 // dedupe keys kept as hashes (forgotten_keys)
  std::int64_t attachments = 0;               // the files of their messages
  std::vector<std::string> blobs;             // files no attachment names any more: removed
                                              // from the blob store after the commit
  bool wal_cleared = false;  // the WAL was checkpointed and truncated: no old copy left in it
};

// What one retention pass (store_backend::retain) deleted.
struct retention_pass {
  std::int64_t conversations = 0;
  std::int64_t messages = 0;
  std::int64_t customers = 0;      // left with no conversation
  std::int64_t unreadable = 0;     // kept deliveries past the age
  std::int64_t keys_kept = 0;      // dedupe keys of deleted messages kept as hashes
  std::int64_t keys_expired = 0;   // hashes past the dedupe horizon
  std::int64_t attachments = 0;    // the files of the messages deleted
  std::vector<std::string> blobs;  // files no attachment names any more (removed after commit)
  bool more = false;               // the sweep has not reached the end: the next pass soon
};

class outbox_reader;  // outbox.hpp
class store_reader;   // reader.hpp

// The store as the rest of the daemon sees it: the group writer (store/writer.hpp) commits
// through it, the read API and the publisher read through the readers it opens. SQLite is the
// embedded backend (sqlite_store.hpp); a backend on a database server fits the same calls:
// a batch is one transaction of set-based work, a failing request is isolated by splitting
// the batch around it (never a savepoint per request), and the backlog is what the backend
// counts, so several daemons sharing it see one figure.
class store_backend {
 public:
  struct commit_result {
    std::vector<result<ingest_outcome>> outcomes;  // one per request, in order
    std::int64_t outbox_added = 0;                 // rows written for the publisher
    std::int64_t outbox_removed = 0;               // confirmed rows deleted
    bool failed = false;     // a transaction of the batch did not commit: the store is not writable
    bool settled = false;    // the confirmed rows' deletes, the signatures and the delivery
                             // updates were committed
    committed_batch handed;  // what was committed, for the publisher's reader (handoff.hpp)
  };

  virtual ~store_backend() = default;

  // ---- The writer thread only ----
  // The batch in one transaction, with the deletes of the confirmed outbox rows and the
  // signatures to remember. One request's failure does not poison the others: the batch is
  // split around it, and that request alone fails (errc::internal, or errc::unavailable when
  // the cause may pass). A reply the store refuses (an unknown conversation, a key used for
  // another reply, no channel to send it, a closed window) fails alone and writes nothing.
  // When a transaction fails as a whole, each of its requests (and every later one) fails
  // with errc::unavailable, and `failed` is set.
  // `deliveries`: what delivery attempts came to (delivery.hpp), written with the confirmed
  // deletes; an update that would move a status backwards is ignored.
  // `events_published`: events (delivery.hpp, event_row) the broker confirmed, deleted.
  virtual commit_result commit(std::span<ingest_request* const> requests,
                               std::span<const std::int64_t> confirmed,
                               std::span<const seen_signature> seen = {},
                               std::span<const delivery_update> deliveries = {},
                               std::span<const std::int64_t> events_published = {}) = 0;
  // The signatures remembered and not expired at `now` (the replay guard's memory, at
  // start). Expired ones are deleted. Before the writer runs.
  virtual std::vector<seen_signature> load_signatures(millis now) = 0;
  // Deletes a kept delivery (an operator is done with it). errc::not_found for an unknown id.
  virtual result<void> delete_unreadable(std::string_view id) = 0;
  // Closes an open conversation; the customer's next message opens a new one. Returns the
  // conversation's status afterwards ("closed"); errc::not_found for an unknown id.
  virtual result<std::string> close_conversation(std::string_view id, millis at) = 0;
  // Parked outbox rows (outbox.hpp, outbox_parking): the broker refuses them for good, so they
  // leave the outbox for the parked rows, where ops see them (GET /v1/parked). Returns how
  // many rows moved (a row already deleted is skipped).
  virtual result<std::int64_t> park(std::span<const outbox_parking> rows, millis at) = 0;
  // A parked row back into the outbox as a new row (its new seq, returned), which the
  // publisher meets like any other; errc::not_found for an unknown seq.
  virtual result<std::int64_t> unpark(std::int64_t seq) = 0;
  // Forgets a parked row (the message stays stored, it is never published).
  virtual result<void> delete_parked(std::int64_t seq) = 0;
  // Erases a customer (GDPR Art. 17; docs/operations.md, "Data"): the customer, every customer
  // merged into it, their identities and claims, conversations, messages, Message-IDs, skill
  // history, replies' deliveries and idempotency keys, unpublished outbox rows (parked ones
  // too) and unpublished events of their conversations, in one transaction that overwrites
  // what it frees. What a provider's retry must still meet is kept as a hash of its dedupe
  // key (forgotten_keys). A `customer.erased` event is written in the same transaction. A
  // merged customer's id erases its survivor. errc::not_found for an unknown id.
  virtual result<erasure_report> erase_customer(std::string_view id, millis at) = 0;
  // One small transaction of retention (retention_options, docs/operations.md "Retention"):
  // the next conversations of a sweep that goes round the store, those silent since before
  // now - max_age deleted with everything of theirs (at most about `batch` messages), never
  // one with a message still in the outbox (none at all while the outbox holds more than
  // 10,000: the broker is behind), a parked one or a reply still queued; customers left with
  // nothing; kept unreadable deliveries past the age; dedupe hashes past the horizon. The
  // dedupe keys of deleted messages received within the horizon are kept as hashes.
  virtual result<retention_pass> retain(const retention_options& r, millis now) = 0;
  // What media fetches came to (media.hpp): each pending attachment's row updated. A row no
  // longer pending (its message erased or expired meanwhile) is left alone, and a blob the
  // update would have named is removed when no other row names it.
  virtual void record_media(std::span<const media_update> updates) = 0;
  // A one-row write transaction: true when the store takes writes (after a failed commit,
  // this is how the writer learns the disk has room again).
  virtual bool probe_write(millis at) = 0;

  // ---- Any thread ----
  // Unpublished messages: outbox rows not yet confirmed and deleted (nor parked).
  virtual std::int64_t backlog() const noexcept = 0;
  // The backend's own metrics (Prometheus text), at scrape time.
  virtual void render_metrics(std::string& out) const = 0;
  // Background work of the backend's own (SQLite: the WAL checkpoint thread), between the
  // group writer's start() and stop().
  virtual void start() {}
  virtual void stop() {}

  // Readers, each on a connection of its own that never blocks the writer. The read API's
  // (shared by the HTTP threads) and the publisher's (its thread's alone).
  virtual result<std::unique_ptr<store_reader>> open_reader() = 0;
  virtual result<std::unique_ptr<outbox_reader>> open_outbox_reader() = 0;
  // The delivery engine's (its thread's alone).
  virtual result<std::unique_ptr<delivery_reader>> open_delivery_reader() = 0;
  // The event publisher's (its thread's alone).
  virtual result<std::unique_ptr<event_reader>> open_event_reader() = 0;
  // The media fetcher's (its thread's alone).
  virtual result<std::unique_ptr<media_reader>> open_media_reader() = 0;
  // Where the attachments' bytes are (blob_store.hpp), opened with the store: erasure and
  // retention remove the blobs no attachment names any more, after their commit.
  virtual blob_store& blobs() = 0;
};

// The backend the options name (SQLite, the embedded default, is the only one so far),
// opened, migrated and ready to commit.
result<std::unique_ptr<store_backend>> open_store(const store_options& opts);

}  // namespace sb
