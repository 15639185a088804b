// SPDX-License-Identifier: MIT
// sparsify::adaptive_rand through the pipeline (OPERATORS.md A.1): C(x) = x_i e_i with
// probability p_i = |x_i| / ||x||_1. Monte Carlo checks of E C(x) = p o x and the variance
// sum x_i^2 p_i (1 - p_i) (tolerances derived in sparsify/theory_mc.hpp), and of the contraction
// in mean E||C(x) - x||^2 = ||x||^2 - sum |x_i|^3 / ||x||_1 <= (1 - 1/n) ||x||^2, on every test
// shape; C(0) = 0; one index + one value per message.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/encode/bitpack.hpp>
#include <commpress/pipeline.hpp>
#include <commpress/quantize/identity.hpp>
#include <commpress/sparsify/adaptive_rand.hpp>

#include "sparsify/theory_mc.hpp"
#include "support/vectors.hpp"

namespace {

using namespace commpress;
namespace tv = commpress::testing;

using adaptive_fp32 = pipeline<sparsify::adaptive_rand, quantize::identity, encode::bitpack>;

} // namespace

static_assert(!adaptive_fp32::unbiased && has_alpha<adaptive_fp32> && !has_omega<adaptive_fp32>);

TEST_CASE("adaptive_rand draws coordinate i with probability |x_i| / ||x||_1",
          "[sparsify][adaptive_rand][theory]") {
    const std::size_t n = 50, trials = 20000;
    for (const tv::shape s : tv::all_shapes) {
        CAPTURE(tv::name(s));
        const auto x = tv::make<float>(s, n, 4242);
        double l1 = 0, norm2 = 0, cubes = 0;
        for (float v : x) {
            l1 += std::abs(v);
            norm2 += double{v} * v;
            cubes += std::pow(std::abs(double{v}), 3);
        }
        std::vector<double> ec(n), var(n), dev2(n);
        for (std::size_t i = 0; i < n; ++i) {
            const double xi = x[i], p = std::abs(xi) / l1;
            ec[i] = p * xi;
            var[i] = xi * xi * p * (1 - p);
            dev2[i] = xi * xi * std::max((1 - p) * (1 - p), p * p);
        }
        adaptive_fp32 p({}, {}, {}, seed{17});
        const auto r = tv::run_mc(p, x, ec, var, dev2, 1.0, trials);
        if (l1 == 0)
            continue; // C(0) = 0, checked by run_mc
        // Contraction in mean: E||C(x) - x||^2 / ||x||^2 = omega_x + eta_x^2 (the cross term
        // vanishes in expectation) = 1 - sum |x_i|^3 / (||x||_1 ||x||^2) <= 1 - alpha = 1 - 1/n.
        // Measured as omega_hat + eta_x^2, within run_mc's omega tolerance.
        const double ez = 1 - cubes / (l1 * norm2);
        CHECK(ez <= 1 - p.alpha(n) + 1e-12);
        CHECK(r.omega_x + r.eta_x * r.eta_x == Approx(ez).margin(1e-9));
        const double measured = r.omega_hat + r.eta_x * r.eta_x;
        CHECK(measured <= 1 - p.alpha(n) + r.omega_tol);
    }
}

TEST_CASE("adaptive_rand sends one index and one value", "[sparsify][adaptive_rand]") {
    const auto x = tv::make<float>(tv::shape::gaussian, 1000, 5);
    adaptive_fp32 p;
    const auto msg = p.compress(std::span<const float>(x));
    CHECK(msg.size() == message_header::size + (10 + 32 + 7) / 8);
    std::vector<float> out(x.size());
    p.decompress(std::span<const std::byte>(msg), std::span<float>(out));
    std::size_t nnz = 0;
    for (std::size_t i = 0; i < x.size(); ++i)
        if (out[i] != 0.0f) {
            ++nnz;
            CHECK(out[i] == x[i]);
        }
    CHECK(nnz == 1);
    const std::vector<float> zero(7, 0.0f);
    const auto zmsg = p.compress(std::span<const float>(zero));
    std::vector<float> zout(7, -1.0f);
    p.decompress(std::span<const std::byte>(zmsg), std::span<float>(zout));
    CHECK(zout == zero);
}
