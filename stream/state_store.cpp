#include "stream/state_store.h"

// StateBatch is header-only; this unit anchors the target's vtables for the store seam.
namespace sw {}  // namespace sw
