// SPDX-License-Identifier: MIT
// Dot products of one row with a few others, the same bits on every instruction set: the
// products behind the low-rank operators' P = M Q and their randomized sketches.
#pragma once

#include <algorithm>
#include <cstddef>
#include <type_traits>

#include <xsimd/xsimd.hpp>

namespace commpress::kernels {

/// out[g] = x . y[g] for g < G, k terms each, over a fixed virtual width of 16 lanes (lane u
/// adds terms u, u + 16, ...): binary32 products summed in binary32 over blocks of 512 terms,
/// each block's lanes then added in double, and the lanes in a fixed tree at the end. A SIMD
/// batch of 4, 8 or 16 floats holds whole lanes, so every instruction set (and the scalar
/// loop, Arch = xsimd::unavailable) gives the same bits; partial sums of 32 binary32 products
/// keep the error near binary32's own. G is a compile-time constant so that the partial sums
/// stay in registers.
struct dot_rows_fn {
    static constexpr std::size_t lanes = 16, block = 32 * lanes;

    template <std::size_t G, class Arch>
    void operator()(Arch, const float* x, const float* const* y, std::size_t k,
                    double* out) const noexcept {
        double lane[G][lanes] = {};
        for (std::size_t l0 = 0; l0 < k; l0 += block) {
            const std::size_t end = std::min(k, l0 + block);
            float part[G][lanes] = {};
            std::size_t l = l0;
            if constexpr (!std::is_same_v<Arch, xsimd::unavailable>) {
                using batch = xsimd::batch<float, Arch>;
                constexpr std::size_t w = batch::size, per = lanes / w;
                static_assert(lanes % w == 0, "a batch must hold whole virtual lanes");
                batch acc[G][per];
                for (std::size_t g = 0; g < G; ++g)
                    for (std::size_t v = 0; v < per; ++v)
                        acc[g][v] = batch(0.0f);
                for (; l + lanes <= end; l += lanes)
                    for (std::size_t v = 0; v < per; ++v) {
                        const batch xv = batch::load_unaligned(x + l + v * w);
                        for (std::size_t g = 0; g < G; ++g)
                            acc[g][v] += xv * batch::load_unaligned(y[g] + l + v * w);
                    }
                for (std::size_t g = 0; g < G; ++g)
                    for (std::size_t v = 0; v < per; ++v)
                        acc[g][v].store_unaligned(part[g] + v * w);
            } else {
                for (; l + lanes <= end; l += lanes)
                    for (std::size_t g = 0; g < G; ++g)
                        for (std::size_t u = 0; u < lanes; ++u)
                            part[g][u] += x[l + u] * y[g][l + u];
            }
            for (std::size_t g = 0; g < G; ++g) {
                for (std::size_t u = 0; l + u < end; ++u) // the block's tail, lane by lane
                    part[g][u] += x[l + u] * y[g][l + u];
                for (std::size_t u = 0; u < lanes; ++u)
                    lane[g][u] += static_cast<double>(part[g][u]);
            }
        }
        for (std::size_t g = 0; g < G; ++g) {
            for (std::size_t half = lanes / 2; half > 0; half /= 2)
                for (std::size_t u = 0; u < half; ++u)
                    lane[g][u] += lane[g][u + half];
            out[g] = lane[g][0];
        }
    }
};
inline constexpr dot_rows_fn dot_rows{};

} // namespace commpress::kernels
