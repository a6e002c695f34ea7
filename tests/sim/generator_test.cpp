// Tests of the synthetic stream generator (sim/generator.h): determinism, the input contract
// (checked with simdjson directly and with sw::Decoder), the bad-record mix, and the ground
// truth (stock-outs recomputed from the events, sales vs. truth demand, elasticities,
// injected anomalies).

#include "sim/generator.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "stream/decoder.h"
#include "stream/event.h"

namespace sw {
namespace {

struct Generated {
  std::string events;
  std::string truth;
  GeneratorStats stats;
};

Generated generate(const GeneratorOptions& o, bool with_truth = true) {
  Generated g;
  ChunkWriter ev = [&g](std::string_view c) {
    g.events.append(c);
    return Status::ok();
  };
  ChunkWriter tr = [&g](std::string_view c) {
    g.truth.append(c);
    return Status::ok();
  };
  Status st = generate_stream(o, ev, with_truth ? &tr : nullptr, g.stats);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  return g;
}

std::vector<std::string_view> lines_of(const std::string& s) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    if (nl == std::string::npos) nl = s.size();
    out.emplace_back(s.data() + pos, nl - pos);
    pos = nl + 1;
  }
  return out;
}

GeneratorOptions small_options() {
  GeneratorOptions o;
  o.stores = 4;
  o.skus = 25;
  o.days = 45;
  o.seed = 11;
  o.events_per_key_day = 3;
  o.bad_rate = 0.01;
  o.log_bad_lines = true;
  o.anomaly_rate = 1.0 / 200;
  return o;
}

const Generated& small_run() {
  static const Generated g = generate(small_options());
  return g;
}

// Independent RFC 3339 / epoch-ms reader for the truth file and the schema test.
int64_t truth_time(simdjson::ondemand::value v) {
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS) return -1;
  int64_t ms = 0;
  EXPECT_TRUE(parse_rfc3339(s, ms)) << s;
  return ms;
}

TEST(GeneratorTest, SameSeedSameBytesDifferentSeedDifferentBytes) {
  GeneratorOptions o = small_options();
  o.days = 10;
  Generated a = generate(o);
  Generated b = generate(o);
  EXPECT_FALSE(a.events.empty());
  EXPECT_EQ(a.events, b.events);
  EXPECT_EQ(a.truth, b.truth);
  o.seed = 12;
  Generated c = generate(o);
  EXPECT_NE(a.events, c.events);
  EXPECT_NE(a.truth, c.truth);
  // The in-process result equals the chunked one regardless of the writer: the truth-less run
  // writes the same events.
  o.seed = 11;
  Generated d = generate(o, false);
  EXPECT_EQ(a.events, d.events);
  EXPECT_TRUE(d.truth.empty());
}

TEST(GeneratorTest, RejectsBadOptions) {
  GeneratorOptions o;
  GeneratorStats stats;
  ChunkWriter sink = [](std::string_view) { return Status::ok(); };
  o.stores = 0;
  EXPECT_FALSE(generate_stream(o, sink, nullptr, stats).is_ok());
  o = GeneratorOptions{};
  o.start_date = "2026-02-30";
  EXPECT_FALSE(generate_stream(o, sink, nullptr, stats).is_ok());
  o.start_date = "1969-12-31";
  EXPECT_FALSE(generate_stream(o, sink, nullptr, stats).is_ok());
  o = GeneratorOptions{};
  o.stores = 10'000;
  o.skus = 10'000;  // 100 M keys: too much memory
  EXPECT_FALSE(generate_stream(o, sink, nullptr, stats).is_ok());
  o = GeneratorOptions{};
  o.bad_rate = 0.95;
  EXPECT_FALSE(generate_stream(o, sink, nullptr, stats).is_ok());
  // A failing writer stops generation with its status.
  o = GeneratorOptions{};
  ChunkWriter failing = [](std::string_view) { return Status::io("disk full"); };
  Status st = generate_stream(o, failing, nullptr, stats);
  EXPECT_EQ(st.code(), Status::Code::kIo);
}

