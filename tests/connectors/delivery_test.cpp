#include <gtest/gtest.h>

#include <simdjson.h>

#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>

#include <prometheus/metric_family.h>
#include "connectors/alertmanager.h"
#include "connectors/delivery.h"
#include "connectors/delivery_sink.h"
#include "connectors/pagerduty.h"
#include "connectors/slack.h"
#include "operators/registry.h"

#include "state/memory_store.h"
#include "stream/decoder.h"
#include "stream/json_writer.h"
#include "tests/support/http_receiver.h"

namespace sw {
namespace {

using testing::HttpReceiver;
using testing::ReceivedRequest;
using testing::Reply;

// MemoryStateStore behind a mutex: the sink's workers commit removals concurrently with the
// "task" (the test thread), as they would with the RocksDB store.
class LockedStore final : public StateStore {
 public:
  Result<std::optional<std::string>> get(std::string_view ns, std::string_view key) const override {
    std::lock_guard lk(mu_);
    return inner_.get(ns, key);
  }
  Status scan_prefix(
      std::string_view ns, std::string_view prefix,
      const std::function<bool(std::string_view, std::string_view)>& fn) const override {
    std::lock_guard lk(mu_);
    return inner_.scan_prefix(ns, prefix, fn);
  }
  Status commit(const StateBatch& batch) override {
    std::lock_guard lk(mu_);
    return inner_.commit(batch);
  }
  size_t count(std::string_view ns) const {
    size_t n = 0;
    Status s = scan_prefix(ns, "", [&](std::string_view, std::string_view) {
      ++n;
      return true;
    });
    s.permit_unchecked();
    return n;
  }

