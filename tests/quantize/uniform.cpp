// SPDX-License-Identifier: MIT
// quantize::uniform (round to nearest) and quantize::uniform_sr (stochastic rounding) through the
// pipeline:
// - uniform: |C(x)_i - x_i| <= Delta / 2 + slack on every shape, min and max exact, and
//   ||C(x) - x||^2 <= (1 - alpha) ||x||^2 + slack with alpha = 1 - (d - 2) / (2 L^2);
// - uniform_sr: E C(x) = x per coordinate, measured omega matches the data-dependent
//   sum Delta^2 p (1 - p) / ||x||^2 and stays below omega = (d - 2) / (2 L^2), tight on
//   (a, -a, 0, ..., 0);
// - message size 48 + 8 buckets + ceil(b n / 8) with bitpack; bits outside 1..8 rejected;
// - edge cases: n = 0 / 1, constant buckets, NaN / inf buckets, huge doubles, bad codes.
//
// Notation: per bucket mn, mx (binary32; exact min / max for float inputs), L = 2^b - 1,
// Delta = (mx - mn) / L, M = max(|mn|, |mx|). Decoding computes mn + k Delta in double and rounds
// to binary32. Slack of one decoded value against exact mn + k Delta [D]: the double steps
// (mx - mn, / L, * k, + mn) each err by <= 2^-53 of a quantity <= 2 M, k <= 255, so <= 2^-44 M
// in all; the binary32 rounding adds <= 2^-24 M + 2^-150 (half an ulp, subnormals included). The
// rounding decision uses t = (x - mn) / (mx - mn) L, off by <= 2^-50 L: picking the other level
// near a tie costs <= 2^-50 L Delta <= 2^-42 M. Hence slack(M) = 2^-24 M + 2^-41 M + 2^-150.
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
#include <commpress/quantize/uniform.hpp>
#include <commpress/recipes.hpp>
#include <commpress/sparsify/identity.hpp>

#include "support/vectors.hpp"

namespace {

using namespace commpress;
namespace tv = commpress::testing;

using uni_packed = pipeline<sparsify::identity, quantize::uniform, encode::bitpack>;
using sr_packed = pipeline<sparsify::identity, quantize::uniform_sr, encode::bitpack>;

static_assert(quantizer<quantize::uniform> && quantizer<quantize::uniform_sr>);
static_assert(!uni_packed::unbiased && has_alpha<uni_packed> && !has_omega<quantize::uniform>);
static_assert(sr_packed::unbiased && has_omega<sr_packed> && !has_alpha<quantize::uniform_sr>);
static_assert(!quantize::uniform::zero_code_is_zero && !quantize::uniform_sr::zero_code_is_zero);

bool verbose() { return std::getenv("COMMPRESS_TEST_VERBOSE") != nullptr; }

float scale_at(std::span<const std::byte> msg, std::size_t k) {
    std::uint32_t v = 0;
    for (unsigned b = 0; b < 4; ++b)
        v |= std::uint32_t{std::to_integer<std::uint8_t>(msg[message_header::size + 4 * k + b])}
             << (8 * b);
    return std::bit_cast<float>(v);
}

double slack(double M) { return 0x1p-24 * M + 0x1p-41 * M + 0x1p-150; }

struct bucket_info {
    double mn, mx, delta, M;
};

std::vector<bucket_info> buckets_of(std::span<const std::byte> msg, std::size_t n,
                                    std::size_t bucket, unsigned bits) {
    const std::size_t count = n == 0 ? 0 : bucket ? (n + bucket - 1) / bucket : 1;
    std::vector<bucket_info> b(count);
    const double L = static_cast<double>((1u << bits) - 1);
    for (std::size_t k = 0; k < count; ++k) {
        b[k].mn = scale_at(msg, 2 * k);
        b[k].mx = scale_at(msg, 2 * k + 1);
        b[k].delta = (b[k].mx - b[k].mn) / L;
        b[k].M = std::max(std::abs(b[k].mn), std::abs(b[k].mx));
    }
    return b;
}

} // namespace

