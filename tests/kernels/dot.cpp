// SPDX-License-Identifier: MIT
// kernels::dot_rows on every compiled architecture against its scalar loop, bit for bit, over
// lengths with tails of the 16 lanes and of the 512-term blocks, and against a double sum.
#include <cmath>
#include <cstddef>
#include <cstring>
#include <vector>

#include <catch2/catch.hpp>
#include <xsimd/xsimd.hpp>

#include <commpress/kernels/dot.hpp>

#include "support/vectors.hpp"

namespace {
template <std::size_t G>
void check(std::size_t k) {
    namespace tv = commpress::testing;
    const auto x = tv::make<float>(tv::shape::gaussian, k, 3 + k);
    std::vector<std::vector<float>> ys;
    const float* y[G];
    for (std::size_t g = 0; g < G; ++g) {
        ys.push_back(tv::make<float>(tv::shape::heavy_tailed, k, 100 + g));
        y[g] = ys.back().data();
    }
    double want[G] = {};
    commpress::kernels::dot_rows.operator()<G>(xsimd::unavailable{}, x.data(), y, k, want);
    for (std::size_t g = 0; g < G; ++g) {
        // Against the sum in double: binary32 partial sums of <= 32 products, each product and
        // partial sum rounded once (relative 2^-24), so |error| <= 64 * 2^-24 * sum |x_i y_i|.
        double exact = 0, magnitude = 0;
        for (std::size_t i = 0; i < k; ++i) {
            exact += double(x[i]) * double(y[g][i]);
            magnitude += std::abs(double(x[i]) * double(y[g][i]));
        }
        CHECK(std::abs(want[g] - exact) <= 64 * 0x1p-24 * magnitude);
    }
    xsimd::supported_architectures::for_each([&](auto arch) {
        INFO("arch " << arch.name() << ", k = " << k << ", G = " << G);
        double got[G] = {};
        commpress::kernels::dot_rows.operator()<G>(arch, x.data(), y, k, got);
        CHECK(std::memcmp(got, want, sizeof got) == 0);
    });
}
} // namespace

TEST_CASE("dot_rows gives the scalar loop's bits on every arch", "[kernels][dot]") {
    for (const std::size_t k : {0u, 1u, 15u, 16u, 17u, 511u, 512u, 513u, 4099u}) {
        check<1>(k);
        check<2>(k);
        check<3>(k);
        check<4>(k);
    }
}