 private:
  mutable std::mutex mu_;
  MemoryStateStore inner_;
};

std::string alert_json(const std::string& id, const std::string& status,
                       const std::string& severity = "critical",
                       const std::string& type = "low_stock", const std::string& store = "S0042",
                       const std::string& sku = "SKU-001234") {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.field("id", id).field("type", type).field("status", status).field("severity", severity);
  w.field("store", store).field("sku", sku);
  w.key("time").time_value(1764065700000);  // 2025-11-25T10:15:00Z
  w.field("summary", sku + " at " + store + ": 3 units left");
  w.key("details").raw("{\"on_hand\":3,\"days_of_cover\":0.6,\"window\":{\"days\":7}}");
  w.field("schema_version", 1);
  w.end_object();
  return out;
}

OutputRecord record(const std::string& json, OutputStream stream = OutputStream::kAlerts) {
  OutputRecord r;
  r.stream = stream;
  r.json = json;
  return r;
}

// Runs one checkpoint: prepare -> commit the batch to the store -> committed.
void checkpoint(DeliverySink& sink, StateStore& store, const std::vector<OutputRecord>& recs) {
  StateBatch b;
  ASSERT_TRUE(sink.prepare(recs, b).is_ok());
  ASSERT_TRUE(store.commit(b).is_ok());
  ASSERT_TRUE(sink.committed().is_ok());
}

simdjson::padded_string pad(const std::string& s) {
  return simdjson::padded_string(s);
}

std::string get_str(simdjson::dom::element e, const char* pointer) {
  std::string_view v;
  if (e.at_pointer(pointer).get_string().get(v) != simdjson::SUCCESS) return "<missing>";
  return std::string(v);
}

// Secrets for the tests; never printed.
void set_env() {
  ::setenv("SW_TEST_PD_KEY", "R0UTINGKEYSECRET", 1);
  ::setenv("SW_TEST_SLACK_URL", "unused", 1);
}

// ---- payloads ----

TEST(PagerDutyTest, TriggerCarriesDedupKeySeverityAndDetails) {
  PagerDutyOptions o;
  o.url = "http://pd/v2/enqueue";
  o.routing_key = "rk";
  o.link_template = "https://grafana/d/x?store={store}&sku={sku}";
  PagerDutyProtocol pd(o);
  Result<DeliveryAlert> a = parse_delivery_alert(alert_json("a1", "firing", "emergency"));
  ASSERT_TRUE(a.is_ok());
  auto req = pd.build(a.value(), 0);
  ASSERT_TRUE(req);
  EXPECT_EQ(req->url, "http://pd/v2/enqueue");
  simdjson::dom::parser p;
  simdjson::dom::element doc = p.parse(pad(req->body));
  EXPECT_EQ(get_str(doc, "/routing_key"), "rk");
  EXPECT_EQ(get_str(doc, "/event_action"), "trigger");
  EXPECT_EQ(get_str(doc, "/dedup_key"), "a1");
  EXPECT_EQ(get_str(doc, "/payload/severity"), "critical");  // emergency -> critical
  EXPECT_EQ(get_str(doc, "/payload/source"), "S0042");
  EXPECT_EQ(get_str(doc, "/payload/component"), "SKU-001234");
  EXPECT_EQ(get_str(doc, "/payload/group"), "S0042");
  EXPECT_EQ(get_str(doc, "/payload/class"), "low_stock");
  EXPECT_EQ(get_str(doc, "/payload/timestamp"), "2025-11-25T10:15:00Z");
  EXPECT_EQ(get_str(doc, "/payload/summary"), "SKU-001234 at S0042: 3 units left");
  EXPECT_EQ(int64_t(doc.at_pointer("/payload/custom_details/on_hand")), 3);
  EXPECT_EQ(get_str(doc, "/links/0/href"), "https://grafana/d/x?store=S0042&sku=SKU-001234");
}

TEST(PagerDutyTest, SeverityMapping) {
  EXPECT_EQ(pagerduty_severity("emergency"), "critical");
  EXPECT_EQ(pagerduty_severity("critical"), "critical");
  EXPECT_EQ(pagerduty_severity("warning"), "warning");
  EXPECT_EQ(pagerduty_severity("info"), "info");
}

TEST(PagerDutyTest, ResolveHasOnlyTheDedupKey) {
  PagerDutyProtocol pd(PagerDutyOptions{"http://pd", "rk", "shelfwatch", ""});
  auto req = pd.build(parse_delivery_alert(alert_json("a1", "resolved")).value(), 0);
  simdjson::dom::parser p;
  simdjson::dom::element doc = p.parse(pad(req->body));
  EXPECT_EQ(get_str(doc, "/event_action"), "resolve");
  EXPECT_EQ(get_str(doc, "/dedup_key"), "a1");
  EXPECT_EQ(doc.at_pointer("/payload").error(), simdjson::NO_SUCH_FIELD);
}

TEST(SlackTest, MessageHasBlocksTextFallbackAndKeyFigures) {
  SlackOptions o;
  o.webhook_url = "http://hooks/x";
  o.link_template = "https://grafana/d/x?sku={sku}";
  SlackProtocol slack(o);
  auto req = slack.build(parse_delivery_alert(alert_json("a1", "firing", "critical")).value(), 0);
  ASSERT_TRUE(req);
  simdjson::dom::parser p;
  simdjson::dom::element doc = p.parse(pad(req->body));
  std::string text = get_str(doc, "/text");
  EXPECT_NE(text.find("CRITICAL low_stock: SKU-001234 at S0042: 3 units left"), std::string::npos);
  EXPECT_NE(text.find("on_hand=3"), std::string::npos);
  EXPECT_NE(text.find("days_of_cover=0.6"), std::string::npos);
  EXPECT_EQ(text.find("window"), std::string::npos);  // nested objects are not key figures
  EXPECT_NE(text.find("https://grafana/d/x?sku=SKU-001234"), std::string::npos);
  simdjson::dom::array blocks = doc["blocks"].get_array();
  ASSERT_EQ(blocks.size(), 4u);  // headline, figures, button, context
  EXPECT_EQ(get_str(doc, "/blocks/0/type"), "section");
  EXPECT_EQ(get_str(doc, "/blocks/1/fields/0/text"), "*on_hand*\n3");
  EXPECT_EQ(get_str(doc, "/blocks/2/elements/0/url"), "https://grafana/d/x?sku=SKU-001234");
}

TEST(SlackTest, ResolvedNoteOrNothing) {
  SlackOptions o;
  o.webhook_url = "http://hooks/x";
  auto resolved = parse_delivery_alert(alert_json("a1", "resolved")).value();
  auto req = SlackProtocol(o).build(resolved, 0);
  ASSERT_TRUE(req);
  simdjson::dom::parser p;
  EXPECT_EQ(
      get_str(p.parse(pad(req->body)), "/text").rfind("RESOLVED low_stock SKU-001234 at S0042", 0),
      0u);
  o.resolved_note = false;
  EXPECT_FALSE(SlackProtocol(o).build(resolved, 0));
}

TEST(AlertmanagerTest, LabelsAnnotationsAndEndsAt) {
  AlertmanagerOptions o;
  o.base_url = "http://am:9093/";
  o.resend_interval_ms = 60000;
  o.ends_at_factor = 4;
  AlertmanagerProtocol am(o);
  const int64_t now = 1764066000000;  // 10:20:00Z, after the alert's 10:15 event time
  auto req = am.build(parse_delivery_alert(alert_json("a1", "firing", "warning")).value(), now);
  ASSERT_TRUE(req);
  EXPECT_EQ(req->url, "http://am:9093/api/v2/alerts");
  simdjson::dom::parser p;
  simdjson::dom::element doc = p.parse(pad(req->body));
  EXPECT_EQ(get_str(doc, "/0/labels/alertname"), "low_stock");
  EXPECT_EQ(get_str(doc, "/0/labels/severity"), "warning");
  EXPECT_EQ(get_str(doc, "/0/labels/store"), "S0042");
  EXPECT_EQ(get_str(doc, "/0/labels/sku"), "SKU-001234");
  EXPECT_EQ(get_str(doc, "/0/annotations/alert_id"), "a1");
  EXPECT_EQ(get_str(doc, "/0/startsAt"), "2025-11-25T10:15:00Z");
  EXPECT_EQ(get_str(doc, "/0/endsAt"), "2025-11-25T10:24:00Z");  // now + 4 x 60 s
  auto res = am.build(parse_delivery_alert(alert_json("a1", "resolved", "warning")).value(), now);
  simdjson::dom::parser p2;
  EXPECT_EQ(get_str(p2.parse(pad(res->body)), "/0/endsAt"), "2025-11-25T10:20:00Z");
  // Event time ahead of the wall clock: startsAt is clamped to now.
  auto early = am.build(parse_delivery_alert(alert_json("a2", "firing")).value(), 1764065000000);
  simdjson::dom::parser p3;
  EXPECT_EQ(get_str(p3.parse(pad(early->body)), "/0/startsAt"), format_time(1764065000000));
}

TEST(ClassifyTest, StatusMapping) {
  auto resp = [](int code, int64_t ra = -1) {
    HttpResponse r;
    r.status = code;
    r.retry_after_ms = ra;
    return Result<HttpResponse>(r);
  };
  EXPECT_EQ(classify_http(resp(202)).outcome, DeliveryOutcome::kDelivered);
  EXPECT_EQ(classify_http(resp(200)).outcome, DeliveryOutcome::kDelivered);
  EXPECT_EQ(classify_http(resp(400)).outcome, DeliveryOutcome::kPermanentFailure);
  EXPECT_EQ(classify_http(resp(404)).outcome, DeliveryOutcome::kPermanentFailure);
  Classification c = classify_http(resp(429, 3000));
  EXPECT_EQ(c.outcome, DeliveryOutcome::kRetry);
  EXPECT_EQ(c.retry_after_ms, 3000);
  EXPECT_EQ(classify_http(resp(500)).outcome, DeliveryOutcome::kRetry);
  EXPECT_EQ(classify_http(resp(503)).outcome, DeliveryOutcome::kRetry);
  EXPECT_EQ(classify_http(Result<HttpResponse>(Status::unavailable("refused"))).outcome,
            DeliveryOutcome::kRetry);
  EXPECT_EQ(classify_http(Result<HttpResponse>(Status::invalid("bad url"))).outcome,
            DeliveryOutcome::kPermanentFailure);
}

TEST(ClassifyTest, RedirectsAreRetriedWithAClearReasonNotPermanentFailures) {
  HttpResponse r;
  r.status = 307;
  Classification c = classify_http(Result<HttpResponse>(r));
  EXPECT_EQ(c.outcome, DeliveryOutcome::kRetry);
  EXPECT_NE(c.reason.find("redirect"), std::string::npos) << c.reason;
  r.status = 301;
  EXPECT_EQ(classify_http(Result<HttpResponse>(r)).outcome, DeliveryOutcome::kRetry);
}

// Issue 21 point 6: secrets with CR/LF and unusable receiver URLs are config errors at load.
TEST(DeliveryConfigTest, SecretWithCrLfIsAConfigErrorNamingTheKey) {
  ::setenv("SW_TEST_BAD_TOKEN", "abc\r\nX-Injected: 1", 1);
  std::string cfg =
      "sinks:\n  delivery:\n    endpoints:\n      am:\n        kind: alertmanager\n"
      "        urls: [http://127.0.0.1:9093]\n        bearer_token_env: SW_TEST_BAD_TOKEN\n";
  try {
    make_delivery_sink(Config::from_yaml(cfg), nullptr, operator_alert_types());
    FAIL() << "a token with CR/LF was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "sinks.delivery.endpoints.am.bearer_token_env");
    EXPECT_NE(std::string(e.what()).find("CR or LF"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("Injected"), std::string::npos) << "secret printed";
  }
  ::unsetenv("SW_TEST_BAD_TOKEN");
}

TEST(DeliveryConfigTest, ReceiverUrlsAreValidatedAtLoad) {
  auto key_of = [](const std::string& cfg) -> std::string {
    try {
      make_delivery_sink(Config::from_yaml(cfg), nullptr, operator_alert_types());
    } catch (const ConfigError& e) {
      return e.key();
    }
    return "";
  };
  const std::string am =
      "sinks:\n  delivery:\n    endpoints:\n      am:\n        kind: alertmanager\n";
  EXPECT_EQ(key_of(am + "        urls: [not a url]\n"), "sinks.delivery.endpoints.am.urls");
  EXPECT_EQ(key_of(am + "        urls: [ftp://host/x]\n"), "sinks.delivery.endpoints.am.urls");
  EXPECT_EQ(key_of(am + "        urls: [\"http:///path\"]\n"), "sinks.delivery.endpoints.am.urls");
  EXPECT_EQ(key_of(am + "        urls: [http://am1:9093, https://am2]\n"), "");
  auto dir = std::filesystem::temp_directory_path() / ("sw_dlv_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  { std::ofstream(dir / "hook") << "this is not a URL\n"; }
  std::string slack =
      "sinks:\n  delivery:\n    endpoints:\n      s:\n        kind: slack\n"
      "        webhook_url_file: " +
      (dir / "hook").string() + "\n";
  std::string key = key_of(slack);
  std::filesystem::remove_all(dir);
  EXPECT_EQ(key, "sinks.delivery.endpoints.s.webhook_url_file");
}

// Issue 20 (`validate` = `run`'s checks): every endpoint key is known. A disabled endpoint's
// keys and another kind's keys are unused (a warning, values unchecked); a misspelt key is
// unknown, in a disabled endpoint too.
std::string unknown_key_error(const Config& c) {
  try {
    c.check_unknown();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(DeliveryConfigTest, DisabledEndpointKeysAreUnusedUncheckedButTyposAreUnknown) {
  const std::string disabled =
      "sinks:\n  delivery:\n    endpoints:\n      pd:\n        enabled: false\n"
      "        kind: pagerduty\n        url: ftp://placeholder\n"
      "        routing_key_env: SW_TEST_SURELY_UNSET_VARIABLE\n        burst: 0\n";
  Config ok = Config::from_yaml(disabled);
  DeliverySinkConfig dc = delivery_sink_config(ok, operator_alert_types());
  EXPECT_TRUE(dc.endpoints.empty());
  EXPECT_EQ(unknown_key_error(ok), "");
  std::vector<std::string> w = ok.unused_warnings();
  ASSERT_EQ(w.size(), 4u) << ::testing::PrintToString(w);
  EXPECT_EQ(w[0],
            "config key 'sinks.delivery.endpoints.pd.burst' is unused because "
            "sinks.delivery.endpoints.pd.enabled=false");
  EXPECT_NE(w[3].find("'sinks.delivery.endpoints.pd.url' is unused"), std::string::npos);

  Config typo = Config::from_yaml(disabled + "        rate_per_minn: 5\n");
  (void)delivery_sink_config(typo, operator_alert_types());
  EXPECT_NE(
      unknown_key_error(typo).find("'sinks.delivery.endpoints.pd.rate_per_minn': unknown key; "
                                   "did you mean 'sinks.delivery.endpoints.pd.rate_per_min'?"),
      std::string::npos)
      << unknown_key_error(typo);

  // Every kind's keys are known on a disabled endpoint, whatever its kind says.
  Config any = Config::from_yaml(
      "sinks:\n  delivery:\n    endpoints:\n      x:\n        enabled: false\n"
      "        kind: pagerdutty\n        urls: [notaurl]\n        min_interval: 1s\n");
  (void)delivery_sink_config(any, operator_alert_types());
  EXPECT_EQ(unknown_key_error(any), "");
  EXPECT_EQ(any.unused_warnings().size(), 3u);
}

TEST(DeliveryConfigTest, AnotherKindsKeyOnAnEnabledEndpointIsUnused) {
  ::setenv("SW_TEST_PD_KEY", "k", 1);
  Config c = Config::from_yaml(
      "sinks:\n  delivery:\n    endpoints:\n      pd:\n        kind: pagerduty\n"
      "        routing_key_env: SW_TEST_PD_KEY\n        webhook_url_env: SW_TEST_PD_KEY\n"
      "        resend_interval: 1m\n        link_template: http://x/{id}\n");
  DeliverySinkConfig dc = delivery_sink_config(c, operator_alert_types());
  ::unsetenv("SW_TEST_PD_KEY");
  ASSERT_EQ(dc.endpoints.size(), 1u);
  EXPECT_EQ(unknown_key_error(c), "");
  // link_template is the endpoint's own key too: used, no warning.
  std::vector<std::string> w = c.unused_warnings();
  ASSERT_EQ(w.size(), 2u) << ::testing::PrintToString(w);
  EXPECT_EQ(w[0],
            "config key 'sinks.delivery.endpoints.pd.resend_interval' is unused because "
            "sinks.delivery.endpoints.pd.kind=pagerduty");
  EXPECT_EQ(w[1],
            "config key 'sinks.delivery.endpoints.pd.webhook_url_env' is unused because "
            "sinks.delivery.endpoints.pd.kind=pagerduty");
}

TEST(BackoffTest, ExponentialWithJitterAndCap) {
  Backoff b(100, 3000, 42);
  std::set<int64_t> distinct;
  for (uint32_t n = 1; n <= 12; ++n) {
    int64_t d = std::min<int64_t>(3000, int64_t{100} << (n - 1));
    for (int k = 0; k < 20; ++k) {
      int64_t v = b.delay_ms(n);
      ASSERT_GE(v, d / 2) << n;
      ASSERT_LE(v, d) << n;
      distinct.insert(v);
    }
  }
  EXPECT_GT(distinct.size(), 20u);  // jittered, not a fixed schedule
}

TEST(CircuitBreakerTest, OpensAfterThresholdAndProbes) {
  CircuitBreaker cb(3, 1000);
  cb.on_failure(0);
  cb.on_failure(10);
  EXPECT_FALSE(cb.is_open());
  EXPECT_EQ(cb.allowed_at(20), 20);
  cb.on_failure(20);
  EXPECT_TRUE(cb.is_open());
  EXPECT_EQ(cb.allowed_at(30), 1020);
  cb.on_failure(1020);  // failed probe: open twice as long
  EXPECT_EQ(cb.allowed_at(1030), 3020);
  cb.on_success();
  EXPECT_FALSE(cb.is_open());
  EXPECT_EQ(cb.allowed_at(1100), 1100);
  EXPECT_EQ(cb.times_opened(), 2u);
}

TEST(TokenBucketTest, PacesToRate) {
  TokenBucket tb(2.0, 2.0);  // 2/s, burst 2
  EXPECT_EQ(tb.available_at(0), 0);
  tb.take(0);
  tb.take(0);
  EXPECT_EQ(tb.available_at(0), 500);
  EXPECT_EQ(tb.available_at(250), 500);
  tb.take(500);
  EXPECT_EQ(tb.available_at(500), 1000);
}

TEST(RouteTableTest, FirstMatchWinsWithDefault) {
  Config cfg = Config::from_yaml(R"(
sinks:
  delivery:
    routes:
      - {type: [stockout, low_stock], severity: [critical, emergency], to: [oncall, store_team]}
      - {store: S0042, to: store_team}
    default_route: [am]
)");
  RouteTable t = RouteTable::from_config(cfg, {"oncall", "store_team", "am"});
  DeliveryAlert a;
  a.type = "low_stock";
  a.severity = "critical";
  a.store = "S0042";
  EXPECT_EQ(t.match(a), (std::vector<int>{0, 1}));
  a.severity = "warning";
  EXPECT_EQ(t.match(a), (std::vector<int>{1}));
  a.store = "S0001";
  EXPECT_EQ(t.match(a), (std::vector<int>{2}));
  Config bad = Config::from_yaml("sinks: {delivery: {routes: [{to: [nobody]}]}}");
  EXPECT_THROW(RouteTable::from_config(bad, {"oncall"}), ConfigError);
}

TEST(SecretTest, FromEnvOrFileNeverInErrors) {
  ::setenv("SW_TEST_SECRET", "s3cr3t-value", 1);
  Config env = Config::from_yaml("x: {routing_key_env: SW_TEST_SECRET}");
  EXPECT_EQ(read_secret(env, "x.routing_key"), "s3cr3t-value");
  std::string path = ::testing::TempDir() + "/sw_secret_" + std::to_string(::getpid());
  std::ofstream(path) << "file-secret\n";
  Config file = Config::from_yaml("x: {routing_key_file: " + path + "}");
  EXPECT_EQ(read_secret(file, "x.routing_key"), "file-secret");
  Config missing = Config::from_yaml("x: {routing_key_env: SW_TEST_NOT_SET_ANYWHERE}");
  try {
    (void)read_secret(missing, "x.routing_key");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("SW_TEST_NOT_SET_ANYWHERE"), std::string::npos);
  }
  EXPECT_THROW((void)read_secret(Config::from_yaml("x: {}"), "x.routing_key"), ConfigError);
  // The config dump of `validate` redacts the variable-name keys too.
  EXPECT_EQ(env.dump().find("s3cr3t-value"), std::string::npos);
}

// ---- the sink against a real HTTP receiver ----

struct PdReceived {
  std::string action, dedup_key;
  int status;
};

std::vector<PdReceived> pd_requests(const HttpReceiver& rx) {
  std::vector<PdReceived> out;
  for (const ReceivedRequest& r : rx.requests()) {
    simdjson::dom::parser p;
    simdjson::dom::element doc = p.parse(pad(r.body));
    out.push_back({get_str(doc, "/event_action"), get_str(doc, "/dedup_key"), r.status});
  }
  return out;
}

std::string pd_config(const HttpReceiver& rx, const std::string& extra = "") {
  return R"(
sinks:
  delivery:
    drain_timeout: 5s
)" + extra +
         R"(
    endpoints:
      oncall:
        kind: pagerduty
        url: )" +
         rx.url("/v2/enqueue") + R"(
        routing_key_env: SW_TEST_PD_KEY
        backoff_initial: 50ms
        backoff_max: 200ms
        breaker_failures: 100
)";
}

TEST(DeliverySinkTest, RetriesUntilDeliveredInOrderHonouringRetryAfter) {
  set_env();
  HttpReceiver rx;
  rx.set_default(Reply{202, "{}", "", 0});
  rx.script({Reply{500, "boom", "", 0}, Reply{429, "slow", "1", 0}});
  LockedStore store;
  auto sink = make_delivery_sink(Config::from_yaml(pd_config(rx)), &store, operator_alert_types());
  ASSERT_TRUE(sink->recover(store).is_ok());
  checkpoint(*sink, store,
             {record(alert_json("a1", "firing")), record(alert_json("a2", "firing")),
              record(alert_json("a1", "resolved"))});
  ASSERT_TRUE(sink->wait_idle(10000));
  auto reqs = pd_requests(rx);
  ASSERT_EQ(reqs.size(), 5u);
  // a1 trigger failed twice (500, 429) then succeeded; order per endpoint is kept.
  EXPECT_EQ(reqs[0].dedup_key, "a1");
  EXPECT_EQ(reqs[1].dedup_key, "a1");
  EXPECT_EQ(reqs[2].dedup_key, "a1");
  EXPECT_EQ(reqs[2].status, 202);
  EXPECT_EQ(reqs[3].dedup_key, "a2");
  EXPECT_EQ(reqs[3].action, "trigger");
  EXPECT_EQ(reqs[4].dedup_key, "a1");
  EXPECT_EQ(reqs[4].action, "resolve");
  auto raw = rx.requests();
  EXPECT_GE(raw[2].at_ms - raw[1].at_ms, 950);  // Retry-After: 1
  EXPECT_LT(raw[1].at_ms - raw[0].at_ms, 950);  // plain backoff is short here
  // The routing key is in the body (PagerDuty needs it) and nowhere in the URL.
  EXPECT_NE(raw[0].body.find("R0UTINGKEYSECRET"), std::string::npos);
  EXPECT_EQ(raw[0].path, "/v2/enqueue");
  const EndpointStats& s = sink->endpoint(0).stats();
  EXPECT_EQ(s.delivered.load(), 3u);
  EXPECT_EQ(s.retries.load(), 2u);
  EXPECT_EQ(s.failed.load(), 0u);
  EXPECT_EQ(store.count(kOutboxNamespace), 0u);  // delivered entries were removed
  ASSERT_TRUE(sink->close().is_ok());
}

TEST(DeliverySinkTest, PermanentFailureIsRecordedNotRetried) {
  set_env();
  HttpReceiver rx;
  rx.set_default(Reply{202, "{}", "", 0});
  rx.script({Reply{400, "{\"status\":\"invalid event\"}", "", 0}});
  LockedStore store;
  auto sink = make_delivery_sink(Config::from_yaml(pd_config(rx)), &store, operator_alert_types());
  ASSERT_TRUE(sink->recover(store).is_ok());
  checkpoint(*sink, store,
             {record(alert_json("bad", "firing")), record(alert_json("good", "firing"))});
  ASSERT_TRUE(sink->wait_idle(5000));
  auto reqs = pd_requests(rx);
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].dedup_key, "bad");
  EXPECT_EQ(reqs[1].dedup_key, "good");
  EXPECT_EQ(sink->endpoint(0).stats().failed.load(), 1u);
  EXPECT_EQ(sink->endpoint(0).stats().delivered.load(), 1u);
  EXPECT_EQ(store.count(kOutboxNamespace), 0u);
  std::string metrics;
  for (const auto& f : sink->collectable()->Collect()) {
    for (const auto& m : f.metric) {
      std::string labels;
      for (const auto& l : m.label) labels += l.name + "=" + l.value + ",";
      metrics += f.name + "{" + labels + "} " + std::to_string(m.counter.value) + "\n";
    }
  }
  EXPECT_NE(metrics.find(
                "shelfwatch_deliveries_total{sink=pagerduty,endpoint=oncall,outcome=failed,} 1."),
            std::string::npos)
      << metrics;
  EXPECT_NE(
      metrics.find("shelfwatch_alerts_total{type=low_stock,severity=critical,status=firing,} 2."),
      std::string::npos)
      << metrics;
  EXPECT_EQ(metrics.find("R0UTINGKEYSECRET"), std::string::npos);
}