TEST_CASE("uniform rounds to nearest: |C(x)_i - x_i| <= Delta / 2 + slack, contraction",
          "[quantize][uniform][exact]") {
    for (const unsigned bits : {1u, 2u, 3u, 5u, 8u})
        for (const std::size_t bucket : {std::size_t{0}, std::size_t{7}, std::size_t{64}})
            for (const tv::shape sh : tv::all_shapes)
                for (const std::size_t n : {1u, 2u, 50u, 300u}) {
                    CAPTURE(bits, bucket, tv::name(sh), n);
                    const auto x = tv::make<float>(sh, n, 70 + n + bits);
                    uni_packed p(sparsify::identity{},
                                 quantize::uniform{.bits = bits, .bucket = bucket});
                    const auto msg = p.compress(std::span<const float>(x));
                    std::vector<float> out(n);
                    p.decompress(std::span<const std::byte>(msg), std::span<float>(out));
                    const auto bk = buckets_of(msg, n, bucket, bits);
                    const std::size_t b = bucket ? bucket : n;
                    double err2 = 0, extra = 0;
                    std::size_t bad = 0;
                    for (std::size_t i = 0; i < n; ++i) {
                        const bucket_info& q = bk[i / b];
                        const double e = std::abs(static_cast<double>(out[i]) - x[i]);
                        const double sl = slack(q.M);
                        if (static_cast<double>(x[i]) == q.mn || static_cast<double>(x[i]) == q.mx)
                            bad += out[i] != x[i]; // min and max are sent: exact
                        bad += !(e <= q.delta / 2 + sl);
                        err2 += e * e;
                        extra += (q.delta + sl) * sl; // (D/2 + sl)^2 - (D/2)^2
                    }
                    CHECK(bad == 0);
                    // [D] (uniform.hpp): err2 <= r ||x||^2, r = (d - 2) / (2 L^2), in exact
                    // arithmetic, plus the per-entry slack and 2^-50 for the n-term sums. The
                    // pipeline's alpha is 1 - r, or 0 (no guarantee) when r >= 1.
                    const double norm2 = tv::norm2(x);
                    const double L = static_cast<double>((1u << bits) - 1);
                    const double d = static_cast<double>(std::min(b, n));
                    const double r = d <= 2 ? 0.0 : (d - 2) / (2 * L * L);
                    CHECK(p.alpha(n) == Approx(r < 1 ? 1 - r : 0.0).margin(1e-15));
                    CHECK(err2 <= r * norm2 * (1 + 0x1p-50) + extra);
                    for (std::size_t k = 0; k < bk.size(); ++k) // float inputs: exact min, max
                        CHECK(bk[k].mn <= bk[k].mx);
                }
}

TEST_CASE("uniform alpha = 1 - (d - 2) / (2 L^2) is attained by (a, -a, 0, ..., 0)",
          "[quantize][uniform][theory]") {
    // (d - 2) / (2 L^2) < 1 needs L^2 > 49 for d = 100: b >= 4.
    for (const unsigned bits : {4u, 5u, 8u}) {
        const std::size_t n = 100;
        std::vector<float> x(n, 0.0f);
        x[3] = 0.75f;
        x[50] = -0.75f;
        uni_packed p(sparsify::identity{}, quantize::uniform{.bits = bits});
        std::vector<float> out(n);
        p.decompress(std::span<const std::byte>(p.compress(std::span<const float>(x))),
                     std::span<float>(out));
        double err2 = 0;
        for (std::size_t i = 0; i < n; ++i)
            err2 += (static_cast<double>(out[i]) - x[i]) * (out[i] - x[i]);
        const double L = static_cast<double>((1u << bits) - 1);
        CAPTURE(bits, err2);
        // 0 is exactly halfway (L odd): each of the 98 zeros errs by Delta / 2 = 0.75 / L, up to
        // the binary32 rounding of +-0.75 / L (relative 2^-24).
        CHECK(err2 / tv::norm2(x) == Approx(1 - p.alpha(n)).epsilon(1e-6));
        // 1 - alpha cancels: alpha is within 2^-53 of 1, so 1 - alpha is off by <= 2^-53 / 7e-4.
        CHECK(1 - p.alpha(n) == Approx(98 / (2 * L * L)).epsilon(1e-12));
    }
    // b = 1, d >= 4: (d - 2) / 2 >= 1, no guarantee: alpha = 0. d <= 2: exact, alpha = 1.
    CHECK(uni_packed(sparsify::identity{}, quantize::uniform{.bits = 1}).alpha(100) == 0.0);
    CHECK(uni_packed(sparsify::identity{}, quantize::uniform{.bits = 1}).alpha(2) == 1.0);
    CHECK(uni_packed(sparsify::identity{}, quantize::uniform{.bits = 8, .bucket = 2}).alpha(99) ==
          1.0);
}

