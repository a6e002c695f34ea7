// `shelfwatch explain`: the evidence chain of an alert or price trigger.

#include <cstdio>

#include "cli/commands.h"

namespace sw::cli {

int explain_command(const Args& args) {
  (void)args;
  std::fputs("shelfwatch explain: not implemented yet\n", stderr);
  return 2;
}

}  // namespace sw::cli