TEST(DeliverySinkTest, SurvivesRestartWhileTheEndpointIsDown) {
  set_env();
  HttpReceiver rx;
  rx.set_default(Reply{202, "{}", "", 0});
  const std::string cfg = pd_config(rx);
  rx.stop();  // connection refused
  LockedStore store;
  {
    auto sink = make_delivery_sink(Config::from_yaml(cfg), &store, operator_alert_types());
    ASSERT_TRUE(sink->recover(store).is_ok());
    std::vector<OutputRecord> recs;
    for (int i = 0; i < 5; ++i)
      recs.push_back(record(alert_json("r" + std::to_string(i), "firing")));
    checkpoint(*sink, store, recs);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_GE(sink->endpoint(0).stats().retries.load(), 1u);
    EXPECT_EQ(sink->pending(), 5u);
    // Destroyed without close(): like a crash, nothing is flushed.
  }
  EXPECT_EQ(store.count(kOutboxNamespace), 5u);
  rx.restart();
  auto sink = make_delivery_sink(Config::from_yaml(cfg), &store, operator_alert_types());
  ASSERT_TRUE(sink->recover(store).is_ok());
  ASSERT_TRUE(sink->wait_idle(10000));
  std::multiset<std::string> keys;
  for (const auto& r : pd_requests(rx)) keys.insert(r.dedup_key);
  EXPECT_EQ(keys, (std::multiset<std::string>{"r0", "r1", "r2", "r3", "r4"}));
  EXPECT_EQ(store.count(kOutboxNamespace), 0u);
  // New alerts after the restart continue the sequence without clobbering anything.
  checkpoint(*sink, store, {record(alert_json("r5", "firing"))});
  ASSERT_TRUE(sink->wait_idle(5000));
  EXPECT_EQ(rx.count(), 6u);
}

