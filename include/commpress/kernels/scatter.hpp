// SPDX-License-Identifier: MIT
// Sparse writes into a dense tensor: out[idx[j]] = v[j] or += w * v[j], prefetching ahead.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

namespace commpress::kernels {

/// Writes (Add = false) or weight-adds (Add = true) v[j] at coordinate idx[j] < out.size().
/// A sparse update of a large tensor is bound by cache and TLB misses, not arithmetic: the
/// prefetch keeps `ahead` of them in flight. Same arithmetic as the plain loop, so same bits.
template <bool Add>
struct scatter_fn {
    template <class Arch, class T>
    void operator()(Arch, std::span<const std::uint32_t> idx, std::span<const T> v,
                    std::span<T> out, T weight) const noexcept {
        constexpr std::size_t ahead = 16;
        const std::size_t n = idx.size();
        for (std::size_t j = 0; j < std::min(ahead, n); ++j)
            prefetch(out.data() + idx[j]);
        for (std::size_t j = 0; j < n; ++j) {
            if (j + ahead < n)
                prefetch(out.data() + idx[j + ahead]);
            if constexpr (Add)
                out[idx[j]] += weight * v[j];
            else
                out[idx[j]] = v[j];
        }
    }

  private:
    template <class T>
    static void prefetch([[maybe_unused]] const T* p) noexcept {
#if defined(__GNUC__)
        __builtin_prefetch(p, 1); // for writing
#endif
    }
};
template <bool Add>
inline constexpr scatter_fn<Add> scatter{};

} // namespace commpress::kernels