// Every good line is a JSON object with the contract's required fields and types.
TEST(GeneratorTest, GoodLinesFollowTheInputContract) {
  const Generated& g = small_run();
  std::set<uint64_t> bad_line_numbers;
  for (const auto& [line, code] : g.stats.bad_lines) bad_line_numbers.insert(line);
  std::vector<std::string_view> lines = lines_of(g.events);
  ASSERT_EQ(lines.size(), g.stats.lines);
  simdjson::ondemand::parser parser;
  std::map<std::string, int> types;
  std::set<std::string> inventory_kinds;
  int epoch_ts = 0, offset_ts = 0, zulu_ts = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (bad_line_numbers.count(i + 1) != 0) continue;
    simdjson::padded_string buf(lines[i]);
    simdjson::ondemand::document doc;
    ASSERT_EQ(parser.iterate(buf).get(doc), simdjson::SUCCESS) << lines[i];
    simdjson::ondemand::object obj;
    ASSERT_EQ(doc.get_object().get(obj), simdjson::SUCCESS) << lines[i];
    std::map<std::string, simdjson::ondemand::json_type> kinds;
    std::map<std::string, double> numbers;
    std::map<std::string, std::string> strings;
    for (auto field : obj) {
      std::string_view key;
      ASSERT_EQ(field.unescaped_key().get(key), simdjson::SUCCESS);
      simdjson::ondemand::json_type t = simdjson::ondemand::json_type::null;
      ASSERT_EQ(field.value().type().get(t), simdjson::SUCCESS);
      kinds[std::string(key)] = t;
      if (t == simdjson::ondemand::json_type::number) {
        double d = 0;
        ASSERT_EQ(field.value().get_double().get(d), simdjson::SUCCESS);
        numbers[std::string(key)] = d;
      } else if (t == simdjson::ondemand::json_type::string) {
        std::string_view s;
        ASSERT_EQ(field.value().get_string().get(s), simdjson::SUCCESS);
        strings[std::string(key)] = std::string(s);
      }
    }
    using JT = simdjson::ondemand::json_type;
    auto need = [&](const char* name, JT t) {
      auto it = kinds.find(name);
      ASSERT_TRUE(it != kinds.end()) << "missing " << name << " in " << lines[i];
      EXPECT_EQ(it->second, t) << name << " in " << lines[i];
    };
    need("type", JT::string);
    need("event_id", JT::string);
    ASSERT_TRUE(kinds.count("ts")) << lines[i];
    if (kinds["ts"] == JT::number) {
      ++epoch_ts;
      EXPECT_GT(numbers["ts"], 1.7e12);
    } else {
      ASSERT_EQ(kinds["ts"], JT::string);
      const std::string& ts = strings["ts"];
      ASSERT_GE(ts.size(), 20u);
      (ts.back() == 'Z' ? zulu_ts : offset_ts)++;
    }
    const std::string type = strings["type"];
    types[type]++;
    if (type == "sale") {
      need("store", JT::string);
      need("sku", JT::string);
      need("qty", JT::number);
      need("unit_price", JT::number);
      EXPECT_GT(numbers["qty"], 0);
      EXPECT_GE(numbers["unit_price"], 0);
    } else if (type == "return") {
      need("store", JT::string);
      need("sku", JT::string);
      need("qty", JT::number);
      EXPECT_GT(numbers["qty"], 0);
      if (kinds.count("restock")) {
        EXPECT_TRUE(kinds["restock"] == JT::boolean);
      }
    } else if (type == "inventory") {
      need("store", JT::string);
      need("sku", JT::string);
      need("kind", JT::string);
      need("qty", JT::number);
      inventory_kinds.insert(strings["kind"]);
      if (strings["kind"] != "adjustment") {
        EXPECT_GE(numbers["qty"], 0) << lines[i];
      }
    } else if (type == "price") {
      need("sku", JT::string);
      need("price", JT::number);
      EXPECT_GT(numbers["price"], 0);
    } else if (type == "competitor_price") {
      need("sku", JT::string);
      need("competitor", JT::string);
      need("price", JT::number);
    } else if (type == "item") {
      need("sku", JT::string);
      need("category", JT::string);
      need("cost", JT::number);
      need("lead_time_days", JT::number);
      need("lead_time_sd_days", JT::number);
      need("service_level", JT::number);
      need("pack_size", JT::number);
      need("moq", JT::number);
      need("min_price", JT::number);
      need("max_price", JT::number);
      EXPECT_LT(numbers["min_price"], numbers["max_price"]);
    } else if (type == "promotion") {
      need("sku", JT::string);
      need("promo_id", JT::string);
      need("start", JT::string);
      need("end", JT::string);
      need("discount_pct", JT::number);
    } else if (type == "metric") {
      need("series", JT::string);
      need("value", JT::number);
    } else if (type == "feedback") {
      need("alert_id", JT::string);
      need("action", JT::string);
    } else {
      ADD_FAILURE() << "unexpected type " << type;
    }
  }
  for (const char* t : {"sale", "return", "inventory", "price", "competitor_price", "item",
                        "promotion", "metric", "feedback"}) {
    EXPECT_GT(types[t], 0) << t;
  }
  EXPECT_EQ(inventory_kinds, (std::set<std::string>{"snapshot", "receipt", "transfer_in",
                                                    "transfer_out", "adjustment", "order"}));
  // All three timestamp forms occur in sensible proportions.
  const double n = epoch_ts + offset_ts + zulu_ts;
  EXPECT_NEAR(epoch_ts / n, 0.20, 0.03);
  EXPECT_GT(offset_ts / n, 0.05);
  EXPECT_GT(zulu_ts / n, 0.5);
}