// Hot reload (issue 20): a new endpoint URL takes over the queued entries and the counters;
// renaming an endpoint is refused and changes nothing.
TEST(DeliverySinkTest, ReconfigureMovesQueuedEntriesToTheNewUrl) {
  set_env();
  HttpReceiver down, up;
  up.set_default(Reply{202, "{}", "", 0});
  const std::string old_cfg = pd_config(down);
  down.stop();  // connection refused: entries stay queued
  LockedStore store;
  auto sink = make_delivery_sink(Config::from_yaml(old_cfg), &store, operator_alert_types());
  ASSERT_TRUE(sink->recover(store).is_ok());
  checkpoint(*sink, store,
             {record(alert_json("q1", "firing")), record(alert_json("q2", "firing"))});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const uint64_t retries = sink->endpoint(0).stats().retries.load();
  EXPECT_GE(retries, 1u);
  EXPECT_EQ(sink->pending(), 2u);

  std::string renamed = pd_config(up);
  renamed.replace(renamed.find("oncall:"), 7, "pager:");
  Status refused =
      sink->reconfigure(delivery_sink_config(Config::from_yaml(renamed), operator_alert_types()));
  EXPECT_FALSE(refused.is_ok());
  EXPECT_NE(refused.message().find("sinks.delivery.endpoints.oncall"), std::string::npos)
      << refused.message();
  EXPECT_EQ(sink->pending(), 2u);

  ASSERT_TRUE(sink->reconfigure(delivery_sink_config(Config::from_yaml(pd_config(up)),
                                                     operator_alert_types()))
                  .is_ok());
  ASSERT_TRUE(sink->wait_idle(5000));
  checkpoint(*sink, store, {record(alert_json("q3", "firing"))});
  ASSERT_TRUE(sink->wait_idle(5000));
  std::vector<std::string> keys;
  for (const auto& r : pd_requests(up)) keys.push_back(r.dedup_key);
  EXPECT_EQ(keys, (std::vector<std::string>{"q1", "q2", "q3"}));
  const EndpointStats& s = sink->endpoint(0).stats();
  EXPECT_EQ(s.delivered.load(), 3u);
  EXPECT_GE(s.retries.load(), retries);  // carried over, not reset
  EXPECT_EQ(s.dropped.load(), 0u);       // moved, not dropped
  EXPECT_EQ(store.count(kOutboxNamespace), 0u);
  ASSERT_TRUE(sink->close().is_ok());
}

