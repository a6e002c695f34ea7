#pragma once
// The request path of the queryable-state endpoint, split by a pure function so that it can
// be fuzzed without a server (fuzz/fuzz_http_path.cpp).

#include <string_view>

namespace sw {

//! Splits "/state/<store>/<sku>" (already URL-decoded by the HTTP server) into its two parts.
//! False for any other path: another prefix, an empty store or SKU, or a further '/'.
inline bool parse_state_path(std::string_view uri, std::string_view& store, std::string_view& sku) {
  constexpr std::string_view kPrefix = "/state/";
  if (uri.substr(0, kPrefix.size()) != kPrefix) return false;
  std::string_view rest = uri.substr(kPrefix.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 >= rest.size() ||
      rest.find('/', slash + 1) != std::string_view::npos) {
    return false;
  }
  store = rest.substr(0, slash);
  sku = rest.substr(slash + 1);
  return true;
}

}  // namespace sw
