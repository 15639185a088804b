// SPDX-License-Identifier: MIT
// Finding the next large entry: the scan behind the hard-threshold sparsifier.
#pragma once

#include <cmath>
#include <cstddef>
#include <span>
#include <type_traits>

#include <xsimd/xsimd.hpp>

namespace commpress::kernels {

/// The first i >= from with |x_i| >= bound or x_i NaN (x.size() if none): one vector compare
/// per batch, so a sparse selection costs about one pass over x. Exact, so every batch width
/// finds the same index.
struct find_at_least_fn {
    template <class Arch, class T>
    std::size_t operator()(Arch, std::span<const T> x, std::size_t from, T bound) const noexcept {
        const auto hit = [&](std::size_t i) { return !(std::abs(x[i]) < bound); };
        if constexpr (!std::is_same_v<Arch, xsimd::unavailable>) {
            using batch = xsimd::batch<T, Arch>;
            constexpr std::size_t w = batch::size;
            const batch b(bound);
            for (; from + w <= x.size(); from += w) {
                const batch v = xsimd::abs(batch::load_unaligned(x.data() + from));
                if (xsimd::any((v >= b) | xsimd::isnan(v)))
                    break; // the hit is in this batch: the scalar loop finds its lane
            }
        }
        for (; from < x.size(); ++from)
            if (hit(from))
                return from;
        return x.size();
    }
};
inline constexpr find_at_least_fn find_at_least{};

} // namespace commpress::kernels
