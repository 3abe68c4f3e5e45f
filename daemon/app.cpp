#include "daemon/app.hpp"

#include "broker/event_publisher.hpp"
#include "broker/publisher.hpp"
#include "broker/reply_consumer.hpp"
#include "core/log.hpp"
#include "daemon/config.hpp"
#include "daemon/http_server.hpp"
#include "daemon/metrics.hpp"
#include "daemon/pipeline.hpp"
#include "daemon/read_api.hpp"
#include "daemon/reply_intake.hpp"
#include "daemon/route_command.hpp"
#include "delivery/engine.hpp"
#include "delivery/media_fetcher.hpp"
#include "store/reader.hpp"
#include "store/retention.hpp"
#include "store/store.hpp"
#include "store/writer.hpp"

#include <curl/curl.h>
#include <fmt/core.h>
#include <systemd/sd-daemon.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <pthread.h>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <future>
#include <optional>
#include <thread>

#ifndef SB_VERSION
#define SB_VERSION "0.0.0"
#endif

namespace sb {
namespace {

constexpr std::chrono::seconds drain_deadline{10};
constexpr std::chrono::seconds publish_deadline{5};
constexpr std::chrono::seconds reply_deadline{5};  // replies in flight: committed and acked
constexpr std::chrono::milliseconds drain_grace{1000};

void print_errors(const config_load& l) {
  for (const auto& e : l.errors) std::fprintf(stderr, "%s\n", e.c_str());
}

// SIGHUP: a new config is validated completely before it replaces the old one; an invalid
// one changes nothing. Listen address, store and broker settings need a restart.
void reload(config_holder& holder, publisher& pub, daemon_metrics& metrics) {
  sd_notify(0, "RELOADING=1");
  const auto current = holder.get();
  auto l = load_config(current->file);
  if (!l.cfg) {
    log::error("config", "reload refused, keeping the running config: {} error(s)",
               l.errors.size());
    for (const auto& e : l.errors) log::error("config", "{}", e);
    metrics.reload(false);
  } else {
    // New skills get their queues declared before a route can send anything to them.
    pub.update_skills(l.cfg->routing->skills);
    holder.set(std::make_shared<const config>(std::move(*l.cfg)));
    log::info("config", "reloaded {}: {} channel(s), {} route(s)", current->file,
              holder.get()->channels.size(), holder.get()->routing->routes.size());
    metrics.reload(true);
  }
  sd_notify(0, "READY=1");
}

// Under systemd with WatchdogSec=, ping from the event loop itself at half the interval: a
// stuck loop stops the pings and systemd restarts the service. STATUS= tells `systemctl
// status` the backlog and the broker's state.
class watchdog {
 public:
  watchdog(boost::asio::io_context& ioc, const group_writer& writer, const publisher& pub)
      : timer_(ioc), writer_(writer), pub_(pub) {
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
      interval_ = std::chrono::microseconds(usec / 2);
  }
  void start() { tick(); }
  void stop() { timer_.cancel(); }

 private:
  void tick() {
    const auto stats = pub_.stats();
    const auto status = fmt::format("STATUS=backlog {}, broker {}{}", writer_.backlog(),
                                    stats.connected ? "connected" : "disconnected",
                                    stats.blocked ? " (blocked)" : "");
    if (interval_.count() > 0)
      sd_notify(0, ("WATCHDOG=1\n" + status).c_str());
    else
      sd_notify(0, status.c_str());
    timer_.expires_after(interval_.count() > 0 ? interval_ : std::chrono::microseconds(5'000'000));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) tick();
    });
  }

  boost::asio::steady_timer timer_;
  const group_writer& writer_;
  const publisher& pub_;
  std::chrono::microseconds interval_{0};
};

}  // namespace

