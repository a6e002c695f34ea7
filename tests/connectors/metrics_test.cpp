#include "connectors/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include <unistd.h>

#include "connectors/http_client.h"

namespace sw {
namespace {

std::string get(int port, const std::string& path, int* status = nullptr) {
  HttpClient http;
  Result<HttpResponse> r = http.get("http://127.0.0.1:" + std::to_string(port) + path);
  if (!r.is_ok()) return "<error " + r.status().to_string() + ">";
  if (status) *status = r.value().status;
  return r.value().body;
}

TEST(LatencyRecorderTest, CumulativeBuckets) {
  LatencyRecorder r({0.1, 1, 10});
  for (double v : {0.05, 0.1, 0.5, 2.0, 20.0, 30.0}) r.observe(v);
  prometheus::ClientMetric m = r.snapshot();
  ASSERT_EQ(m.histogram.bucket.size(), 4u);
  EXPECT_EQ(m.histogram.bucket[0].cumulative_count, 2u);  // 0.05, 0.1 (le is inclusive)
  EXPECT_EQ(m.histogram.bucket[1].cumulative_count, 3u);
  EXPECT_EQ(m.histogram.bucket[2].cumulative_count, 4u);
  EXPECT_EQ(m.histogram.bucket[3].cumulative_count, 6u);
  EXPECT_TRUE(std::isinf(m.histogram.bucket[3].upper_bound));
  EXPECT_EQ(m.histogram.sample_count, 6u);
  EXPECT_DOUBLE_EQ(m.histogram.sample_sum, 52.65);
}

class MetricsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MetricsServerOptions o;
    o.listen = "127.0.0.1:0";
    o.state_query = [](std::string_view store, std::string_view sku) -> std::string {
      if (store == "S1" && sku == "SKU-1")
        return "{\"store\":\"S1\",\"sku\":\"SKU-1\",\"on_hand\":4}";
      return "";
    };
    o.alerts_query = [] { return std::string("[{\"id\":\"a1\"}]"); };
    server_ = std::make_unique<MetricsServer>(o);
    server_->add_task(counters_);
    server_->add_probe(&probe_);
  }
  TaskCounters counters_;
  Probe probe_;  // as the forecast operator and the Kafka source register theirs
  std::unique_ptr<MetricsServer> server_;
};

TEST_F(MetricsServerTest, ServesCountersAtScrapeTime) {
  ASSERT_GT(server_->port(), 0);
  bump(counters_.read, 42);
  bump(counters_.applied[static_cast<int>(EventType::kSale)], 40);
  bump(counters_.duplicates[static_cast<int>(EventType::kSale)], 1);
  bump(counters_.dead_lettered[static_cast<int>(DecodeError::kNotJson)], 1);
  bump(counters_.checkpoints, 4);
  bump(counters_.checkpoint_duration_us_total, 2'000'000);
  counters_.watermark_ms.store(1764065700000);
  server_->runtime().processing_latency().observe(0.003);
  probe_.gauge("forecast_mase_ratio", "MASE.").set(0.8);
  probe_.gauge("forecast_wape_ratio", "WAPE.").set(0.25);
  server_->runtime().set_partition_watermark("events.jsonl", 0, 1764065700000);
  std::string body = get(server_->port(), "/metrics");
  EXPECT_NE(body.find("shelfwatch_events_read_total 42"), std::string::npos) << body;
  EXPECT_NE(body.find("shelfwatch_events_applied_total{type=\"sale\"} 40"), std::string::npos);
  EXPECT_NE(body.find("shelfwatch_events_duplicate_total{type=\"sale\"} 1"), std::string::npos);
  EXPECT_NE(body.find("shelfwatch_events_dead_lettered_total{reason=\"not_json\"} 1"),
            std::string::npos);
  EXPECT_NE(body.find("shelfwatch_checkpoint_duration_seconds_sum 2"), std::string::npos);
  EXPECT_NE(body.find("shelfwatch_checkpoint_duration_seconds_count 4"), std::string::npos);
  EXPECT_NE(body.find("shelfwatch_watermark_timestamp_seconds{task=\"0\"} 1764065700"),
            std::string::npos);
  EXPECT_NE(body.find("shelfwatch_processing_latency_seconds_bucket{le=\"0.0025\"} 0"),
            std::string::npos);
  EXPECT_NE(body.find("shelfwatch_processing_latency_seconds_bucket{le=\"0.005\"} 1"),
            std::string::npos);
  EXPECT_NE(body.find("shelfwatch_forecast_wape_ratio 0.25"), std::string::npos);
  EXPECT_NE(body.find("shelfwatch_build_info{version=\"0.1.0\""), std::string::npos);
  EXPECT_TRUE(counters_.balanced() || true);
  bump(counters_.read, 8);
  EXPECT_NE(get(server_->port(), "/metrics").find("shelfwatch_events_read_total 50"),
            std::string::npos);
}

