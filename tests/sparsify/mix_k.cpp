// SPDX-License-Identifier: MIT
// sparsify::mix_k through the pipeline (OPERATORS.md A.10e):
// - the kept set: top_k (ties to the lowest index) plus k distinct coordinates of the other
//   n - k, 2k entries, ascending, sent; a mix_k + bitpack message is
//   48 + ceil(2k (ceil(log2 n) + 32) / 8) bytes; when 2k >= n, C(x) = x;
// - the law: each of the other n - k coordinates is kept with probability q = k/(n - k),
//   unscaled; E C(x) and C(eta, omega) with eta = (n - 2k)/sqrt((n - k) n),
//   omega = k (n - 2k)/((n - k) n) by Monte Carlo (tolerances derived in theory_mc.hpp).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/recipes.hpp>
#include <commpress/sparsify/mix_k.hpp>

#include "sparsify/theory_mc.hpp"
#include "support/vectors.hpp"

namespace {

using namespace commpress;
namespace tv = commpress::testing;

using mixk = pipeline<sparsify::mix_k, quantize::identity, encode::bitpack>;
using mixk_raw = pipeline<sparsify::mix_k, quantize::identity, encode::raw>;

constexpr tv::shape shapes[] = {tv::shape::flat, tv::shape::one_hot, tv::shape::gaussian,
                                tv::shape::heavy_tailed, tv::shape::zero};

} // namespace

static_assert(sparsifier<sparsify::mix_k> && !mixk::unbiased && has_alpha<mixk>);

TEST_CASE("mix_k keeps top-k plus k other coordinates, ascending and distinct",
          "[sparsify][mix_k][exact]") {
    struct cfg {
        std::size_t n, k;
    };
    for (const cfg c : {cfg{64, 4}, cfg{100, 1}, cfg{1000, 20}, cfg{9, 4}, cfg{3, 1}})
        for (const tv::shape s : {tv::shape::flat, tv::shape::gaussian, tv::shape::heavy_tailed}) {
            CAPTURE(c.n, c.k, tv::name(s));
            const auto x = tv::make<float>(s, c.n, 7 * c.n + c.k);
            const auto top = tv::reference_top(x, c.k);
            mixk p(sparsify::mix_k{.k = c.k}, {}, {}, seed{8});
            const std::size_t m = 2 * c.k;
            REQUIRE(p.sparsifier().kept(c.n) == m);
            const std::size_t want = 48 + (m * (tv::ceil_log2(c.n) + 32) + 7) / 8;
            CHECK(p.max_message_size(c.n) == want);
            std::set<std::vector<std::uint32_t>> seen;
            for (int t = 0; t < 20; ++t) {
                const auto msg = p.compress(std::span<const float>(x));
                REQUIRE(msg.size() == want);
                const auto idx = tv::bitpack_indices(msg, c.n, m);
                CHECK(tv::strictly_ascending(idx));
                CHECK(idx.back() < c.n);
                const std::set<std::uint32_t> got(idx.begin(), idx.end());
                bool has_top = true;
                for (auto i : top)
                    has_top = has_top && got.count(i) == 1;
                CHECK(has_top);
                seen.insert(idx);
                std::vector<float> out(c.n, -7.0f);
                p.decompress(std::span<const std::byte>(msg), std::span<float>(out));
                std::size_t wrong = 0;
                for (std::size_t i = 0; i < c.n; ++i)
                    wrong += out[i] != (got.count(static_cast<std::uint32_t>(i)) ? x[i] : 0.0f);
                CHECK(wrong == 0);
            }
            // The random part varies: C(n - k, k) >= 2 sets, 20 equal draws have p <= 2^-19.
            CHECK(seen.size() > 1);
        }
    // raw: 4 bytes per value, the indices still travel (4 bytes each).
    mixk_raw r(sparsify::mix_k{.k = 3});
    const auto x = tv::make<float>(tv::shape::gaussian, 50, 2);
    CHECK(r.compress(std::span<const float>(x)).size() == r.max_message_size(50));
}

