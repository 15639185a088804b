// SPDX-License-Identifier: MIT
// quantize::qsgd through the pipeline (OPERATORS.md A.8, A.13): for s in {1, 4, 16}, with one
// norm per tensor or per bucket, on every test shape:
// - E C(x) = x, coordinate by coordinate;
// - the measured omega matches the exact omega(x) of the two-point law and stays below
//   min(d/s^2, sqrt(d)/s) (d = bucket length);
// - the expected number of nonzeros stays below s (s + sqrt d) per bucket;
// - a qsgd + bitpack message is the header, 4 bytes per norm and ceil(n (1 + ceil(log2(s+1))) / 8).
//
// The law under test. Per bucket the sender rounds its 2-norm up to binary32, nf >= ||x_b||, and
// sends nf; entry i gets y_i = s |x_i| / nf and level l_i = floor(y_i) + Bernoulli(p_i),
// p_i = y_i - floor(y_i); it decodes to sign(x_i) nf l_i / s. Hence E C_i = x_i,
// Var C_i = (nf/s)^2 p_i (1 - p_i), and omega(x) = sum_i Var C_i / ||x||^2. The lemma's bound
// holds with nf in place of ||x_b||: E||Q_b - x_b||^2 <= (nf/s)^2 min(d/4, s ||x_b||_1 / nf)
// <= min(d/s^2, sqrt(d)/s) nf^2, a factor (nf / ||x_b||)^2 = 1 + O(2^-23) above the paper's.
//
// Statistical tolerances: a mean of N independent trials is checked within 6 sigma / sqrt(N)
// of its expectation (CLT; two-sided tail ~2e-9), sigma derived beside each check; seeds fixed.
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

#include <commpress/recipes.hpp>

#include "support/vectors.hpp"

