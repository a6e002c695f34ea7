// Test driver for tests/e2e/*.sh (not installed).
//   serve   --listen HOST:PORT --seconds N
//       Runs MetricsServer over live TaskCounters that it mutates like a running task, with a
//       DeliverySink delivering generated alerts to an in-process PagerDuty-like receiver
//       (every 7th request answers 500, so retries are non-zero) and an Alertmanager-like one.
//       Stands in for `shelfwatch run` until the run command serves metrics.
//   deliver --config FILE --alerts FILE [--state DIR]
//       Feeds alert JSON lines through a DeliverySink built from the config (one checkpoint
//       per line; a line "#sleep MS" pauses), then waits for the outbox to drain; exit 0 when
//       it drained.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "connectors/delivery_sink.h"
#include "connectors/metrics.h"
#include "operators/registry.h"
#include "state/memory_store.h"
#include "state/rocksdb_store.h"
#include "stream/json_writer.h"
#include "tests/support/http_receiver.h"

namespace {

using sw::OutputRecord;
using sw::OutputStream;

std::string arg(int argc, char** argv, const std::string& name, const std::string& def) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == name) return argv[i + 1];
  }
  return def;
}

void checkpoint(sw::DeliverySink& sink, sw::StateStore& store, const std::vector<OutputRecord>& r) {
  sw::StateBatch b;
  sw::Status s = sink.prepare(r, b);
  if (s.is_ok()) s = store.commit(b);
  if (s.is_ok()) s = sink.committed();
  if (!s.is_ok()) std::cerr << "checkpoint failed: " << s.to_string() << "\n";
}

std::string alert(int i, const char* status) {
  static const char* const kTypes[] = {"low_stock", "stockout", "anomaly", "overstock"};
  static const char* const kSev[] = {"warning", "critical", "info", "emergency"};
  std::string out;
  sw::JsonWriter w(out);
  w.begin_object();
  w.field("id", "e2e-" + std::to_string(i)).field("type", kTypes[i % 4]).field("status", status);
  w.field("severity", kSev[i % 4]).field("store", "S000" + std::to_string(i % 3));
  w.field("sku", "SKU-" + std::to_string(i)).key("time").time_value(sw::wall_now_ms());
  w.field("summary", "generated alert " + std::to_string(i));
  w.key("details").raw("{\"on_hand\":3}");
  w.end_object();
  return out;
}

