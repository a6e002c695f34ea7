// Fuzzes the request path of the queryable-state endpoint (connectors/state_path.h): any
// path is split into a non-empty store and SKU inside the path, or refused; never reads out
// of bounds. Pieces are re-joined and must give the path back.

#include <cstdint>
#include <string>

#include "connectors/state_path.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view store, sku;
  if (!sw::parse_state_path(in, store, sku)) return 0;
  if (store.empty() || sku.empty()) __builtin_trap();
  if (store.find('/') != std::string_view::npos || sku.find('/') != std::string_view::npos) {
    __builtin_trap();
  }
  if (std::string("/state/") + std::string(store) + "/" + std::string(sku) != in) __builtin_trap();
  return 0;
}
