// SPDX-License-Identifier: MIT
// induced<C1, C2> = C1(x) + C2(x - C1(x)) (OPERATORS.md A.10d): unbiased with
// omega = omega_2 (1 - alpha_1); messages checked like a pipeline's.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/commpress.hpp>

#include "support/vectors.hpp"

using namespace commpress;
namespace tv = commpress::testing;

namespace {

using topk_randk = induced<recipes::top_k, recipes::rand_k>;
// C1 random as well: if C2 drew from C1's stream it would pick C1's coordinates, where the
// residual is 0, and the result would be biased.
using randk_randk =
    induced<pipeline<sparsify::rand_k_unscaled, quantize::identity, encode::raw>, recipes::rand_k>;

using randk_unscaled = pipeline<sparsify::rand_k_unscaled, quantize::identity, encode::raw>;

template <class C>
C make(double r1, double r2, std::uint64_t sd = 42, message_options opts = {}) {
    using P1 = std::conditional_t<std::is_same_v<C, topk_randk>, recipes::top_k, randk_unscaled>;
    return C{P1{{.ratio = r1}, {}, {}, seed{sd}}, recipes::rand_k{{.ratio = r2}}, opts};
}

template <class C>
void unbiased_with_omega(tv::shape sh) {
    INFO(tv::name(sh));
    const std::size_t d = 200;
    const auto x = tv::make<double>(sh, d, 31);
    const double xx = tv::norm2(x);
    auto c = make<C>(0.1, 0.1);
    // omega_2 = d/k - 1 = 9, alpha_1 = 0.1: omega = 9 * 0.9 = 8.1.
    REQUIRE(c.omega(d) == Approx(8.1));
    constexpr int trials = 20000;
    std::vector<double> mean(d, 0.0), out(d);
    double sum = 0, sum2 = 0;
    for (int t = 0; t < trials; ++t) {
        c.decompress(std::span<const std::byte>(c.compress(std::span<const double>(x))),
                     std::span<double>(out));
        double e = 0;
        for (std::size_t i = 0; i < d; ++i) {
            mean[i] += out[i] / trials;
            e += (out[i] - x[i]) * (out[i] - x[i]);
        }
        sum += e;
        sum2 += e * e;
    }
    // Coordinate i of C(x) - x is C2(e)_i - e_i: (d/k - 1) e_i or -e_i, variance omega_2 e_i^2 <=
    // 9 ||x||_inf^2. The mean of N trials is within 6 sqrt(9 ||x||_inf^2 / N) (CLT, 6 sigma).
    double xinf = 0;
    for (double v : x)
        xinf = std::max(xinf, std::abs(v));
    for (std::size_t i = 0; i < d; ++i)
        CHECK(std::abs(mean[i] - x[i]) <= 6 * std::sqrt(9 * xinf * xinf / trials) + 1e-12);
    // E||C(x) - x||^2 = omega_2 E||e||^2 <= omega_2 (1 - alpha_1)||x||^2 = omega ||x||^2.
    // One-sided CLT bound on the mean of N trials: + 6 sd / sqrt(N).
    const double m = sum / trials, sd = std::sqrt(std::max(0.0, sum2 / trials - m * m));
    CHECK(m <= c.omega(d) * xx + 6 * sd / std::sqrt(double(trials)) + 1e-9 * xx);
}

constexpr float sentinel = -3.5f;

template <class C>
void rejects(C& c, const std::vector<std::byte>& msg, std::size_t n, const std::string& what) {
    std::vector<float> out(n, sentinel), acc(n, sentinel);
    CHECK_THROWS_WITH(c.decompress(std::span<const std::byte>(msg), std::span<float>(out)),
                      Catch::Contains(what));
    CHECK_THROWS_AS(c.decompress_add(std::span<const std::byte>(msg), std::span<float>(acc), 2.0f),
                    decode_error);
    CHECK(out == std::vector<float>(n, sentinel));
    CHECK(acc == std::vector<float>(n, sentinel));
}

} // namespace

