// SPDX-License-Identifier: MIT
// The last step of every index-selecting sparsifier: copy x at the kept indices into the
// workspace vector of x's element type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

namespace commpress::sparsify::detail {

/// v = x[idx] into vf (float x) or vd (double x), reusing their capacity.
template <class T>
std::span<const T> gather(std::span<const T> x, std::span<const std::uint32_t> idx,
                          std::vector<float>& vf, std::vector<double>& vd) noexcept {
    std::vector<T>& v = [&]() -> std::vector<T>& {
        if constexpr (std::is_same_v<T, float>)
            return vf;
        else
            return vd;
    }();
    v.resize(idx.size());
    constexpr std::size_t ahead = 16; // a sparse gather from a large tensor waits on misses
    for (std::size_t j = 0; j < idx.size(); ++j) {
#if defined(__GNUC__)
        if (j + ahead < idx.size())
            __builtin_prefetch(x.data() + idx[j + ahead]);
#endif
        v[j] = x[idx[j]];
    }
    return v;
}

} // namespace commpress::sparsify::detail
