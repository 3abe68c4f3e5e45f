#include "delivery/http_transfer.hpp"

#include "core/ascii.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cstring>

namespace sb {

namespace {
constexpr std::size_t max_answer_headers = 32;
}

http_transfer::http_transfer(http_call call, const transfer_options& opts)
    : call_(std::move(call)), opts_(opts), easy_(curl_easy_init()) {
  if (easy_ == nullptr) return;
  CURL* e = easy_;
  curl_easy_setopt(e, CURLOPT_URL, call_.url.c_str());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts_.connect_timeout.count()));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(opts_.request_timeout.count()));
  if (call_.method == "SMTP")
    smtp_options();
  else
    http_options();
  if (!call_.username.empty()) {
    curl_easy_setopt(e, CURLOPT_USERNAME, call_.username.c_str());
    curl_easy_setopt(e, CURLOPT_PASSWORD, call_.password.c_str());
  }
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &http_transfer::on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &http_transfer::on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, this);
}

http_transfer::~http_transfer() {
  if (headers_) curl_slist_free_all(headers_);
  if (recipients_) curl_slist_free_all(recipients_);
  if (easy_) curl_easy_cleanup(easy_);
}

std::size_t http_transfer::on_body(char* data, std::size_t size, std::size_t n, void* self) {
  auto* t = static_cast<http_transfer*>(self);
  const std::size_t bytes = size * n;
  const std::size_t max = t->opts_.max_body;
  const std::size_t room = max - std::min(max, t->response_.body.size());
  if (bytes > room) {
    t->body_over_ = true;
    if (t->opts_.abort_past_max_body) return 0;  // libcurl ends the transfer (a write error)
  }
  t->response_.body.append(data, std::min(bytes, room));
  return bytes;  // the rest is read and dropped: the provider's answer is bounded
}

std::size_t http_transfer::on_upload(char* buffer, std::size_t size, std::size_t n, void* self) {
  auto* t = static_cast<http_transfer*>(self);
  const std::size_t bytes = std::min(size * n, t->call_.body.size() - t->uploaded_);
  std::memcpy(buffer, t->call_.body.data() + t->uploaded_, bytes);
  t->uploaded_ += bytes;
  return bytes;
}

std::size_t http_transfer::on_header(char* data, std::size_t size, std::size_t n, void* self) {
  auto* t = static_cast<http_transfer*>(self);
  http_response& r = t->response_;
  const std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {  // a status line: the headers of an earlier answer go
    r.headers.clear();
    r.retry_after.reset();
    return size * n;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return size * n;
  std::string name(line.substr(0, colon));
  for (char& c : name) c = ascii_lower(c);
  const std::string value(ascii_trim(line.substr(colon + 1)));
  if (name == "retry-after") r.retry_after = value;
  if (r.headers.size() < max_answer_headers) r.headers.emplace_back(std::move(name), value);
  return size * n;
}

void http_transfer::http_options() {
  CURL* e = easy_;
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, opts_.follow_redirects ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(e, CURLOPT_UNRESTRICTED_AUTH, 0L);  // credentials stay with the first host
  curl_easy_setopt(e, CURLOPT_USERAGENT, "Switchboard");
  if (call_.method == "GET") {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else {
    if (call_.method != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, call_.method.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, call_.body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call_.body.size()));
  }
  headers_ = curl_slist_append(headers_, "Expect:");  // no 100-continue round trip
  for (const auto& [k, v] : call_.headers)
    headers_ = curl_slist_append(headers_, fmt::format("{}: {}", k, v).c_str());
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers_);
  if (!call_.username.empty()) curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
}

// The mail is uploaded from call_.body; libcurl escapes lines that start with a dot.
void http_transfer::smtp_options() {
  CURL* e = easy_;
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(e, CURLOPT_USE_SSL, call_.require_tls ? CURLUSESSL_ALL : CURLUSESSL_TRY);
  curl_easy_setopt(e, CURLOPT_MAIL_FROM, fmt::format("<{}>", call_.mail_from).c_str());
  for (const auto& r : call_.recipients)
    recipients_ = curl_slist_append(recipients_, fmt::format("<{}>", r).c_str());
  curl_easy_setopt(e, CURLOPT_MAIL_RCPT, recipients_);
  curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(call_.body.size()));
  curl_easy_setopt(e, CURLOPT_READFUNCTION, &http_transfer::on_upload);
  curl_easy_setopt(e, CURLOPT_READDATA, this);
}

std::string http_transfer::finish(CURLcode result, millis now) {
  long status = 0;
  curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status);
  const bool smtp = call_.method == "SMTP";
  if (result != CURLE_OK && !(smtp && status >= 400)) {
    if (result == CURLE_WRITE_ERROR && body_over_) return "the answer is over the size limit";
    return curl_easy_strerror(result);
  }
  // SMTP: the relay's last reply code; when it refused, libcurl's words for the step.
  response_.status = static_cast<unsigned>(status);
  response_.received_at = now;
  if (result != CURLE_OK) response_.body = curl_easy_strerror(result);
  return {};
}

}  // namespace sb
