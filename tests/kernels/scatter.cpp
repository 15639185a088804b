// SPDX-License-Identifier: MIT
// kernels::scatter against the plain loop, bit for bit, on every compiled architecture.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <catch2/catch.hpp>
#include <xsimd/config/xsimd_arch.hpp>

#include <commpress/kernels/scatter.hpp>

#include "support/vectors.hpp"

TEST_CASE("scatter writes and weight-adds exactly as the plain loop", "[kernels][scatter]") {
    namespace tv = commpress::testing;
    const std::size_t k = GENERATE(0u, 1u, 7u, 64u, 4099u);
    const std::size_t n = 3 * k + 5;
    std::vector<std::uint32_t> idx(k);
    for (std::size_t j = 0; j < k; ++j)
        idx[j] = static_cast<std::uint32_t>(3 * j + (j % 3)); // ascending, irregular gaps
    const auto v = tv::make<float>(tv::shape::gaussian, k, 4);
    const auto base = tv::make<float>(tv::shape::heavy_tailed, n, 5);
    const float w = 0.3f;
    std::vector<float> want_set = base, want_add = base;
    for (std::size_t j = 0; j < k; ++j) {
        want_set[idx[j]] = v[j];
        want_add[idx[j]] += w * v[j];
    }
    xsimd::supported_architectures::for_each([&](auto arch) {
        INFO("arch " << arch.name() << ", k = " << k);
        std::vector<float> set = base, add = base;
        commpress::kernels::scatter<false>(arch, std::span<const std::uint32_t>(idx),
                                           std::span<const float>(v), std::span<float>(set), w);
        commpress::kernels::scatter<true>(arch, std::span<const std::uint32_t>(idx),
                                          std::span<const float>(v), std::span<float>(add), w);
        std::size_t bad = 0;
        for (std::size_t i = 0; i < n; ++i)
            bad +=
                std::bit_cast<std::uint32_t>(set[i]) != std::bit_cast<std::uint32_t>(want_set[i]) ||
                std::bit_cast<std::uint32_t>(add[i]) != std::bit_cast<std::uint32_t>(want_add[i]);
        CHECK(bad == 0);
    });
}
