// SPDX-License-Identifier: MIT
// quantize::random_dithering and quantize::natural_dithering through the pipeline
// (OPERATORS.md A.8 generalised to the max-norm, A.10), for both norms, with and without
// buckets, on every test shape:
// - every outcome is one of the two neighbouring levels of y_i = |x_i| / nf (with x_i's sign);
// - E C(x) = x coordinate by coordinate;
// - the measured omega matches the exact omega(x) of the two-point law, and stays below the
//   bounds.
//
// About the bounds. The omega formulas of A.8 (p-norm form) and A.10 are tagged [U] (written from
// memory of the paper). The tests therefore check what is derived [D] in the headers:
// - random dithering: omega(x) <= min(d / (4 s^2), sqrt(d) / s) for p = 2 and p = inf
//   (Var C_i = (nf/s)^2 p_i (1 - p_i) <= (nf/s)^2 min(1/4, s |x_i| / nf), nf <= ||x_b||_2,
//   ||x_b||_1 <= sqrt(d) ||x_b||_2); this implies the [U] min(d/s^2, d^{1/r}/s), r = 2;
// - natural dithering: omega(x) <= 1/8 + min(sqrt(d) 2^{1-s}, d 2^{-2s}) (between nonzero
//   levels the C_nat bound y^2/8; below 2^{1-s}, y (2^{1-s} - y) <= min(2^{1-s} y, 2^{-2s}));
//   this implies the [U] 1/8 + sqrt(d) 2^{1-s} min(1, sqrt(d) 2^{1-s}).
// Both hold up to the factor (nf / ||x_b||)^2 of the upward binary32 rounding of the l2 norm
// (1 + O(2^-23) for normal norms, 1 + O(2^-20) for this file's subnormal vectors): 1.01 covers it.
// The A.10 [MC] figure d = 64, p = 2, s = 2, flat: 2.998 is checked against the exact value 3.
//
// Statistical tolerances: a mean of N independent trials is checked within 6 sigma / sqrt(N) of
// its expectation (CLT; two-sided tail ~2e-9 per check), sigma derived beside each check; the
// coin has 2^-32 resolution (|P - p| <= 2^-32, dp below), and decoding rounds to binary32.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/encode/bitpack.hpp>
#include <commpress/encode/elias_gamma.hpp>
#include <commpress/pipeline.hpp>
#include <commpress/quantize/dithering.hpp>
#include <commpress/sparsify/identity.hpp>

#include "support/vectors.hpp"

