// SPDX-License-Identifier: MIT
// quantize::terngrad and quantize::terngrad_clipped through the pipeline (OPERATORS.md A.7, A.13):
// - terngrad: E C(x) = x coordinate by coordinate, the measured omega matches the exact
//   omega(x) = ||x||_inf ||x||_1 / ||x||^2 - 1 and stays below (sqrt(d) - 1) / 2, on every test
//   shape;
// - the scale is max |x_i| exactly; a terngrad + bitpack message is 48 + 4 + ceil(2n / 8) bytes;
// - terngrad_clipped: s = clip sigma, E C(x)_i = sign(x_i) min(|x_i|, s); invalid clip rejected;
// - edge cases: n = 0, n = 1, zero, NaN / inf (qsgd's policy), malformed codes and scales.
//
// The law under test: s is a binary32 >= every |x_i| (float inputs: s = max |x_i| exactly);
// C_i = sign(x_i) s b_i, P(b_i = 1) = P_i with |P_i - |x_i| / s| <= 2^-32 (a 32-bit coin). Then
// E C_i = x_i up to s 2^-32, Var C_i = s^2 p_i (1 - p_i), and every decoded value (0, +-s) is
// exact in binary32.
//
// Statistical tolerances: a mean of N independent trials is checked within 6 sigma / sqrt(N) of
// its expectation (CLT; two-sided tail ~2e-9), sigma derived beside each check; seeds fixed.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/encode/bitpack.hpp>
#include <commpress/encode/elias_gamma.hpp>
#include <commpress/pipeline.hpp>
#include <commpress/quantize/terngrad.hpp>
#include <commpress/sparsify/identity.hpp>

#include "support/vectors.hpp"

namespace {

using namespace commpress;
namespace tv = commpress::testing;

using tern_packed = pipeline<sparsify::identity, quantize::terngrad, encode::bitpack>;
using tern_elias = pipeline<sparsify::identity, quantize::terngrad, encode::elias_gamma>;
using clip_packed = pipeline<sparsify::identity, quantize::terngrad_clipped, encode::bitpack>;

static_assert(quantizer<quantize::terngrad> && quantizer<quantize::terngrad_clipped>);
static_assert(tern_packed::unbiased && has_omega<tern_packed>);
static_assert(!clip_packed::unbiased && !has_omega<quantize::terngrad_clipped> &&
              !has_alpha<quantize::terngrad_clipped>);

bool verbose() { return std::getenv("COMMPRESS_TEST_VERBOSE") != nullptr; }

float scale_of(std::span<const std::byte> msg) {
    std::uint32_t v = 0;
    for (unsigned b = 0; b < 4; ++b)
        v |= std::uint32_t{std::to_integer<std::uint8_t>(msg[message_header::size + b])} << (8 * b);
    return std::bit_cast<float>(v);
}

struct result {
    double omega_hat = 0, omega_exact = 0;
};

/// N trials of a ternary pipeline on x; checks E C_i = t_i (t = x, or x clipped to [-s, s]) per
/// coordinate and returns the measured and exact E ||C(x) - t||^2 / ||x||^2.
template <class P>
result run(P& p, const std::vector<float>& x, std::size_t trials) {
    const std::size_t n = x.size();
    const double N = static_cast<double>(trials);
    std::vector<float> out(n);
    std::vector<double> sum(n, 0.0);
    double zsum = 0, s = 0;
    for (std::size_t t = 0; t < trials; ++t) {
        const auto msg = p.compress(std::span<const float>(x));
        const double st = scale_of(msg);
        if (t == 0)
            s = st;
        else if (st != s)
            FAIL("the scale changed between trials: " << s << " then " << st);
        p.decompress(std::span<const std::byte>(msg), std::span<float>(out));
        double z = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const double target = std::copysign(std::min<double>(std::abs(x[i]), s), x[i]);
            const double d = out[i] - target; // exact: both are binary32 of similar exponent
            z += d * d;
            sum[i] += out[i];
        }
        zsum += z;
    }
    const double norm2 = tv::norm2(x);
    result r;
    if (norm2 == 0 || s == 0) {
        for (std::size_t i = 0; i < n; ++i)
            CHECK(sum[i] == 0.0);
        return r;
    }
    // Per coordinate: mean within 6 sqrt(Var C_i / N) + s 2^-32 (coin) + N-term sum rounding
    // (terms are multiples of s: exact in double while N s fits in 53 bits, i.e. always here).
    std::size_t bad = 0;
    std::string first;
    double var_sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double a = std::min<double>(std::abs(x[i]), s), pi = a / s;
        const double var = s * s * pi * (1 - pi);
        var_sum += var;
        const double mean = sum[i] / N, target = std::copysign(a, x[i]);
        const double band = 6 * std::sqrt((var + s * s * 0x1p-32) / N) + s * 0x1p-32;
        if (!(std::abs(mean - target) <= band) && bad++ == 0)
            first = "coordinate " + std::to_string(i) + ": target " + std::to_string(target) +
                    ", mean " + std::to_string(mean) + ", band " + std::to_string(band);
    }
    INFO(first);
    CHECK(bad == 0);
    // omega: Z = sum_i T_i / ||x||^2, T_i = (C_i - t_i)^2 <= s^2 independent, so
    // Var Z <= s^2 / ||x||^2 E Z; the coin shifts each E T_i by <= s^2 2^-32; double sums of
    // n and N terms add (n + N) 2^-53 relative.
    r.omega_exact = var_sum / norm2;
    r.omega_hat = zsum / N / norm2;
    const double shift = static_cast<double>(n) * s * s * 0x1p-32 / norm2;
    const double band = 6 * std::sqrt(s * s / norm2 * (r.omega_exact + shift) / N) + shift +
                        static_cast<double>(n + trials) * 0x1p-53 * r.omega_hat;
    CAPTURE(r.omega_hat, r.omega_exact, band);
    CHECK(std::abs(r.omega_hat - r.omega_exact) <= band);
    return r;
}

} // namespace