TEST_CASE("uniform_sr is unbiased, omega(x) <= (d - 2) / (2 L^2), tight on (a, -a, 0, ...)",
          "[quantize][uniform][theory]") {
    const std::size_t n = 128, trials = 1500;
    const double N = static_cast<double>(trials);
    struct config {
        unsigned bits;
        std::size_t bucket;
    };
    for (const config cf : {config{1, 0}, config{3, 0}, config{8, 0}, config{2, 32}}) {
        const double L = static_cast<double>((1u << cf.bits) - 1);
        const double d = static_cast<double>(cf.bucket ? cf.bucket : n);
        const double bound = (d - 2) / (2 * L * L);
        sr_packed p(sparsify::identity{},
                    quantize::uniform_sr{.bits = cf.bits, .bucket = cf.bucket}, {}, seed{5});
        // The pipeline computes (1 + 0)(1 + omega) - 1: the cancellation costs ~2^-53 / omega.
        CHECK(p.omega(n) == Approx(bound).epsilon(1e-10));
        std::vector<std::vector<float>> inputs;
        std::vector<std::string> names;
        for (const tv::shape sh : tv::all_shapes) {
            inputs.push_back(tv::make<float>(sh, n, 90 + cf.bits));
            names.emplace_back(tv::name(sh));
        }
        std::vector<float> tight(n, 0.0f); // the equality case of the bound, per bucket
        for (std::size_t i = 0; i < n; i += cf.bucket ? cf.bucket : n) {
            tight[i] = 2.0f;
            tight[i + 1] = -2.0f;
        }
        inputs.push_back(tight);
        names.emplace_back("tight");
        for (std::size_t v = 0; v < inputs.size(); ++v) {
            const auto& x = inputs[v];
            CAPTURE(cf.bits, cf.bucket, names[v]);
            std::vector<float> out(n);
            std::vector<double> sum(n, 0.0);
            std::vector<bucket_info> bk;
            double zsum = 0;
            for (std::size_t t = 0; t < trials; ++t) {
                const auto msg = p.compress(std::span<const float>(x));
                if (t == 0)
                    bk = buckets_of(msg, n, cf.bucket, cf.bits);
                p.decompress(std::span<const std::byte>(msg), std::span<float>(out));
                double z = 0;
                for (std::size_t i = 0; i < n; ++i) {
                    const double e = static_cast<double>(out[i]) - x[i];
                    z += e * e;
                    sum[i] += out[i];
                }
                zsum += z;
            }
            const std::size_t b = cf.bucket ? cf.bucket : n;
            const double norm2 = tv::norm2(x);
            // The law: t = (x - mn) / Delta, p = t - floor t; Var C_i = Delta^2 p (1 - p).
            // The coin and t are off by <= 2^-32 + 2^-50 L in probability: bias <= Delta 2^-31.
            double var_sum = 0, dmax2 = 0, z_round = 0;
            std::size_t bad = 0;
            std::string first;
            for (std::size_t i = 0; i < n; ++i) {
                const bucket_info& q = bk[i / b];
                const double tt = q.delta > 0 ? (x[i] - q.mn) / q.delta : 0;
                const double pi = tt - std::floor(tt);
                const double var = q.delta * q.delta * pi * (1 - pi);
                var_sum += var;
                dmax2 = std::max(dmax2, q.delta * q.delta);
                const double sl = slack(q.M);
                z_round += (2 * q.delta + sl) * sl; // |C - x| < Delta + sl
                const double mean = sum[i] / N;
                const double band = 6 * std::sqrt((var + q.delta * q.delta * 0x1p-31) / N) +
                                    q.delta * 0x1p-31 + sl + 0x1p-50 * std::abs(mean);
                if (!(std::abs(mean - x[i]) <= band) && bad++ == 0)
                    first = "coordinate " + std::to_string(i) + ": x = " + std::to_string(x[i]) +
                            ", mean = " + std::to_string(mean) + ", band = " + std::to_string(band);
            }
            INFO(first);
            CHECK(bad == 0);
            if (norm2 == 0) {
                CHECK(zsum == 0.0);
                continue;
            }
            const double omega_exact = var_sum / norm2, omega_hat = zsum / N / norm2;
            // Z = sum T_i / ||x||^2 with independent T_i <= (Delta + sl)^2: Var Z <= Delta_max^2 /
            // ||x||^2 E Z (to first order); plus rounding z_round / ||x||^2, coin shift
            // n Delta^2 2^-31 / ||x||^2, and (n + N) 2^-53 relative for the double sums.
            const double shift = static_cast<double>(n) * dmax2 * 0x1p-31 / norm2;
            const double band = 6 * std::sqrt(dmax2 * 1.01 / norm2 * (omega_exact + shift) / N) +
                                shift + z_round / norm2 +
                                static_cast<double>(n + trials) * 0x1p-53 * omega_hat;
            CAPTURE(omega_hat, omega_exact, bound, band);
            CHECK(std::abs(omega_hat - omega_exact) <= band);
            // The worst-case bound [D], exact arithmetic: omega_exact <= bound (binary32 min/max
            // are exact for float inputs; t is off by 2^-50 L relative, so 1e-9 covers it).
            CHECK(omega_exact <= bound * (1 + 1e-9) + 1e-12);
            CHECK(omega_hat <= bound * (1 + 1e-9) + band);
            if (names[v] == "tight")
                CHECK(omega_exact == Approx(bound).epsilon(1e-9));
            if (verbose())
                std::printf("uniform_sr b=%u bucket=%-3zu %-12s omega_hat %.6g omega_exact %.6g "
                            "bound %.6g\n",
                            cf.bits, cf.bucket, names[v].c_str(), omega_hat, omega_exact, bound);
        }
    }
}