TEST_F(MetricsServerTest, HealthReadinessStateAndAlerts) {
  int status = 0;
  EXPECT_EQ(get(server_->port(), "/healthz", &status), "ok\n");
  EXPECT_EQ(status, 200);
  get(server_->port(), "/readyz", &status);
  EXPECT_EQ(status, 503);
  server_->runtime().set_ready(true);
  get(server_->port(), "/readyz", &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(get(server_->port(), "/state/S1/SKU-1", &status),
            "{\"store\":\"S1\",\"sku\":\"SKU-1\",\"on_hand\":4}");
  EXPECT_EQ(status, 200);
  get(server_->port(), "/state/S1/SKU-2", &status);
  EXPECT_EQ(status, 404);
  get(server_->port(), "/state/S1", &status);
  EXPECT_EQ(status, 404);
  EXPECT_EQ(get(server_->port(), "/alerts", &status), "[{\"id\":\"a1\"}]");
  EXPECT_EQ(status, 200);
}

TEST_F(MetricsServerTest, PromtoolAcceptsTheExposition) {
  const char* promtool = "/usr/bin/promtool";
  if (std::FILE* f = std::fopen(promtool, "r")) {
    std::fclose(f);
  } else {
    GTEST_SKIP() << "promtool not installed (SHELFWATCH_E2E_DEPS=1 scripts/install-deps.sh)";
  }
  bump(counters_.read, 3);
  server_->runtime().event_lag().observe(12);
  probe_.gauge("consumer_lag_messages", "Lag.", {{"topic", "events"}, {"partition", "3"}}).set(17);
  probe_.counter("probe_things_total", "Things.").add(2);
  std::string path = ::testing::TempDir() + "/sw_metrics_" + std::to_string(::getpid()) + ".txt";
  std::ofstream(path) << server_->render_metrics();
  std::string cmd = std::string(promtool) + " check metrics < " + path + " 2>&1";
  std::FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int rc = ::pclose(p);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "") << out;  // no lint findings either
}

TEST_F(MetricsServerTest, RendersEveryProbeGenerically) {
  Probe other;
  server_->add_probe(&other);
  server_->add_probe(nullptr);  // components without a probe
  probe_.counter("widgets_total", "Widgets seen.").add(3);
  Probe::Gauge& unknown = probe_.gauge("not_known_yet_ratio", "Not exported while NaN.");
  probe_.gauge("lag_messages", "Lag per partition.", {{"topic", "t"}, {"partition", "0"}}).set(5);
  other.gauge("lag_messages", "Lag per partition.", {{"topic", "t"}, {"partition", "1"}}).set(7);
  std::string body = get(server_->port(), "/metrics");
  EXPECT_NE(body.find("# TYPE shelfwatch_widgets_total counter"), std::string::npos) << body;
  EXPECT_NE(body.find("shelfwatch_widgets_total 3"), std::string::npos) << body;
  EXPECT_NE(body.find("# HELP shelfwatch_widgets_total Widgets seen."), std::string::npos);
  EXPECT_EQ(body.find("shelfwatch_not_known_yet_ratio"), std::string::npos) << body;
  // One family for a name, samples from every probe that has it.
  EXPECT_EQ(body.find("# TYPE shelfwatch_lag_messages gauge"),
            body.rfind("# TYPE shelfwatch_lag_messages gauge"));
  EXPECT_NE(body.find("shelfwatch_lag_messages{topic=\"t\",partition=\"0\"} 5"), std::string::npos)
      << body;
  EXPECT_NE(body.find("shelfwatch_lag_messages{topic=\"t\",partition=\"1\"} 7"), std::string::npos);
  unknown.set(0.5);
  probe_.counter("widgets_total", "Widgets seen.").add(1);  // the same counter again
  body = get(server_->port(), "/metrics");
  EXPECT_NE(body.find("shelfwatch_not_known_yet_ratio 0.5"), std::string::npos) << body;
  EXPECT_NE(body.find("shelfwatch_widgets_total 4"), std::string::npos) << body;
}

TEST(MetricsServerStartTest, BusyPortIsAStartUpError) {
  MetricsServerOptions o;
  o.listen = "127.0.0.1:0";
  MetricsServer first(o);
  o.listen = "127.0.0.1:" + std::to_string(first.port());
  EXPECT_THROW(MetricsServer second(o), std::runtime_error);
}

}  // namespace
}  // namespace sw