namespace {

using namespace commpress;
namespace tv = commpress::testing;
using quantize::natural_dithering;
using quantize::norm_kind;
using quantize::random_dithering;

template <class Q>
using packed = pipeline<sparsify::identity, Q, encode::bitpack>;
template <class Q>
using elias = pipeline<sparsify::identity, Q, encode::elias_gamma>;

// The coin: up iff word 2^-32 < p_lib, so P = ceil(p_lib 2^32) / 2^32; and p_lib, computed by the
// library as (|x| / nf) s - floor(...), differs from this file's (y - l/s) / (1/s) by a few
// double ulps of s (s <= 16 here): |P - p| <= 2^-32 + 2^-45.
constexpr double dp = 0x1p-32 + 0x1p-45;

/// The k-th binary32 scale of a message (little-endian, right after the header).
float scale_of(std::span<const std::byte> msg, std::size_t k) {
    float v;
    std::memcpy(&v, msg.data() + message_header::size + 4 * k, 4);
    return v;
}

/// The two neighbouring levels (indices) of y and the probability of the upper one, written
/// from the definitions of the two level sets.
struct two_levels {
    std::uint32_t lo, hi;
    double p;
};
double level_value(const random_dithering& q, std::uint32_t l) {
    return static_cast<double>(l) / q.levels;
}
double level_value(const natural_dithering& q, std::uint32_t l) {
    return l == 0 ? 0.0 : std::ldexp(1.0, static_cast<int>(l) - static_cast<int>(q.levels));
}
template <class Q>
two_levels neighbours(const Q& q, double y) {
    if (y >= 1)
        return {q.levels, q.levels, 0};
    std::uint32_t lo = 0;
    for (std::uint32_t l = q.levels; l > 0; --l)
        if (level_value(q, l) <= y) {
            lo = l;
            break;
        }
    const double a = level_value(q, lo), b = level_value(q, lo + 1);
    return {lo, lo + 1, (y - a) / (b - a)};
}

/// The decoded binary32 value of level l with sign neg under norm nf, as documented:
/// nf l / s (random) or nf 2^{l-s} (natural), each computed in double and rounded once.
float decoded(const random_dithering& q, double nf, std::uint32_t l, bool neg) {
    const double v = nf * static_cast<double>(l) / q.levels;
    return static_cast<float>(neg && l ? -v : v);
}
float decoded(const natural_dithering& q, double nf, std::uint32_t l, bool neg) {
    const double v =
        l == 0 ? 0.0 : std::ldexp(nf, static_cast<int>(l) - static_cast<int>(q.levels));
    return static_cast<float>(neg && l ? -v : v);
}

struct moments {
    double omega_hat = 0, omega_exact = 0;
};

/// N trials of Q + bitpack on x; checks support, per-coordinate unbiasedness and measured omega
/// against the exact omega(x) of the law (with the decoded two points).
template <class Q>
moments run(const Q& q, const std::vector<float>& x, std::size_t trials, std::uint64_t sd) {
    const std::size_t n = x.size();
    const double N = static_cast<double>(trials);
    packed<Q> p(sparsify::identity{}, q, encode::bitpack{}, seed{sd});
    std::vector<std::byte> buf(p.max_message_size(n));
    std::vector<float> out(n);
    REQUIRE(p.compress(std::span<const float>(x), std::span<std::byte>(buf)) == buf.size());
    const std::size_t b = q.bucket ? q.bucket : std::max<std::size_t>(n, 1);
    // Every trial sends the same norms (they do not depend on the draws).
    std::vector<double> nf(n);
    for (std::size_t i = 0; i < n; ++i)
        nf[i] = scale_of(buf, i / b);
    std::vector<float> c_lo(n), c_hi(n);
    std::vector<double> prob(n), var(n);
    const double norm2 = tv::norm2(x);
    moments m;
    double omega_shift = 0, max_q2 = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double y = nf[i] > 0 ? std::abs(static_cast<double>(x[i])) / nf[i] : 0;
        const two_levels l = neighbours(q, y);
        const bool neg = std::signbit(x[i]);
        c_lo[i] = decoded(q, nf[i], l.lo, neg);
        c_hi[i] = decoded(q, nf[i], l.hi, neg);
        prob[i] = l.hi == l.lo ? 0.0 : l.p;
        const double gap = static_cast<double>(c_hi[i]) - c_lo[i];
        // C_i takes c_lo, c_hi w.p. 1 - P, P with |P - p| <= dp: Var C_i <= gap^2 (p(1-p) + dp).
        var[i] = gap * gap * (prob[i] * (1 - prob[i]) + dp);
        const double exact_gap = nf[i] * (level_value(q, l.hi) - level_value(q, l.lo));
        m.omega_exact += exact_gap * exact_gap * prob[i] * (1 - prob[i]);
        const double dl = static_cast<double>(c_lo[i]) - x[i],
                     dh = static_cast<double>(c_hi[i]) - x[i];
        // E T_i = (1 - P) dl^2 + P dh^2 moves by <= |dh^2 - dl^2| dp with the coin's P.
        omega_shift += std::abs(dh * dh - dl * dl) * dp;
        max_q2 = std::max({max_q2, dl * dl, dh * dh}); // T_i <= max_q2
    }
    // The decoded points differ from the exact ones nf level by binary32 rounding (<= 2^-24
    // relative + 2^-150): E C_i is x_i up to bias_i, and E (C_i - x_i)^2 moves by z_round.
    std::vector<double> bias(n);
    double z_round = 0, ez_decoded = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double e_c = c_lo[i] + prob[i] * (static_cast<double>(c_hi[i]) - c_lo[i]);
        bias[i] = e_c - x[i];
        const double dl = static_cast<double>(c_lo[i]) - x[i],
                     dh = static_cast<double>(c_hi[i]) - x[i];
        ez_decoded += (1 - prob[i]) * dl * dl + prob[i] * dh * dh;
        CHECK(std::abs(bias[i]) <=
              0x1p-23 * std::max(std::abs(c_lo[i]), std::abs(c_hi[i])) + 0x1p-149);
    }
    z_round = std::abs(ez_decoded - m.omega_exact);

    std::vector<double> sum(n, 0.0);
    std::size_t off_support = 0;
    double zsum = 0;
    for (std::size_t t = 0; t < trials; ++t) {
        if (t > 0)
            REQUIRE(p.compress(std::span<const float>(x), std::span<std::byte>(buf)) == buf.size());
        p.decompress(std::span<const std::byte>(buf), std::span<float>(out));
        double z = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const auto bits = std::bit_cast<std::uint32_t>(out[i]);
            off_support += bits != std::bit_cast<std::uint32_t>(c_lo[i]) &&
                           bits != std::bit_cast<std::uint32_t>(c_hi[i]);
            const double d = static_cast<double>(out[i]) - x[i];
            z += d * d;
            sum[i] += out[i];
        }
        zsum += z;
    }
    CHECK(off_support == 0);
    // Unbiasedness: mean within 6 sqrt(Var C_i / N) + the coin's shift gap dp + the decoding
    // bias + 2^-52 relative per term of the N-term double sum.
    std::size_t bad = 0;
    std::string first;
    for (std::size_t i = 0; i < n; ++i) {
        const double gap = std::abs(static_cast<double>(c_hi[i]) - c_lo[i]);
        const double mean = sum[i] / N;
        const double band = 6 * std::sqrt(var[i] / N) + gap * dp + std::abs(bias[i]) +
                            N * 0x1p-52 * std::max(std::abs(c_lo[i]), std::abs(c_hi[i]));
        if (!(std::abs(mean - x[i]) <= band) && bad++ == 0)
            first = "coordinate " + std::to_string(i) + ": x = " + std::to_string(x[i]) +
                    ", mean = " + std::to_string(mean) + ", band = " + std::to_string(band);
    }
    INFO(first);
    CHECK(bad == 0);
    if (norm2 == 0) {
        CHECK(zsum == 0.0);
        return m;
    }
    // omega: Z = sum_i T_i / ||x||^2 with independent T_i = (C_i - x_i)^2 <= max_q2, so
    // Var Z <= max_q2 / ||x||^2 E Z; E Z = (omega_exact ||x||^2 + z_round + omega_shift) / ||x||^2
    // at most. Plus (n + N + 4) 2^-53 relative for the sums.
    const double ez = (m.omega_exact + z_round + omega_shift) / norm2;
    m.omega_exact /= norm2;
    m.omega_hat = zsum / N / norm2;
    const double band = 6 * std::sqrt(max_q2 / norm2 * ez / N) + (z_round + omega_shift) / norm2 +
                        static_cast<double>(n + trials + 4) * 0x1p-53 * m.omega_hat;
    CAPTURE(m.omega_hat, m.omega_exact, band);
    CHECK(std::abs(m.omega_hat - m.omega_exact) <= band);
    return m;
}

