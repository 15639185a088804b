// SPDX-License-Identifier: MIT
// sparsify::comp_k and comp_k_unscaled through the pipeline (OPERATORS.md A.10f):
// - the kept set: k distinct, ascending coordinates, all among top_{k'} (ties to the lowest
//   index), sent in the message; a comp_k + bitpack message is 48 + ceil(k (ceil(log2 n) + 32)/8)
//   bytes;
// - the law: each of the top k' is kept with probability p = k/k', scaled by k'/k (comp_k) or not
//   (comp_k_unscaled); E C(x) and the C(eta, omega) constants are checked by Monte Carlo
//   (theory_mc.hpp derives the 6-sigma tolerances) against the formulas of comp_k.hpp.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <set>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/recipes.hpp>
#include <commpress/sparsify/comp_k.hpp>

#include "sparsify/theory_mc.hpp"
#include "support/vectors.hpp"

namespace {

using namespace commpress;
namespace tv = commpress::testing;

using compk = pipeline<sparsify::comp_k, quantize::identity, encode::bitpack>;
using compk_unscaled = pipeline<sparsify::comp_k_unscaled, quantize::identity, encode::bitpack>;

constexpr tv::shape shapes[] = {tv::shape::flat, tv::shape::one_hot, tv::shape::gaussian,
                                tv::shape::heavy_tailed, tv::shape::zero};

bool print_constants() { return std::getenv("COMMPRESS_PRINT_CONSTANTS") != nullptr; }

} // namespace

static_assert(sparsifier<sparsify::comp_k> && sparsifier<sparsify::comp_k_unscaled>);
static_assert(!compk::unbiased && !has_alpha<sparsify::comp_k>);
static_assert(has_alpha<sparsify::comp_k_unscaled> && has_alpha<compk_unscaled>);

TEST_CASE("comp_k keeps k distinct ascending coordinates among the top k'",
          "[sparsify][comp_k][exact]") {
    struct cfg {
        std::size_t n, k, kp;
    };
    for (const cfg c :
         {cfg{64, 4, 16}, cfg{100, 10, 10}, cfg{1000, 7, 300}, cfg{33, 1, 32}, cfg{5, 2, 5}})
        for (const tv::shape s : {tv::shape::flat, tv::shape::gaussian, tv::shape::one_hot})
            for (const bool scaled : {true, false}) {
                CAPTURE(c.n, c.k, c.kp, tv::name(s), scaled);
                const auto x = tv::make<float>(s, c.n, c.n + 3 * c.k);
                const auto top = tv::reference_top(x, c.kp);
                const std::set<std::uint32_t> top_set(top.begin(), top.end());
                compk p(sparsify::comp_k{.k = c.k, .k_prime = c.kp}, {}, {}, seed{5});
                compk_unscaled q(sparsify::comp_k_unscaled{.k = c.k, .k_prime = c.kp}, {}, {},
                                 seed{5});
                const std::size_t want =
                    48 + (c.k * (tv::ceil_log2(c.n) + 32) + 7) / 8; // A.13 with k entries
                const double scale = static_cast<double>(c.kp) / static_cast<double>(c.k);
                std::set<std::vector<std::uint32_t>> seen;
                for (int t = 0; t < 20; ++t) {
                    const auto msg = scaled ? p.compress(std::span<const float>(x))
                                            : q.compress(std::span<const float>(x));
                    REQUIRE(msg.size() == want);
                    CHECK((scaled ? p.max_message_size(c.n) : q.max_message_size(c.n)) == want);
                    const auto idx = tv::bitpack_indices(msg, c.n, c.k);
                    CHECK(tv::strictly_ascending(idx));
                    bool in_top = true;
                    for (auto i : idx)
                        in_top = in_top && top_set.count(i) == 1;
                    CHECK(in_top);
                    seen.insert(idx);
                    std::vector<float> out(c.n, -7.0f);
                    if (scaled)
                        p.decompress(std::span<const std::byte>(msg), std::span<float>(out));
                    else
                        q.decompress(std::span<const std::byte>(msg), std::span<float>(out));
                    std::size_t wrong = 0;
                    for (std::size_t i = 0, j = 0; i < c.n; ++i) {
                        const bool kept = j < idx.size() && idx[j] == i;
                        const float want_i = kept ? static_cast<float>(scaled ? scale : 1.0) * x[i]
                                                  : 0.0f; // float product, as decoded
                        wrong += out[i] != want_i;
                        j += kept;
                    }
                    CHECK(wrong == 0);
                }
                // k < k' draws vary (20 draws of one set out of C(k', k) >= 5 has probability
                // <= 5^-19); k = k' is top-k itself.
                CHECK((c.k == c.kp || c.kp >= c.n ? seen.size() >= 1 : seen.size() > 1));
                if (c.k == c.kp)
                    CHECK(seen.size() == 1);
            }
}