namespace {

using namespace commpress;
namespace tv = commpress::testing;

using qsgd_packed = recipes::qsgd_packed; // identity | qsgd | bitpack

unsigned ceil_log2(std::uint64_t v) { // smallest b with 2^b >= v
    unsigned b = 0;
    while ((std::uint64_t{1} << b) < v)
        ++b;
    return b;
}

/// The k-th binary32 scale of a message (little-endian, right after the header).
float scale_of(std::span<const std::byte> msg, std::size_t k) {
    std::uint32_t v = 0;
    for (unsigned b = 0; b < 4; ++b)
        v |= std::uint32_t{std::to_integer<std::uint8_t>(msg[message_header::size + 4 * k + b])}
             << (8 * b);
    return std::bit_cast<float>(v);
}

/// Per-bucket description of x for the law above.
struct bucket_view {
    std::size_t size;  // entries in bucket b
    std::size_t count; // number of buckets
    std::size_t of(std::size_t i) const { return size ? i / size : 0; }
};

struct moments {
    double omega_hat = 0;   // measured E ||C(x) - x||^2 / ||x||^2
    double nnz_hat = 0;     // measured E nnz(C(x))
    double omega_exact = 0; // sum Var C_i / ||x||^2
    double nnz_exact = 0;   // sum P(l_i > 0)
};

/// Runs N trials of qsgd(s, bucket) + bitpack on x and checks everything that holds for every
/// x: unbiasedness per coordinate, measured omega = exact omega(x), measured nnz = exact E nnz.
moments run_qsgd(const std::vector<float>& x, std::uint32_t s, std::size_t bucket,
                 std::size_t trials, std::uint64_t sd) {
    const std::size_t n = x.size();
    const double N = static_cast<double>(trials), S = s;
    qsgd_packed p(sparsify::identity{}, quantize::qsgd{.levels = s, .bucket = bucket},
                  encode::bitpack{}, seed{sd});
    const bucket_view bv{bucket, bucket ? (n + bucket - 1) / bucket : (n ? 1u : 0u)};
    std::vector<std::byte> buf(p.max_message_size(n));
    std::vector<float> out(n);
    auto once = [&] {
        const std::size_t size = p.compress(std::span<const float>(x), std::span<std::byte>(buf));
        if (size != buf.size()) // fixed width: always the bound
            FAIL("message of " << size << " bytes, max_message_size " << buf.size());
        p.decompress(std::span<const std::byte>(buf.data(), size), std::span<float>(out));
    };
    once();
    std::vector<double> nf(bv.count);
    for (std::size_t b = 0; b < bv.count; ++b)
        nf[b] = scale_of(buf, b);

    // Probabilities from the law, computed here. The library's y may differ from ours by a few
    // double ulps and its coin has 2^-32 resolution: |P_lib - p| <= dp.
    const double dp = 0x1p-32 + S * 0x1p-50;
    const double norm2 = tv::norm2(x);
    std::vector<double> var(n), dec(n);
    moments m;
    double max_t = 0, omega_shift = 0, z_round = 0, nnz_var = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double q = nf[bv.of(i)] / S; // value of one level
        const double y =
            nf[bv.of(i)] > 0 ? std::abs(static_cast<double>(x[i])) * S / nf[bv.of(i)] : 0;
        const double fl = std::min(std::floor(y), S), pi = y >= S ? 0.0 : y - std::floor(y);
        var[i] = q * q * (pi * (1 - pi) + dp);
        m.omega_exact += q * q * pi * (1 - pi);
        omega_shift += q * q * dp;
        const double pnz = fl >= 1 ? 1.0 : pi;
        m.nnz_exact += pnz;
        nnz_var += pnz * (1 - pnz);
        max_t = std::max(max_t, q * q);
        // Decoding rounds nf l / s to binary32: error <= d_i = 2^-24 q (fl + 1) + 2^-150, which
        // moves (C_i - x_i)^2 (|C_i - x_i| < q) by at most (2 q + 2 d_i) d_i.
        dec[i] = 0x1p-24 * q * (fl + 1) + 0x1p-150;
        z_round += (2 * q + 2 * dec[i]) * dec[i];
    }
    std::vector<double> sum(n, 0.0);
    double zsum = 0, nnz_sum = 0, ipsum = 0;
    for (std::size_t t = 0; t < trials; ++t) {
        if (t > 0)
            once();
        double z = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const double ci = out[i], d = ci - x[i];
            z += d * d;
            sum[i] += ci;
            ipsum += ci * x[i];
            nnz_sum += ci != 0.0;
        }
        zsum += z;
    }
    if (norm2 == 0) { // the zero vector: C(0) = 0 exactly
        CHECK(nnz_sum == 0.0);
        return m;
    }
    // Unbiasedness: band 6 sqrt(Var C_i / N), plus the coin / y discrepancy q dp, the decoding
    // rounding d_i, and 2^-52 relative for the N-term sum (<= 2^24 terms of <= 48 bits).
    std::size_t bad = 0;
    std::string first;
    for (std::size_t i = 0; i < n; ++i) {
        const double q = nf[bv.of(i)] / S, mean = sum[i] / N;
        const double band = 6 * std::sqrt(var[i] / N) + q * dp + dec[i] + 0x1p-52 * std::abs(mean) +
                            N * 0x1p-53 * q * S;
        if (!(std::abs(mean - x[i]) <= band) && bad++ == 0)
            first = "coordinate " + std::to_string(i) + ": x = " + std::to_string(x[i]) +
                    ", mean = " + std::to_string(mean) + ", band = " + std::to_string(band);
    }
    INFO(first);
    CHECK(bad == 0);
    // In aggregate: <C(x), x> / ||x||^2 has mean 1 and, the coordinates being independent,
    // variance sum x_i^2 Var C_i / ||x||^4; each term is biased by <= |x_i| (q dp + d_i); the
    // N n-term double sum adds (N + n) 2^-52 relative.
    double ip_var = 0, ip_bias = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double xi = x[i];
        ip_var += xi * xi * var[i];
        ip_bias += std::abs(xi) * (nf[bv.of(i)] / S * dp + dec[i]);
    }
    const double ip = ipsum / N / norm2;
    const double ip_band = 6 * std::sqrt(ip_var / N) / norm2 + ip_bias / norm2 +
                           static_cast<double>(n + trials) * 0x1p-52 * (1 + ip);
    CAPTURE(ip, ip_band);
    CHECK(std::abs(ip - 1) <= ip_band);
    // omega: a trial's Z = sum_i T_i / ||x||^2 with independent T_i = (C_i - x_i)^2 < q^2, so
    // Var Z <= sum E T_i^2 / ||x||^4 <= max q^2 / ||x||^2 * E Z. Plus rounding (decoding, and
    // (n + N) 2^-53 relative for the sums) and the probability discrepancy omega_shift.
    m.omega_exact /= norm2;
    m.omega_hat = zsum / N / norm2;
    const double band = 6 * std::sqrt(max_t / norm2 * (m.omega_exact + omega_shift / norm2) / N) +
                        (z_round + omega_shift) / norm2 +
                        static_cast<double>(n + trials + 4) * 0x1p-53 * m.omega_hat;
    CAPTURE(m.omega_hat, m.omega_exact, band);
    CHECK(std::abs(m.omega_hat - m.omega_exact) <= band);
    // nnz: a sum of independent indicators, Var = sum P (1 - P).
    m.nnz_hat = nnz_sum / N;
    CHECK(std::abs(m.nnz_hat - m.nnz_exact) <=
          6 * std::sqrt((nnz_var + static_cast<double>(n) * dp) / N) + static_cast<double>(n) * dp);
    return m;
}

} // namespace