TEST_CASE("uniform message size: 48 + 8 per bucket + ceil(b n / 8) bytes with bitpack",
          "[quantize][uniform][bits]") {
    for (const unsigned bits : {1u, 2u, 3u, 7u, 8u})
        for (const std::size_t n : {0u, 1u, 7u, 64u, 1000u})
            for (const std::size_t bucket : {std::size_t{0}, std::size_t{10}, std::size_t{64}}) {
                CAPTURE(bits, n, bucket);
                const std::size_t buckets = n == 0 ? 0 : bucket ? (n + bucket - 1) / bucket : 1;
                const std::size_t want = 48 + 8 * buckets + (bits * n + 7) / 8;
                uni_packed p(sparsify::identity{},
                             quantize::uniform{.bits = bits, .bucket = bucket});
                sr_packed q(sparsify::identity{},
                            quantize::uniform_sr{.bits = bits, .bucket = bucket});
                CHECK(p.max_message_size(n) == want);
                CHECK(q.max_message_size(n) == want);
                const auto x = tv::make<float>(tv::shape::heavy_tailed, n, n);
                CHECK(p.compress(std::span<const float>(x)).size() == want);
                CHECK(q.compress(std::span<const float>(x)).size() == want);
            }
}

TEST_CASE("uniform rejects bits outside 1 .. 8 when the pipeline is built",
          "[quantize][uniform][param]") {
    for (const unsigned bits : {0u, 9u, 16u, 32u, 0xffff'ffffu}) {
        CAPTURE(bits);
        CHECK_THROWS_AS(uni_packed(sparsify::identity{}, quantize::uniform{.bits = bits}),
                        invalid_parameter);
        CHECK_THROWS_AS(sr_packed(sparsify::identity{}, quantize::uniform_sr{.bits = bits}),
                        invalid_parameter);
        CHECK_THROWS_WITH(
            uni_packed(sparsify::identity{}, quantize::uniform{.bits = bits}),
            Catch::Contains("uniform: bits must be in [1, 8], got " + std::to_string(bits)));
    }
    for (unsigned bits = 1; bits <= 8; ++bits) {
        CHECK_NOTHROW(uni_packed(sparsify::identity{}, quantize::uniform{.bits = bits}));
        CHECK_NOTHROW(sr_packed(sparsify::identity{}, quantize::uniform_sr{.bits = bits}));
    }
}

TEST_CASE("uniform edge cases: n = 0 / 1, constant buckets, NaN / inf, huge doubles, bad codes",
          "[quantize][uniform][edge]") {
    SECTION("n = 0 and n = 1: nothing sent / exact") {
        const std::vector<float> none;
        uni_packed p;
        CHECK(p.compress(std::span<const float>(none)).size() == 48);
        for (const float v : {1.5f, -3e38f, 0x1p-149f, 0.0f, -0.0f}) {
            CAPTURE(v);
            const std::vector<float> x = {v};
            std::vector<float> out(1);
            sr_packed q;
            q.decompress(std::span<const std::byte>(q.compress(std::span<const float>(x))),
                         std::span<float>(out));
            CHECK(std::bit_cast<std::uint32_t>(out[0]) == std::bit_cast<std::uint32_t>(v));
        }
    }
    SECTION("a constant bucket decodes exactly, whatever the bits") {
        for (const unsigned bits : {1u, 8u}) {
            std::vector<float> x(20, -2.5f);
            for (std::size_t i = 10; i < 20; ++i)
                x[i] = 7.0f;
            sr_packed q(sparsify::identity{}, quantize::uniform_sr{.bits = bits, .bucket = 10});
            std::vector<float> out(20);
            q.decompress(std::span<const std::byte>(q.compress(std::span<const float>(x))),
                         std::span<float>(out));
            CHECK(out == x);
        }
    }
    SECTION("documented: a NaN bucket decodes to NaN, an inf bucket to +-inf by sign; other "
            "buckets unaffected") {
        const float nan = std::numeric_limits<float>::quiet_NaN();
        const float inf = std::numeric_limits<float>::infinity();
        for (const float bad : {nan, inf, -inf}) {
            CAPTURE(bad);
            auto x = tv::make<float>(tv::shape::gaussian, 12, 4);
            x[5] = bad;
            x[6] = 0.0f;
            auto run = [&](auto p) {
                std::vector<float> out(12);
                p.decompress(std::span<const std::byte>(p.compress(std::span<const float>(x))),
                             std::span<float>(out));
                for (std::size_t i = 0; i < 12; ++i) {
                    CAPTURE(i, out[i]);
                    if (i < 4 || i >= 8)
                        CHECK(std::isfinite(out[i]));
                    else if (std::isnan(bad))
                        CHECK(std::isnan(out[i]));
                    else
                        CHECK((std::isinf(out[i]) && std::signbit(out[i]) == std::signbit(x[i])));
                }
            };
            run(uni_packed(sparsify::identity{}, quantize::uniform{.bits = 4, .bucket = 4}));
            run(sr_packed(sparsify::identity{}, quantize::uniform_sr{.bits = 1, .bucket = 4}));
            run(pipeline<sparsify::identity, quantize::uniform_sr, encode::elias_gamma>(
                sparsify::identity{}, quantize::uniform_sr{.bits = 8, .bucket = 4}));
        }
    }
    SECTION("doubles beyond FLT_MAX saturate at +-FLT_MAX; min / max round outward") {
        const std::vector<double> x = {1e300, -1e300, 0.1, 1.0 / 3};
        uni_packed p(sparsify::identity{}, quantize::uniform{.bits = 8});
        std::vector<double> out(4);
        p.decompress(std::span<const std::byte>(p.compress(std::span<const double>(x))),
                     std::span<double>(out));
        CHECK(out[0] == std::numeric_limits<float>::max());
        CHECK(out[1] == -std::numeric_limits<float>::max());
        const std::vector<double> y = {0.1, 1.0 / 3, 0.2};
        const auto msg = p.compress(std::span<const double>(y));
        CHECK(static_cast<double>(scale_at(msg, 0)) <= 0.1);
        CHECK(static_cast<double>(scale_at(msg, 1)) >= 1.0 / 3);
    }
    SECTION("decoding rejects codes above 2^b - 1") {
        uni_packed p(sparsify::identity{}, quantize::uniform{.bits = 3});
        // bitpack with 3-bit codes cannot carry a code > 7; elias_gamma can.
        pipeline<sparsify::identity, quantize::uniform, encode::elias_gamma> e(
            sparsify::identity{}, quantize::uniform{.bits = 1});
        const std::vector<float> x = {1.0f, -1.0f};
        auto msg = e.compress(std::span<const float>(x)); // gamma(2) gamma(1): "010" "1"
        // Replace the stream by gamma(3) gamma(1) = "011" "1": code 2 > 1.
        msg[48 + 8] = std::byte{0b1110};
        std::vector<float> out(2, 42.0f);
        CHECK_THROWS_WITH(e.decompress(std::span<const std::byte>(msg), std::span<float>(out)),
                          Catch::Contains("payload.code[0]: 2 is not a valid uniform code"));
        CHECK(out == std::vector<float>(2, 42.0f));
        (void)p;
    }
}

TEST_CASE("a bucket larger than the tensor is one bucket, even SIZE_MAX",
          "[quantize][uniform][qsgd][bucket]") {
    // Regression: ceil(m / bucket) once wrapped around for huge buckets (heap overflow).
    const auto x = tv::make<float>(tv::shape::gaussian, 5, 9);
    const auto decode = [&](auto p) {
        std::vector<float> out(x.size());
        p.decompress(std::span<const std::byte>(p.compress(std::span<const float>(x))),
                     std::span<float>(out));
        return out;
    };
    constexpr std::size_t huge = std::numeric_limits<std::size_t>::max();
    CHECK(decode(recipes::uniform8({}, quantize::uniform{.bits = 8, .bucket = huge})) ==
          decode(recipes::uniform8({}, quantize::uniform{.bits = 8, .bucket = 0})));
    CHECK(decode(recipes::qsgd_packed({}, quantize::qsgd{.levels = 4, .bucket = huge})) ==
          decode(recipes::qsgd_packed({}, quantize::qsgd{.levels = 4, .bucket = 0})));
}

TEST_CASE("uniform: a zero min or max has the sign of the bucket's first zero",
          "[quantize][uniform][edge]") {
    // The format was defined by a sequential scan (x < lo ? x : lo), which keeps the first of
    // equal zeros; the vectorised scan must send the same scale bits.
    const auto bits_of = [](float f) { return std::bit_cast<std::uint32_t>(f); };
    for (const bool neg_first : {false, true}) {
        CAPTURE(neg_first);
        const float z0 = neg_first ? -0.0f : 0.0f, z1 = -z0;
        for (const std::size_t bucket : {std::size_t{0}, std::size_t{4}}) {
            std::vector<float> x = {1.0f, z0, 3.0f, z1, -1.0f, z0, -3.0f, z1};
            uni_packed p(sparsify::identity{}, quantize::uniform{.bits = 8, .bucket = bucket});
            const auto msg = p.compress(std::span<const float>(x));
            if (bucket == 4) {
                CHECK(bits_of(scale_at(msg, 0)) == bits_of(z0)); // min of {1, z0, 3, z1}
                CHECK(bits_of(scale_at(msg, 3)) == bits_of(z0)); // max of {-1, z0, -3, z1}
            } else {
                CHECK(scale_at(msg, 0) == -3.0f);
                CHECK(scale_at(msg, 1) == 3.0f);
            }
        }
    }
}
