// Issue 21 point 4: slow or idle HTTP clients must not starve /healthz, /readyz, /metrics.
// Real TCP on 127.0.0.1: slowloris connections trickle header bytes (and reconnect when
// dropped) while a prober asks /healthz every 100 ms; every answer must come within 1 s.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "connectors/http_request.h"
#include "connectors/metrics.h"

namespace sw {
namespace {

using Clock = std::chrono::steady_clock;

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads the status line's code from `fd` until `deadline`, then closes it; 0 when the
// server closed the connection or did not answer in time.
int read_status(int fd, Clock::time_point deadline) {
  std::string resp;
  char buf[4096];
  while (resp.find("\r\n") == std::string::npos) {
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, left) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (resp.rfind("HTTP/1.", 0) != 0 || resp.size() < 12) return 0;
  return std::stoi(resp.substr(9, 3));
}

// One GET on a fresh connection; returns the status code (0 on failure or timeout).
int probe(int port, const std::string& path, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  int fd = connect_to(port);
  if (fd < 0) return 0;
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return 0;
  }
  return read_status(fd, deadline);
}

// Sends `request` (raw bytes) on a fresh connection; returns the status code, 0 when the
// server closed the connection or did not answer in time.
int raw_request(int port, const std::string& request, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  int fd = connect_to(port);
  if (fd < 0) return 0;
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer and close before reading everything
    sent += static_cast<size_t>(n);
  }
  return read_status(fd, deadline);
}

int call(int port, const std::string& method, const std::string& path,
         const std::string& extra_headers = "") {
  return raw_request(port,
                     method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers +
                         "Content-Length: 0\r\nConnection: close\r\n\r\n",
                     std::chrono::milliseconds(2000));
}

MetricsServerOptions protected_options(std::string token) {
  MetricsServerOptions o;
  o.listen = "127.0.0.1:0";
  o.auth_token = std::move(token);
  o.state_query = [](std::string_view, std::string_view) { return std::string("{}"); };
  o.alerts_query = [] { return std::string("[]"); };
  o.reload = [] { return std::pair<int, std::string>(200, "{\"applied\":true}"); };
  o.ready = [] { return true; };
  return o;
}

TEST(HttpRequestTest, BearerTokenMatchesOnlyTheExactToken) {
  EXPECT_TRUE(http::bearer_token_matches("Bearer abc", "abc"));
  EXPECT_TRUE(http::bearer_token_matches("bearer   abc", "abc"));
  EXPECT_FALSE(http::bearer_token_matches("Bearer abcd", "abc"));
  EXPECT_FALSE(http::bearer_token_matches("Bearer ab", "abc"));
  EXPECT_FALSE(http::bearer_token_matches("Bearer abd", "abc"));
  EXPECT_FALSE(http::bearer_token_matches("Basic abc", "abc"));
  EXPECT_FALSE(http::bearer_token_matches("Bearerabc", "abc"));
  EXPECT_FALSE(http::bearer_token_matches("Bearer ", "abc"));
  EXPECT_FALSE(http::bearer_token_matches("", "abc"));
  EXPECT_FALSE(http::bearer_token_matches("Bearer ", ""));
}

TEST(HttpRequestTest, StatePathAndProtectedPaths) {
  std::string_view store, sku;
  EXPECT_TRUE(http::parse_state_path("/state/S1/SKU-1", store, sku));
  EXPECT_EQ(store, "S1");
  EXPECT_EQ(sku, "SKU-1");
  for (std::string_view bad : {"/state", "/state/", "/state/S1", "/state/S1/", "/state//x",
                               "/state/a/b/c", "/statex/a/b", "/alerts"}) {
    EXPECT_FALSE(http::parse_state_path(bad, store, sku)) << bad;
  }
  for (std::string_view p : {"/state", "/state/a/b", "/alerts", "/admin", "/admin/reload"})
    EXPECT_TRUE(http::path_requires_token(p)) << p;
  for (std::string_view p : {"/metrics", "/healthz", "/readyz", "/statex", "/alertsx"})
    EXPECT_FALSE(http::path_requires_token(p)) << p;
}

TEST(MetricsServerAuth, TokenProtectsStateAlertsAndAdminOnly) {
  MetricsServer server(protected_options("s3cret-token"));
  const int port = server.port();
  const std::string good = "Authorization: Bearer s3cret-token\r\n";
  const std::string wrong = "Authorization: Bearer s3cret-tokem\r\n";
  for (const char* open : {"/metrics", "/healthz", "/readyz"}) {
    EXPECT_EQ(call(port, "GET", open), 200) << open;
  }
  for (const char* path : {"/alerts", "/state/S1/SKU-1"}) {
    EXPECT_EQ(call(port, "GET", path), 401) << path;
    EXPECT_EQ(call(port, "GET", path, wrong), 401) << path;
    EXPECT_EQ(call(port, "GET", path, "Authorization: Basic czNjcmV0\r\n"), 401) << path;
    EXPECT_EQ(call(port, "GET", path, good), 200) << path;
  }
  // Other spellings of a protected path reach the same protected handler.
  EXPECT_EQ(call(port, "GET", "/metrics/../alerts"), 401);
  EXPECT_EQ(call(port, "GET", "/%61lerts"), 401);
  EXPECT_EQ(call(port, "POST", "/admin/reload"), 401);
  EXPECT_EQ(call(port, "POST", "/admin/reload", wrong), 401);
  EXPECT_EQ(call(port, "POST", "/admin/reload", good), 200);
  EXPECT_EQ(call(port, "GET", "/admin/reload", good), 405);
  EXPECT_EQ(call(port, "POST", "/admin/other", good), 404);
  EXPECT_EQ(call(port, "POST", "/metrics"), 405);
}