static_assert(qsgd_packed::unbiased && has_omega<qsgd_packed> && has_omega<recipes::qsgd>);

TEST_CASE("qsgd is unbiased, omega <= min(d/s^2, sqrt(d)/s), E nnz <= s (s + sqrt d)",
          "[quantize][qsgd][theory]") {
    const std::size_t n = 160, trials = 3000;
    const double N = static_cast<double>(trials);
    const std::uint32_t s = GENERATE(1u, 4u, 16u);
    const std::size_t bucket = GENERATE(std::size_t{0}, std::size_t{64}); // 64, 64, 32
    for (const tv::shape sh : tv::all_shapes) {
        CAPTURE(s, bucket, tv::name(sh));
        const auto x = tv::make<float>(sh, n, 500 + s);
        const moments m = run_qsgd(x, s, bucket, trials, 1234 + s);
        // The bound of the lemma for this configuration, computed here and by the pipeline.
        const double S = s;
        auto omega_of = [&](double d) { return std::min(d / (S * S), std::sqrt(d) / S); };
        const double bound = omega_of(static_cast<double>(bucket ? bucket : n));
        qsgd_packed p(sparsify::identity{}, quantize::qsgd{.levels = s, .bucket = bucket});
        CHECK(p.omega(n) == Approx(bound).epsilon(1e-15));
        double nnz_bound = 0;
        for (std::size_t start = 0; start < n; start += bucket ? bucket : n) {
            const double d = static_cast<double>(std::min(bucket ? bucket : n, n - start));
            nnz_bound += S * (S + std::sqrt(d));
        }
        if (sh == tv::shape::zero)
            continue;
        // Theory on this x: with nf rounded up from ||x_b|| (relative 2^-23 in the normal range,
        // up to 2^-149 absolute for subnormal norms), the bound is scaled by (nf/||x_b||)^2;
        // 1.01 covers both here (the subnormal norm is ~2^-129, so 2^-149 is 2^-20 relative).
        CHECK(m.omega_exact <= bound * 1.01);
        // The measurement: omega_hat is within the band of run_qsgd of omega_exact; that band
        // is <= 6 sqrt(omega / (s^2 N)) + small, so 6 sqrt(bound / (s^2 N)) + 1e-6 covers it.
        CHECK(m.omega_hat <= bound * 1.01 + 6 * std::sqrt(bound / (S * S * N)) + 1e-6);
        CHECK(m.nnz_exact <= nnz_bound);
        CHECK(m.nnz_hat <= nnz_bound + 6 * std::sqrt(nnz_bound / N)); // Var nnz <= E nnz
        if (sh == tv::shape::flat && s == 1 && bucket == 0) {
            // The worst case of A.8 for s = 1: omega = sqrt(d) - 1 (here nf = sqrt(n) exactly
            // up to the binary32 rounding of sqrt(160)).
            CHECK(m.omega_exact == Approx(std::sqrt(static_cast<double>(n)) - 1).epsilon(1e-6));
        }
        if (sh == tv::shape::one_hot)
            CHECK(m.omega_hat == 0.0); // y = s exactly: deterministic and exact
    }
}