TEST(GeneratorTest, DecoderAcceptsGoodLinesAndRejectsBadOnesWithTheIntendedCode) {
  const Generated& g = small_run();
  std::map<uint64_t, uint8_t> bad;
  for (const auto& [line, code] : g.stats.bad_lines) bad[line] = code;
  ASSERT_EQ(bad.size(), g.stats.bad);
  std::vector<std::string_view> lines = lines_of(g.events);
  Decoder decoder;
  Event ev;
  std::vector<int> seen(kGeneratedBadCodes.size(), 0);
  for (size_t i = 0; i < lines.size(); ++i) {
    const size_t after =
        g.events.size() - static_cast<size_t>(lines[i].data() - g.events.data()) - lines[i].size();
    DecodeError e = decoder.decode(lines[i], after, ev);
    auto it = bad.find(i + 1);
    if (it == bad.end()) {
      ASSERT_EQ(e, DecodeError::kNone) << decoder.detail() << ": " << lines[i];
      EXPECT_NE(ev.event_id_hash, 0u);
    } else {
      ASSERT_NE(e, DecodeError::kNone) << lines[i];
      EXPECT_EQ(decode_error_code(e), kGeneratedBadCodes[it->second])
          << decoder.detail() << ": " << lines[i];
      seen[it->second]++;
    }
  }
  for (size_t c = 0; c < seen.size(); ++c) EXPECT_GT(seen[c], 0) << kGeneratedBadCodes[c];
}

TEST(GeneratorTest, BadRateIsHonouredAndCoversEveryCode) {
  GeneratorOptions o = small_options();
  o.days = 20;
  for (double rate : {0.0, 0.002, 0.05, 0.2}) {
    o.bad_rate = rate;
    Generated g = generate(o, false);
    EXPECT_EQ(g.stats.lines, g.stats.good + g.stats.bad);
    EXPECT_EQ(lines_of(g.events).size(), g.stats.lines);
    const double observed = static_cast<double>(g.stats.bad) / static_cast<double>(g.stats.lines);
    EXPECT_NEAR(observed, rate, 0.001 + rate * 0.01) << rate;
    uint64_t total = 0;
    for (size_t c = 0; c < kGeneratedBadCodes.size(); ++c) {
      total += g.stats.bad_by_code[c];
      if (rate > 0) {
        EXPECT_GT(g.stats.bad_by_code[c], 0u) << kGeneratedBadCodes[c];
      }
      // Deterministic cycling: counts differ by at most one.
      EXPECT_LE(g.stats.bad_by_code[c], g.stats.bad_by_code[0]);
      EXPECT_GE(g.stats.bad_by_code[c] + 1, g.stats.bad_by_code[0]);
    }
    EXPECT_EQ(total, g.stats.bad);
  }
}

