#include "sim/demand.h"

namespace sw {

double price_demand_multiplier(double price, double base_price, double elasticity) {
  if (!(price > 0) || !(base_price > 0)) return 1.0;
  return std::pow(price / base_price, elasticity);
}

}  // namespace sw

namespace sw::sim {

void init_key_states(const GeneratorOptions& options, const Catalog& catalog,
                     std::vector<KeyState>& keys) {
  const size_t n = static_cast<size_t>(options.stores) * static_cast<size_t>(options.skus);
  keys.assign(n, KeyState{});
  for (size_t key = 0; key < n; ++key) {
    const Store& st = catalog.stores[key / static_cast<size_t>(options.skus)];
    const Sku& sku = catalog.skus[key % static_cast<size_t>(options.skus)];
    KeyState& k = keys[key];
    Rng r(options.seed ^ 0x3333, 3, key);
    double noise = std::exp(0.3 * r.normal() - 0.045);
    k.base_txn = static_cast<float>(options.events_per_key_day * sku.level * st.size * noise);
    double d = k.base_txn * kMeanTxnQty;  // units per day
    double sd = std::sqrt(k.base_txn * 1.85);
    double lt = sku.lead_time_days;
    double z = z_for_service_level(sku.service_level);
    double safety =
        z * std::sqrt(lt * sd * sd + d * d * sku.lead_time_sd_days * sku.lead_time_sd_days);
    // A quarter of the keys run a too-small reorder point: they reorder late and stock out.
    double late = r.chance(0.25) ? r.uniform(0.2, 0.7) : 1.0;
    k.reorder_point = static_cast<int32_t>(std::ceil(late * (d * lt + safety)));
    double cycle = d * r.uniform(5, 14);
    int32_t qty =
        std::max<int32_t>({static_cast<int32_t>(std::ceil(cycle)), sku.pack_size, sku.moq, 2});
    k.order_up_to = k.reorder_point + qty;
    k.on_hand = static_cast<int32_t>(std::lround(r.uniform(0.2, 1.1) * k.order_up_to));
  }
}

}  // namespace sw::sim