double d_of(std::size_t bucket, std::size_t n) {
    return static_cast<double>(bucket ? std::min(bucket, n) : n);
}

/// [D] bounds (see the top of the file) and the header's [U] omega.
double random_bound_d(const random_dithering& q, std::size_t n) {
    const double d = d_of(q.bucket, n), s = q.levels;
    return std::min(d / (4 * s * s), std::sqrt(d) / s);
}
double natural_bound_d(const natural_dithering& q, std::size_t n) {
    const double d = d_of(q.bucket, n), s = q.levels;
    return 0.125 + std::min(std::sqrt(d) * std::exp2(1 - s), d * std::exp2(-2 * s));
}

template <class Q, class BoundD>
void theory(std::uint32_t s, norm_kind norm, std::size_t bucket, BoundD bound_d) {
    const std::size_t n = 160, trials = 3000;
    const double N = static_cast<double>(trials);
    const Q q{.levels = s, .norm = norm, .bucket = bucket};
    packed<Q> p(sparsify::identity{}, q);
    const double bound_u = p.omega(n); // the [U] formula, via the pipeline
    const double bd = bound_d(q, n);
    CHECK(bd <= bound_u * (1 + 1e-12)); // [D] implies [U]
    for (const tv::shape sh : tv::all_shapes) {
        CAPTURE(s, static_cast<int>(norm), bucket, tv::name(sh));
        const auto x = tv::make<float>(sh, n, 700 + s);
        const moments m = run(q, x, trials, 99 + s);
        if (sh == tv::shape::zero)
            continue;
        CHECK(m.omega_exact <= bd * 1.01);
        // omega_hat is within run's band of omega_exact; that band is about 6 sqrt(max_q2 /
        // ||x||^2 omega / N) with max_q2 <= ||x_b||^2 (gap <= nf <= ~||x_b||), so
        // 6 sqrt(bd / N) + 1e-6 covers it.
        CHECK(m.omega_hat <= bd * 1.01 + 6 * std::sqrt(bd * 1.01 / N) + 1e-6);
        CHECK(m.omega_hat <= bound_u * 1.01 + 6 * std::sqrt(bound_u * 1.01 / N) + 1e-6);
        if (sh == tv::shape::one_hot)
            CHECK(m.omega_hat == 0.0); // y = 1 exactly: the top level, sent exactly
    }
}

} // namespace