int run_daemon(const std::string& config_path) {
  auto loaded = load_config(config_path);
  if (!loaded.cfg) {
    print_errors(loaded);
    return 2;
  }
  // libcurl's global state, before any thread (the delivery engine's requests).
  curl_global_init(CURL_GLOBAL_DEFAULT);
  config_holder holder(std::make_shared<const config>(std::move(*loaded.cfg)));
  const auto cfg = holder.get();
  log::info("main", "switchboard {} starting with {}", SB_VERSION, cfg->file);
  for (const auto& ch : cfg->channels)
    log::info("main", "channel {} type={} path=/v1/webhooks/{}", ch.config.name, ch.config.type,
              ch.config.name);

  // 1. The store: nothing is accepted before it is open and migrated.
  auto store = open_store(cfg->store);
  if (!store) {
    log::error("store", "cannot open {}: {}", cfg->store.path, store.error().detail);
    return 1;
  }
  auto api_reader = (*store)->open_reader();
  if (!api_reader) {
    log::error("store", "cannot open {} for reading: {}", cfg->store.path,
               api_reader.error().detail);
    return 1;
  }
  auto outbound_reader = (*store)->open_delivery_reader();
  if (!outbound_reader) {
    log::error("store", "cannot open {} for reading: {}", cfg->store.path,
               outbound_reader.error().detail);
    return 1;
  }
  auto event_reader = (*store)->open_event_reader();
  if (!event_reader) {
    log::error("store", "cannot open {} for reading: {}", cfg->store.path,
               event_reader.error().detail);
    return 1;
  }
  auto media_reader = (*store)->open_media_reader();
  if (!media_reader) {
    log::error("store", "cannot open {} for reading: {}", cfg->store.path,
               media_reader.error().detail);
    return 1;
  }
  auto reader = (*store)->open_outbox_reader();
  if (!reader) {
    log::error("store", "cannot open {} for reading: {}", cfg->store.path, reader.error().detail);
    return 1;
  }

  // 2. The writer group-commits requests and deletes confirmed outbox rows; the publisher
  //    drains the outbox to the broker. Each wakes the other.
  std::unique_ptr<publisher> pub;
  group_writer writer(**store, [&pub] {
    if (pub) pub->notify();
  });
  // What each commit wrote goes to the publisher's reader, which assembles payloads from it.
  writer.hand_off([r = reader->get()](committed_batch b) { r->take(std::move(b)); });
  outbox_source source{
      [r = reader->get()](std::int64_t after, std::size_t limit) { return r->fetch(after, limit); },
      [&writer](std::vector<std::int64_t> seqs) { writer.confirmed(std::move(seqs)); },
      [&writer](std::vector<outbox_parking> rows) { writer.park(std::move(rows)); }};
  pub = std::make_unique<publisher>(cfg->broker, cfg->routing->skills, std::move(source));
  // Agents' replies from the replies queue, committed by the same writer.
  queued_replies reply_intake(holder, writer);
  reply_consumer replies(cfg->broker, cfg->replies, reply_intake);
  // ... and delivered through each channel's send API (replies.max_age is read at start).
  // The channel named, as the current config has it.
  const auto find_channel = [&holder](std::string_view name) -> std::optional<channel> {
    const auto now = holder.get();
    const channel* ch = now->find_channel(name);
    return ch ? std::optional<channel>(*ch) : std::nullopt;
  };
  delivery_engine::options delivery_opts;
  delivery_opts.max_age = cfg->replies.max_age;
  delivery_engine deliveries(
      std::move(*outbound_reader), find_channel,
      [&writer](std::vector<delivery_update> updates, std::function<void()> committed) {
        writer.record(std::move(updates), std::move(committed));
      },
      delivery_opts);
  // Customers' media the webhooks only referred to, fetched after the commit
  // (docs/attachments.md); what each fetch came to is written by the writer between batches.
  // Refused at the stop: those stay pending and are fetched again after the restart.
  media_fetcher media(
      std::move(*media_reader), (*store)->blobs(), find_channel,
      [&writer](std::vector<media_update> updates, std::function<void()> committed) {
        writer.run(
            [updates = std::move(updates), committed = std::move(committed)](store_backend& s) {
              s.record_media(updates);
              committed();
            },
            [] {}, true);
      },
      {cfg->store.attachments});
  // Events for agents' tools (a reply's status moved), written by the writer's transactions.
  event_publisher events(
      cfg->broker, cfg->events, std::move(*event_reader),
      [&writer](std::vector<std::int64_t> seqs) { writer.events_published(std::move(seqs)); });
  log::info("store", "{} opened, {} message(s) waiting in the outbox", cfg->store.path,
            writer.backlog());

  // 3. HTTP ingress.
  boost::asio::io_context ioc;
  // Retention (docs/operations.md, "Retention"): passes run by the writer between batches.
  retention_runner retention(writer, cfg->store.retention);

  pipeline pipe(holder, writer);
  pipe.set_blob_store(&(*store)->blobs());
  for (auto& s : (*store)->load_signatures(now_ms())) pipe.signatures().load(s.channel, s.use);
  read_api api(holder, **api_reader, writer, pipe, (*store)->blobs());
  pipe.set_read_api(&api);
  // Ready means a webhook would get a 2xx now: the store commits, and the backlog is under
  // its bound (a broker outage alone does not stop ingress; the outbox holds the messages).
  pipe.set_readiness([&writer, &holder, &pub]() -> std::optional<std::string> {
    if (!writer.store_writable()) return "the store cannot commit (disk full or I/O error)";
    const auto bound = static_cast<std::int64_t>(holder.get()->store.max_backlog);
    if (writer.backlog() >= bound)
      return fmt::format("{} unpublished messages, at the bound store.max_backlog; broker {}",
                         writer.backlog(), pub->connected() ? "connected" : "disconnected");
    return std::nullopt;
  });
  // /metrics: the pipeline's counters, then what the writer, the publisher, the store and the
  // process report at scrape time.
  daemon_metrics metrics;
  pipe.set_metrics(&metrics, [&]() {
    std::string out;
    metrics::header(out, "switchboard_build_info", "gauge", "Always 1; the version as a label.");
    metrics::sample(out, "switchboard_build_info", metrics::labels({{"version", SB_VERSION}}), 1);
    metrics::gauge(
        out, "switchboard_ready",
        "1 when /readyz answers 200 (not draining, store writable, backlog under its bound).",
        pipe.not_ready() ? 0 : 1);
    metrics.render(out);
    metrics::gauge(out, "switchboard_signatures_remembered",
                   "Signature uses remembered in memory against replays (daemon/replay_guard.hpp): "
                   "each until twice its channel's tolerance past its timestamp.",
                   static_cast<double>(pipe.signatures().size()));
    writer.render_metrics(out);
    // Gauges read from the store at scrape time; a failed read is logged and shows 0.
    const auto store_gauge = [&](std::string_view name, std::string_view help, auto read) {
      double value = 0;
      try {
        value = read();
      } catch (const std::exception& e) {
        log::warn("metrics", "{} unavailable: {}", name, e.what());
      }
      metrics::gauge(out, name, help, value);
    };
    store_gauge("switchboard_outbox_oldest_age_seconds",
                "Age of the oldest unpublished message (0 when the outbox is empty).", [&] {
                  const auto oldest = (*api_reader)->oldest_outbox_millis();
                  return oldest
                             ? std::max<double>(0, static_cast<double>(now_ms() - *oldest) / 1000.0)
                             : 0.0;
                });
    store_gauge("switchboard_unreadable_pending",
                "Deliveries kept because some of their events could not be read, not yet "
                "replayed or deleted (GET /v1/unreadable).",
                [&] { return static_cast<double>((*api_reader)->kept_pending()); });
    store_gauge("switchboard_outbox_parked",
                "Messages the broker refuses for good (a payload above its max_message_size), "
                "out of the outbox until republished or deleted (GET /v1/parked).",
                [&] { return static_cast<double>((*api_reader)->parked()); });
    pub->render_metrics(out);
    replies.render_metrics(out);
    deliveries.render_metrics(out);
    media.render_metrics(out);
    events.render_metrics(out);
    retention.render_metrics(out);
    metrics::render_process_metrics(out);
    return out;
  });
  http_server server(
      ioc, pipe,
      {cfg->server.max_header_bytes, cfg->server.max_connections, cfg->server.read_timeout});
  auto port = server.listen(cfg->server.host, cfg->server.port);
  if (!port) {
    log::error("http", "{}", port.error().detail);
    return 1;
  }

  writer.start();
  pub->start();
  replies.start();
  deliveries.start();
  media.start();
  events.start();
  retention.start();
  server.start();
  log::info("http", "listening on {}:{}", cfg->server.host, *port);

  std::promise<int> stop_signal;
  std::atomic<bool> stopping{false};
  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
          reload(holder, *pub, metrics);
          signals.async_wait(on_signal);
          return;
        }
        if (stopping.exchange(true)) {
          // A second Ctrl-C: stop waiting for the drain. Commits are atomic, so nothing that
          // was acknowledged is lost; unpublished rows stay in the outbox.
          log::warn("main", "second {} received; exiting without draining", strsignal(sig));
          std::_Exit(1);
        }
        stop_signal.set_value(sig);
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);

  unsigned n = cfg->server.threads ? cfg->server.threads : std::thread::hardware_concurrency();
  if (n == 0) n = 1;
  std::vector<std::thread> threads;
  watchdog dog(ioc, writer, *pub);
  boost::asio::post(ioc, [&dog] { dog.start(); });
  for (unsigned i = 0; i < n; ++i)
    threads.emplace_back([&ioc, i] {
      pthread_setname_np(pthread_self(), fmt::format("sb-http-{}", i).c_str());
      ioc.run();
    });
  // Ready: the listener is bound, the store open and migrated, the publisher started (it
  // tries the broker at once and keeps retrying; a 2xx does not need the broker).
  sd_notify(0, "READY=1");

  const int sig = stop_signal.get_future().get();
  // Drain, in order: refuse new work, finish the requests in flight (their replies wait for
  // the commit), give the publisher a deadline for what the broker will take, then stop.
  // Whatever is unpublished stays in the outbox for the next start.
  log::info("main", "{} received; draining", strsignal(sig));
  sd_notify(0, "STOPPING=1");
  // For a moment the listener stays open: webhooks carrying messages are answered 503
  // (Retry-After), /readyz 503, everything on a closing connection, so a client or load
  // balancer learns the daemon is going away from an answer instead of finding its connection
  // reset in the listen backlog. Then the listener closes; requests already being received
  // finish (within read_timeout and the drain deadline) and are answered.
  pipe.set_draining(true);
  server.stop_keep_alive();
  std::this_thread::sleep_for(drain_grace);
  server.drain();
  const auto deadline = std::chrono::steady_clock::now() + drain_deadline;
  while (server.active_connections() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (server.active_connections() > 0)
    log::warn("http", "{} connection(s) still open after the drain deadline",
              server.active_connections());
  boost::asio::post(ioc, [&dog] { dog.stop(); });
  // Replies handed to the writer are committed and acknowledged; the rest stay in the queue.
  retention.stop();
  replies.stop(reply_deadline);
  deliveries.stop();
  media.stop();
  events.stop(reply_deadline);
  pub->stop(publish_deadline);
  writer.stop();
  ioc.stop();
  for (auto& t : threads) t.join();
  log::info("main", "stopped; {} message(s) left in the outbox for the next start",
            writer.backlog());
  return 0;
}

