// SPDX-License-Identifier: MIT
// kernels::find_at_least against a scalar scan on every compiled architecture: every hit found,
// in order, NaN included, over awkward sizes and unaligned spans.
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <vector>

#include <catch2/catch.hpp>
#include <xsimd/config/xsimd_arch.hpp>

#include <commpress/kernels/find.hpp>

#include "support/vectors.hpp"

using real_types = std::tuple<float, double>;

TEMPLATE_LIST_TEST_CASE("find_at_least finds every hit of the scalar scan on every arch",
                        "[kernels][find]", real_types) {
    using T = TestType;
    const std::size_t n = GENERATE(0u, 1u, 7u, 64u, 4099u);
    auto x = commpress::testing::make<T>(commpress::testing::shape::gaussian, n + 1, 17 + n);
    if (n > 5) {
        x[3] = std::numeric_limits<T>::quiet_NaN();
        x[n] = -std::numeric_limits<T>::infinity();
        x[n / 2] = T(-2); // exactly the bound: a hit
    }
    const std::span<const T> in = std::span<const T>(x).subspan(1); // unaligned
    const T bound = 2;
    std::vector<std::size_t> want;
    for (std::size_t i = 0; i < in.size(); ++i)
        if (!(std::abs(in[i]) < bound))
            want.push_back(i);
    xsimd::supported_architectures::for_each([&](auto arch) {
        INFO("arch " << arch.name() << ", n = " << n);
        std::vector<std::size_t> got;
        for (std::size_t i = commpress::kernels::find_at_least(arch, in, 0, bound); i < in.size();
             i = commpress::kernels::find_at_least(arch, in, i + 1, bound))
            got.push_back(i);
        CHECK(got == want);
    });
}
