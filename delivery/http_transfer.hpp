// One request to a provider with libcurl (an HTTP request, or a mail to an SMTP relay), set up
// the same way for agents' replies (delivery/engine.cpp) and for customers' media
// (delivery/media_fetcher.cpp): TLS verified, http(s) only, timeouts, the answer's body and
// headers bounded. The caller adds the handle to its multi handle and, once libcurl says it is
// done, calls finish().
#pragma once

#include "channels/send.hpp"

#include <curl/curl.h>

#include <chrono>
#include <cstddef>
#include <string>

namespace sb {

struct transfer_options {
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds request_timeout{30'000};  // the whole request, answer included
  std::size_t max_body = 64 * 1024;  // the answer's body kept; the rest is read and dropped
  // A file: past max_body the transfer is abandoned (body_over), not read to its end.
  bool abort_past_max_body = false;
  // Redirects followed (at most 5, http(s) only); credentials never go to another host.
  bool follow_redirects = false;
};

class http_transfer {
 public:
  http_transfer(http_call call, const transfer_options& opts);
  ~http_transfer();
  http_transfer(const http_transfer&) = delete;
  http_transfer& operator=(const http_transfer&) = delete;

  // The easy handle, set up; null when libcurl could not make one.
  CURL* handle() const noexcept { return easy_; }
  const http_call& call() const noexcept { return call_; }

  // Once libcurl is done with it (`result`, from curl_multi_info_read): the answer as far as
  // it was read. Returns the transport's failure ("" when the request got an answer; for SMTP,
  // a refusal by the relay is an answer).
  std::string finish(CURLcode result, millis now);
  http_response& response() noexcept { return response_; }
  // The answer's body was longer than max_body.
  bool body_over() const noexcept { return body_over_; }

 private:
  static std::size_t on_body(char* data, std::size_t size, std::size_t n, void* self);
  static std::size_t on_upload(char* buffer, std::size_t size, std::size_t n, void* self);
  static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* self);
  void http_options();
  void smtp_options();

  http_call call_;
  transfer_options opts_;
  http_response response_;
  bool body_over_ = false;
  curl_slist* headers_ = nullptr;
  curl_slist* recipients_ = nullptr;  // SMTP
  std::size_t uploaded_ = 0;          // SMTP: bytes of the mail read by libcurl
  CURL* easy_ = nullptr;
};

}  // namespace sb
