#pragma once
// Allocator for the hot per-key tables (key index, dedup window, operator state vectors):
// allocations of 2 MiB and more are mmap'd 2 MiB-aligned with MADV_HUGEPAGE, so that random
// access over hundreds of MB of per-key state costs a cache miss but rarely a page walk (on
// the benchmark VM a page walk costs more than the miss, and prefetches stall on them).
// Smaller allocations use std::allocator. Memory is returned to the OS on deallocation.
// Without transparent huge pages (THP "never") this is plain mmap.

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

namespace sw {

namespace huge_pages {
inline constexpr size_t kPageBytes = size_t{2} << 20;
inline size_t rounded(size_t bytes) {
  return (bytes + kPageBytes - 1) & ~(kPageBytes - 1);
}
//! `bytes` rounded up to 2 MiB, 2 MiB-aligned; throws std::bad_alloc.
inline void* allocate(size_t bytes) {
  const size_t size = rounded(bytes);
  void* raw = ::mmap(nullptr, size + kPageBytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  // Keep exactly the aligned [start, start + size) of the over-sized mapping.
  const uintptr_t begin = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t start = (begin + kPageBytes - 1) & ~(kPageBytes - 1);
  if (start > begin) ::munmap(raw, start - begin);
  const uintptr_t end = begin + size + kPageBytes;
  if (end > start + size) ::munmap(reinterpret_cast<void*>(start + size), end - (start + size));
  ::madvise(reinterpret_cast<void*>(start), size, MADV_HUGEPAGE);  // advisory: ignore errors
  return reinterpret_cast<void*>(start);
}
inline void deallocate(void* p, size_t bytes) {
  ::munmap(p, rounded(bytes));
}
//! Asks for huge pages on the 2 MiB-aligned part of a freshly reserved, not yet written
//! buffer (e.g. a large std::string after reserve()); advisory, errors are ignored.
inline void advise(const void* p, size_t bytes) {
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + kPageBytes - 1) & ~(kPageBytes - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kPageBytes - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}
//! Brings the cache line of `p` in with a real (discarded) load. Used instead of
//! __builtin_prefetch for the hot tables: on the benchmark VM, perf showed prefetched slots
//! still missing at their use (a prefetch whose page walk misses may be dropped; a load is
//! not), and loads issued back to back (the task's stage groups) overlap their page walks and
//! misses. The measured comparison is in the README (Measured).
inline void touch(const void* p) {
  (void)*static_cast<const volatile char*>(p);
}
}  // namespace huge_pages

template <typename T>
struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) {}  // NOLINT(google-explicit-constructor)

  T* allocate(size_t n) {
    if (n * sizeof(T) < huge_pages::kPageBytes) return std::allocator<T>().allocate(n);
    return static_cast<T*>(huge_pages::allocate(n * sizeof(T)));
  }
  void deallocate(T* p, size_t n) {
    if (n * sizeof(T) < huge_pages::kPageBytes) return std::allocator<T>().deallocate(p, n);
    huge_pages::deallocate(p, n * sizeof(T));
  }
  friend bool operator==(const HugePageAllocator&, const HugePageAllocator&) { return true; }
};

//! A vector whose large buffers live on huge pages.
template <typename T>
using HugePageVector = std::vector<T, HugePageAllocator<T>>;

}  // namespace sw