TEST_CASE("terngrad is unbiased and omega(x) = |x|_inf |x|_1 / |x|^2 - 1 <= (sqrt(d) - 1) / 2",
          "[quantize][terngrad][theory]") {
    const std::size_t n = 160, trials = 3000;
    const double N = static_cast<double>(trials),
                 bound = (std::sqrt(static_cast<double>(n)) - 1) / 2;
    tern_packed p(sparsify::identity{}, quantize::terngrad{}, {}, seed{77});
    CHECK(p.omega(n) == Approx(bound).epsilon(1e-15));
    for (const tv::shape sh : tv::all_shapes) {
        CAPTURE(tv::name(sh));
        const auto x = tv::make<float>(sh, n, 31);
        const result r = run(p, x, trials);
        if (verbose())
            std::printf("terngrad %-12s omega_hat %.6f omega_exact %.6f bound %.6f\n", tv::name(sh),
                        r.omega_hat, r.omega_exact, bound);
        if (sh == tv::shape::zero)
            continue;
        // The closed form of A.7 on this x (s = max |x_i| exactly for float inputs).
        double inf = 0, l1 = 0;
        for (const float v : x) {
            inf = std::max<double>(inf, std::abs(v));
            l1 += std::abs(v);
        }
        CHECK(r.omega_exact == Approx(inf * l1 / tv::norm2(x) - 1).epsilon(1e-12).margin(1e-12));
        CHECK(r.omega_exact <= bound);
        // omega_hat is within run()'s band of omega_exact; that band is <= 6 sqrt(s^2 / ||x||^2
        // bound / N) + small with s^2 <= ||x||^2, so this covers it.
        CHECK(r.omega_hat <= bound + 6 * std::sqrt(bound / N) + 1e-6);
        if (sh == tv::shape::flat || sh == tv::shape::one_hot)
            CHECK(r.omega_hat == 0.0); // every |x_i| is 0 or s: deterministic and exact
    }
    // The worst case over x [D]: scale so that ||x||_inf = x_1 = 1; for a fixed S = sum of the
    // other |x_i|, ||x||^2 is smallest with the d - 1 others equal to t = S / (d - 1), so omega(x)
    // + 1 <= (1 + (d-1) t) / (1 + (d-1) t^2), maximised at t = 1 / (sqrt(d) + 1) where it equals
    // (sqrt(d) + 1) / 2. Hence sup omega = (sqrt(d) - 1) / 2, which the library's omega(m)
    // reports (A.7's sqrt(d) - 1 is a valid bound, a factor 2 above it).
    std::vector<float> w(n, static_cast<float>(1 / (std::sqrt(static_cast<double>(n)) + 1)));
    w[0] = 1;
    const result r = run(p, w, trials);
    double l1 = 0;
    for (const float v : w)
        l1 += v;
    CHECK(r.omega_exact == Approx(l1 / tv::norm2(w) - 1).epsilon(1e-12));
    // t is rounded to binary32: omega(w) is within 1e-6 relative of the supremum.
    CHECK(r.omega_exact == Approx(bound).epsilon(1e-6));
    if (verbose())
        std::printf("terngrad %-12s omega_hat %.6f omega_exact %.6f bound %.6f\n", "worst-case",
                    r.omega_hat, r.omega_exact, bound);
    CHECK(r.omega_exact <= bound * (1 + 1e-12)); // the supremum, up to rounding in omega_exact
}

