#include "store/settings.hpp"

#include "core/config_reader.hpp"

#include <limits>

namespace sb {

void parse_store_options(conf::reader& rd, const conf::field& f, store_options& s) {
  conf::mapping m(rd.diag(), f);
  if (auto v = m.take("path"))
    if (auto text = rd.non_empty_text(*v)) s.path = std::move(*text);
  if (auto v = m.take("reopen_after"))
    if (auto d = rd.duration_seconds(*v)) s.reopen_after = *d;
  if (auto v = m.take("thread_limit"))
    if (auto n = rd.integer(*v, 1, std::numeric_limits<std::size_t>::max())) s.thread_limit = *n;
  if (auto v = m.take("max_payload_bytes"))
    if (auto n = rd.integer(*v, 64 << 10, 128 << 20)) s.max_payload_bytes = *n;
  if (auto v = m.take("max_backlog"))
    if (auto n = rd.integer(*v, 1, std::numeric_limits<std::size_t>::max())) s.max_backlog = *n;
  if (auto v = m.take("cache_bytes"))
    if (auto n = rd.integer(*v, 1 << 20, 1 << 30)) s.cache_bytes = *n;
  if (auto v = m.take("max_page_count"))
    if (auto n = rd.integer(*v, 0, std::numeric_limits<std::int64_t>::max())) s.max_page_count = *n;
  m.finish();
}

void parse_retention_options(conf::reader& rd, const conf::field& f, retention_options& r) {
  using std::chrono::milliseconds;
  conf::mapping m(rd.diag(), f);
  if (auto v = m.take("max_age"))
    if (auto d = rd.duration(*v, milliseconds{1000})) r.max_age = *d;
  if (auto v = m.take("dedupe_horizon"))
    if (auto d = rd.duration(*v, milliseconds{1000})) r.dedupe_horizon = *d;
  if (auto v = m.take("batch"))
    if (auto n = rd.integer(*v, 1, 100000)) r.batch = *n;
  if (auto v = m.take("pause"))
    if (auto d = rd.duration(*v, milliseconds{0})) r.pause = *d;
  if (auto v = m.take("interval"))
    if (auto d = rd.duration(*v, milliseconds{100})) r.interval = *d;
  m.finish();
}

void parse_attachment_options(conf::reader& rd, const conf::field& f, attachment_options& a) {
  using std::chrono::milliseconds;
  conf::mapping m(rd.diag(), f);
  if (auto v = m.take("directory"))
    if (auto text = rd.non_empty_text(*v)) a.directory = std::move(*text);
  if (auto v = m.take("max_file_bytes"))
    if (auto n = rd.integer(*v, 1, 1LL << 40)) a.max_file_bytes = static_cast<std::int64_t>(*n);
  if (auto v = m.take("max_message_bytes"))
    if (auto n = rd.integer(*v, 1, 1LL << 40)) a.max_message_bytes = static_cast<std::int64_t>(*n);
  if (auto v = m.take("url_base"))
    if (auto text = rd.non_empty_text(*v)) {
      if (!text->starts_with("http://") && !text->starts_with("https://"))
        rd.error(*v,
                 "url_base must start with http:// or https://, e.g. "
                 "\"https://switchboard.example.com\"");
      while (text->ends_with('/')) text->pop_back();
      a.url_base = std::move(*text);
    }
  if (auto v = m.take("fetch_for"))
    if (auto d = rd.duration(*v, milliseconds{1000})) a.fetch_for = *d;
  if (auto v = m.take("fetch_timeout"))
    if (auto d = rd.duration(*v, milliseconds{1000})) a.fetch_timeout = *d;
  if (auto v = m.take("fetch_concurrency"))
    if (auto n = rd.integer(*v, 1, 64)) a.fetch_concurrency = *n;
  if (a.max_message_bytes < a.max_file_bytes)
    rd.error(f,
             "attachments.max_message_bytes is below max_file_bytes: no file that "
             "size could be kept");
  m.finish();
}

}  // namespace sb
