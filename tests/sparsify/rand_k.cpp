// SPDX-License-Identifier: MIT
// sparsify::rand_k and rand_k_unscaled through the pipeline (OPERATORS.md A.3, A.13):
// - the index set: k sorted, distinct coordinates, uniform over k-subsets, shared by all workers
//   at a step unless `independent`, recreated by the decoder from the header;
// - scaled: E C(x) = x and E||C(x) - x||^2 = (n/k - 1)||x||^2 with equality for every x;
// - unscaled: E C(x) = (k/n) x and E||C(x) - x||^2 = (1 - k/n)||x||^2 (contraction in mean);
// - a rand_k + raw message is the 48-byte header plus 4k bytes (indices are never sent).
//
// Statistical tolerances. Every Monte Carlo mean below averages N independent trials (fresh
// Philox counters: the step advances with each compress). With a per-trial standard deviation
// sigma, the mean is within 6 sigma / sqrt(N) of its expectation except with probability about
// 2e-9 (central limit theorem; N >= 2000 of bounded terms), so even the few thousand such checks
// in this file pass by chance with probability > 1 - 1e-5. The seeds are fixed, so a run is
// reproducible; a failure means the law is wrong, not bad luck.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/recipes.hpp>

#include "support/vectors.hpp"

namespace {

using namespace commpress;
namespace tv = commpress::testing;

using randk = pipeline<sparsify::rand_k, quantize::identity, encode::raw>;
using randk_unscaled = pipeline<sparsify::rand_k_unscaled, quantize::identity, encode::raw>;

/// Reusable buffers for compress / decompress round trips without per-trial allocation.
template <class P>
struct round_tripper {
    P& p;
    std::vector<std::byte> buf;
    std::vector<float> out;

    round_tripper(P& pp, std::size_t n) : p(pp), buf(pp.max_message_size(n)), out(n) {}

    const std::vector<float>& operator()(const std::vector<float>& x) {
        const std::size_t size = p.compress(std::span<const float>(x), std::span<std::byte>(buf));
        p.decompress(std::span<const std::byte>(buf.data(), size), std::span<float>(out));
        return out;
    }
};

/// Coordinates where out is nonzero: the kept set when every x_i is nonzero.
std::vector<std::uint32_t> support(const std::vector<float>& out) {
    std::vector<std::uint32_t> s;
    for (std::size_t i = 0; i < out.size(); ++i)
        if (out[i] != 0.0f)
            s.push_back(static_cast<std::uint32_t>(i));
    return s;
}

/// x_i = i + 1: nonzero and distinct, so the decoded support is the kept set.
std::vector<float> ramp(std::size_t n) {
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i)
        x[i] = static_cast<float>(i + 1);
    return x;
}

/// Wilson-Hilferty: the chi-square(df) quantile at z standard deviations of the cube-root
/// normal approximation. z = +-6 bounds the statistic except with probability ~1e-9 per side.
double chi2_quantile(double df, double z) {
    const double a = 2.0 / (9.0 * df);
    const double c = 1.0 - a + z * std::sqrt(a);
    return df * c * c * c;
}

/// Variance of A = sum_{i in S} w_i, S a uniform k-subset of [n] (sampling without replacement):
/// Var A = k (1 - k/n) S^2 with S^2 = sum (w_i - mean w)^2 / (n - 1). Here sum w = 1.
double subset_sum_variance(const std::vector<double>& w, std::size_t k) {
    const double n = static_cast<double>(w.size()), kk = static_cast<double>(k);
    double ss = 0;
    for (double v : w)
        ss += (v - 1.0 / n) * (v - 1.0 / n);
    return kk * (1.0 - kk / n) * ss / (n - 1.0);
}

} // namespace

static_assert(recipes::rand_k::unbiased && has_omega<recipes::rand_k>);
static_assert(!randk_unscaled::unbiased && !has_omega<randk_unscaled> && has_alpha<randk_unscaled>);