TEST_CASE("qsgd sends each bucket's 2-norm rounded up to binary32", "[quantize][qsgd][exact]") {
    // Documented: the norm is rounded up so that |x_i| <= nf, hence y_i <= s. Our double norm of a
    // bucket of len entries is within (len + 2) 2^-53 relative of the library's, so
    // ||x_b|| (1 - e) <= nf <= ||x_b|| (1 + e) + ulp(nf), e = (len + 2) 2^-53.
    std::size_t rounded_up = 0, total = 0;
    for (const tv::shape sh : tv::all_shapes)
        for (const std::size_t n : {1u, 5u, 100u, 1000u})
            for (const std::size_t bucket : {std::size_t{0}, std::size_t{7}, std::size_t{64}})
                for (std::uint64_t sd = 0; sd < 4; ++sd) {
                    CAPTURE(tv::name(sh), n, bucket, sd);
                    const auto x = tv::make<float>(sh, n, 900 + sd);
                    qsgd_packed p(sparsify::identity{},
                                  quantize::qsgd{.levels = 5, .bucket = bucket});
                    const auto msg = p.compress(std::span<const float>(x));
                    const std::size_t b = bucket ? bucket : n;
                    for (std::size_t start = 0, k = 0; start < n; start += b, ++k) {
                        const std::size_t len = std::min(b, n - start);
                        double sq = 0;
                        for (std::size_t i = start; i < start + len; ++i)
                            sq += static_cast<double>(x[i]) * x[i];
                        const double norm = std::sqrt(sq), nf = scale_of(msg, k);
                        const double e = static_cast<double>(len + 2) * 0x1p-53;
                        const double ulp =
                            static_cast<double>(std::nextafter(
                                static_cast<float>(nf), std::numeric_limits<float>::infinity())) -
                            nf;
                        CHECK(nf >= norm * (1 - e));
                        CHECK(nf <= norm * (1 + e) + ulp);
                        rounded_up += nf > norm * (1 + e);
                        ++total;
                    }
                }
    CHECK(rounded_up > total / 4); // the upward rounding is visible, not an accident of exactness
}

TEST_CASE("qsgd message size: header, 4 bytes per norm, 1 + ceil(log2(s+1)) bits per entry",
          "[quantize][qsgd][bits]") {
    for (const std::uint32_t s : {1u, 2u, 3u, 4u, 7u, 8u, 15u, 16u, 255u, 256u, 1u << 24})
        for (const std::size_t n : {0u, 1u, 7u, 64u, 1000u})
            for (const std::size_t bucket : {std::size_t{0}, std::size_t{64}}) {
                CAPTURE(s, n, bucket);
                qsgd_packed p(sparsify::identity{}, quantize::qsgd{.levels = s, .bucket = bucket});
                const std::size_t norms = n == 0 ? 0 : bucket ? (n + bucket - 1) / bucket : 1;
                const std::size_t want = message_header::size + 4 * norms +
                                         (n * (1 + ceil_log2(std::uint64_t{s} + 1)) + 7) / 8;
                CHECK(p.max_message_size(n) == want);
                const auto x = tv::make<float>(tv::shape::gaussian, n, n);
                CHECK(p.compress(std::span<const float>(x)).size() == want);
            }
    // A.13: b(QSGD_s, plain) = 32 + d (1 + ceil(log2(s + 1))) bits, here s = 4, d = 1000.
    qsgd_packed p(sparsify::identity{}, quantize::qsgd{.levels = 4});
    const auto x = tv::make<float>(tv::shape::gaussian, 1000, 2);
    CHECK(8 * (p.compress(std::span<const float>(x)).size() - message_header::size) ==
          32 + 1000 * (1 + 3));
}