TEST(DeliverySinkTest, DiskBudgetDropsOldestFirst) {
  set_env();
  HttpReceiver rx;
  rx.set_default(Reply{202, "{}", "", 0});
  const int64_t entry = static_cast<int64_t>(alert_json("b0", "firing").size()) + 6 + 17 + 21;
  const std::string cfg =
      pd_config(rx, "    outbox_max_bytes: " + std::to_string(3 * entry + 10) + "\n");
  rx.stop();
  LockedStore store;
  auto sink = make_delivery_sink(Config::from_yaml(cfg), &store, operator_alert_types());
  ASSERT_TRUE(sink->recover(store).is_ok());
  for (int i = 0; i < 10; ++i) {
    // std::string("b").append(...) rather than "b" + std::to_string(i): GCC 12 at -O3 reports a
    // -Wrestrict false positive inside that operator+ (GCC bug 105329).
    checkpoint(*sink, store,
               {record(alert_json(std::string("b").append(std::to_string(i)), "firing"))});
    EXPECT_LE(sink->pending(), 3u);
  }
  EXPECT_LE(store.count(kOutboxNamespace), 3u);
  EXPECT_EQ(sink->endpoint(0).stats().dropped.load(), 7u);
  rx.restart();
  ASSERT_TRUE(sink->wait_idle(10000));
  std::set<std::string> keys;
  for (const auto& r : pd_requests(rx)) keys.insert(r.dedup_key);
  // The newest three survive (the head may have been in flight when a drop was due, in which
  // case the next-oldest went instead; b9, the newest, always survives).
  EXPECT_EQ(keys.size(), 3u);
  EXPECT_TRUE(keys.count("b9"));
  EXPECT_TRUE(keys.count("b8"));
}