TEST_CASE("terngrad sends max |x_i| exactly, doubles round up to binary32",
          "[quantize][terngrad][exact]") {
    for (const tv::shape sh : tv::all_shapes)
        for (const std::size_t n : {1u, 5u, 100u, 1000u}) {
            CAPTURE(tv::name(sh), n);
            const auto x = tv::make<float>(sh, n, 40 + n);
            tern_packed p;
            const auto msg = p.compress(std::span<const float>(x));
            float mx = 0;
            for (const float v : x)
                mx = std::max(mx, std::abs(v));
            CHECK(scale_of(msg) == mx);
            const auto xd = tv::make<double>(sh, n, 40 + n);
            double mxd = 0;
            for (const double v : xd)
                mxd = std::max(mxd, std::abs(v));
            const double sd = scale_of(p.compress(std::span<const double>(xd)));
            CHECK(sd >= mxd);
            if (mxd > 0) // the smallest binary32 >= max |x_i|
                CHECK(static_cast<double>(std::nextafter(static_cast<float>(sd), 0.0f)) < mxd);
        }
}

TEST_CASE("terngrad message size: 48 + 4 + ceil(2n / 8) bytes with bitpack",
          "[quantize][terngrad][bits]") {
    for (const std::size_t n : {0u, 1u, 3u, 4u, 5u, 64u, 1000u, 1001u}) {
        CAPTURE(n);
        tern_packed p;
        clip_packed c;
        const std::size_t want = n == 0 ? 48 : 48 + 4 + (2 * n + 7) / 8;
        CHECK(p.max_message_size(n) == want);
        CHECK(c.max_message_size(n) == want);
        const auto x = tv::make<float>(tv::shape::gaussian, n, n);
        CHECK(p.compress(std::span<const float>(x)).size() == want);
        CHECK(c.compress(std::span<const float>(x)).size() == want);
    }
    // A.13: b(TernGrad) = 2d + 32 bits of payload.
    tern_packed p;
    const auto x = tv::make<float>(tv::shape::gaussian, 1000, 2);
    CHECK(8 * (p.compress(std::span<const float>(x)).size() - message_header::size) ==
          2 * 1000 + 32);
}

TEST_CASE("terngrad_clipped: s = clip sigma, E C(x) = x clipped to plus or minus s",
          "[quantize][terngrad][clip]") {
    const std::size_t n = 200, trials = 3000;
    for (const double clip : {1.0, 2.5}) {
        for (const tv::shape sh :
             {tv::shape::gaussian, tv::shape::heavy_tailed, tv::shape::one_hot, tv::shape::flat}) {
            CAPTURE(clip, tv::name(sh));
            const auto x = tv::make<float>(sh, n, 55);
            // Reference sigma (population standard deviation), in long double.
            long double mean = 0, var = 0;
            for (const float v : x)
                mean += v;
            mean /= static_cast<long double>(n);
            for (const float v : x)
                var += (v - mean) * (v - mean);
            const double sigma = static_cast<double>(std::sqrt(var / static_cast<long double>(n)));
            clip_packed p(sparsify::identity{}, quantize::terngrad_clipped{.clip = clip}, {},
                          seed{9});
            const double s = scale_of(p.compress(std::span<const float>(x)));
            // Library: two double passes of n terms (relative error <= ~(n + 4) 2^-53 on var),
            // a sqrt and a product, then rounding to binary32 (2^-24): 2^-22 covers it.
            CHECK(s == Approx(clip * sigma).epsilon(0x1p-22));
            const result r = run(p, x, trials); // checks E C_i = sign(x_i) min(|x_i|, s)
            (void)r;
        }
    }
    SECTION("a constant tensor has sigma = 0: C(x) = 0") {
        clip_packed p;
        const std::vector<float> x(10, 3.0f);
        std::vector<float> out(10, 1.0f);
        p.decompress(std::span<const std::byte>(p.compress(std::span<const float>(x))),
                     std::span<float>(out));
        CHECK(out == std::vector<float>(10, 0.0f));
    }
}

TEST_CASE("terngrad_clipped rejects clip <= 0 or non-finite when the pipeline is built",
          "[quantize][terngrad][param]") {
    for (const double c : {0.0, -1.0, -0.0, std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::infinity()}) {
        CAPTURE(c);
        CHECK_THROWS_AS(clip_packed(sparsify::identity{}, quantize::terngrad_clipped{.clip = c}),
                        invalid_parameter);
        CHECK_THROWS_WITH(clip_packed(sparsify::identity{}, quantize::terngrad_clipped{.clip = c}),
                          Catch::Contains("terngrad_clipped: clip must be finite and > 0"));
    }
    CHECK_NOTHROW(clip_packed(sparsify::identity{}, quantize::terngrad_clipped{.clip = 1e-3}));
    CHECK(
        clip_packed(sparsify::identity{}, quantize::terngrad_clipped{.clip = 1.0}).fingerprint() !=
        clip_packed(sparsify::identity{}, quantize::terngrad_clipped{.clip = 2.0}).fingerprint());
}