TEST_CASE("qsgd rejects levels outside 1 .. 2^24 when the pipeline is built",
          "[quantize][qsgd][param]") {
    for (const std::uint32_t s : {0u, (1u << 24) + 1, 0xffff'ffffu}) {
        CAPTURE(s);
        CHECK_THROWS_AS(qsgd_packed(sparsify::identity{}, quantize::qsgd{.levels = s}),
                        invalid_parameter);
        CHECK_THROWS_AS(recipes::qsgd(sparsify::identity{}, quantize::qsgd{.levels = s}),
                        invalid_parameter);
        CHECK_THROWS_WITH(
            qsgd_packed(sparsify::identity{}, quantize::qsgd{.levels = s}),
            Catch::Contains("qsgd: levels must be in [1, 2^24], got " + std::to_string(s)));
    }
    CHECK_NOTHROW(qsgd_packed(sparsify::identity{}, quantize::qsgd{.levels = 1u << 24}));
    CHECK_NOTHROW(qsgd_packed(sparsify::identity{}, quantize::qsgd{.levels = 1}));
    // 2^24 levels: 26-bit codes, and the result is within one level nf / s of x.
    qsgd_packed p(sparsify::identity{}, quantize::qsgd{.levels = 1u << 24});
    const auto x = tv::make<float>(tv::shape::gaussian, 100, 3);
    const auto msg = p.compress(std::span<const float>(x));
    std::vector<float> out(x.size());
    p.decompress(std::span<const std::byte>(msg), std::span<float>(out));
    const double level = std::sqrt(tv::norm2(x)) * 0x1p-24 * (1 + 0x1p-20);
    for (std::size_t i = 0; i < x.size(); ++i)
        CHECK(std::abs(static_cast<double>(out[i]) - x[i]) <= level + 0x1p-23 * std::abs(x[i]));
}

TEST_CASE("qsgd decoding rejects codes and norms it cannot have produced",
          "[quantize][qsgd][decode]") {
    // s = 4: 4-bit codes (level << 1) | sign; one norm. Payload checksums are off, so bytes can be
    // edited after the header.
    qsgd_packed p(sparsify::identity{}, quantize::qsgd{.levels = 4});
    const std::vector<float> x = {1.0f, -2.0f, 0.5f, 0.25f};
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
        Catch::Contains("payload.code[0]: 10 is not a valid qsgd code"));
    CHECK_THROWS_WITH(
        p.decompress(std::span<const std::byte>(with_code0(1u)), std::span<float>(out)),
        Catch::Contains("is not a valid qsgd code")); // a negative zero
    auto neg = msg;
    neg[message_header::size + 3] |= std::byte{0x80}; // sign bit of the norm
    CHECK_THROWS_AS(p.decompress(std::span<const std::byte>(neg), std::span<float>(out)),
                    decode_error);
    CHECK_THROWS_WITH(p.decompress(std::span<const std::byte>(neg), std::span<float>(out)),
                      Catch::Contains("is not a valid qsgd scale"));
    CHECK(out == std::vector<float>(x.size(), 42.0f)); // nothing written on failure
    CHECK_NOTHROW(
        p.decompress(std::span<const std::byte>(with_code0(4u << 1)), std::span<float>(out)));
}

