#include "cli/commands.h"

namespace sw::cli {

bool wants_help(const Args& args) {
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") return true;
  }
  return false;
}

bool value_of(const Args& args, const std::string& name, std::string& out) {
  bool found = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == name && i + 1 < args.size()) {
      out = args[++i];
      found = true;
    } else if (args[i].rfind(name + "=", 0) == 0) {
      out = args[i].substr(name.size() + 1);
      found = true;
    }
  }
  return found;
}

std::vector<std::string> values_of(const Args& args, const std::string& name) {
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == name && i + 1 < args.size()) {
      out.push_back(args[++i]);
    } else if (args[i].rfind(name + "=", 0) == 0) {
      out.push_back(args[i].substr(name.size() + 1));
    }
  }
  return out;
}

}  // namespace sw::cli
