// SPDX-License-Identifier: MIT
// kernels::min_max and kernels::max_magnitude_bits against scalar folds: the same extremes
// (-0 below +0), NaN and inf reported through the largest magnitude, over awkward sizes.
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/kernels/reduce.hpp>

#include "support/vectors.hpp"

using real_types = std::tuple<float, double>;

TEMPLATE_LIST_TEST_CASE("min_max and max_magnitude_bits equal scalar folds", "[kernels][reduce]",
                        real_types) {
    using T = TestType;
    using U = commpress::kernels::detail::bits_t<T>;
    constexpr T inf = std::numeric_limits<T>::infinity();
    const std::size_t n = GENERATE(1u, 2u, 15u, 16u, 17u, 64u, 4099u);
    const int kind = GENERATE(0, 1, 2, 3, 4, 5);
    auto x = commpress::testing::make<T>(commpress::testing::shape::gaussian, n, 31 + n);
    for (std::size_t i = 0; i < n; ++i) {
        if (kind == 1) // zeros of both signs among positives: the minimum is -0
            x[i] = i % 3 == 0 ? (i % 2 ? T(0) : -T(0)) : std::abs(x[i]);
        if (kind == 2) // subnormals of both signs
            x[i] *= std::numeric_limits<T>::denorm_min() * T(4);
    }
    if (kind == 3)
        x[n / 2] = -inf;
    if (kind == 4)
        x[n - 1] = std::numeric_limits<T>::quiet_NaN();
    if (kind == 5)
        x[n / 3] = -std::numeric_limits<T>::max();
    // References: -0 < +0, NaN skipped (it only shows in the magnitude).
    const auto less = [](T a, T b) {
        return a < b || (a == 0 && b == 0 && std::signbit(a) > std::signbit(b));
    };
    T lo = inf, hi = -inf;
    U top = 0;
    for (const T v : x) {
        const U a = std::bit_cast<U>(std::abs(v));
        top = a > top ? a : top;
        if (std::isnan(v))
            continue;
        lo = less(v, lo) ? v : lo;
        hi = less(hi, v) ? v : hi;
    }
    INFO("n = " << n << ", kind " << kind);
    const std::span<const T> in(x);
    const auto e = commpress::kernels::min_max(in);
    CHECK(e.top == top);
    CHECK(commpress::kernels::max_magnitude_bits(in) == top);
    if (kind != 4) {
        CHECK(std::bit_cast<U>(e.lo) == std::bit_cast<U>(lo));
        CHECK(std::bit_cast<U>(e.hi) == std::bit_cast<U>(hi));
    } else {
        CHECK(top > std::bit_cast<U>(inf));
    }
}