static_assert(quantizer<random_dithering> && quantizer<natural_dithering>);
static_assert(has_omega<packed<random_dithering>> && has_omega<packed<natural_dithering>>);

TEST_CASE("random dithering (2-norm) is unbiased, omega <= min(d/(4s^2), sqrt(d)/s)",
          "[quantize][dithering][random][theory]") {
    const std::uint32_t s = GENERATE(1u, 4u, 16u);
    const std::size_t bucket = GENERATE(std::size_t{0}, std::size_t{64});
    theory<random_dithering>(s, norm_kind::l2, bucket, random_bound_d);
}

TEST_CASE("random dithering (max-norm) is unbiased, omega <= min(d/(4s^2), sqrt(d)/s)",
          "[quantize][dithering][random][theory]") {
    const std::uint32_t s = GENERATE(1u, 4u, 16u);
    const std::size_t bucket = GENERATE(std::size_t{0}, std::size_t{64});
    theory<random_dithering>(s, norm_kind::linf, bucket, random_bound_d);
}

TEST_CASE("natural dithering (2-norm) is unbiased, omega <= 1/8 + min(sqrt(d) 2^(1-s), d 4^-s)",
          "[quantize][dithering][natural][theory]") {
    const std::uint32_t s = GENERATE(2u, 4u, 8u);
    const std::size_t bucket = GENERATE(std::size_t{0}, std::size_t{64});
    theory<natural_dithering>(s, norm_kind::l2, bucket, natural_bound_d);
}

TEST_CASE("natural dithering (max-norm) is unbiased, omega <= 1/8 + min(sqrt(d) 2^(1-s), d 4^-s)",
          "[quantize][dithering][natural][theory]") {
    const std::uint32_t s = GENERATE(2u, 4u, 8u);
    const std::size_t bucket = GENERATE(std::size_t{0}, std::size_t{64});
    theory<natural_dithering>(s, norm_kind::linf, bucket, natural_bound_d);
}