TEST(GeneratorTest, DuplicatesAreExactResendsAndDisorderIsBounded) {
  const Generated& g = small_run();
  std::set<uint64_t> bad_line_numbers;
  for (const auto& [line, code] : g.stats.bad_lines) bad_line_numbers.insert(line);
  std::vector<std::string_view> lines = lines_of(g.events);
  Decoder decoder;
  Event ev;
  std::map<std::string, std::string_view> first;
  uint64_t duplicates = 0;
  int64_t max_ts = INT64_MIN, max_lateness = 0;
  uint64_t late_lines = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (bad_line_numbers.count(i + 1) != 0) continue;
    ASSERT_EQ(decoder.decode(lines[i], 0, ev), DecodeError::kNone);
    auto [it, inserted] = first.emplace(std::string(ev.event_id), lines[i]);
    if (!inserted) {
      ++duplicates;
      EXPECT_EQ(it->second, lines[i]);
    }
    if (ev.ts_ms < max_ts) {
      ++late_lines;
      max_lateness = std::max(max_lateness, max_ts - ev.ts_ms);
    }
    max_ts = std::max(max_ts, ev.ts_ms);
  }
  EXPECT_EQ(duplicates, g.stats.duplicates);
  EXPECT_GT(duplicates, 0u);
  EXPECT_GT(late_lines, 0u);
  // Late by at most the disorder allowance plus the duplicate re-send delay (< 5 minutes).
  EXPECT_LE(max_lateness, 300'000);
  EXPECT_LT(static_cast<double>(late_lines) / lines.size(), 0.05);
}

struct Movement {
  int64_t ts;
  InventoryKind kind;
  bool is_sale, is_return, restock;
  int64_t qty;
};

// Recomputes on-hand per key from the events and checks the truth's stock-out intervals,
// snapshots, and sold units.
TEST(GeneratorTest, TruthStockoutsMatchInventoryRecomputedFromEvents) {
  const Generated& g = small_run();
  std::set<uint64_t> bad_line_numbers;
  for (const auto& [line, code] : g.stats.bad_lines) bad_line_numbers.insert(line);
  std::vector<std::string_view> lines = lines_of(g.events);
  Decoder decoder;
  Event ev;
  std::set<std::string> ids;
  std::map<std::pair<std::string, std::string>, std::vector<Movement>> per_key;
  std::map<std::tuple<std::string, std::string, int64_t>, int64_t> sold_by_day;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (bad_line_numbers.count(i + 1) != 0) continue;
    ASSERT_EQ(decoder.decode(lines[i], 0, ev), DecodeError::kNone);
    if (!ids.insert(std::string(ev.event_id)).second) continue;  // dedup
    if (ev.type != EventType::kSale && ev.type != EventType::kReturn &&
        ev.type != EventType::kInventory) {
      continue;
    }
    Movement m{ev.ts_ms,
               ev.inventory_kind,
               ev.type == EventType::kSale,
               ev.type == EventType::kReturn,
               ev.restock,
               static_cast<int64_t>(ev.qty)};
    per_key[{std::string(ev.store), std::string(ev.sku)}].push_back(m);
    if (m.is_sale) {
      sold_by_day[{std::string(ev.store), std::string(ev.sku), ev.ts_ms / 86'400'000}] += m.qty;
    }
  }
  using Interval = std::tuple<std::string, std::string, int64_t, int64_t>;
  std::set<Interval> recomputed;
  int snapshots_checked = 0;
  for (auto& [key, moves] : per_key) {
    std::sort(moves.begin(), moves.end(),
              [](const Movement& a, const Movement& b) { return a.ts < b.ts; });
    for (size_t i = 1; i < moves.size(); ++i) ASSERT_LT(moves[i - 1].ts, moves[i].ts);
    ASSERT_FALSE(moves.empty());
    ASSERT_FALSE(moves[0].is_sale || moves[0].is_return);
    ASSERT_EQ(moves[0].kind, InventoryKind::kSnapshot) << key.first << " " << key.second;
    int64_t on_hand = 0;
    int64_t out_since = -1;
    for (size_t i = 0; i < moves.size(); ++i) {
      const Movement& m = moves[i];
      if (m.is_sale) {
        on_hand -= m.qty;
      } else if (m.is_return) {
        if (m.restock) on_hand += m.qty;
      } else {
        switch (m.kind) {
          case InventoryKind::kSnapshot:
            if (i > 0) {
              EXPECT_EQ(m.qty, on_hand) << key.first << " " << key.second << " at " << m.ts;
              ++snapshots_checked;
            }
            on_hand = m.qty;
            break;
          case InventoryKind::kReceipt:
          case InventoryKind::kTransferIn:
            on_hand += m.qty;
            break;
          case InventoryKind::kTransferOut:
            on_hand -= m.qty;
            break;
          case InventoryKind::kAdjustment:
            on_hand += m.qty;
            break;
          case InventoryKind::kOrder:  // a purchase order moves no stock
            break;
        }
      }
      ASSERT_GE(on_hand, 0) << key.first << " " << key.second << " at " << m.ts;
      if (on_hand == 0 && out_since < 0) out_since = m.ts;
      if (on_hand > 0 && out_since >= 0) {
        recomputed.insert({key.first, key.second, out_since, m.ts});
        out_since = -1;
      }
    }
    if (out_since >= 0) recomputed.insert({key.first, key.second, out_since, -1});
  }
  EXPECT_GT(snapshots_checked, 100);

  std::set<Interval> truth;
  std::map<std::tuple<std::string, std::string, int64_t>, std::pair<int64_t, int64_t>> demand;
  simdjson::ondemand::parser parser;
  for (std::string_view line : lines_of(g.truth)) {
    simdjson::padded_string buf(line);
    simdjson::ondemand::document doc = parser.iterate(buf);
    std::string record(doc["record"].get_string().value());
    if (record == "stockout") {
      std::string store(doc["store"].get_string().value());
      std::string sku(doc["sku"].get_string().value());
      int64_t start = truth_time(doc["start"].value());
      simdjson::ondemand::value end_v = doc["end"].value();
      int64_t end = end_v.is_null() ? -1 : truth_time(end_v);
      truth.insert({store, sku, start, end});
    } else if (record == "demand") {
      std::string store(doc["store"].get_string().value());
      std::string sku(doc["sku"].get_string().value());
      int64_t day = truth_time(doc["day"].value()) / 86'400'000;
      int64_t d = doc["demand"].get_int64().value();
      int64_t s = doc["sold"].get_int64().value();
      demand[{store, sku, day}] = {d, s};
    }
  }
  EXPECT_GT(truth.size(), 10u);
  EXPECT_EQ(truth.size(), g.stats.stockouts);
  EXPECT_EQ(truth, recomputed);

  // Sold units per (store, sku, day) in the events equal the truth's `sold`, and never exceed
  // the latent demand.
  int64_t total_demand = 0, total_sold = 0;
  for (const auto& [k, v] : demand) {
    EXPECT_LE(v.second, v.first);
    auto it = sold_by_day.find(k);
    EXPECT_EQ(it == sold_by_day.end() ? 0 : it->second, v.second);
    total_demand += v.first;
    total_sold += v.second;
  }
  for (const auto& [k, v] : sold_by_day) EXPECT_TRUE(demand.count(k)) << std::get<0>(k);
  EXPECT_LT(total_sold, total_demand);  // stock-outs censor some demand
  EXPECT_GT(total_sold, total_demand * 0.7);
}

