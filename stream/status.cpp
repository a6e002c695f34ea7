#include "stream/status.h"

namespace sw {

std::string Status::to_string() const {
  static const char* const kNames[] = {"ok",        "invalid",     "io error", "corruption",
                                       "not found", "unavailable", "internal"};
  std::string out = kNames[static_cast<int>(code_)];
  if (!message_.empty()) out += ": " + message_;
  return out;
}

void check_failed(const char* expr, const char* file, int line, const char* msg) {
  std::fprintf(stderr, "shelfwatch: invariant failed at %s:%d: %s (%s)\n", file, line, msg, expr);
  std::abort();
}

}  // namespace sw
