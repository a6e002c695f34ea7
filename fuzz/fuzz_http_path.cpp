// Fuzzes the metrics server's request checks (connectors/http_request.h), the part of the
// HTTP request path shelfwatch parses itself (civetweb parses the protocol):
// - the queryable-state path is split into a non-empty store and SKU inside the path, or
//   refused; the pieces re-joined give the path back, and such a path needs the token;
// - the bearer check accepts exactly "Bearer <token>" (scheme in any case, spaces after it)
//   and always accepts the header it would be sent with that token.
// The input is "<token>\n<path or Authorization header>".

#include <cstdint>
#include <string>
#include <string_view>

#include "connectors/http_request.h"

namespace {

bool lower_equals(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nl = in.find('\n');
  const std::string_view token =
      nl == std::string_view::npos ? std::string_view{} : in.substr(0, nl);
  const std::string_view rest = nl == std::string_view::npos ? in : in.substr(nl + 1);

  std::string_view store, sku;
  if (sw::http::parse_state_path(rest, store, sku)) {
    if (store.empty() || sku.empty()) __builtin_trap();
    if (store.find('/') != std::string_view::npos || sku.find('/') != std::string_view::npos) {
      __builtin_trap();
    }
    if ("/state/" + std::string(store) + "/" + std::string(sku) != rest) __builtin_trap();
    if (!sw::http::path_requires_token(rest)) __builtin_trap();
  }
  (void)sw::http::path_requires_token(in);

  if (sw::http::bearer_token_matches(rest, token)) {
    if (token.empty() || rest.size() < 7 || !lower_equals(rest.substr(0, 7), "bearer ")) {
      __builtin_trap();
    }
    const size_t start = rest.find_first_not_of(' ', 6);
    if (start == std::string_view::npos || rest.substr(start) != token) __builtin_trap();
  }
  if (!token.empty() && token.front() != ' ' &&
      !sw::http::bearer_token_matches("Bearer " + std::string(token), token)) {
    __builtin_trap();
  }
  return 0;
}