int serve(int argc, char** argv) {
  const std::string listen = arg(argc, argv, "--listen", "127.0.0.1:9464");
  const int seconds = std::stoi(arg(argc, argv, "--seconds", "60"));
  sw::testing::HttpReceiver pd;
  pd.set_default({202, "{}", "", 0});
  sw::testing::HttpReceiver am;
  am.set_default({200, "", "", 0});
  ::setenv("SW_E2E_PD_KEY", "e2e-routing-key", 1);
  sw::Config cfg = sw::Config::from_yaml(
      "sinks: {delivery: {include_price_triggers: false, endpoints: {oncall: {kind: pagerduty, "
      "url: '" +
      pd.url("/v2/enqueue") +
      "', routing_key_env: SW_E2E_PD_KEY, backoff_initial: 20ms, backoff_max: 100ms}, "
      "am: {kind: alertmanager, urls: ['" +
      am.url() + "'], resend_interval: 1s}}}}");
  sw::MemoryStateStore store;  // single-threaded use: removals ride on the next checkpoint
  auto sink = sw::make_delivery_sink(cfg, nullptr, sw::operator_alert_types());
  if (!sink->recover(store).is_ok()) return 1;

  sw::TaskCounters tc;
  sw::MetricsServerOptions mo;
  mo.listen = listen;
  mo.state_query = [](std::string_view store_id, std::string_view sku) -> std::string {
    if (store_id == "S0001" && sku == "SKU-1")
      return "{\"store\":\"S0001\",\"sku\":\"SKU-1\",\"on_hand\":3}";
    return "";
  };
  mo.alerts_query = [] { return std::string("[]"); };
  sw::MetricsServer server(mo);
  server.add_task(tc);
  sw::Probe probe;  // what the forecast and price operators and the Kafka source export
  server.add_probe(&probe);
  server.add_collectable(sink->collectable());
  server.runtime().set_ready(true);
  std::printf("listening %d\n", server.port());
  std::fflush(stdout);

  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  int i = 0;
  while (std::chrono::steady_clock::now() < end) {
    // One "batch": events of every kind, a dead letter, a checkpoint, latency observations.
    sw::bump(tc.read, 20);
    for (int t = 0; t < sw::kEventTypeCount; ++t) sw::bump(tc.applied[t], 2);
    sw::bump(tc.duplicates[0], 1);
    sw::bump(tc.late[0], 0);
    sw::bump(tc.dead_lettered[static_cast<int>(sw::DecodeError::kNotJson)], 1);
    if (i % 10 == 0) sw::bump(tc.late[0], 1);
    sw::bump(tc.outputs[static_cast<int>(OutputStream::kAlerts)], 1);
    sw::bump(tc.outputs[static_cast<int>(OutputStream::kForecasts)], 3);
    int64_t now = sw::wall_now_ms();
    tc.watermark_ms.store(now - 60000);
    tc.max_event_ms.store(now - 1000);
    tc.state_keys.store(1000 + static_cast<uint64_t>(i));
    tc.state_bytes.store(168000 + 168 * static_cast<uint64_t>(i));
    server.runtime().processing_latency().observe(0.002 + 0.001 * (i % 5));
    server.runtime().event_lag().observe(1.0 + (i % 7));
    probe.gauge("forecast_mase_ratio", "Overall forecast MASE.").set(0.85);
    probe.gauge("forecast_wape_ratio", "Overall forecast WAPE.").set(0.22);
    probe
        .counter("price_trigger_firings_total",
                 "Price trigger episodes opened, by reason and approval",
                 {{"reason", "competitor_undercut"}, {"approval", i % 2 ? "review" : "auto"}})
        .add(1);
    // What the low_stock operator's replenishment workflow exports (retail dashboard row).
    for (const char* st : {"S0001", "S0002"}) {
      probe.gauge("inventory_stockouts_open", "Keys with an open stockout alert.", {{"store", st}})
          .set(3 + i % 4);
      probe
          .gauge("inventory_units_at_risk", "Units short before the next receipt.", {{"store", st}})
          .set(12.5);
      probe
          .gauge("inventory_expiry_units_at_risk", "Units projected unsold at expiry.",
                 {{"store", st}})
          .set(7);
      probe.gauge("inventory_expiry_cost_at_risk", "Cost at risk of expiry.", {{"store", st}})
          .set(21.4);
    }
    probe
        .gauge("inventory_receipts_overdue", "Open receipt_overdue alerts.",
               {{"supplier", "SUP-DAI-1"}})
        .set(2);
    for (const char* a : {"auto", "review", "escalate"}) {
      probe.counter("replenishment_recommendations_total", "Recommendations.", {{"approval", a}})
          .add(1);
      probe.counter("replenishment_order_value_total", "Order value.", {{"approval", a}}).add(40);
    }
    probe.counter("transfers_proposed_total", "Transfer proposals.").add(i % 3 == 0 ? 1 : 0);
    probe.counter("inventory_feedback_total", "Feedback.", {{"action", "ack"}}).add(i % 5 == 0);
    probe.counter("inventory_fallbacks_total", "Fallbacks.", {{"reason", "unknown_po_id"}})
        .add(i % 9 == 0);
    server.runtime().set_partition_watermark("events.jsonl", 0, now - 60000);
    probe
        .gauge("consumer_lag_messages", "Kafka consumer lag per partition.",
               {{"topic", "retail.events"}, {"partition", "0"}})
        .set(100 + i % 50);
    if (i % 7 == 3) pd.script({{500, "oops", "", 0}});
    std::vector<OutputRecord> recs;
    OutputRecord r;
    r.stream = OutputStream::kAlerts;
    r.json = alert(i, "firing");
    recs.push_back(r);
    if (i > 0) {
      r.json = alert(i - 1, "resolved");
      recs.push_back(r);
    }
    OutputRecord p;
    p.stream = OutputStream::kPriceTriggers;
    p.json = "{\"id\":\"pt-" + std::to_string(i) +
             "\",\"type\":\"price\",\"status\":\"firing\",\"severity\":\"info\",\"details\":"
             "{\"reason\":\"competitor_undercut\",\"approval\":\"review\"}}";
    recs.push_back(p);
    auto t0 = std::chrono::steady_clock::now();
    checkpoint(*sink, store, recs);
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sw::bump(tc.checkpoints);
    sw::bump(tc.checkpoint_duration_us_total, static_cast<uint64_t>(took * 1e6) + 500);
    tc.checkpoint_duration_us_last.store(static_cast<uint64_t>(took * 1e6) + 500);
    tc.checkpoint_bytes_last.store(4096 + static_cast<uint64_t>(i % 10));
    ++i;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return sink->close().is_ok() ? 0 : 1;
}

int deliver(int argc, char** argv) {
  sw::Config cfg = sw::Config::from_file(arg(argc, argv, "--config", ""));
  std::ifstream in(arg(argc, argv, "--alerts", ""));
  if (!in) {
    std::cerr << "cannot read --alerts\n";
    return 2;
  }
  // --state DIR: a RocksDB store (survives kill -9; workers commit their removals to it
  // directly). Without it, an in-memory store.
  std::unique_ptr<sw::StateStore> owned;
  sw::StateStore* ack_store = nullptr;
  const std::string state_dir = arg(argc, argv, "--state", "");
  if (!state_dir.empty()) {
    sw::RocksDbOptions ro;
    ro.path = state_dir;
    auto opened = sw::RocksDbStateStore::open(ro);
    if (!opened.is_ok()) {
      std::cerr << opened.status().to_string() << "\n";
      return 1;
    }
    owned = std::move(opened.value());
    ack_store = owned.get();
  } else {
    owned = std::make_unique<sw::MemoryStateStore>();
  }
  sw::StateStore& store = *owned;
  auto sink = sw::make_delivery_sink(cfg, ack_store, sw::operator_alert_types());
  if (!sink->recover(store).is_ok()) return 1;
  std::printf("recovered=%zu\n", sink->pending());
  std::fflush(stdout);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line.rfind("#sleep ", 0) == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(line.substr(7))));
      continue;
    }
    OutputRecord r;
    r.stream = OutputStream::kAlerts;
    r.json = line;
    checkpoint(*sink, store, {r});
  }
  bool drained = sink->wait_idle(30000);
  checkpoint(*sink, store, {});  // removals of delivered entries
  if (!sink->close().is_ok()) return 1;
  size_t left = 0;
  sw::Status s =
      store.scan_prefix(sw::kOutboxNamespace, "", [&](std::string_view, std::string_view) {
        ++left;
        return true;
      });
  std::printf("drained=%d outbox_left=%zu\n", drained ? 1 : 0, left);
  return drained && s.is_ok() && left == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: delivery_e2e_tool serve|deliver ...\n";
    return 2;
  }
  try {
    std::string cmd = argv[1];
    if (cmd == "serve") return serve(argc, argv);
    if (cmd == "deliver") return deliver(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "unknown command\n";
  return 2;
}
