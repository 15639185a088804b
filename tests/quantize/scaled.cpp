// SPDX-License-Identifier: MIT
// quantize::scaled<Q>: (1/(1 + omega)) Q, and the scaled U o B composition it yields
// (OPERATORS.md A.1, A.10b).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/commpress.hpp>

#include "support/vectors.hpp"

using namespace commpress;
namespace tv = commpress::testing;

using plain = pipeline<sparsify::top_k, quantize::qsgd, encode::elias_gamma>;
using shrunk = pipeline<sparsify::top_k, quantize::scaled<quantize::qsgd>, encode::elias_gamma>;

TEST_CASE("scaled<Q> sends Q's codes and decodes them times 1/(1 + omega)", "[quantize][scaled]") {
    const auto x = tv::make<float>(tv::shape::gaussian, 1000, 21);
    plain p{{.ratio = 0.1}, {.levels = 8}};
    shrunk q{{.ratio = 0.1}, {.inner = {.levels = 8}}};
    const auto mp = p.compress(std::span<const float>(x));
    const auto mq = q.compress(std::span<const float>(x));
    // Same randomness, same codes: the payloads are identical; only the fingerprint differs.
    REQUIRE(mp.size() == mq.size());
    CHECK(std::memcmp(mp.data() + message_header::size, mq.data() + message_header::size,
                      mp.size() - message_header::size) == 0);
    std::vector<float> op(x.size()), oq(x.size());
    p.decompress(std::span<const std::byte>(mp), std::span<float>(op));
    q.decompress(std::span<const std::byte>(mq), std::span<float>(oq));
    const std::size_t k = 100;
    const float factor = static_cast<float>(1.0 / (1.0 + quantize::qsgd{.levels = 8}.omega(k)));
    for (std::size_t i = 0; i < x.size(); ++i)
        REQUIRE(oq[i] == factor * op[i]);
}

TEST_CASE("top_k then scaled qsgd contracts with alpha = (k/d) / (1 + omega)",
          "[quantize][scaled]") {
    // Derivation (OPERATORS.md A.10b): with y = top_k(x), Q' = Q / (1 + omega),
    // E||Q'(y) - x||^2 = E||Q'(y) - y||^2 + ||x - y||^2 <= (1 - 1/(1+omega))||y||^2 + ||x - y||^2
    // <= (1 - (k/d)/(1 + omega))||x||^2. Mean of N = 2000 trials; CLT one-sided 6 sd / sqrt(N).
    for (tv::shape sh :
         {tv::shape::flat, tv::shape::one_hot, tv::shape::gaussian, tv::shape::heavy_tailed}) {
        INFO(tv::name(sh));
        const std::size_t d = 400;
        const auto x = tv::make<float>(sh, d, 22);
        const double xx = tv::norm2(x);
        shrunk q{{.ratio = 0.05}, {.inner = {.levels = 2}}};
        const double alpha = q.alpha(d);
        CHECK(alpha == Approx(0.05 / (1.0 + quantize::qsgd{.levels = 2}.omega(20))));
        constexpr int trials = 2000;
        double sum = 0, sum2 = 0;
        std::vector<float> out(d);
        for (int t = 0; t < trials; ++t) {
            q.decompress(std::span<const std::byte>(q.compress(std::span<const float>(x))),
                         std::span<float>(out));
            double e = 0;
            for (std::size_t i = 0; i < d; ++i)
                e += (double(out[i]) - x[i]) * (double(out[i]) - x[i]);
            sum += e;
            sum2 += e * e;
        }
        const double mean = sum / trials;
        const double sd = std::sqrt(std::max(0.0, sum2 / trials - mean * mean));
        CHECK(mean <= (1 - alpha) * xx + 6 * sd / std::sqrt(double(trials)) + 1e-6 * xx);
    }
}

TEST_CASE("scaled<Q> requires an unbiased Q with omega, and validates Q's parameters",
          "[quantize][scaled]") {
    STATIC_REQUIRE(quantizer<quantize::scaled<quantize::qsgd>>);
    STATIC_REQUIRE(has_alpha<quantize::scaled<quantize::fp16_sr>>);
    STATIC_REQUIRE_FALSE(has_omega<shrunk>);
    REQUIRE_THROWS_AS((shrunk{{}, {.inner = {.levels = 0}}}), invalid_parameter);
}