TEST_CASE("induced: unbiased with omega = omega_2 (1 - alpha_1)", "[composition][induced]") {
    for (tv::shape sh : {tv::shape::flat, tv::shape::one_hot, tv::shape::gaussian,
                         tv::shape::heavy_tailed, tv::shape::zero}) {
        unbiased_with_omega<topk_randk>(sh);
        unbiased_with_omega<randk_randk>(sh);
    }
    STATIC_REQUIRE(topk_randk::unbiased);
    STATIC_REQUIRE(has_omega<topk_randk>);
    STATIC_REQUIRE_FALSE(has_alpha<topk_randk>);
}

TEST_CASE("induced: exact size, same bytes for the same seed, decompress_add", "[composition]") {
    const std::size_t n = 1000;
    const auto x = tv::make<float>(tv::shape::heavy_tailed, n, 32);
    auto a = make<topk_randk>(0.05, 0.02), b = make<topk_randk>(0.05, 0.02);
    const auto ma = a.compress(std::span<const float>(x));
    CHECK(ma == b.compress(std::span<const float>(x)));
    // Fixed-width parts: header + part size + top-k (50 x (32 + 10) bits) + rand-k (20 x 32).
    CHECK(ma.size() == a.max_message_size(n));
    CHECK(ma.size() == 48 + 4 + (50 * 42 + 7) / 8 + 20 * 4);
    CHECK(make<topk_randk>(0.05, 0.02, 43).fingerprint() != a.fingerprint());
    // decompress_add = decompress then add, up to one rounding of w (a + b) vs w a + w b per
    // element: |difference| <= 4 eps (|acc| + w |a| + w |b|) covers the three roundings.
    std::vector<float> out(n), parts(n), acc(n, 0.25f), expected(n, 0.25f);
    a.decompress(std::span<const std::byte>(ma), std::span<float>(out));
    const float w = 0.3f;
    a.decompress_add(std::span<const std::byte>(ma), std::span<float>(acc), w);
    for (std::size_t i = 0; i < n; ++i) {
        const double exact = 0.25 + double(w) * double(out[i]);
        CHECK(std::abs(acc[i] - exact) <=
              4 * 1.2e-7 * (0.25 + std::abs(double(w) * out[i]) + std::abs(x[i]) * w * 50));
    }
}

TEST_CASE("induced: bad messages raise decode_error and leave the output untouched",
          "[composition][induced]") {
    const std::size_t n = 300;
    const auto x = tv::make<float>(tv::shape::gaussian, n, 33);
    auto c = make<topk_randk>(0.1, 0.1);
    const auto msg = c.compress(std::span<const float>(x));
    rejects(c, {msg.begin(), msg.begin() + 40}, n, "shorter than the 48-byte header");
    rejects(c, {msg.begin(), msg.end() - 1}, n, "header.payload_bytes");
    auto other = make<topk_randk>(0.2, 0.1);
    rejects(other, msg, n, "header.fingerprint");
    rejects(c, msg, n + 1, "header.n");
    auto reseal = [](std::vector<std::byte>& m) {
        const std::uint32_t crc = crc32c(std::span<const std::byte>(m).first(44));
        for (int i = 0; i < 4; ++i)
            m[44 + i] = static_cast<std::byte>(crc >> (8 * i));
    };
    auto big = msg; // C1's part claims more bytes than the payload has
    big[48] = big[49] = big[50] = big[51] = std::byte{0xff};
    reseal(big);
    rejects(c, big, n, "size of C1's part exceeds the payload");
    auto shifted = msg; // one byte moved from C1's part to C2's: both parts misparse
    shifted[48] = static_cast<std::byte>(static_cast<std::uint8_t>(shifted[48]) - 1);
    reseal(shifted);
    rejects(c, shifted, n, "payload");
    for (std::size_t bit = 0; bit < 8 * 48; bit += 7) {
        auto m = msg;
        m[bit / 8] ^= std::byte(1u << (bit % 8));
        rejects(c, m, n, "header.");
    }
    auto checked = make<topk_randk>(0.1, 0.1, 42, {.payload_checksum = true});
    const auto cm = checked.compress(std::span<const float>(x));
    for (std::size_t byte = 48; byte < cm.size(); byte += 13) {
        auto m = cm;
        m[byte] ^= std::byte{0x20};
        rejects(checked, m, n, "payload.checksum");
    }
}