TEST_CASE("dithering: exact omega on the flat vector (A.8, A.10 figures)",
          "[quantize][dithering][theory]") {
    const auto x = tv::make<float>(tv::shape::flat, 64, 1);
    SECTION("natural, d = 64, p = 2, s = 2: y = 1/8 rounds in {0, 1/2} w.p. 1/4: omega = 3") {
        // A.10 [MC]: 2.998 <= 4.125. Per entry Var = nf^2 (1/2)^2 (1/4)(3/4) = 3 nf^2 / 64.
        const moments m = run(natural_dithering{.levels = 2, .norm = norm_kind::l2}, x, 3000, 5);
        CHECK(m.omega_exact == Approx(3.0).epsilon(1e-6));
        CHECK(packed<natural_dithering>({}, {.levels = 2}).omega(64) == 4.125);
    }
    SECTION("random, s = 1, p = 2: the worst case sqrt(d) - 1 = 7 (A.8)") {
        const moments m = run(random_dithering{.levels = 1, .norm = norm_kind::l2}, x, 3000, 6);
        CHECK(m.omega_exact == Approx(7.0).epsilon(1e-6));
    }
    SECTION("max-norm on a flat vector: y = 1 everywhere, exact for both") {
        CHECK(run(random_dithering{.levels = 3, .norm = norm_kind::linf}, x, 10, 7).omega_hat ==
              0.0);
        CHECK(run(natural_dithering{.levels = 3, .norm = norm_kind::linf}, x, 10, 7).omega_hat ==
              0.0);
    }
}

TEST_CASE("dithering sends the bucket norm rounded up: max|x_i| exactly, ||x||_2 rounded up",
          "[quantize][dithering][exact]") {
    for (const tv::shape sh : tv::all_shapes)
        for (const std::size_t bucket : {std::size_t{0}, std::size_t{7}}) {
            CAPTURE(tv::name(sh), bucket);
            const std::size_t n = 50;
            const auto x = tv::make<float>(sh, n, 3);
            packed<random_dithering> pl2({},
                                         {.levels = 3, .norm = norm_kind::l2, .bucket = bucket});
            packed<natural_dithering> pinf(
                {}, {.levels = 3, .norm = norm_kind::linf, .bucket = bucket});
            const auto m2 = pl2.compress(std::span<const float>(x));
            const auto mi = pinf.compress(std::span<const float>(x));
            const std::size_t b = bucket ? bucket : n;
            for (std::size_t start = 0, k = 0; start < n; start += b, ++k) {
                double sq = 0, mx = 0;
                for (std::size_t i = start; i < std::min(n, start + b); ++i) {
                    sq += static_cast<double>(x[i]) * x[i];
                    mx = std::max(mx, std::abs(static_cast<double>(x[i])));
                }
                CHECK(static_cast<double>(scale_of(mi, k)) == mx);
                // our double sum differs from the library's by <= (b + 2) 2^-53 relative
                const double norm = std::sqrt(sq), e = static_cast<double>(b + 2) * 0x1p-53;
                const double nf = scale_of(m2, k);
                CHECK(nf >= norm * (1 - e));
                CHECK(nf <= norm * (1 + e) +
                                std::abs(std::nextafter(static_cast<float>(nf), 0.0f) - nf) +
                                0x1p-149);
            }
        }
}

TEST_CASE("dithering message size: header, 4 bytes per norm, 1 + ceil(log2(s+1)) bits per entry",
          "[quantize][dithering][bits]") {
    auto ceil_log2 = [](std::uint64_t v) {
        unsigned r = 0;
        while ((std::uint64_t{1} << r) < v)
            ++r;
        return r;
    };
    for (const std::size_t n : {0u, 1u, 7u, 64u, 1000u})
        for (const std::size_t bucket : {std::size_t{0}, std::size_t{64}}) {
            const std::size_t norms = n == 0 ? 0 : bucket ? (n + bucket - 1) / bucket : 1;
            const auto x = tv::make<float>(tv::shape::gaussian, n, n);
            for (const std::uint32_t s : {1u, 2u, 3u, 7u, 8u, 255u, 256u, 1u << 24}) {
                CAPTURE(n, bucket, s);
                packed<random_dithering> p(
                    {}, {.levels = s, .norm = norm_kind::linf, .bucket = bucket});
                const std::size_t want = message_header::size + 4 * norms +
                                         (n * (1 + ceil_log2(std::uint64_t{s} + 1)) + 7) / 8;
                CHECK(p.max_message_size(n) == want);
                CHECK(p.compress(std::span<const float>(x)).size() == want);
            }
            for (const std::uint32_t s : {1u, 2u, 3u, 7u, 8u, 63u, 64u}) {
                CAPTURE(n, bucket, s);
                packed<natural_dithering> p({},
                                            {.levels = s, .norm = norm_kind::l2, .bucket = bucket});
                const std::size_t want = message_header::size + 4 * norms +
                                         (n * (1 + ceil_log2(std::uint64_t{s} + 1)) + 7) / 8;
                CHECK(p.max_message_size(n) == want);
                CHECK(p.compress(std::span<const float>(x)).size() == want);
            }
        }
    // s = 64: 65 levels, 7 + 1 = 8 bits, one byte per entry.
    CHECK(natural_dithering{.levels = 64}.code_bits() == 8u);
}

