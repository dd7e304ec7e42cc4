// Cache-line-aligned float storage. std::vector<float> from glibc starts 16 bytes past a
// 64-byte boundary, so every 64-byte AVX-512 load of a row that should start a cache line
// straddles two lines instead. Measured on the attention products (small_gemm, one core,
// operands in L1): 159-167 GFLOP/s on vector storage, 186-202 on 64-byte-aligned storage.
#pragma once
#include <cstddef>
#include <new>
#include <vector>

namespace aha::kernels {

template <class T>
struct CacheAligned {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};
  CacheAligned() = default;
  template <class U>
  CacheAligned(const CacheAligned<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, size_t) { ::operator delete(p, kAlign); }
  template <class U>
  bool operator==(const CacheAligned<U>&) const { return true; }
};

// A float vector whose data() is 64-byte aligned.
using AlignedFloats = std::vector<float, CacheAligned<float>>;

}  // namespace aha::kernels