TEST_CASE("comp_k: E C(x) = top_k'(x) and C(eta, omega) with eta = sqrt((n - k')/n), "
          "omega = (k' - k)/k",
          "[sparsify][comp_k][theory]") {
    struct cfg {
        std::size_t n, k, kp;
    };
    const std::size_t trials = 4000;
    for (const cfg c : {cfg{64, 4, 16}, cfg{64, 8, 12}, cfg{100, 10, 50}})
        for (const bool scaled : {true, false})
            for (const tv::shape s : shapes) {
                CAPTURE(c.n, c.k, c.kp, scaled, tv::name(s));
                const auto x = tv::make<float>(s, c.n, 17 * c.n + c.k);
                const double d = static_cast<double>(c.n), kk = static_cast<double>(c.k),
                             kp = static_cast<double>(c.kp), pr = kk / kp;
                const double sc = scaled ? kp / kk : 1.0;
                const double eta =
                    scaled ? std::sqrt((d - kp) / d) : std::sqrt(1 - (kk / d) * (2 - pr));
                const double omega = scaled ? (kp - kk) / kk : pr * (1 - pr);
                compk p(sparsify::comp_k{.k = c.k, .k_prime = c.kp}, {}, {}, seed{21},
                        stream{2, 4});
                compk_unscaled q(sparsify::comp_k_unscaled{.k = c.k, .k_prime = c.kp}, {}, {},
                                 seed{21}, stream{2, 4});
                if (scaled) {
                    CHECK(p.sparsifier().eta(c.n) == Approx(eta).epsilon(1e-15));
                    CHECK(p.sparsifier().omega(c.n) == Approx(omega).epsilon(1e-15));
                } else {
                    CHECK(q.sparsifier().eta(c.n) == Approx(eta).epsilon(1e-15));
                    CHECK(q.sparsifier().omega(c.n) == Approx(omega).epsilon(1e-15));
                    CHECK(q.sparsifier().alpha(c.n) == kk / d);
                    CHECK(q.sparsifier().alpha(c.n) >= 1 - eta * eta - omega - 1e-15);
                }
                // C_i = sc x_i w.p. p on T (else 0), C_i = 0 off T.
                const auto top = tv::reference_top(x, c.kp);
                std::vector<double> ec(c.n, 0.0), var(c.n, 0.0), dev(c.n, 0.0);
                for (auto i : top) {
                    const double xi = x[i];
                    ec[i] = sc * pr * xi;
                    var[i] = sc * sc * pr * (1 - pr) * xi * xi;
                    dev[i] = sc * sc * xi * xi * std::max((1 - pr) * (1 - pr), pr * pr);
                }
                const auto r = scaled ? tv::run_mc(p, x, ec, var, dev, sc, trials)
                                      : tv::run_mc(q, x, ec, var, dev, sc, trials);
                if (s == tv::shape::zero)
                    continue;
                // The class bounds, exactly (eta_x, omega_x) and as measured.
                CHECK(r.eta_x <= eta + 1e-12);
                CHECK(r.omega_x <= omega + 1e-12);
                CHECK(r.eta_hat <= eta + r.eta_tol);
                CHECK(r.omega_hat <= omega + r.omega_tol);
                // Attained: eta on flat vectors (||x_T||^2 = (k'/n)||x||^2), omega on one-hot
                // (x = x_T).
                if (s == tv::shape::flat)
                    CHECK(r.eta_x == Approx(eta).epsilon(1e-12));
                if (s == tv::shape::one_hot)
                    CHECK(r.omega_x == Approx(omega).epsilon(1e-12));
                if (print_constants())
                    std::printf("%-16s n=%zu k=%zu k'=%zu %-13s eta^=%.4f (eta_x=%.4f, eta=%.4f) "
                                "omega^=%.4f (omega_x=%.4f, omega=%.4f)\n",
                                scaled ? "comp_k" : "comp_k_unscaled", c.n, c.k, c.kp, tv::name(s),
                                r.eta_hat, r.eta_x, eta, r.omega_hat, r.omega_x, omega);
            }
}

TEST_CASE("comp_k parameters: k is capped at k', invalid values are rejected",
          "[sparsify][comp_k][param]") {
    const sparsify::comp_k a{.ratio = 0.1, .ratio_prime = 0.5};
    CHECK(a.kept(100) == 10);
    CHECK(a.top_count(100) == 50);
    const sparsify::comp_k b{.ratio = 0.5, .k_prime = 3}; // mixed: k = 50 capped at k' = 3
    CHECK(b.kept(100) == 3);
    CHECK(b.decode_scale(100) == 1.0);
    CHECK(b.omega(100) == 0.0);
    CHECK_THROWS_WITH(compk(sparsify::comp_k{.k = 5, .k_prime = 4}),
                      Catch::Contains("comp_k: k must not exceed k_prime, got k = 5"));
    CHECK_THROWS_AS(compk(sparsify::comp_k{.k = 5, .k_prime = 4}), invalid_parameter);
    CHECK_THROWS_WITH(compk(sparsify::comp_k{.ratio = 0.5, .ratio_prime = 0.25}),
                      Catch::Contains("comp_k: ratio must not exceed ratio_prime"));
    CHECK_THROWS_WITH(compk_unscaled(sparsify::comp_k_unscaled{.ratio_prime = 1.5}),
                      Catch::Contains("comp_k_unscaled: ratio_prime must be in (0, 1]"));
    CHECK_THROWS_WITH(compk(sparsify::comp_k{.ratio = 0.0}),
                      Catch::Contains("comp_k: ratio must be in (0, 1]"));
    CHECK_THROWS_AS(
        compk(sparsify::comp_k{.ratio_prime = std::numeric_limits<double>::quiet_NaN()}),
        invalid_parameter);
    CHECK_NOTHROW(compk(sparsify::comp_k{.k = 4, .k_prime = 4}));
    CHECK(compk(sparsify::comp_k{.k = 2, .k_prime = 8}).describe().find("comp_k(k=2, k_prime=8)") ==
          0);
}