TEST_CASE("dithering rejects bad levels and norms when the pipeline is built",
          "[quantize][dithering][param]") {
    const auto bad_norm = static_cast<norm_kind>(7);
    for (const std::uint32_t s : {0u, (1u << 24) + 1, 0xffff'ffffu}) {
        CAPTURE(s);
        CHECK_THROWS_AS(packed<random_dithering>({}, {.levels = s}), invalid_parameter);
        CHECK_THROWS_WITH(packed<random_dithering>({}, {.levels = s}),
                          Catch::Contains("random_dithering: levels must be in [1, 2^24], got " +
                                          std::to_string(s)));
    }
    for (const std::uint32_t s : {0u, 65u, 1000u, 0xffff'ffffu}) {
        CAPTURE(s);
        CHECK_THROWS_AS(elias<natural_dithering>({}, {.levels = s}), invalid_parameter);
        CHECK_THROWS_WITH(packed<natural_dithering>({}, {.levels = s}),
                          Catch::Contains("natural_dithering: levels must be in [1, 64], got " +
                                          std::to_string(s)));
    }
    CHECK_THROWS_WITH(packed<random_dithering>({}, {.levels = 4, .norm = bad_norm}),
                      Catch::Contains("random_dithering: norm must be"));
    CHECK_THROWS_AS(packed<natural_dithering>({}, {.levels = 4, .norm = bad_norm}),
                    invalid_parameter);
    CHECK_NOTHROW(packed<random_dithering>({}, {.levels = 1u << 24}));
    CHECK_NOTHROW(packed<natural_dithering>({}, {.levels = 64, .norm = norm_kind::linf}));
    CHECK_NOTHROW(packed<natural_dithering>({}, {.levels = 1}));
    CHECK(packed<natural_dithering>({}, {.levels = 3, .norm = norm_kind::linf, .bucket = 8})
              .describe()
              .find("natural_dithering(levels=3, norm=linf, bucket=8)") != std::string::npos);
    // The norm is part of the fingerprint: messages do not cross between the two.
    CHECK(packed<random_dithering>({}, {.norm = norm_kind::l2}).fingerprint() !=
          packed<random_dithering>({}, {.norm = norm_kind::linf}).fingerprint());
}

TEST_CASE("dithering decoding rejects codes and norms it cannot have produced",
          "[quantize][dithering][decode]") {
    // s = 4: 4-bit codes (level << 1) | sign, one norm; payload checksums are off.
    const std::vector<float> x = {1.0f, -2.0f, 0.5f, 0.25f};
    auto check = [&](auto p, const char* name) {
        const auto msg = p.compress(std::span<const float>(x));
        std::vector<float> out(x.size(), 42.0f);
        auto with_code0 = [&](unsigned code) {
            auto m = msg;
            auto& b = m[message_header::size + 4];
            b = (b & std::byte{0xf0}) | static_cast<std::byte>(code);
            return m;
        };
        CHECK_THROWS_WITH(
            p.decompress(std::span<const std::byte>(with_code0(5u << 1)), std::span<float>(out)),
            Catch::Contains(std::string("payload.code[0]: 10 is not a valid ") + name + " code"));
        CHECK_THROWS_AS(
            p.decompress(std::span<const std::byte>(with_code0(1u)), std::span<float>(out)),
            decode_error); // a negative zero: never sent
        auto neg = msg;
        neg[message_header::size + 3] |= std::byte{0x80}; // sign bit of the norm
        CHECK_THROWS_WITH(p.decompress(std::span<const std::byte>(neg), std::span<float>(out)),
                          Catch::Contains(std::string("is not a valid ") + name + " scale"));
        CHECK(out == std::vector<float>(x.size(), 42.0f)); // nothing written on failure
        CHECK_NOTHROW(
            p.decompress(std::span<const std::byte>(with_code0(4u << 1)), std::span<float>(out)));
    };
    check(packed<random_dithering>({}, {.levels = 4}), "random_dithering");
    check(packed<natural_dithering>({}, {.levels = 4, .norm = norm_kind::linf}),
          "natural_dithering");
}

TEST_CASE("dithering edge cases: empty, one element, NaN and inf buckets, overflow, doubles",
          "[quantize][dithering][edge]") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    SECTION("n = 0 and the zero vector") {
        packed<natural_dithering> p;
        elias<random_dithering> e;
        const std::vector<float> none;
        CHECK(p.compress(std::span<const float>(none)).size() == message_header::size);
        const std::vector<float> zeros = {0.0f, -0.0f, 0.0f};
        std::vector<float> out(3, 1.0f);
        p.decompress(std::span<const std::byte>(p.compress(std::span<const float>(zeros))),
                     std::span<float>(out));
        for (const float v : out)
            CHECK(std::bit_cast<std::uint32_t>(v) == 0u); // code 0 is +0
        out.assign(3, 1.0f);
        const auto msg = e.compress(std::span<const float>(zeros));
        CHECK(msg.size() == message_header::size + 4 + 1); // norm, gamma(1)
        e.decompress(std::span<const std::byte>(msg), std::span<float>(out));
        for (const float v : out)
            CHECK(std::bit_cast<std::uint32_t>(v) == 0u);
    }
    SECTION("n = 1: y = 1, so C(x) = x for both norms") {
        for (const float v : {1.0f, -3.5f, 1e-30f, 1e30f, 0x1p-140f})
            for (const norm_kind k : {norm_kind::l2, norm_kind::linf}) {
                CAPTURE(v, static_cast<int>(k));
                packed<random_dithering> r({}, {.levels = 3, .norm = k});
                packed<natural_dithering> nd({}, {.levels = 5, .norm = k});
                const std::vector<float> x = {v};
                std::vector<float> out(1);
                r.decompress(std::span<const std::byte>(r.compress(std::span<const float>(x))),
                             std::span<float>(out));
                CHECK(out[0] == v);
                nd.decompress(std::span<const std::byte>(nd.compress(std::span<const float>(x))),
                              std::span<float>(out));
                CHECK(out[0] == v);
            }
    }
    SECTION("a bucket with NaN decodes to NaN, one with inf to +-inf; others unaffected") {
        auto check = [&](auto p, float bad) {
            auto x = tv::make<float>(tv::shape::gaussian, 12, 4);
            x[5] = bad;                         // bucket 1 of [0,4) [4,8) [8,12)
            x[8] = x[9] = x[10] = x[11] = 0.0f; // bucket 2: zero norm
            std::vector<float> out(x.size());
            p.decompress(std::span<const std::byte>(p.compress(std::span<const float>(x))),
                         std::span<float>(out));
            for (std::size_t i = 0; i < 4; ++i)
                CHECK(std::isfinite(out[i]));
            for (std::size_t i = 4; i < 8; ++i)
                CHECK((std::isnan(bad)
                           ? std::isnan(out[i])
                           : std::isinf(out[i]) && std::signbit(out[i]) == std::signbit(x[i])));
            for (std::size_t i = 8; i < 12; ++i)
                CHECK(std::bit_cast<std::uint32_t>(out[i]) == 0u);
        };
        for (const float bad : {nan, inf, -inf})
            for (const norm_kind k : {norm_kind::l2, norm_kind::linf}) {
                CAPTURE(bad, static_cast<int>(k));
                check(packed<random_dithering>({}, {.levels = 4, .norm = k, .bucket = 4}), bad);
                check(elias<random_dithering>({}, {.levels = 4, .norm = k, .bucket = 4}), bad);
                check(packed<natural_dithering>({}, {.levels = 4, .norm = k, .bucket = 4}), bad);
                check(elias<natural_dithering>({}, {.levels = 4, .norm = k, .bucket = 4}), bad);
            }
    }
    SECTION("a finite bucket whose 2-norm overflows binary32 sends FLT_MAX and stays finite") {
        // ||(3e38, -3e38)|| = 4.2e38 > FLT_MAX: the cap still bounds every |x_i|, so y <= 1.
        // Unbiased: per entry Var <= FLT_MAX^2 / 4, the mean of N = 2000 is within
        // 6 FLT_MAX / (2 sqrt(N)) of x_i.
        const std::vector<float> x = {3e38f, -3e38f, 1.0f, 0.0f};
        packed<natural_dithering> p({}, {.levels = 4});
        const int trials = 2000;
        std::vector<double> mean(x.size(), 0.0);
        std::vector<float> out(x.size());
        for (int t = 0; t < trials; ++t) {
            const auto msg = p.compress(std::span<const float>(x));
            REQUIRE(scale_of(msg, 0) == std::numeric_limits<float>::max());
            p.decompress(std::span<const std::byte>(msg), std::span<float>(out));
            for (std::size_t i = 0; i < x.size(); ++i) {
                REQUIRE(std::isfinite(out[i]));
                mean[i] += double(out[i]) / trials;
            }
        }
        const double tol = 3.0 * double(std::numeric_limits<float>::max()) / std::sqrt(trials);
        for (std::size_t i = 0; i < x.size(); ++i)
            CHECK(std::abs(mean[i] - double(x[i])) <= tol);
    }
    SECTION("s = 64: entries below 2^-63 of the norm round to 0 or 2^-63 nf") {
        const std::vector<float> x = {1.0f, 0x1p-70f, -0x1p-64f};
        packed<natural_dithering> p({}, {.levels = 64, .norm = norm_kind::linf});
        std::vector<float> out(x.size());
        for (int t = 0; t < 50; ++t) {
            p.decompress(std::span<const std::byte>(p.compress(std::span<const float>(x))),
                         std::span<float>(out));
            CHECK(out[0] == 1.0f);
            CHECK((out[1] == 0.0f || out[1] == 0x1p-63f));
            CHECK((out[2] == 0.0f || out[2] == -0x1p-63f));
        }
    }
    SECTION("double input: unbiased against the double values") {
        // Levels come from the double |x_i| / nf; per-coordinate mean over N = 4000 trials within
        // 6 sqrt(Var / N) of x_i, Var <= (nf gap)^2 / 4, plus binary32 decoding 2^-24 nf.
        const std::vector<double> x = {0.3, -0.4, 0.5 + 1e-12, 0.7};
        packed<natural_dithering> p({}, {.levels = 3, .norm = norm_kind::linf});
        std::vector<double> sum(x.size(), 0.0), out(x.size());
        const std::size_t trials = 4000;
        for (std::size_t t = 0; t < trials; ++t) {
            p.decompress(std::span<const std::byte>(p.compress(std::span<const double>(x))),
                         std::span<double>(out));
            for (std::size_t i = 0; i < x.size(); ++i)
                sum[i] += out[i];
        }
        const double nf = static_cast<float>(0.7); // 0.7 rounded up to binary32, about
        for (std::size_t i = 0; i < x.size(); ++i)
            CHECK(std::abs(sum[i] / trials - x[i]) <=
                  6 * nf * 0.5 / std::sqrt(static_cast<double>(trials)) + 0x1p-23 * nf);
    }
}