TEST_CASE("qsgd edge cases: empty, one element, zero, subnormal, NaN and inf buckets",
          "[quantize][qsgd][edge]") {
    SECTION("n = 0: no norm, no codes") {
        qsgd_packed p;
        recipes::qsgd e;
        const std::vector<float> x;
        CHECK(p.compress(std::span<const float>(x)).size() == message_header::size);
        // Elias: gamma(nnz + 1) = gamma(1) is one bit, padded to a byte.
        const auto msg = e.compress(std::span<const float>(x));
        CHECK(msg.size() == message_header::size + 1);
        std::vector<float> out;
        CHECK_NOTHROW(e.decompress(std::span<const std::byte>(msg), std::span<float>(out)));
    }
    SECTION("n = 1: y = s exactly, so C(x) = x") {
        for (const float v : {1.0f, -3.5f, 1e-30f, 1e30f, 0x1p-140f, 0.0f, -0.0f}) {
            CAPTURE(v);
            for (const std::uint32_t s : {1u, 3u, 16u}) {
                qsgd_packed p(sparsify::identity{}, quantize::qsgd{.levels = s});
                const std::vector<float> x = {v};
                for (int t = 0; t < 5; ++t) {
                    const auto msg = p.compress(std::span<const float>(x));
                    std::vector<float> out(1);
                    p.decompress(std::span<const std::byte>(msg), std::span<float>(out));
                    CHECK(out[0] == v);
                }
            }
        }
    }
    SECTION("documented: a bucket with NaN decodes to NaN, one with inf to +-inf (each entry's "
            "sign), with every encoder; other buckets are unaffected") {
        const float nan = std::numeric_limits<float>::quiet_NaN();
        const float inf = std::numeric_limits<float>::infinity();
        auto check = [&](auto p, auto whole, float bad) {
            auto x = tv::make<float>(tv::shape::gaussian, 12, 4);
            x[5] = bad;                         // bucket 1 of [0,4) [4,8) [8,12)
            x[8] = x[9] = x[10] = x[11] = 0.0f; // bucket 2: zero norm
            std::vector<float> out(x.size());
            p.decompress(std::span<const std::byte>(p.compress(std::span<const float>(x))),
                         std::span<float>(out));
            auto poisoned = [&](std::size_t i) {
                return std::isnan(bad)
                           ? std::isnan(out[i])
                           : std::isinf(out[i]) && std::signbit(out[i]) == std::signbit(x[i]);
            };
            for (std::size_t i = 0; i < 4; ++i)
                CHECK(std::isfinite(out[i]));
            for (std::size_t i = 4; i < 8; ++i)
                CHECK(poisoned(i));
            for (std::size_t i = 8; i < 12; ++i)
                CHECK(std::bit_cast<std::uint32_t>(out[i]) == 0u);
            // One norm for the whole tensor: every entry is poisoned.
            whole.decompress(std::span<const std::byte>(whole.compress(std::span<const float>(x))),
                             std::span<float>(out));
            for (std::size_t i = 0; i < out.size(); ++i)
                CHECK(poisoned(i));
        };
        for (const float bad : {nan, inf, -inf}) {
            CAPTURE(bad);
            check(qsgd_packed(sparsify::identity{}, quantize::qsgd{.levels = 4, .bucket = 4}),
                  qsgd_packed(sparsify::identity{}, quantize::qsgd{.levels = 4}), bad);
            check(recipes::qsgd(sparsify::identity{}, quantize::qsgd{.levels = 4, .bucket = 4}),
                  recipes::qsgd(sparsify::identity{}, quantize::qsgd{.levels = 4}), bad);
        }
    }
    SECTION("double input: unbiased against the double values") {
        // Levels come from the double |x_i|; check the per-coordinate mean over N = 4000 trials
        // for one value against its two-point law (band 6 sqrt(Var / N)).
        const std::vector<double> x = {0.3, -0.4, 0.5 + 1e-12, 0.7};
        qsgd_packed p(sparsify::identity{}, quantize::qsgd{.levels = 2});
        std::vector<double> sum(x.size(), 0.0), out(x.size());
        const std::size_t trials = 4000;
        float nf = 0;
        for (std::size_t t = 0; t < trials; ++t) {
            const auto msg = p.compress(std::span<const double>(x));
            nf = scale_of(msg, 0);
            p.decompress(std::span<const std::byte>(msg), std::span<double>(out));
            for (std::size_t i = 0; i < x.size(); ++i)
                sum[i] += out[i];
        }
        for (std::size_t i = 0; i < x.size(); ++i) {
            const double q = nf / 2.0, y = std::abs(x[i]) / q, pi = y - std::floor(y);
            const double band = 6 * q * std::sqrt(pi * (1 - pi) / trials) + 2 * 0x1p-24 * q * 3;
            CHECK(std::abs(sum[i] / trials - x[i]) <= band);
        }
    }
}

TEST_CASE("qsgd keeps a finite bucket finite when its norm overflows binary32",
          "[quantize][qsgd][edge]") {
    // Two entries of 3e38: ||x|| = 4.24e38 > FLT_MAX. The sent scale is capped at FLT_MAX, which
    // still bounds every |x_i|, so levels stay in [0, s] and the decode stays unbiased and finite.
    // Per entry, Var C_i <= (FLT_MAX / s)^2 / 4 (two-point law); with s = 4 and N trials the mean
    // is within 6 sigma / sqrt(N) = 3 FLT_MAX / (4 sqrt(N)) of x_i.
    const std::vector<float> x = {3e38f, -3e38f, 1.0f, 0.0f};
    recipes::qsgd_packed p{{}, {.levels = 4}};
    constexpr int trials = 4000;
    std::vector<double> mean(x.size(), 0.0);
    std::vector<float> out(x.size());
    for (int t = 0; t < trials; ++t) {
        const auto msg = p.compress(std::span<const float>(x));
        float norm;
        std::memcpy(&norm, msg.data() + message_header::size, 4);
        REQUIRE(norm == std::numeric_limits<float>::max());
        p.decompress(std::span<const std::byte>(msg), std::span<float>(out));
        for (std::size_t i = 0; i < x.size(); ++i) {
            REQUIRE(std::isfinite(out[i]));
            mean[i] += double(out[i]) / trials;
        }
    }
    const double tol = 3.0 * double(std::numeric_limits<float>::max()) / (4.0 * std::sqrt(trials));
    for (std::size_t i = 0; i < x.size(); ++i)
        CHECK(std::abs(mean[i] - double(x[i])) <= tol);
}

