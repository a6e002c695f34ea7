#pragma once
// low_stock workflow state (docs/low_stock.md "Workflow"): the per-key side record that only
// keys with open purchase orders, perishable lots, open workflow alerts or a quiet period carry
// (KeyState::flags kHasFlow), learned lead times and daily approval budgets, and their persisted
// record codecs. The 64-byte hot KeyState is unchanged, so a checkpoint written before the workflow
// existed restores as "no flow state anywhere".

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "operators/inventory.h"
#include "stream/key_index.h"

namespace sw::low_stock {

inline constexpr std::string_view kFlowNs = "op/low_stock/flow";  // u32 first KeyId of a block
inline constexpr std::string_view kLeadNs = "op/low_stock/lead_times";    // supplier \x1f sku
inline constexpr std::string_view kBudgetNs = "op/low_stock/budgets";     // store \x1f category
inline constexpr std::string_view kRegionalNs = "op/low_stock/regional";  // u32 region + sku
inline constexpr uint8_t kFlowVersion = 1;   // one key's record, u16-prefixed strings (read only)
inline constexpr uint8_t kFlowVersion2 = 2;  // the same fields, u32-prefixed strings (ByteWriter)
inline constexpr uint8_t kFlowBlockVersion = 1;  // block: (u32 KeyId, u32 n, record)*
inline constexpr uint32_t kFlowBlockKeys = 64;
inline constexpr uint8_t kLeadVersion = 1;
inline constexpr uint8_t kBudgetVersion = 1;

// KeyState::flags bit: the key has a Flow record.
inline constexpr uint8_t kHasFlow = 128;
// KeyState::low_severity bit (above the 0..2 severity): a recommendation episode is open.
inline constexpr uint8_t kRecommendationOpen = 4;
// KeyState::low_severity bit: the open stockout episode (flags kStockoutOpen) is silent: it was
// not an exception when it began (docs/replenishment.md), so no alert was emitted for it.
inline constexpr uint8_t kStockoutSilent = 8;
inline constexpr uint8_t kSeverityMask = 3;

//! Alert types of the operator, indexes of Flow::quiet_until.
enum AlertKind : uint8_t {
  kAlertLowStock,
  kAlertStockout,
  kAlertOverstock,
  kAlertExpiry,
  kAlertTransfer,
  kAlertOverdue,
  kAlertKinds
};
inline constexpr std::string_view kAlertTypeNames[kAlertKinds] = {
    "low_stock", "stockout", "overstock", "expiry", "transfer", "receipt_overdue"};

struct OpenOrder {
  std::string po_id;  // as given, or "@<order time ms>" when the order had none
  std::string supplier;
  double ordered = 0;  // units ordered
  double open = 0;     // units not received yet
  int64_t ordered_ms = 0;
  int64_t expected_ms = 0;
  int64_t overdue_since_ms = -1;  // open receipt_overdue episode, -1 none
  uint8_t overdue_severity = 0;   // 1 warning, 2 critical
};

struct Flow {
  std::vector<OpenOrder> orders;     // in order time order
  std::vector<inventory::Lot> lots;  // first-expiring first
  std::string supplier;              // supplier of the latest order
  int64_t expiry_since_ms = -1;      // open expiry episode
  uint8_t expiry_severity = 0;
  int64_t transfer_since_ms = -1;  // open transfer episode (this key receives)
  KeyId transfer_from = kNoKey;    // donor key
  double transfer_qty = 0;
  int64_t quiet_until[kAlertKinds] = {};  // dismiss / cool-down: no new firing before
  uint8_t acked = 0;                      // bit per AlertKind: the open episode was acked
  bool dirty = false;
  //! Nothing to keep: no orders, lots, open episodes or quiet period after `now`.
  bool empty(int64_t now_ms) const;
};

std::string encode_flow(const Flow& f);
bool decode_flow(std::string_view v, Flow& f);
std::string encode_lead(const inventory::LeadStats& s);
bool decode_lead(std::string_view v, inventory::LeadStats& s);

//! Auto-approved spend of one (store, category) or store ("" category) on one local day.
struct Budget {
  int32_t day = 0;
  double spent = 0;
  bool dirty = false;
};
std::string encode_budget(const Budget& b);
bool decode_budget(std::string_view v, Budget& b);

}  // namespace sw::low_stock