TEST_CASE("comp_k edge cases: empty, one element, k and k' >= n", "[sparsify][comp_k][edge]") {
    SECTION("n = 0") {
        compk p(sparsify::comp_k{.k = 3, .k_prime = 9});
        const std::vector<float> x;
        const auto msg = p.compress(std::span<const float>(x));
        CHECK(msg.size() == message_header::size);
        std::vector<float> out;
        CHECK_NOTHROW(p.decompress(std::span<const std::byte>(msg), std::span<float>(out)));
        CHECK(p.sparsifier().eta(0) == 0.0);
        CHECK(p.sparsifier().omega(0) == 0.0);
    }
    SECTION("k >= n (and n = 1): C(x) = x exactly, eta = omega = 0") {
        for (const std::size_t n : {1u, 6u, 50u}) {
            CAPTURE(n);
            const auto x = tv::make<float>(tv::shape::heavy_tailed, n, n);
            compk p(sparsify::comp_k{.k = n + 2, .k_prime = n + 5});
            compk_unscaled q(sparsify::comp_k_unscaled{.k = n, .k_prime = n});
            CHECK(p.sparsifier().eta(n) == 0.0);
            CHECK(p.sparsifier().omega(n) == 0.0);
            CHECK(q.sparsifier().alpha(n) == 1.0);
            for (int t = 0; t < 3; ++t) {
                std::vector<float> out(n), out2(n);
                p.decompress(std::span<const std::byte>(p.compress(std::span<const float>(x))),
                             std::span<float>(out));
                q.decompress(std::span<const std::byte>(q.compress(std::span<const float>(x))),
                             std::span<float>(out2));
                CHECK(out == x);
                CHECK(out2 == x);
            }
        }
    }
    SECTION("k' >= n > k: k uniform coordinates of all n, scaled by n/k") {
        const std::size_t n = 8;
        const auto x = tv::make<float>(tv::shape::gaussian, n, 1);
        compk p(sparsify::comp_k{.k = 2, .k_prime = 100});
        CHECK(p.sparsifier().eta(n) == 0.0);
        CHECK(p.sparsifier().omega(n) == 3.0);
        const auto msg = p.compress(std::span<const float>(x));
        const auto idx = tv::bitpack_indices(msg, n, 2);
        CHECK(tv::strictly_ascending(idx));
        std::vector<float> out(n);
        p.decompress(std::span<const std::byte>(msg), std::span<float>(out));
        for (auto i : idx)
            CHECK(out[i] == 4.0f * x[i]);
    }
}

TEST_CASE("comp_k draws from the sender's private stream, double input ranks like top_k",
          "[sparsify][comp_k][seed]") {
    const std::size_t n = 64;
    const auto x = tv::make<float>(tv::shape::gaussian, n, 4);
    compk a(sparsify::comp_k{.k = 4, .k_prime = 32}, {}, {}, seed{9}, stream{.worker = 0});
    compk b(sparsify::comp_k{.k = 4, .k_prime = 32}, {}, {}, seed{9}, stream{.worker = 1});
    std::size_t same = 0;
    for (int t = 0; t < 10; ++t) // equal 4-subsets of 32 by chance: 1/C(32, 4) ~ 3e-5 per step
        same += tv::bitpack_indices(a.compress(std::span<const float>(x)), n, 4) ==
                tv::bitpack_indices(b.compress(std::span<const float>(x)), n, 4);
    CHECK(same == 0);
    // k = k': top_k of the double values, decoded as their binary32 roundings.
    const std::vector<double> xd = {1.0 + 0x1p-30, -1.0, 0.5, 1.0};
    compk p(sparsify::comp_k{.k = 2, .k_prime = 2});
    const auto msg = p.compress(std::span<const double>(xd));
    std::vector<double> out(4);
    p.decompress(std::span<const std::byte>(msg), std::span<double>(out));
    CHECK(out == std::vector<double>{1.0, -1.0, 0.0, 0.0}); // |x_0| > |x_1| = |x_3|: lowest index
}