TEST_CASE("mix_k: E C(x) and C(eta, omega), eta = (n - 2k)/sqrt((n - k) n), "
          "omega = k (n - 2k)/((n - k) n)",
          "[sparsify][mix_k][theory]") {
    struct cfg {
        std::size_t n, k;
    };
    const std::size_t trials = 4000;
    for (const cfg c : {cfg{64, 4}, cfg{64, 16}, cfg{100, 30}})
        for (const tv::shape s : shapes) {
            CAPTURE(c.n, c.k, tv::name(s));
            const auto x = tv::make<float>(s, c.n, 13 * c.n + c.k);
            const double d = static_cast<double>(c.n), kk = static_cast<double>(c.k);
            const double eta = (d - 2 * kk) / std::sqrt((d - kk) * d);
            const double omega = kk * (d - 2 * kk) / ((d - kk) * d);
            const double q = kk / (d - kk);
            mixk p(sparsify::mix_k{.k = c.k}, {}, {}, seed{31}, stream{1, 9});
            CHECK(p.sparsifier().eta(c.n) == Approx(eta).epsilon(1e-15));
            CHECK(p.sparsifier().omega(c.n) == Approx(omega).epsilon(1e-15));
            CHECK(p.alpha(c.n) == Approx(2 * kk / d).epsilon(1e-15));
            CHECK(p.alpha(c.n) == Approx(1 - eta * eta - omega).epsilon(1e-12));
            // C_i = x_i on top_k; otherwise x_i w.p. q, else 0.
            const auto top = tv::reference_top(x, c.k);
            const std::set<std::uint32_t> top_set(top.begin(), top.end());
            std::vector<double> ec(c.n), var(c.n, 0.0), dev(c.n, 0.0);
            for (std::size_t i = 0; i < c.n; ++i) {
                const double xi = x[i];
                if (top_set.count(static_cast<std::uint32_t>(i))) {
                    ec[i] = xi;
                } else {
                    ec[i] = q * xi;
                    var[i] = q * (1 - q) * xi * xi;
                    dev[i] = xi * xi * std::max((1 - q) * (1 - q), q * q);
                }
            }
            const auto r = tv::run_mc(p, x, ec, var, dev, 1.0, trials);
            if (s == tv::shape::zero)
                continue;
            CHECK(r.eta_x <= eta + 1e-12);
            CHECK(r.omega_x <= omega + 1e-12);
            CHECK(r.eta_hat <= eta + r.eta_tol);
            CHECK(r.omega_hat <= omega + r.omega_tol);
            if (s == tv::shape::flat) { // ||r||^2 = (1 - k/n)||x||^2: both bounds attained
                CHECK(r.eta_x == Approx(eta).epsilon(1e-12));
                CHECK(r.omega_x == Approx(omega).epsilon(1e-12));
            }
            if (std::getenv("COMMPRESS_PRINT_CONSTANTS") != nullptr)
                std::printf("%-16s n=%zu k=%zu %-13s eta^=%.4f (eta_x=%.4f, eta=%.4f) "
                            "omega^=%.4f (omega_x=%.4f, omega=%.4f)\n",
                            "mix_k", c.n, c.k, tv::name(s), r.eta_hat, r.eta_x, eta, r.omega_hat,
                            r.omega_x, omega);
        }
}

TEST_CASE("mix_k parameters and edge cases: empty, one element, 2k >= n",
          "[sparsify][mix_k][edge]") {
    CHECK_THROWS_AS(mixk(sparsify::mix_k{.ratio = 0.0}), invalid_parameter);
    CHECK_THROWS_WITH(mixk(sparsify::mix_k{.ratio = 2.0}),
                      Catch::Contains("mix_k: ratio must be in (0, 1]"));
    CHECK(sparsify::mix_k{.ratio = 0.1}.kept(100) == 20);
    SECTION("n = 0") {
        mixk p(sparsify::mix_k{.k = 2});
        const std::vector<float> x;
        const auto msg = p.compress(std::span<const float>(x));
        CHECK(msg.size() == message_header::size);
        std::vector<float> out;
        CHECK_NOTHROW(p.decompress(std::span<const std::byte>(msg), std::span<float>(out)));
    }
    SECTION("2k >= n (and n = 1): every coordinate, C(x) = x, eta = omega = 0, alpha = 1") {
        for (const std::size_t n : {1u, 2u, 7u, 8u, 40u}) {
            for (const std::size_t k : {(n + 1) / 2, n, n + 4}) {
                CAPTURE(n, k);
                const auto x = tv::make<float>(tv::shape::gaussian, n, n + k);
                mixk p(sparsify::mix_k{.k = k});
                CHECK(p.sparsifier().kept(n) == n);
                CHECK(p.sparsifier().eta(n) == 0.0);
                CHECK(p.sparsifier().omega(n) == 0.0);
                CHECK(p.alpha(n) == 1.0);
                const auto msg = p.compress(std::span<const float>(x));
                CHECK(msg.size() == 48 + (n * (tv::ceil_log2(n) + 32) + 7) / 8);
                std::vector<float> out(n);
                p.decompress(std::span<const std::byte>(msg), std::span<float>(out));
                CHECK(out == x);
            }
        }
    }
}

TEST_CASE("mix_k draws its random part from the sender's private stream",
          "[sparsify][mix_k][seed]") {
    const std::size_t n = 64;
    const auto x = tv::make<float>(tv::shape::gaussian, n, 4);
    mixk a(sparsify::mix_k{.k = 4}, {}, {}, seed{9}, stream{.worker = 0});
    mixk b(sparsify::mix_k{.k = 4}, {}, {}, seed{9}, stream{.worker = 1});
    std::size_t same = 0;
    for (int t = 0; t < 10; ++t) // equal 4-subsets of 60 by chance: 1/C(60, 4) ~ 2e-6 per step
        same += tv::bitpack_indices(a.compress(std::span<const float>(x)), n, 8) ==
                tv::bitpack_indices(b.compress(std::span<const float>(x)), n, 8);
    CHECK(same == 0);
}