TEST_CASE("rand_k draws k sorted, distinct coordinates below n", "[sparsify][rand_k][exact]") {
    // Both sampling paths: a bitmap when n <= 64 k, an open-addressing table otherwise.
    for (const std::size_t n : {1u, 2u, 10u, 64u, 100u, 1000u, 5000u, 100000u})
        for (const std::size_t k :
             {std::size_t{1}, std::size_t{2}, n / 100 + 1, n / 3 + 1, n - 1, n}) {
            if (k == 0 || k > n)
                continue;
            CAPTURE(n, k);
            const sparsify::rand_k s{.k = k};
            sparsify::rand_k::workspace ws;
            for (std::uint32_t step = 0; step < 5; ++step) {
                const draw_context c{seed{42}, 0, 0, step};
                const auto idx = s.implicit_indices(n, c, ws);
                REQUIRE(idx.size() == k);
                CHECK(std::adjacent_find(idx.begin(), idx.end(), std::greater_equal<>{}) ==
                      idx.end()); // strictly ascending, hence distinct
                CHECK(idx.back() < n);
                // select() returns the same coordinates and the values there.
                const auto x = ramp(n);
                const auto sel = s.select(std::span<const float>(x), c, ws);
                REQUIRE(sel.indices.size() == k);
                bool ok = true;
                for (std::size_t j = 0; j < k; ++j)
                    ok = ok && sel.values[j] == x[sel.indices[j]];
                CHECK(ok);
            }
            // Through a pipeline: the decoded support is k ascending coordinates as well.
            randk p(sparsify::rand_k{.k = k}, {}, {}, seed{7});
            round_tripper rt(p, n);
            CHECK(support(rt(ramp(n))).size() == k);
        }
}

TEST_CASE("rand_k shares the set across workers unless independent", "[sparsify][rand_k][seed]") {
    const std::size_t n = 64, k = 8;
    const auto x = ramp(n);
    for (const bool independent : {false, true}) {
        CAPTURE(independent);
        const sparsify::rand_k s{.k = k, .independent = independent};
        std::vector<randk> workers;
        for (std::uint32_t w = 0; w < 4; ++w)
            workers.emplace_back(s, quantize::identity{}, encode::raw{}, seed{2024}, stream{w, 0});
        std::set<std::vector<std::uint32_t>> seen;
        for (int step = 0; step < 10; ++step) {
            std::vector<std::vector<std::uint32_t>> sets;
            for (std::uint32_t w = 0; w < 4; ++w) {
                const auto msg = workers[w].compress(std::span<const float>(x));
                std::vector<float> own(n), at0(n);
                workers[w].decompress(std::span<const std::byte>(msg), std::span<float>(own));
                // The header carries worker and step: worker 0 decodes worker w's message alike.
                workers[0].decompress(std::span<const std::byte>(msg), std::span<float>(at0));
                CHECK(own == at0);
                sets.push_back(support(own));
                REQUIRE(sets.back().size() == k);
                seen.insert(sets.back());
            }
            for (std::uint32_t w = 1; w < 4; ++w)
                for (std::uint32_t v = 0; v < w; ++v) {
                    CAPTURE(step, w, v);
                    // Two independent uniform 8-subsets of 64 coincide with probability
                    // 1 / C(64, 8) ~ 2e-10: equal sets mean shared randomness.
                    if (independent)
                        CHECK(sets[w] != sets[v]);
                    else
                        CHECK(sets[w] == sets[v]);
                }
        }
        // Fresh sets at every step (a repeat among 10 or 40 draws has probability < 2e-7).
        CHECK(seen.size() == (independent ? 40u : 10u));
    }
    SECTION("another root seed draws another set, and its messages are refused") {
        randk a(sparsify::rand_k{.k = k}, {}, {}, seed{1}),
            b(sparsify::rand_k{.k = k}, {}, {}, seed{2});
        round_tripper ra(a, n), rb(b, n);
        CHECK(support(ra(x)) != support(rb(x)));
        const auto msg = a.compress(std::span<const float>(x));
        std::vector<float> out(n);
        CHECK_THROWS_AS(b.decompress(std::span<const std::byte>(msg), std::span<float>(out)),
                        decode_error);
    }
}