// Solves the normal equations (X'X) b = X'y by Gaussian elimination with partial pivoting.
std::vector<double> least_squares(const std::vector<std::vector<double>>& x,
                                  const std::vector<double>& y) {
  const size_t k = x[0].size();
  std::vector<std::vector<double>> a(k, std::vector<double>(k + 1, 0));
  for (size_t r = 0; r < x.size(); ++r) {
    for (size_t i = 0; i < k; ++i) {
      for (size_t j = 0; j < k; ++j) a[i][j] += x[r][i] * x[r][j];
      a[i][k] += x[r][i] * y[r];
    }
  }
  for (size_t c = 0; c < k; ++c) {
    size_t piv = c;
    for (size_t r = c + 1; r < k; ++r) {
      if (std::fabs(a[r][c]) > std::fabs(a[piv][c])) piv = r;
    }
    std::swap(a[c], a[piv]);
    for (size_t r = 0; r < k; ++r) {
      if (r == c || a[c][c] == 0) continue;
      double f = a[r][c] / a[c][c];
      for (size_t j = c; j <= k; ++j) a[r][j] -= f * a[c][j];
    }
  }
  std::vector<double> b(k);
  for (size_t i = 0; i < k; ++i) b[i] = a[i][i] == 0 ? 0 : a[i][k] / a[i][i];
  return b;
}

