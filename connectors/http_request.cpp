#include "connectors/http_request.h"

#include <cstddef>

namespace sw::http {

bool parse_state_path(std::string_view path, std::string_view& store, std::string_view& sku) {
  constexpr std::string_view kPrefix = "/state/";
  if (path.substr(0, kPrefix.size()) != kPrefix) return false;
  std::string_view rest = path.substr(kPrefix.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 >= rest.size()) return false;
  if (rest.find('/', slash + 1) != std::string_view::npos) return false;
  store = rest.substr(0, slash);
  sku = rest.substr(slash + 1);
  return true;
}

bool path_requires_token(std::string_view path) {
  auto under = [&](std::string_view root) {
    return path == root || (path.size() > root.size() && path.substr(0, root.size()) == root &&
                            path[root.size()] == '/');
  };
  return under("/state") || under("/alerts") || under("/admin");
}

bool bearer_token_matches(std::string_view authorization, std::string_view token) {
  if (token.empty()) return false;
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    char c = authorization[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return false;
  }
  size_t start = kScheme.size();
  if (authorization[start] != ' ') return false;
  while (start < authorization.size() && authorization[start] == ' ') ++start;
  std::string_view given = authorization.substr(start);
  // Constant time in the token's content: every byte of `token` is compared whatever the
  // given length; the length difference is folded into the result.
  unsigned diff = given.size() == token.size() ? 0u : 1u;
  for (size_t i = 0; i < token.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0u;
    diff |= g ^ static_cast<unsigned char>(token[i]);
  }
  return diff == 0;
}

}  // namespace sw::http
