// The queryable-state request path (connectors/state_path.h; fuzzed by fuzz_http_path).

#include "connectors/state_path.h"

#include <gtest/gtest.h>

namespace sw {
namespace {

TEST(StatePathTest, SplitsStoreAndSkuAndRefusesEverythingElse) {
  std::string_view store, sku;
  ASSERT_TRUE(parse_state_path("/state/S0001/SKU-000001", store, sku));
  EXPECT_EQ(store, "S0001");
  EXPECT_EQ(sku, "SKU-000001");
  for (std::string_view bad : {"/state/S0001", "/state/S0001/", "/state//SKU", "/state/a/b/c",
                               "/state/", "/state", "/statex/a/b", "/metrics", "", "state/a/b"}) {
    EXPECT_FALSE(parse_state_path(bad, store, sku)) << bad;
  }
}

}  // namespace
}  // namespace sw