TEST(DeliverySinkTest, SlackIsPacedAndHonoursRetryAfter) {
  ::setenv("SW_TEST_SLACK_HOOK", "placeholder", 1);
  HttpReceiver rx;
  ::setenv("SW_TEST_SLACK_HOOK", rx.url("/services/T0/B0/XYZ").c_str(), 1);
  rx.set_default(Reply{200, "ok", "", 0});
  rx.script({Reply{200, "ok", "", 0}, Reply{429, "rate_limited", "1", 0}});
  LockedStore store;
  auto sink = make_delivery_sink(Config::from_yaml(R"(
sinks:
  delivery:
    endpoints:
      store_team:
        kind: slack
        webhook_url_env: SW_TEST_SLACK_HOOK
        min_interval: 300ms
        backoff_initial: 50ms
)"),
                                 &store, operator_alert_types());
  ASSERT_TRUE(sink->recover(store).is_ok());
  checkpoint(*sink, store,
             {record(alert_json("s1", "firing")), record(alert_json("s2", "firing")),
              record(alert_json("s3", "firing")), record(alert_json("s1", "resolved"))});
  ASSERT_TRUE(sink->wait_idle(10000));
  auto raw = rx.requests();
  ASSERT_EQ(raw.size(), 5u);  // 4 messages + one 429
  for (size_t i = 1; i < raw.size(); ++i) EXPECT_GE(raw[i].at_ms - raw[i - 1].at_ms, 280) << i;
  EXPECT_GE(raw[2].at_ms - raw[1].at_ms, 950);  // Retry-After: 1 after the 429
  EXPECT_NE(raw[1].body, "");
  EXPECT_EQ(raw[1].body, raw[2].body);  // the same message was retried
  EXPECT_NE(raw[4].body.find("RESOLVED"), std::string::npos);
  EXPECT_EQ(sink->endpoint(0).stats().delivered.load(), 4u);
}