TEST_CASE("terngrad edge cases: empty, one element, NaN and inf, malformed messages",
          "[quantize][terngrad][edge]") {
    SECTION("n = 0: no scale, no codes; Elias zero-run mode sends gamma(1)") {
        const std::vector<float> x;
        tern_packed p;
        tern_elias e;
        CHECK(p.compress(std::span<const float>(x)).size() == 48);
        const auto msg = e.compress(std::span<const float>(x));
        CHECK(msg.size() == 49);
        std::vector<float> out;
        CHECK_NOTHROW(e.decompress(std::span<const std::byte>(msg), std::span<float>(out)));
    }
    SECTION("n = 1: p = 1, so C(x) = x exactly") {
        for (const float v : {1.0f, -3.5f, 1e-30f, 3e38f, 0x1p-140f, 0.0f}) {
            CAPTURE(v);
            tern_packed p;
            const std::vector<float> x = {v};
            std::vector<float> out(1);
            for (int t = 0; t < 4; ++t) {
                p.decompress(std::span<const std::byte>(p.compress(std::span<const float>(x))),
                             std::span<float>(out));
                CHECK(out[0] == v);
            }
        }
    }
    SECTION("documented: NaN anywhere decodes to all NaN, inf to +-inf by sign; both encoders, "
            "both variants") {
        const float nan = std::numeric_limits<float>::quiet_NaN();
        const float inf = std::numeric_limits<float>::infinity();
        auto check = [](auto p, float bad) {
            auto x = tv::make<float>(tv::shape::gaussian, 12, 4);
            x[5] = bad;
            x[7] = 0.0f;
            x[8] = -0.0f;
            std::vector<float> out(x.size());
            p.decompress(std::span<const std::byte>(p.compress(std::span<const float>(x))),
                         std::span<float>(out));
            for (std::size_t i = 0; i < x.size(); ++i) {
                CAPTURE(i, out[i]);
                if (std::isnan(bad))
                    CHECK(std::isnan(out[i]));
                else
                    CHECK((std::isinf(out[i]) && std::signbit(out[i]) == std::signbit(x[i])));
            }
        };
        for (const float bad : {nan, inf, -inf}) {
            CAPTURE(bad);
            check(tern_packed{}, bad);
            check(tern_elias{}, bad);
            check(clip_packed{}, bad);
            check(pipeline<sparsify::identity, quantize::terngrad_clipped, encode::elias_gamma>{},
                  bad);
        }
    }
    SECTION("a zero tensor sends scale 0 and decodes to zeros") {
        const std::vector<float> x(9, 0.0f);
        tern_elias e;
        std::vector<float> out(9, 1.0f);
        const auto msg = e.compress(std::span<const float>(x));
        CHECK(msg.size() == 48 + 4 + 1); // scale + gamma(nnz + 1) = gamma(1)
        e.decompress(std::span<const std::byte>(msg), std::span<float>(out));
        CHECK(out == std::vector<float>(9, 0.0f));
    }
    SECTION("double inputs beyond FLT_MAX saturate at FLT_MAX (no UB)") {
        const std::vector<double> x = {1e300, -1e300, 1.0};
        tern_packed p;
        std::vector<double> out(3);
        p.decompress(std::span<const std::byte>(p.compress(std::span<const double>(x))),
                     std::span<double>(out));
        CHECK(out[0] == std::numeric_limits<float>::max());
        CHECK(out[1] == -std::numeric_limits<float>::max());
    }
    SECTION("decoding rejects code 3 and a negative scale") {
        tern_packed p;
        const std::vector<float> x = {1.0f, -0.5f, 0.25f, 0.0f};
        const auto msg = p.compress(std::span<const float>(x));
        std::vector<float> out(4, 42.0f);
        auto bad = msg;
        bad[message_header::size + 4] |= std::byte{0x03}; // code[0] = 3
        CHECK_THROWS_WITH(p.decompress(std::span<const std::byte>(bad), std::span<float>(out)),
                          Catch::Contains("payload.code[0]: 3 is not a valid terngrad code"));
        auto neg = msg;
        neg[message_header::size + 3] |= std::byte{0x80};
        CHECK_THROWS_WITH(p.decompress(std::span<const std::byte>(neg), std::span<float>(out)),
                          Catch::Contains("is not a valid terngrad scale"));
        CHECK(out == std::vector<float>(4, 42.0f));
    }
}
