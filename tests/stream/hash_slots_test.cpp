#include "stream/hash_slots.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>

namespace sw {
namespace {

// Random inserts, lookups and erases against std::unordered_map, in a table small enough
// that probe runs wrap around the end and backward-shift deletion is exercised often.
TEST(HashSlotsTest, MatchesUnorderedMapUnderRandomOperations) {
  std::mt19937_64 rng(7);
  HashSlots<uint32_t> table;
  std::unordered_map<uint64_t, uint32_t> ref;
  std::vector<uint64_t> keys;
  for (int i = 0; i < 300; ++i) keys.push_back(rng() | 1);
  for (int step = 0; step < 200000; ++step) {
    uint64_t k = keys[rng() % keys.size()];
    switch (rng() % 3) {
      case 0: {
        uint32_t v = static_cast<uint32_t>(rng());
        EXPECT_EQ(table.insert(k, v), ref.emplace(k, v).second);
        break;
      }
      case 1:
        EXPECT_EQ(table.erase(k), ref.erase(k) == 1);
        break;
      default: {
        const uint32_t* got = table.find(k);
        auto it = ref.find(k);
        ASSERT_EQ(got != nullptr, it != ref.end());
        if (got != nullptr) {
          EXPECT_EQ(*got, it->second);
        }
      }
    }
    ASSERT_EQ(table.size(), ref.size());
  }
  for (const auto& [k, v] : ref) {
    ASSERT_NE(table.find(k), nullptr);
    EXPECT_EQ(*table.find(k), v);
  }
  EXPECT_LE(table.size() * 2, table.capacity());
}

TEST(HashSlotsTest, ZeroIsNeverAKey) {
  HashSlots<NoValue> set(4);
  EXPECT_FALSE(set.insert(0));
  EXPECT_FALSE(set.contains(0));
  EXPECT_FALSE(set.erase(0));
  EXPECT_TRUE(set.insert(5));
  EXPECT_FALSE(set.erase(0));
  EXPECT_TRUE(set.contains(5));
  EXPECT_EQ(set.size(), 1u);
  EXPECT_EQ(HashSlots<NoValue>::slot_bytes(), sizeof(uint64_t));
}

TEST(HashSlotsTest, SizedTableDoesNotGrowUpToItsExpectedCount) {
  HashSlots<NoValue> set(1000);
  const size_t capacity = set.capacity();
  for (uint64_t k = 1; k <= 1000; ++k) EXPECT_TRUE(set.insert(k * 0x9e3779b97f4a7c15ull));
  EXPECT_EQ(set.capacity(), capacity);
  set.clear();
  EXPECT_EQ(set.size(), 0u);
  EXPECT_FALSE(set.contains(0x9e3779b97f4a7c15ull));
}

}  // namespace
}  // namespace sw