TEST(DeliverySinkTest, AlertmanagerResendsFiringToEveryReplicaUntilResolved) {
  HttpReceiver am1, am2;
  am1.set_default(Reply{200, "", "", 0});
  am2.set_default(Reply{200, "", "", 0});
  LockedStore store;
  const std::string cfg = R"(
sinks:
  delivery:
    endpoints:
      am:
        kind: alertmanager
        urls: [)" + am1.url() +
                          ", " + am2.url() + R"(]
        resend_interval: 300ms
)";
  auto sink = make_delivery_sink(Config::from_yaml(cfg), &store, operator_alert_types());
  ASSERT_EQ(sink->endpoint_count(), 2u);
  ASSERT_TRUE(sink->recover(store).is_ok());
  checkpoint(*sink, store, {record(alert_json("m1", "firing", "warning", "anomaly"))});
  for (HttpReceiver* rx : {&am1, &am2}) {
    ASSERT_TRUE(rx->wait_for([](const auto& v) { return v.size() >= 3; }, 5000));
  }
  EXPECT_EQ(store.count(kFiringNamespace), 2u);  // one firing set per replica
  checkpoint(*sink, store, {record(alert_json("m1", "resolved", "warning", "anomaly"))});
  ASSERT_TRUE(sink->wait_idle(5000));
  EXPECT_EQ(store.count(kFiringNamespace), 0u);
  size_t after_resolve = am1.count();
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(am1.count(), after_resolve);  // nothing firing: no more re-sends
  for (HttpReceiver* rx : {&am1, &am2}) {
    auto reqs = rx->requests();
    ASSERT_GE(reqs.size(), 4u);
    simdjson::dom::parser p;
    for (size_t i = 0; i + 1 < reqs.size(); ++i) {
      simdjson::dom::element doc = p.parse(pad(reqs[i].body));
      EXPECT_EQ(reqs[i].path, "/api/v2/alerts");
      EXPECT_EQ(get_str(doc, "/0/labels/alertname"), "anomaly");
      EXPECT_EQ(get_str(doc, "/0/annotations/alert_id"), "m1");
      int64_t ends = 0;
      ASSERT_TRUE(parse_rfc3339(get_str(doc, "/0/endsAt"), ends));
      // endsAt = post time + 4 x 300 ms, so a silent shelfwatch's alerts expire soon.
      EXPECT_GE(ends - reqs[i].wall_at_ms, 600);  // slack for a loaded machine
      EXPECT_LE(ends - reqs[i].wall_at_ms, 1200);
    }
    simdjson::dom::element last = p.parse(pad(reqs.back().body));
    int64_t ends = 0;
    ASSERT_TRUE(parse_rfc3339(get_str(last, "/0/endsAt"), ends));
    EXPECT_LE(ends, reqs.back().wall_at_ms);
    EXPECT_GE(ends, reqs.back().wall_at_ms - 1000);
  }
}