namespace {

constexpr const char* usage =
    "usage: switchboard --config FILE [--log-format text|journal|json] [--log-level LEVEL]\n"
    "                                        run the daemon (LEVEL: debug, info, warn, error)\n"
    "       switchboard --check-config FILE  validate FILE and exit (0 valid, 2 invalid)\n"
    "       switchboard route --config FILE MESSAGE.json\n"
    "                                        print the route MESSAGE.json (a consumed payload\n"
    "                                        or a message; - reads stdin) would take, and why\n"
    "       switchboard --version\n"
    "       switchboard --help\n";

int usage_error(const std::string& why) {
  std::fprintf(stderr, "switchboard: %s\n%s", why.c_str(), usage);
  return 2;
}

}  // namespace

int run_cli(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    std::fputs(usage, stdout);
    return 0;
  }
  if (args.size() == 1 && args[0] == "--version") {
    std::printf("switchboard %s\n", SB_VERSION);
    return 0;
  }
  if (args.size() == 2 && args[0] == "--check-config") {
    auto l = load_config(std::string(args[1]));
    if (!l.cfg) {
      print_errors(l);
      return 2;
    }
    std::printf("%s: ok (%zu channel(s), %zu skill(s), %zu route(s))\n", l.cfg->file.c_str(),
                l.cfg->channels.size(), l.cfg->routing->skills.size(),
                l.cfg->routing->routes.size());
    return 0;
  }
  if (args.size() == 4 && args[0] == "route" && args[1] == "--config")
    return run_route_command(std::string(args[2]), std::string(args[3]));

  // The daemon: --config FILE and the logging options, in any order.
  std::optional<std::string> config_path;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto opt = args[i];
    if (opt != "--config" && opt != "--log-format" && opt != "--log-level")
      return usage_error(fmt::format("unknown argument \"{}\"", opt));
    if (i + 1 == args.size()) return usage_error(fmt::format("{} needs a value", opt));
    const auto value = args[++i];
    if (opt == "--config") {
      config_path = std::string(value);
    } else if (opt == "--log-format") {
      const auto f = log::parse_format(value);
      if (!f) return usage_error(fmt::format("--log-format must be text, journal or json"));
      log::set_format(*f);
    } else {
      const auto l = log::parse_level(value);
      if (!l) return usage_error("--log-level must be debug, info, warn or error");
      log::set_min_level(*l);
    }
  }
  if (!config_path) return usage_error("--config FILE is required");
  return run_daemon(*config_path);
}

}  // namespace sb
