#include "connectors/http_client.h"

#include <gtest/gtest.h>

#include "tests/support/http_receiver.h"

namespace sw {
namespace {

using testing::HttpReceiver;
using testing::Reply;

TEST(HttpClientTest, HeaderWithCrLfIsRefusedBeforeAnythingIsSent) {
  HttpReceiver rx;
  rx.script({Reply{202, "", "", 0}});
  HttpClient http;
  auto r = http.post(rx.url(), "{}", {"Authorization: Bearer x\r\nX-Injected: 1"});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalid);
}

TEST(HttpClientTest, CheckHttpUrl) {
  EXPECT_TRUE(check_http_url("http://am:9093").is_ok());
  EXPECT_TRUE(check_http_url("HTTPS://hooks.slack.com/services/T/B/X").is_ok());
  EXPECT_TRUE(check_http_url("http://user:pw@[::1]:8080/x").is_ok());
  EXPECT_FALSE(check_http_url("hooks.slack.com/services").is_ok());
  EXPECT_FALSE(check_http_url("file:///etc/passwd").is_ok());
  EXPECT_FALSE(check_http_url("http://").is_ok());
  EXPECT_FALSE(check_http_url("http://:80/x").is_ok());
  EXPECT_FALSE(check_http_url("http://user@/x").is_ok());
  EXPECT_FALSE(check_http_url("http://host/a b").is_ok());
  EXPECT_FALSE(check_http_url("http://host/\r\nX: y").is_ok());
}

TEST(HttpClientTest, PostsBodyAndHeadersAndReturnsStatus) {
  HttpReceiver rx;
  rx.script({Reply{202, "{\"status\":\"success\"}", "", 0}});
  HttpClient http;
  Result<HttpResponse> r = http.post(rx.url("/v2/enqueue"), "{\"a\":1}",
                                     {"Content-Type: application/json", "X-Test: 7"});
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r.value().status, 202);
  EXPECT_EQ(r.value().body, "{\"status\":\"success\"}");
  EXPECT_EQ(r.value().retry_after_ms, -1);
  ASSERT_TRUE(rx.wait_for([](const auto& v) { return v.size() == 1; }));
  auto req = rx.requests().at(0);
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.path, "/v2/enqueue");
  EXPECT_EQ(req.body, "{\"a\":1}");
  bool saw = false;
  for (const auto& h : req.headers) saw |= h == "X-Test: 7";
  EXPECT_TRUE(saw);
}

TEST(HttpClientTest, ReturnsRetryAfterSeconds) {
  HttpReceiver rx;
  rx.script({Reply{429, "slow down", "7", 0}});
  HttpClient http;
  Result<HttpResponse> r = http.post(rx.url(), "x", {});
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r.value().status, 429);
  EXPECT_EQ(r.value().retry_after_ms, 7000);
}

TEST(HttpClientTest, ParsesRetryAfterDatesAndRejectsGarbage) {
  // 1994-11-06T08:49:37Z = 784111777 s.
  EXPECT_EQ(parse_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 784111777000 - 5000), 5000);
  EXPECT_EQ(parse_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 784111777000 + 5000), 0);
  EXPECT_EQ(parse_retry_after_ms("120", 0), 120000);
  EXPECT_EQ(parse_retry_after_ms("12x", 0), -1);
  EXPECT_EQ(parse_retry_after_ms("", 0), -1);
}

TEST(HttpClientTest, ConnectionRefusedIsUnavailableAndHidesTheUrl) {
  HttpReceiver rx;
  int port = rx.port();
  rx.stop();
  HttpClient http;
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/services/T000/B000/SECRETTOKEN";
  Result<HttpResponse> r = http.post(url, "x", {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(r.status().message().find("SECRETTOKEN"), std::string::npos);
  EXPECT_EQ(r.status().message().find(std::to_string(port)), std::string::npos);
}

TEST(HttpClientTest, SlowReceiverTimesOut) {
  HttpReceiver rx;
  rx.script({Reply{200, "ok", "", 1500}});
  HttpClient http;
  HttpRequestOptions o;
  o.timeout_ms = 300;
  int64_t t0 = testing::steady_ms();
  Result<HttpResponse> r = http.post(rx.url(), "x", {}, o);
  int64_t took = testing::steady_ms() - t0;
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable);
  EXPECT_GE(took, 250);
  EXPECT_LT(took, 1400);
}

TEST(HttpClientTest, MalformedUrlIsInvalid) {
  HttpClient http;
  Result<HttpResponse> r = http.post("ftp://example.invalid/x", "x", {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalid);
}

TEST(HttpClientTest, GetReadsBody) {
  HttpReceiver rx;
  rx.script({Reply{200, "hello", "", 0}});
  HttpClient http;
  Result<HttpResponse> r = http.get(rx.url("/healthz"));
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r.value().body, "hello");
  ASSERT_TRUE(rx.wait_for([](const auto& v) { return v.size() == 1; }));
  EXPECT_EQ(rx.requests()[0].method, "GET");
}

}  // namespace
}  // namespace sw
