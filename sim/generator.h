#pragma once
// Deterministic synthetic retail event stream (`shelfwatch gen`, docs/generator.md): the
// public entry point of the shelfwatch::sim library, which the runtime does not link. Its
// parts: sim/rng.h (random streams), sim/catalog.h (categories, stores, SKUs), sim/demand.h
// (demand and replenishment model), sim/event_writer.h (JSON lines), sim/bad_records.h
// (malformed-record kinds); sim/generator.cpp runs the day-by-day simulation.
//
// Produces JSON lines that follow the input contract (DESIGN.md §2) and, optionally, a
// ground-truth JSON-lines file (true demand, elasticities, injected anomalies, stock-out
// intervals). The same options give byte-identical output on the same platform: every random
// draw comes from splitmix64 streams seeded by (seed, entity, day), and Poisson/normal sampling
// is implemented here, not taken from <random>. Single-threaded; one call generates the whole
// stream and hands it to the writers in large chunks.

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/bad_records.h"
#include "stream/status.h"

namespace sw {

struct GeneratorOptions {
  int stores = 20;
  int skus = 200;
  int days = 60;
  uint64_t seed = 1;
  std::string start_date = "2026-01-01";  // first simulated day (UTC), YYYY-MM-DD
  //! Mean number of sale transactions per (store, sku, day) before stock-outs, averaged over
  //! keys and seasons. Demand levels are long-tailed around it (many slow movers).
  double events_per_key_day = 1.5;
  //! Fraction of output lines that are malformed (cycling through every dead-letter code).
  double bad_rate = 0.0;
  double duplicate_rate = 0.002;  // share of good events re-sent later with the same bytes
  double disorder_rate = 0.02;    // share of events emitted late (by up to max_disorder_ms)
  int64_t max_disorder_ms = 180'000;
  int snapshot_every_days = 7;          // periodic inventory snapshots (0 = only at start)
  int metric_interval_min = 15;         // POS latency metric cadence per store (0 = no metrics)
  double price_change_rate = 1.0 / 45;  // per sku per day
  double promo_rate = 1.0 / 90;         // per sku per day (when none is active)
  double anomaly_rate = 1.0 / 3000;     // per eligible (store, sku, day)
  bool truth_demand = true;             // write one truth line per (store, sku, day) with demand
  // Orders, lots and regions (sim/orders.h, docs/generator.md).
  bool purchase_orders = true;    // the buyer's orders as `order` events with po_id/supplier
  double order_late_rate = 0.06;  // share of orders that arrive 2-7 days after `expected`
  double order_lost_rate = 0.01;  // share of orders that never arrive
  bool perishable_lots = true;    // perishables spoil at expiry (a write-off adjustment)
  int region_size = 5;            // consecutive stores per region (0 = no regions)
  double imbalance_rate = 0.03;   // per (sku, region): one store starts overstocked, one short
  bool log_bad_lines = false;     // fill GeneratorStats::bad_lines (tests)
};

struct GeneratorStats {
  uint64_t lines = 0;       // all output lines
  uint64_t good = 0;        // well-formed events, duplicates included
  uint64_t duplicates = 0;  // exact re-sends of earlier events
  uint64_t bad = 0;
  std::array<uint64_t, kGeneratedBadCodes.size()> bad_by_code{};
  std::array<uint64_t, 9> by_type{};  // indexed like sw::EventType, duplicates excluded
  uint64_t keys = 0;
  uint64_t stockouts = 0;
  uint64_t anomalies = 0;
  uint64_t bytes = 0;
  //! (1-based line number, index into kGeneratedBadCodes), only with log_bad_lines.
  std::vector<std::pair<uint64_t, uint8_t>> bad_lines;
};

//! Receives output in large chunks (about 1 MB); a non-ok Status aborts generation.
using ChunkWriter = std::function<Status(std::string_view)>;

//! Generates the stream. `truth` may be null. Returns invalid() for bad options, or the first
//! writer error.
[[nodiscard]] Status generate_stream(const GeneratorOptions& options, const ChunkWriter& events,
                                     const ChunkWriter* truth, GeneratorStats& stats);

//! Demand multiplier of a constant-elasticity model: (price / base_price)^elasticity.
double price_demand_multiplier(double price, double base_price, double elasticity);

//! Parses "YYYY-MM-DD" into days since 1970-01-01; false if malformed.
bool parse_civil_date(std::string_view s, int64_t& days);

}  // namespace sw
