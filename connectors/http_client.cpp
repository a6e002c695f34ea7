#include "connectors/http_client.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstring>
#include <ctime>
#include <mutex>

#include <curl/curl.h>

namespace sw {
namespace {

constexpr size_t kMaxBody = 64 * 1024;

std::once_flag g_curl_init;

size_t on_body(char* ptr, size_t size, size_t nmemb, void* userdata) {
  auto* out = static_cast<std::string*>(userdata);
  size_t n = size * nmemb;
  if (out->size() < kMaxBody) out->append(ptr, std::min(n, kMaxBody - out->size()));
  return n;
}

struct HeaderCapture {
  std::string retry_after;
};

size_t on_header(char* buffer, size_t size, size_t nitems, void* userdata) {
  auto* cap = static_cast<HeaderCapture*>(userdata);
  size_t n = size * nitems;
  std::string_view line(buffer, n);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size()) {
    bool match = true;
    for (size_t i = 0; i < kName.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(line[i])) != kName[i]) {
        match = false;
        break;
      }
    }
    if (match) {
      std::string_view v = line.substr(kName.size());
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) {
        v.remove_suffix(1);
      }
      cap->retry_after.assign(v);
    }
  }
  // A new status line (redirects, 100-continue) starts a new header block.
  if (line.rfind("HTTP/", 0) == 0) cap->retry_after.clear();
  return n;
}

}  // namespace

int64_t wall_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t parse_retry_after_ms(std::string_view value, int64_t now_ms) {
  if (value.empty()) return -1;
  if (std::isdigit(static_cast<unsigned char>(value.front()))) {
    int64_t secs = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), secs);
    if (ec != std::errc() || p != value.data() + value.size() || secs < 0) return -1;
    return std::min<int64_t>(secs, 86400) * 1000;
  }
  std::string s(value);
  time_t t = curl_getdate(s.c_str(), nullptr);
  if (t < 0) return -1;
  return std::max<int64_t>(0, static_cast<int64_t>(t) * 1000 - now_ms);
}

struct HttpClient::Impl {
  CURL* curl = nullptr;
};

HttpClient::HttpClient() : impl_(std::make_unique<Impl>()) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  impl_->curl = curl_easy_init();
}

HttpClient::~HttpClient() {
  if (impl_->curl != nullptr) curl_easy_cleanup(impl_->curl);
}

Result<HttpResponse> HttpClient::post(const std::string& url, std::string_view body,
                                      const std::vector<std::string>& headers,
                                      const HttpRequestOptions& opts) {
  return perform(true, url, body, headers, opts);
}

Result<HttpResponse> HttpClient::get(const std::string& url, const HttpRequestOptions& opts) {
  return perform(false, url, {}, {}, opts);
}

Result<HttpResponse> HttpClient::perform(bool post, const std::string& url, std::string_view body,
                                         const std::vector<std::string>& headers,
                                         const HttpRequestOptions& opts) {
  CURL* c = impl_->curl;
  if (c == nullptr) return Status::internal("curl_easy_init failed");
  curl_easy_reset(c);
  HttpResponse resp;
  HeaderCapture cap;
  for (const std::string& h : headers) {
    // A CR or LF would end the header and start another (header injection).
    if (h.find_first_of("\r\n") != std::string::npos || h.find('\0') != std::string::npos) {
      return Status::invalid("an HTTP header value contains CR, LF or NUL");
    }
  }
  curl_slist* list = nullptr;
  for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
  // Disable "Expect: 100-continue": receivers answer faster and small bodies need no probe.
  list = curl_slist_append(list, "Expect:");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  if (post) {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  } else {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &cap);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts.connect_timeout_ms));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(opts.timeout_ms));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_USERAGENT, "shelfwatch/0.1");
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(list);
  if (rc != CURLE_OK) {
    // curl_easy_strerror() names the failure class without the URL or host.
    std::string msg = std::string("HTTP request failed: ") + curl_easy_strerror(rc);
    if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) {
      return Status::invalid(msg);
    }
    return Status::unavailable(msg);
  }
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  resp.status = static_cast<int>(code);
  resp.retry_after_ms = parse_retry_after_ms(cap.retry_after, wall_now_ms());
  return resp;
}

}  // namespace sw

namespace sw {

Status check_http_url(std::string_view url) {
  auto lower = [](std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return Status::invalid("not a URL (no scheme://)");
  }
  std::string scheme = lower(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") {
    return Status::invalid("the scheme must be http or https, not '" + scheme + "'");
  }
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return Status::invalid("the URL contains whitespace or a control character");
    }
  }
  std::string_view rest = url.substr(scheme_end + 3);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) authority = authority.substr(at + 1);
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return Status::invalid("unterminated IPv6 address");
    host = host.substr(1, close - 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  if (host.empty()) return Status::invalid("the URL has no host");
  return Status::ok();
}

std::string libcurl_version() {
  return curl_version_info(CURLVERSION_NOW)->version;
}

}  // namespace sw