TEST_CASE("rand_k index sets are uniform (chi-square)", "[sparsify][rand_k][stats]") {
    SECTION("every 3-subset of 6 coordinates is equally likely") {
        // 20 subsets, N = 20000 draws, 1000 expected each: X^2 ~ chi-square(19).
        const std::size_t n = 6, k = 3, trials = 20000;
        randk p(sparsify::rand_k{.k = k}, {}, {}, seed{11});
        round_tripper rt(p, n);
        std::map<std::vector<std::uint32_t>, std::size_t> count;
        for (std::size_t t = 0; t < trials; ++t)
            ++count[support(rt(ramp(n)))];
        REQUIRE(count.size() == 20);
        const double e = static_cast<double>(trials) / 20.0;
        double x2 = 0;
        for (const auto& [set, c] : count)
            x2 += (static_cast<double>(c) - e) * (static_cast<double>(c) - e) / e;
        CAPTURE(x2);
        CHECK(x2 <= chi2_quantile(19, 6));  // ~83: far above chance, far below a biased sampler
        CHECK(x2 >= chi2_quantile(19, -6)); // ~0.7: not suspiciously even (e.g. round robin)
    }
    // Per-coordinate inclusion counts c_i over N draws. Marginally c_i ~ Binomial(N, p), p = k/n;
    // within a draw the indicators are negatively correlated (they sum to k), so the covariance of
    // c is N p (1 - p) n/(n - 1) (I - J/n) and Y = sum (c_i - Np)^2 / (N p (1 - p) n/(n - 1)) is
    // approximately chi-square(n - 1). Each single count is also checked: its z-score
    // (c_i - Np) / sqrt(N p (1 - p)) is within +-6 except with probability ~2e-9 per coordinate
    // (CLT; Np >= 100 here), so a sampler that favours or avoids one coordinate (a boundary bug)
    // fails even when the sum over n - 1 degrees of freedom hides it. Both sampling paths run:
    // bitmap (n <= 64 k) and hash table (n > 64 k: 65/1, 200/2, 1000/5).
    struct cfg {
        std::size_t n, k;
        bool independent;
    };
    for (const cfg c :
         {cfg{64, 8, false}, cfg{1000, 5, false}, cfg{1000, 5, true}, cfg{97, 40, true},
          cfg{65, 1, false}, cfg{200, 2, true}, cfg{6, 5, false}}) {
        CAPTURE(c.n, c.k, c.independent);
        const std::size_t trials = 20000;
        randk p(sparsify::rand_k{.k = c.k, .independent = c.independent}, {}, {}, seed{12},
                stream{3, 1});
        round_tripper rt(p, c.n);
        std::vector<double> count(c.n, 0.0);
        const auto x = ramp(c.n);
        for (std::size_t t = 0; t < trials; ++t)
            for (std::uint32_t i : support(rt(x)))
                count[i] += 1;
        const double n = static_cast<double>(c.n), pk = static_cast<double>(c.k) / n;
        const double N = static_cast<double>(trials);
        double y = 0;
        for (double ci : count)
            y += (ci - N * pk) * (ci - N * pk);
        y /= N * pk * (1 - pk) * n / (n - 1);
        CAPTURE(y);
        CHECK(y <= chi2_quantile(n - 1, 6));
        CHECK(y >= chi2_quantile(n - 1, -6));
        double max_z = 0;
        for (double ci : count)
            max_z = std::max(max_z, std::abs(ci - N * pk) / std::sqrt(N * pk * (1 - pk)));
        CAPTURE(max_z);
        CHECK(max_z <= 6);
    }
}