// Two SKUs of one category share the seasonal profile, so the log ratio of their expected
// demand (truth `mean`) is linear in time (trends), their log shelf prices and their promo
// flags. Regressing it recovers both SKUs' true elasticities: the price effect is applied with
// the right sign and size, from price events the engine can see.
TEST(GeneratorTest, ElasticityIsRecoverableFromPriceVariation) {
  GeneratorOptions o;
  o.stores = 2;
  o.skus = 40;
  o.days = 120;
  o.seed = 5;
  o.events_per_key_day = 40;  // every key has demand (and a truth line) every day
  o.price_change_rate = 0.3;
  o.promo_rate = 0.02;
  o.metric_interval_min = 0;
  Generated g = generate(o);
  std::map<std::string, double> true_b;
  std::map<std::string, std::vector<std::string>> skus_of_category;
  struct Day {
    double mean, price;
    bool promo;
  };
  std::map<std::string, std::map<int64_t, Day>> store1;  // sku -> day -> truth
  simdjson::ondemand::parser parser;
  for (std::string_view line : lines_of(g.truth)) {
    simdjson::padded_string buf(line);
    simdjson::ondemand::document doc = parser.iterate(buf);
    std::string record(doc["record"].get_string().value());
    if (record == "sku") {
      std::string sku(doc["sku"].get_string().value());
      double b = doc["elasticity"].get_double().value();
      EXPECT_LT(b, -0.3);
      EXPECT_GT(b, -3.3);
      true_b[sku] = b;
      skus_of_category[std::string(doc["category"].get_string().value())].push_back(sku);
    } else if (record == "demand") {
      if (doc["store"].get_string().value() != "S0001") continue;
      std::string sku(doc["sku"].get_string().value());
      int64_t day = truth_time(doc["day"].value()) / 86'400'000;
      Day d;
      d.mean = doc["mean"].get_double().value();
      d.price = doc["price"].get_double().value();
      if (doc["promo"].get_bool().get(d.promo) != simdjson::SUCCESS) d.promo = false;
      store1[sku][day] = d;
    }
  }
  ASSERT_EQ(true_b.size(), 40u);
  int checked = 0;
  for (const auto& [category, skus] : skus_of_category) {
    if (skus.size() < 2) continue;
    const std::string& ref = skus[0];
    for (size_t s = 1; s < skus.size(); ++s) {
      const std::string& sku = skus[s];
      std::vector<std::vector<double>> x;
      std::vector<double> y;
      std::set<double> prices_k, prices_r;
      for (const auto& [day, dk] : store1[sku]) {
        auto it = store1[ref].find(day);
        if (it == store1[ref].end()) continue;
        const Day& dr = it->second;
        x.push_back({1.0, static_cast<double>(day % 1000) / 100.0, std::log(dk.price),
                     std::log(dr.price), dk.promo ? 1.0 : 0.0, dr.promo ? 1.0 : 0.0});
        y.push_back(std::log(dk.mean) - std::log(dr.mean));
        prices_k.insert(dk.price);
        prices_r.insert(dr.price);
      }
      if (x.size() < 100 || prices_k.size() < 3 || prices_r.size() < 3) continue;
      std::vector<double> beta = least_squares(x, y);
      EXPECT_LT(beta[2], 0) << sku;
      EXPECT_NEAR(beta[2], true_b[sku], 0.02) << category << " " << sku;
      EXPECT_NEAR(-beta[3], true_b[ref], 0.02) << category << " " << ref;
      ++checked;
    }
  }
  EXPECT_GT(checked, 15);
}

