// Agents' replies from the replies queue (docs/replies.md, "The replies queue"). A thread with a
// broker connection of its own consumes `replies.queue` with manual acknowledgements and hands
// each reply to a reply_sink, which commits it; the delivery is acknowledged to the broker only
// once the commit is durable, so a crash at any point leaves the reply in the queue, and its
// redelivery finds its key (the AMQP message_id) already committed. A reply that can never be
// taken is published to `replies.rejected_queue` with the reason in its x-reason header and
// acknowledged only once the broker confirms that publish: never dropped, never requeued for
// ever. One the store cannot take now (not writable, stopping) stays unacknowledged and is
// handed over again after a backoff.
#pragma once

#include "broker/options.hpp"
#include "replies/options.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace sb {

// What became of one reply from the queue.
struct reply_verdict {
  enum class kind {
    committed,  // committed now: acknowledged
    replayed,   // its key was committed before (a redelivery): acknowledged
    retry,      // cannot be committed now: handed over again later
    rejected,   // never can be: to the rejected-replies queue, then acknowledged
  };
  kind what = kind::committed;
  std::string reason;  // rejected: a short name (malformed, not_found, undeliverable, ...)
  std::string detail;  // rejected: why, in words (the x-reason-detail header)
};

// Where the consumer hands each reply (the daemon's: daemon/reply_intake.hpp).
class reply_sink {
 public:
  virtual ~reply_sink() = default;
  // `key` is the message's AMQP message_id (empty when it has none). `done` runs exactly once,
  // on any thread.
  virtual void take(std::string body, std::string key, std::function<void(reply_verdict)> done) = 0;
};

class reply_consumer {
 public:
  // `broker`: the URL and the reconnect delays (broker.*); `replies`: the queues.
  reply_consumer(broker_options broker, replies_options replies, reply_sink& sink);
  ~reply_consumer();
  reply_consumer(const reply_consumer&) = delete;
  reply_consumer& operator=(const reply_consumer&) = delete;

  // Connects (and keeps reconnecting) and consumes, on a thread of its own.
  void start();
  // Cancels the consumer, waits up to `deadline` for the replies handed over to be settled,
  // then closes the connection: what is left unacknowledged is redelivered to the next start.
  // Call before the sink stops taking replies. Safe to call twice.
  void stop(std::chrono::milliseconds deadline);

  bool connected() const noexcept;
  // Prometheus text: replies consumed by outcome, rejections by reason, the connection.
  void render_metrics(std::string& out) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sb