// Theorem 3.2 of the paper (Elias coding of gaps, signs and levels) is [U] in OPERATORS.md A.8,
// so this tests the [D] bound of our elias_gamma scheme instead. A message with t nonzero levels
// l_j at gaps g_j (sum g_j <= d) costs B = 32 + gamma(t + 1) + sum gamma(g_j) + sum gamma(2 l_j +
// sign_j) bits, gamma(v) = 2 floor(log2 v) + 1 and gamma(2l + sign) = 2 floor(log2 l) + 3. Jensen
// on the logs gives, with L = sum l_j,
//   B <= G(t, L) = 33 + 2 log2(t + 1) + t (2 log2(d / t) + 2 log2(L / t) + 4)    (G(0, 0) = 33),
// for every message. G is jointly concave (t log(d/t) and the perspective t log(L/t) are), so
// E B <= G(E t, E L) with E t = sum_i min(1, s |x_i| / ||x||) and E L = s ||x||_1 / ||x||.
// The byte-padded payload adds < 8 bits. The paper's bound with o(1) = 0, for comparison in the
// docs: (3 + 1.5 log2(2 (s^2 + d) / (s (s + sqrt d)))) s (s + sqrt d) + 32.
TEST_CASE("qsgd with Elias gamma codes stays within its derived Theorem 3.2 style bound",
          "[quantize][qsgd][bits][theory]") {
    const auto G = [](double t, double L, double d) {
        return t == 0 ? 33.0
                      : 33 + 2 * std::log2(t + 1) +
                            t * (2 * std::log2(d / t) + 2 * std::log2(L / t) + 4);
    };
    for (const tv::shape sh : {tv::shape::flat, tv::shape::gaussian, tv::shape::heavy_tailed})
        for (const std::size_t d : {1024u, 65536u})
            for (const std::uint32_t s : {1u, 4u, 16u, static_cast<std::uint32_t>(std::sqrt(d))}) {
                CAPTURE(tv::name(sh), d, s);
                const auto x = tv::make<float>(sh, d, 31 + d + s);
                double l1 = 0, l2 = 0;
                for (float v : x) {
                    l1 += std::abs(double{v});
                    l2 += double{v} * v;
                }
                l2 = std::sqrt(l2);
                double et = 0;
                for (float v : x)
                    et += std::min(1.0, s * std::abs(double{v}) / l2);
                const double el = s * l1 / l2;
                recipes::qsgd p(sparsify::identity{}, quantize::qsgd{.levels = s}, {}, seed{5});
                std::vector<float> out(d);
                constexpr int trials = 100;
                double sum = 0, sum2 = 0;
                for (int r = 0; r < trials; ++r) {
                    const auto msg = p.compress(std::span<const float>(x));
                    p.decompress(std::span<const std::byte>(msg), std::span<float>(out));
                    // Levels back from the decoded values: l = |out| s / norm, norm the message's.
                    float norm = 0;
                    std::memcpy(&norm, msg.data() + message_header::size, 4);
                    double t = 0, L = 0;
                    for (float v : out)
                        if (v != 0.0f) {
                            t += 1;
                            L += std::round(std::abs(double{v}) * s / norm);
                        }
                    const double bits =
                        8.0 * static_cast<double>(msg.size() - message_header::size);
                    CHECK(bits < G(t, L, static_cast<double>(d)) + 8); // every message
                    sum += bits;
                    sum2 += bits * bits;
                }
                // The mean of 100 messages exceeds E B by 6 sd / sqrt(100) with probability ~1e-9
                // (CLT; sd measured); the norm's rounding up moves E t and E L by 2^-23 relative.
                const double mean = sum / trials;
                const double sd = std::sqrt(std::max(0.0, sum2 / trials - mean * mean));
                CHECK(mean <= G(et * (1 + 1e-6), el * (1 + 1e-6), static_cast<double>(d)) + 8 +
                                  6 * sd / std::sqrt(double{trials}));
            }
}
