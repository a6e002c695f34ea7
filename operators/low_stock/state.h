#pragma once
// low_stock state (operators/low_stock/low_stock.h): the per-key hot state, item reference
// data, the derived plan of a key, and the persisted record codecs (layouts and versions:
// docs/low_stock.md). Records are little-endian.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "stream/key_index.h"

namespace sw::low_stock {

//! Namespaces in the state store. Per-key state is a base plus a delta log: the base holds
//! every key in blocks of kKeysPerBlock consecutive ids (key = 4-byte big-endian first
//! KeyId); each checkpoint appends its dirty keys to the log in chunks of kLogChunkKeys
//! (key = 8-byte big-endian checkpoint number + 4-byte chunk number); once the log holds as
//! many records as there are keys, a checkpoint rewrites the base and drops the log in the
//! same batch. So a checkpoint of a million dirty keys is ~16 k RocksDB entries instead of
//! a million tiny ones (flush sorts and indexes entries: per-entry cost dominated), and
//! each dirty key costs at most two records' bytes, amortised.
inline constexpr std::string_view kStateNs = "op/low_stock";
inline constexpr std::string_view kStateLogNs = "op/low_stock/log";
inline constexpr uint32_t kKeysPerBlock = 32;
inline constexpr uint32_t kLogChunkKeys = 64;
inline constexpr std::string_view kItemNs = "op/low_stock/items";
inline constexpr std::string_view kOverrideNs = "op/low_stock/item_overrides";

inline constexpr uint8_t kStateVersion = 1;       // one key per entry (read for migration only)
inline constexpr uint8_t kStateBlockVersion = 2;  // base: fixed records of consecutive keys (read)
inline constexpr uint8_t kStateLogVersion = 2;    // log: (u32 KeyId, fixed record) (read only)
inline constexpr uint8_t kCompactBlockVersion = 3;  // base: compact records of consecutive keys
inline constexpr uint8_t kCompactLogVersion = 3;    // log: (u32 KeyId, compact record)
inline constexpr uint8_t kItemVersion = 1;          // read: six floats, u16-prefixed category
inline constexpr uint8_t kItemVersion2 = 2;         // read: + shelf life, perishable, u16 supplier
inline constexpr uint8_t kItemVersion3 = 3;  // version 2 with u32-prefixed strings (ByteWriter)

// KeyState::flags.
inline constexpr uint8_t kInventoryKnown = 1;
inline constexpr uint8_t kCensoredToday = 2;
inline constexpr uint8_t kDirty = 4;
inline constexpr uint8_t kHasOverride = 8;
inline constexpr uint8_t kStockoutOpen = 16;
inline constexpr uint8_t kOverstockOpen = 32;
inline constexpr uint8_t kDemandInit = 64;
inline constexpr uint8_t kPersistedFlags = 0xff & ~kDirty;

//! Per-key hot state. Kept compact (one cache line): floats where a
//! relative precision of 1e-7 is plenty, doubles for stock counts.
struct KeyState {
  double on_hand = 0;
  int64_t low_since_ms = 0;        // event time that opened the low_stock episode
  int64_t stockout_since_ms = 0;   // ... the stockout episode
  int64_t overstock_since_ms = 0;  // ... the overstock episode
  int64_t last_event_ms = 0;
  float on_order = 0;
  float demand_mean = 0;      // EWMA of completed local days' demand
  float demand_var = 0;       // EW variance of the same
  float today_qty = 0;        // demand of the current (open) local day
  int32_t day = kNoDay;       // current local day number (store calendar), kNoDay before any event
  uint16_t history_days = 0;  // completed local days since the key's first event (saturates)
  uint8_t flags = 0;
  uint8_t low_severity = 0;  // 0 none, 1 warning, 2 critical (open low_stock episode)
  static constexpr int32_t kNoDay = std::numeric_limits<int32_t>::min();
};
static_assert(sizeof(KeyState) == 64, "one cache line per key (prefetch touches one line)");

// Item reference data; NaN = not given (falls back to the sku record, then to the config).
struct ItemParams {
  float lead_time_days = std::numeric_limits<float>::quiet_NaN();
  float lead_time_sd_days = std::numeric_limits<float>::quiet_NaN();
  float service_level = std::numeric_limits<float>::quiet_NaN();
  float z = std::numeric_limits<float>::quiet_NaN();  // Φ⁻¹(service_level) when set
  float pack_size = std::numeric_limits<float>::quiet_NaN();
  float moq = std::numeric_limits<float>::quiet_NaN();
  float cost = std::numeric_limits<float>::quiet_NaN();
  float shelf_life_days = std::numeric_limits<float>::quiet_NaN();
  int8_t perishable = -1;  // -1 not given
  bool present = false;
  bool dirty = false;
  std::string category;
  std::string supplier;
  std::string sku;  // sku name (sku-wide records), for persistence
};

//! Effective parameters and derived figures of one key at one instant.
struct Plan {
  double on_hand = 0, on_order = 0, position = 0;
  double demand = 0, demand_sd = 0;
  double lead = 0, lead_sd = 0, review = 0, service_level = 0, z = 0;
  double pack = 1, moq = 0, cost = std::numeric_limits<double>::quiet_NaN();
  double lead_demand_mean = 0, lead_demand_var = 0;  // demand over the lead time
  double safety_stock = 0, reorder_point = 0;
  double cover_days = std::numeric_limits<double>::infinity();
  bool from_view = false;
  bool enough_history = false;
  bool inventory_known = false;  // an inventory record has been seen
};

//! Fixed-size record of one key's persisted state (layouts 1 and 2, no version byte): read
//! when restoring older checkpoints; tests write those layouts with encode_state().
inline constexpr size_t kStateRecordBytes = 64;
void encode_state(const KeyState& s, char* out);
void decode_state(const char* in, KeyState& s);
//! Compact record of one key's persisted state (layout 3): a u16 mask of the fields whose
//! bits are not all zero, then those fields. At a million keys with most alert fields
//! unset this is ~40% smaller than the fixed record, and every checkpoint byte is paid
//! again in the WAL, the memtable, the flush and compaction.
inline constexpr size_t kCompactMaxBytes = 2 + kStateRecordBytes;
size_t encode_compact(const KeyState& s, char* out);
//! Reads one compact record at `pos` of `v`; false if it is truncated.
bool decode_compact(std::string_view v, size_t& pos, KeyState& s);
//! Item record (version 3: version byte, six floats, u32-prefixed category, f32 shelf life,
//! i8 perishable, u32-prefixed supplier). Versions 2 (the same with u16 string lengths) and 1
//! (version 2 ending after the category) are still read.
std::string encode_item(const ItemParams& p);
bool decode_item(std::string_view v, ItemParams& p);
//! 4-byte big-endian KeyId (block, override and log record keys).
void key_bytes(KeyId id, char out[4]);
KeyId key_from_bytes(std::string_view k);

}  // namespace sw::low_stock