TEST_CASE("scaled rand_k is unbiased with omega = n/k - 1 exactly, on every test shape",
          "[sparsify][rand_k][theory]") {
    struct cfg {
        std::size_t n, k;
    };
    const std::size_t trials = 4000;
    const double N = static_cast<double>(trials);
    for (const cfg c : {cfg{64, 16}, cfg{96, 32}, cfg{256, 32}})
        for (const bool independent : {false, true})
            for (const tv::shape s : tv::all_shapes) {
                CAPTURE(c.n, c.k, independent, tv::name(s));
                const auto x = tv::make<float>(s, c.n, 31 * c.n + c.k);
                randk p(sparsify::rand_k{.k = c.k, .independent = independent}, {}, {}, seed{99},
                        stream{5, 2});
                const double ratio = static_cast<double>(c.n) / static_cast<double>(c.k);
                const double omega = ratio - 1;
                REQUIRE(p.omega(c.n) == omega);
                round_tripper rt(p, c.n);
                const double norm2 = tv::norm2(x);
                std::vector<double> sum(c.n, 0.0);
                double zsum = 0, slack = 0, ipsum = 0, ipslack = 0;
                std::size_t nonzero_out = 0;
                for (std::size_t t = 0; t < trials; ++t) {
                    const auto& out = rt(x);
                    double z = 0, sl = 0;
                    for (std::size_t i = 0; i < c.n; ++i) {
                        const double ci = out[i], xi = x[i];
                        sum[i] += ci;
                        ipsum += ci * xi;
                        nonzero_out += ci != 0.0;
                        z += (ci - xi) * (ci - xi);
                        // Decoding rounds (n/k) x_i to binary32: |error| <= d = 2^-24 |C_i| +
                        // 2^-150 (normal or subnormal result), which moves (C_i - x_i)^2 by at
                        // most (2 |C_i - x_i| + d) d.
                        const double d = ci != 0.0 ? 0x1p-24 * std::abs(ci) + 0x1p-150 : 0.0;
                        sl += (2 * std::abs(ci - xi) + d) * d;
                        ipslack += std::abs(xi) * d;
                    }
                    if (norm2 > 0) {
                        zsum += z / norm2;
                        // plus double rounding of the n-term sums: relative (n + 4) 2^-53
                        slack += sl / norm2 + static_cast<double>(c.n + 4) * 0x1p-53 * z / norm2;
                    }
                }
                if (s == tv::shape::zero) {
                    CHECK(nonzero_out == 0); // C(0) = 0 exactly
                    continue;
                }
                // Unbiasedness, per coordinate: C_i = (n/k) x_i w.p. k/n, else 0, so
                // Var C_i = (n/k - 1) x_i^2; plus the decoding bias <= 2^-24 |x_i| + 2^-150
                // (doubled for the double-precision accumulation of N terms).
                std::size_t bad = 0, first = c.n;
                for (std::size_t i = 0; i < c.n; ++i) {
                    const double xi = x[i], mean = sum[i] / N;
                    const double band =
                        6 * std::abs(xi) * std::sqrt(omega / N) + 0x1p-23 * std::abs(xi) + 0x1p-149;
                    if (!(std::abs(mean - xi) <= band)) {
                        ++bad;
                        first = std::min(first, i);
                    }
                }
                INFO("first biased coordinate " << first);
                CHECK(bad == 0);
                // omega. With A = sum_{i in S} x_i^2 / ||x||^2 (E A = k/n), a trial gives
                // Z = ||C(x) - x||^2 / ||x||^2 = 1 + ((n/k - 1)^2 - 1) A exactly, so E Z = n/k - 1
                // for every x and Var Z = ((n/k - 1)^2 - 1)^2 Var A (Var A: subset_sum_variance).
                // Flat vectors have Var A = 0: every trial gives n/k - 1 up to rounding.
                std::vector<double> w(c.n);
                for (std::size_t i = 0; i < c.n; ++i)
                    w[i] = static_cast<double>(x[i]) * x[i] / norm2;
                // Unbiasedness in aggregate: <C(x), x> / ||x||^2 = (n/k) A has mean 1 and
                // variance (n/k)^2 Var A (0 for flat x, so a wrong scale shows at once). Decoding
                // moves each term by <= |x_i| d_i (d_i as above), and the N n-term double sum
                // adds (N + n) 2^-53 relative (x2 for the products).
                const double ip = ipsum / N / norm2;
                const double ip_band = 6 * ratio * std::sqrt(subset_sum_variance(w, c.k) / N) +
                                       ipslack / N / norm2 +
                                       static_cast<double>(trials + c.n) * 0x1p-52 * ratio;
                CAPTURE(ip, ip_band);
                CHECK(std::abs(ip - 1) <= ip_band);
                const double amp = std::abs(omega * omega - 1);
                // Rounding: slack / N from the decoded values and the per-trial sums, plus
                // N 2^-53 relative for accumulating the N trial values.
                const double band = 6 * amp * std::sqrt(subset_sum_variance(w, c.k) / N) +
                                    slack / N + N * 0x1p-53 * omega;
                const double measured = zsum / N;
                CAPTURE(measured, omega, band);
                CHECK(std::abs(measured - omega) <= band);
            }
}