TEST(DeliverySinkTest, AlertmanagerFiringSetSurvivesRestart) {
  HttpReceiver am;
  am.set_default(Reply{200, "", "", 0});
  LockedStore store;
  const std::string cfg = "sinks: {delivery: {endpoints: {am: {kind: alertmanager, urls: [" +
                          am.url() + "], resend_interval: 200ms}}}}";
  {
    auto sink = make_delivery_sink(Config::from_yaml(cfg), &store, operator_alert_types());
    ASSERT_TRUE(sink->recover(store).is_ok());
    checkpoint(*sink, store, {record(alert_json("f1", "firing"))});
    ASSERT_TRUE(sink->wait_idle(5000));
  }
  size_t before = am.count();
  auto sink = make_delivery_sink(Config::from_yaml(cfg), &store, operator_alert_types());
  ASSERT_TRUE(sink->recover(store).is_ok());
  // The restarted sink re-asserts f1 although no new alert arrived.
  ASSERT_TRUE(am.wait_for([&](const auto& v) { return v.size() >= before + 2; }, 5000));
  EXPECT_NE(am.requests().back().body.find("\"alert_id\":\"f1\""), std::string::npos);
}

TEST(DeliverySinkTest, CountsAlertsWithoutEndpoints) {
  LockedStore store;
  auto sink = make_delivery_sink(Config::from_yaml("a: 1"), &store, operator_alert_types());
  ASSERT_EQ(sink->endpoint_count(), 0u);
  StateBatch b;
  EXPECT_FALSE(sink->prepare({}, b).is_ok());  // recover() first: it fences sequences
  ASSERT_TRUE(sink->recover(store).is_ok());
  std::vector<OutputRecord> recs = {
      record(alert_json("x", "firing", "info", "overstock")),
      record("{\"id\":\"p1\",\"type\":\"price\",\"status\":\"firing\","
             "\"details\":{\"reason\":\"competitor_undercut\","
             "\"approval\":\"review\"}}",
             OutputStream::kPriceTriggers),
      record("not json")};
  ASSERT_TRUE(sink->prepare(recs, b).is_ok());
  EXPECT_TRUE(b.empty());
  std::map<std::string, double> seen;
  for (const auto& f : sink->collectable()->Collect()) {
    for (const auto& m : f.metric) {
      std::string k = f.name;
      for (const auto& l : m.label) k += "|" + l.value;
      seen[k] = m.counter.value;
    }
  }
  EXPECT_EQ(seen["shelfwatch_alerts_total|overstock|info|firing"], 1);
  EXPECT_EQ(seen["shelfwatch_store_alerts_total|S0042"], 1);
  EXPECT_EQ(seen["shelfwatch_price_triggers_total|competitor_undercut|review"], 1);
}

}  // namespace
}  // namespace sw