TEST(MetricsServerAuth, WithoutATokenEverythingIsOpen) {
  MetricsServer server(protected_options(""));
  EXPECT_EQ(call(server.port(), "GET", "/alerts"), 200);
  EXPECT_EQ(call(server.port(), "GET", "/state/S1/SKU-1"), 200);
  EXPECT_EQ(call(server.port(), "POST", "/admin/reload"), 200);
}

TEST(MetricsServerHostileClients, OversizedRequestsAndTooManyHeadersAreRejected) {
  MetricsServer server(protected_options(""));
  const int port = server.port();
  // 20 KB of headers: over max_request_bytes (16 KB).
  std::string big = "X-Fill: " + std::string(20000, 'a') + "\r\n";
  int status = call(port, "GET", "/healthz", big);
  EXPECT_TRUE(status == 400 || status == 413 || status == 0) << status;
  std::string many;
  for (int i = 0; i < 100; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  status = call(port, "GET", "/healthz", many);
  EXPECT_EQ(status, 431);
  // The server is still fine.
  EXPECT_EQ(call(port, "GET", "/healthz"), 200);
}

TEST(MetricsServerHostileClients, AFloodOfIdleConnectionsDoesNotStopHealthz) {
  MetricsServerOptions o = protected_options("");
  o.request_timeout_ms = 1000;
  MetricsServer server(o);
  const int port = server.port();
  // More idle connections (connected, nothing sent) than workers and the accept queue.
  constexpr int kIdle = 400;
  std::vector<int> fds;
  for (int i = 0; i < kIdle; ++i) {
    int fd = connect_to(port);
    if (fd >= 0) fds.push_back(fd);
  }
  int answered = 0;
  double worst_ms = 0;
  for (int i = 0; i < 10; ++i) {
    auto t0 = Clock::now();
    int status = raw_request(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                             std::chrono::milliseconds(8000));
    worst_ms =
        std::max(worst_ms, std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    answered += status == 200;
  }
  for (int fd : fds) ::close(fd);
  std::printf("%zu idle connections: %d/10 /healthz answered, worst %.0f ms\n", fds.size(),
              answered, worst_ms);
  EXPECT_EQ(answered, 10);
  EXPECT_LT(worst_ms, 8000);
}

TEST(MetricsServerHostileClients, FiftySlowlorisConnectionsDoNotStarveHealthz) {
  MetricsServerOptions o;
  o.listen = "127.0.0.1:0";
  MetricsServer server(o);
  const int port = server.port();
  ASSERT_GT(port, 0);
  ASSERT_EQ(probe(port, "/healthz", std::chrono::milliseconds(1000)), 200);

  constexpr int kSlow = 60;
  std::atomic<bool> stop{false};
  std::atomic<int> reconnects{0};
  std::thread attacker([&] {
    std::vector<int> fds(kSlow, -1);
    const std::string start = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
    while (!stop.load()) {
      for (int& fd : fds) {
        if (fd < 0) {
          fd = connect_to(port);
          if (fd >= 0 && ::send(fd, start.data(), start.size(), MSG_NOSIGNAL) < 0) {
            ::close(fd);
            fd = -1;
          }
          reconnects.fetch_add(1);
          continue;
        }
        // One header byte per connection per round, never the blank line that ends them.
        if (::send(fd, "X", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
          ::close(fd);
          fd = -1;  // dropped by the server: come back
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let them take the workers

  int probes = 0, slow = 0, failed = 0;
  double worst_ms = 0;
  auto end = Clock::now() + std::chrono::seconds(6);
  while (Clock::now() < end) {
    auto t0 = Clock::now();
    int status = probe(port, "/healthz", std::chrono::milliseconds(1000));
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    ++probes;
    worst_ms = std::max(worst_ms, ms);
    if (status != 200) ++failed;
    if (ms >= 1000) ++slow;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  int ready = probe(port, "/readyz", std::chrono::milliseconds(1000));
  int metrics = probe(port, "/metrics", std::chrono::milliseconds(1000));
  stop.store(true);
  attacker.join();
  std::printf(
      "%d /healthz probes under %d slowloris connections (%d (re)connects): worst %.1f ms\n",
      probes, kSlow, reconnects.load(), worst_ms);
  EXPECT_GE(probes, 40);
  EXPECT_EQ(failed, 0) << "probes without a 200 within 1 s";
  EXPECT_EQ(slow, 0) << "worst answer " << worst_ms << " ms";
  EXPECT_NE(ready, 0) << "/readyz did not answer";
  EXPECT_EQ(metrics, 200);
}

}  // namespace
}  // namespace sw