TEST_CASE("unscaled rand_k: E C(x) = (k/n) x and contraction in mean, alpha = k/n",
          "[sparsify][rand_k][theory]") {
    const std::size_t trials = 4000;
    const double N = static_cast<double>(trials);
    for (const std::size_t n : {64u, 200u})
        for (const std::size_t k : {std::size_t{1}, n / 8, n / 2})
            for (const tv::shape s : tv::all_shapes) {
                CAPTURE(n, k, tv::name(s));
                const auto x = tv::make<float>(s, n, 5 * n + k);
                randk_unscaled p(sparsify::rand_k_unscaled{.k = k}, {}, {}, seed{3});
                const double alpha = static_cast<double>(k) / static_cast<double>(n);
                REQUIRE(p.alpha(n) == alpha);
                round_tripper rt(p, n);
                const double norm2 = tv::norm2(x);
                std::vector<double> sum(n, 0.0);
                double zsum = 0;
                std::size_t not_projection = 0;
                for (std::size_t t = 0; t < trials; ++t) {
                    const auto& out = rt(x);
                    double z = 0;
                    for (std::size_t i = 0; i < n; ++i) {
                        // C(x) = x_S exactly: each entry is x_i, bit for bit, or +0.
                        if (std::bit_cast<std::uint32_t>(out[i]) !=
                                std::bit_cast<std::uint32_t>(x[i]) &&
                            std::bit_cast<std::uint32_t>(out[i]) != 0u)
                            ++not_projection;
                        const double d = static_cast<double>(out[i]) - x[i];
                        z += d * d; // exact squares (0 or x_i^2)
                        sum[i] += out[i];
                    }
                    if (norm2 > 0)
                        zsum += z / norm2;
                }
                CHECK(not_projection == 0);
                std::size_t bad = 0;
                for (std::size_t i = 0; i < n; ++i) {
                    // C_i = x_i w.p. k/n, else 0: Var C_i = alpha (1 - alpha) x_i^2.
                    const double xi = x[i];
                    const double band = 6 * std::abs(xi) * std::sqrt(alpha * (1 - alpha) / N) +
                                        0x1p-45 * std::abs(xi);
                    bad += !(std::abs(sum[i] / N - alpha * xi) <= band);
                }
                CHECK(bad == 0);
                if (norm2 == 0)
                    continue;
                // Z = 1 - A (A as in the scaled test): E Z = 1 - k/n, Var Z = Var A. Rounding:
                // the n-term sums of a trial and the N-term sum of the trials add at most
                // (n + N + 2) 2^-53 relative error (Z <= 1).
                std::vector<double> w(n);
                for (std::size_t i = 0; i < n; ++i)
                    w[i] = static_cast<double>(x[i]) * x[i] / norm2;
                const double band = 6 * std::sqrt(subset_sum_variance(w, k) / N) +
                                    (static_cast<double>(n + 2) + N) * 0x1p-53;
                const double measured = zsum / N;
                CAPTURE(measured, band);
                CHECK(std::abs(measured - (1 - alpha)) <= band);
                CHECK(measured <= (1 - p.alpha(n)) + band);
            }
}

TEST_CASE("rand_k message size is the header plus 4k bytes", "[sparsify][rand_k][bits]") {
    struct row {
        double ratio;
        std::size_t k, n, kept;
    };
    const row rows[] = {{0.01, 0, 1000, 10}, {0.1, 0, 30, 3}, {0.5, 0, 1, 1},  {1.0, 0, 77, 77},
                        {0.01, 5, 1000, 5},  {0.5, 0, 0, 0},  {0.2, 50, 7, 7}, {1e-6, 0, 100, 1}};
    for (const row& r : rows) {
        CAPTURE(r.ratio, r.k, r.n);
        randk p(sparsify::rand_k{.ratio = r.ratio, .k = r.k});
        REQUIRE(p.sparsifier().kept(r.n) == r.kept);
        const std::size_t want = message_header::size + 4 * r.kept;
        CHECK(p.max_message_size(r.n) == want);
        const auto x = tv::make<float>(tv::shape::gaussian, r.n, 8);
        CHECK(p.compress(std::span<const float>(x)).size() == want);
        randk_unscaled q(sparsify::rand_k_unscaled{.ratio = r.ratio, .k = r.k});
        CHECK(q.compress(std::span<const float>(x)).size() == want);
    }
    recipes::rand_k r(sparsify::rand_k{.ratio = 0.05});
    const auto x = tv::make<float>(tv::shape::gaussian, 200, 1);
    CHECK(r.compress(std::span<const float>(x)).size() == 48 + 4 * 10);
}

