#pragma once
// Minimal blocking HTTP client over libcurl for webhook delivery. One HttpClient per delivery
// worker thread (not thread-safe); it keeps one curl easy handle so connections are reused.
// Errors never contain the URL or headers: webhook URLs and tokens are secrets.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "stream/status.h"

namespace sw {

struct HttpResponse {
  int status = 0;               // HTTP status code
  std::string body;             // response body (truncated to 64 KiB)
  int64_t retry_after_ms = -1;  // parsed Retry-After (seconds or HTTP-date), -1 = absent
};

struct HttpRequestOptions {
  int64_t connect_timeout_ms = 5000;
  int64_t timeout_ms = 15000;
};

class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  //! POSTs `body` to `url` with the given extra headers ("Name: value"). Returns the response
  //! for any HTTP status; Status::unavailable for network errors and timeouts (retryable);
  //! Status::invalid for a malformed URL. Messages never include the URL.
  Result<HttpResponse> post(const std::string& url, std::string_view body,
                            const std::vector<std::string>& headers,
                            const HttpRequestOptions& opts = {});
  //! GET, same error contract as post() (used by tests and tools).
  Result<HttpResponse> get(const std::string& url, const HttpRequestOptions& opts = {});

 private:
  Result<HttpResponse> perform(bool post, const std::string& url, std::string_view body,
                               const std::vector<std::string>& headers,
                               const HttpRequestOptions& opts);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

//! Parses a Retry-After header value: delta-seconds or an IMF-fixdate. Returns milliseconds
//! from `now_ms`, clamped at 0, or -1 when unparseable.
int64_t parse_retry_after_ms(std::string_view value, int64_t now_ms);

//! OK if `url` is an http:// or https:// URL with a host and no whitespace or control
//! characters; otherwise Status::invalid with the reason (never the URL: it may be secret).
Status check_http_url(std::string_view url);

//! Wall-clock now in epoch milliseconds.
int64_t wall_now_ms();

//! The libcurl version loaded at run time ("7.88.1"), for `shelfwatch --version`.
std::string libcurl_version();

}  // namespace sw
