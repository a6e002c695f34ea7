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
