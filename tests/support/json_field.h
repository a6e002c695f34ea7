#pragma once
// The raw JSON text of a record's first member called `name` (a number, a quoted string, or a
// whole object/array), "<absent>" when there is none. For tests reading rendered records
// without a JSON parser; the first match at any depth wins.

#include <string>

namespace sw::testing {

inline std::string field(const std::string& json, const std::string& name) {
  std::string k = "\"" + name + "\":";
  size_t p = json.find(k);
  if (p == std::string::npos) return "<absent>";
  p += k.size();
  size_t e = p;
  int depth = 0;
  bool in_str = false;
  for (; e < json.size(); ++e) {
    char c = json[e];
    if (in_str) {
      if (c == '\\')
        ++e;
      else if (c == '"')
        in_str = false;
      continue;
    }
    if (c == '"')
      in_str = true;
    else if (c == '{' || c == '[')
      ++depth;
    else if ((c == '}' || c == ']') && depth-- == 0)
      break;
    else if (c == ',' && depth == 0)
      break;
  }
  return json.substr(p, e - p);
}

}  // namespace sw::testing