TEST_CASE("rand_k rejects a ratio outside 0 < ratio <= 1 with invalid_parameter",
          "[sparsify][rand_k][param]") {
    const double bad[] = {0.0, -1.0, 1.5, std::numeric_limits<double>::quiet_NaN(),
                          std::numeric_limits<double>::infinity()};
    for (const double r : bad) {
        CAPTURE(r);
        CHECK_THROWS_AS(randk(sparsify::rand_k{.ratio = r}), invalid_parameter);
        CHECK_THROWS_WITH(randk(sparsify::rand_k{.ratio = r}),
                          Catch::Contains("rand_k: ratio must be in (0, 1]"));
        CHECK_THROWS_WITH(randk_unscaled(sparsify::rand_k_unscaled{.ratio = r}),
                          Catch::Contains("rand_k_unscaled: ratio must be in (0, 1]"));
    }
    CHECK_THROWS_WITH(randk(sparsify::rand_k{.ratio = std::numeric_limits<double>::quiet_NaN()}),
                      Catch::Contains("got nan"));
    CHECK_NOTHROW(randk(sparsify::rand_k{.ratio = 1.0}));
    CHECK_NOTHROW(randk(sparsify::rand_k{.ratio = -1.0, .k = 3})); // k given: ratio unused
}

TEST_CASE("rand_k edge cases: empty, one element, k >= n, NaN and infinities",
          "[sparsify][rand_k][edge]") {
    SECTION("n = 0") {
        randk p(sparsify::rand_k{.ratio = 0.5});
        const std::vector<float> x;
        const auto msg = p.compress(std::span<const float>(x));
        CHECK(msg.size() == message_header::size);
        std::vector<float> out;
        CHECK_NOTHROW(p.decompress(std::span<const std::byte>(msg), std::span<float>(out)));
        CHECK(p.omega(0) == 0.0);
    }
    SECTION("n = 1 and k >= n: C(x) = x exactly, omega = 0") {
        for (const std::size_t n : {1u, 5u, 64u}) {
            const auto x = tv::make<float>(tv::shape::heavy_tailed, n, n);
            randk p(sparsify::rand_k{.ratio = 0.001, .k = n == 1 ? 0 : n + 3});
            CHECK(p.omega(n) == 0.0);
            round_tripper rt(p, n);
            for (int t = 0; t < 3; ++t)
                CHECK(rt(x) == x);
        }
    }
    SECTION("NaN and inf pass through where kept, scaled by n/k; 0 elsewhere") {
        const float nan = std::numeric_limits<float>::quiet_NaN();
        const float inf = std::numeric_limits<float>::infinity();
        const std::vector<float> x = {inf, nan, 1.0f, -inf};
        randk p(sparsify::rand_k{.k = 2});
        round_tripper rt(p, x.size());
        std::size_t kept_nan = 0, kept_inf = 0, wrong = 0;
        for (int t = 0; t < 200; ++t) {
            const auto& out = rt(x);
            kept_inf += out[0] == inf;
            kept_nan += std::isnan(out[1]);
            wrong += !(out[0] == inf || out[0] == 0.0f) + !(std::isnan(out[1]) || out[1] == 0.0f) +
                     !(out[2] == 2.0f || out[2] == 0.0f) + !(out[3] == -inf || out[3] == 0.0f);
        }
        CHECK(wrong == 0);
        // Each is kept w.p. 1/2 over 200 steps: 100 +- 6 * sqrt(50) ~ 42.
        CHECK(kept_inf > 58);
        CHECK(kept_inf < 142);
        CHECK(kept_nan > 58);
        CHECK(kept_nan < 142);
    }
    SECTION("double input decodes like the binary32-rounded input") {
        const std::vector<double> x = {1.0 + 0x1p-30, -3.0, 0.1, 7.0};
        randk p(sparsify::rand_k{.k = 4});
        const auto msg = p.compress(std::span<const double>(x));
        std::vector<double> out(x.size());
        p.decompress(std::span<const std::byte>(msg), std::span<double>(out));
        for (std::size_t i = 0; i < x.size(); ++i)
            CHECK(out[i] == static_cast<double>(static_cast<float>(x[i])));
    }
}