// Injected anomalies change the latent demand in the stated direction and size: on days an
// anomaly covers completely, demand / expected demand is near its magnitude; over all anomaly
// days, spikes raise and drops lower the total.
TEST(GeneratorTest, InjectedAnomaliesMoveDemand) {
  GeneratorOptions o;
  o.stores = 4;
  o.skus = 25;
  o.days = 60;
  o.seed = 3;
  o.events_per_key_day = 10;
  o.anomaly_rate = 1.0 / 20;
  Generated g = generate(o);
  simdjson::ondemand::parser parser;
  struct Anom {
    std::string store, sku, kind;
    int64_t start, end;
    double magnitude;
  };
  std::vector<Anom> anomalies;
  std::map<std::tuple<std::string, std::string, int64_t>, std::pair<double, double>> demand;
  int metric_anomalies = 0;
  for (std::string_view line : lines_of(g.truth)) {
    simdjson::padded_string buf(line);
    simdjson::ondemand::document doc = parser.iterate(buf);
    std::string record(doc["record"].get_string().value());
    if (record == "anomaly") {
      std::string_view store;
      if (doc["store"].get_string().get(store) != simdjson::SUCCESS) {
        ++metric_anomalies;
        continue;
      }
      Anom a;
      a.store = std::string(store);
      a.sku = std::string(doc["sku"].get_string().value());
      a.start = truth_time(doc["start"].value());
      a.end = truth_time(doc["end"].value());
      a.kind = std::string(doc["kind"].get_string().value());
      a.magnitude = doc["magnitude"].get_double().value();
      EXPECT_LT(a.start, a.end);
      if (a.kind == "spike") {
        EXPECT_GT(a.magnitude, 1);
      } else {
        EXPECT_EQ(a.kind, "drop");
        EXPECT_LT(a.magnitude, 1);
      }
      anomalies.push_back(a);
    } else if (record == "demand") {
      std::string store(doc["store"].get_string().value());
      std::string sku(doc["sku"].get_string().value());
      int64_t day = truth_time(doc["day"].value()) / 86'400'000;
      demand[{store, sku, day}] = {static_cast<double>(doc["demand"].get_int64().value()),
                                   doc["mean"].get_double().value()};
    }
  }
  EXPECT_GT(metric_anomalies, 0);
  EXPECT_GT(anomalies.size(), 50u);
  const int64_t kDay = 86'400'000;
  double sum_d[2] = {0, 0}, sum_m[2] = {0, 0};                     // any overlap: spike, drop
  double full_d[2] = {0, 0}, full_m[2] = {0, 0}, mag[2] = {0, 0};  // fully covered days
  int full_n[2] = {0, 0};
  for (const Anom& a : anomalies) {
    const int k = a.kind == "spike" ? 0 : 1;
    for (int64_t day = a.start / kDay; day * kDay < a.end; ++day) {
      auto it = demand.find({a.store, a.sku, day});
      if (it == demand.end()) continue;  // past the end of the stream
      sum_d[k] += it->second.first;
      sum_m[k] += it->second.second;
      if (day * kDay >= a.start && (day + 1) * kDay <= a.end) {
        full_d[k] += it->second.first;
        full_m[k] += it->second.second;
        mag[k] += a.magnitude * it->second.second;
        ++full_n[k];
      }
    }
  }
  ASSERT_GT(sum_m[0], 0);
  ASSERT_GT(sum_m[1], 0);
  EXPECT_GT(sum_d[0], 1.5 * sum_m[0]);
  EXPECT_LT(sum_d[1], 0.8 * sum_m[1]);
  for (int k = 0; k < 2; ++k) {
    ASSERT_GE(full_n[k], 3) << k;
    // Demand on fully covered days ~ magnitude x expected (Poisson noise on a few hundred units).
    const double expected = mag[k];
    EXPECT_NEAR(full_d[k], expected, 4 * std::sqrt(expected + 1) + 0.1 * expected) << k;
  }
}

TEST(GeneratorTest, MultiYearHistoryHasYearlySeasonality) {
  GeneratorOptions o;
  o.stores = 3;
  o.skus = 40;
  o.days = 730;
  o.seed = 2;
  o.events_per_key_day = 10;
  o.metric_interval_min = 0;
  Generated g = generate(o);
  // December vs. February mean demand of the toys category (peak in December).
  std::set<std::string> toys;
  simdjson::ondemand::parser parser;
  double dec = 0, feb = 0;
  int dec_n = 0, feb_n = 0;
  for (std::string_view line : lines_of(g.truth)) {
    simdjson::padded_string buf(line);
    simdjson::ondemand::document doc = parser.iterate(buf);
    std::string record(doc["record"].get_string().value());
    if (record == "sku") {
      if (doc["category"].get_string().value() == "toys") {
        toys.insert(std::string(doc["sku"].get_string().value()));
      }
    } else if (record == "demand") {
      std::string sku(doc["sku"].get_string().value());
      if (!toys.count(sku)) continue;
      std::string day(doc["day"].get_string().value());
      double mean = doc["mean"].get_double().value();
      if (day.substr(5, 2) == "12") {
        dec += mean;
        ++dec_n;
      } else if (day.substr(5, 2) == "02") {
        feb += mean;
        ++feb_n;
      }
    }
  }
  ASSERT_FALSE(toys.empty());
  ASSERT_GT(dec_n, 0);
  ASSERT_GT(feb_n, 0);
  EXPECT_GT(dec / dec_n, 2.5 * (feb / feb_n));
}

}  // namespace
}  // namespace sw
