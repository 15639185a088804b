// SPDX-License-Identifier: MIT
// quantize::scaled_sign through the pipeline (OPERATORS.md A.6, A.13): C(x) = (||x||_1 / d) sign(x)
// with the sign bit of x (so -0 maps to -scale), ||C(x) - x||^2 = ||x||^2 - ||x||_1^2 / d up to the
// binary32 rounding of the scale (tolerance derived below), hence a contraction with the
// data-dependent alpha(x) = ||x||_1^2 / (d ||x||^2) >= 1/d; a message is the header, a 4-byte
// scale and ceil(d / 8) bytes of sign bits.
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/recipes.hpp>

#include "support/vectors.hpp"

namespace {

using namespace commpress;
namespace tv = commpress::testing;

float scale_of(std::span<const std::byte> msg) {
    std::uint32_t v = 0;
    for (unsigned b = 0; b < 4; ++b)
        v |= std::uint32_t{std::to_integer<std::uint8_t>(msg[message_header::size + b])} << (8 * b);
    return std::bit_cast<float>(v);
}

template <class T>
std::vector<T> round_trip(recipes::scaled_sign& p, const std::vector<T>& x,
                          float* scale = nullptr) {
    const auto msg = p.compress(std::span<const T>(x));
    REQUIRE(msg.size() == message_header::size + (x.empty() ? 0 : 4 + (x.size() + 7) / 8));
    if (scale && !x.empty())
        *scale = scale_of(msg);
    std::vector<T> out(x.size(), T{-7});
    p.decompress(std::span<const std::byte>(msg), std::span<T>(out));
    return out;
}

} // namespace

static_assert(!recipes::scaled_sign::unbiased && !has_omega<recipes::scaled_sign>);
static_assert(has_alpha<recipes::scaled_sign>);

TEST_CASE("scaled_sign error is exactly ||x||^2 - ||x||_1^2 / d",
          "[quantize][scaled_sign][theory]") {
    for (const tv::shape s : tv::all_shapes)
        for (const std::size_t n : {1u, 2u, 7u, 64u, 255u, 1000u}) {
            CAPTURE(tv::name(s), n);
            const auto x = tv::make<float>(s, n, 600 + n);
            recipes::scaled_sign p;
            float sf = 0;
            const auto out = round_trip(p, x, &sf);
            const double d = static_cast<double>(n);
            // Shape of C(x): +-scale with the sign bit of x_i, the scale sent in the message.
            std::size_t bad = 0;
            for (std::size_t i = 0; i < n; ++i)
                bad += !(std::abs(out[i]) == sf && std::signbit(out[i]) == std::signbit(x[i]));
            CHECK(bad == 0);
            double norm2 = 0, norm1 = 0, err = 0;
            for (std::size_t i = 0; i < n; ++i) {
                const double xi = x[i], ci = out[i];
                norm2 += xi * xi;
                norm1 += std::abs(xi);
                err += (ci - xi) * (ci - xi);
            }
            const double theory = norm2 - norm1 * norm1 / d;
            // Tolerance. With s = ||x||_1 / d and the sent binary32 scale s_f, expanding the
            // square gives exactly ||C(x) - x||^2 = theory + d (s_f - s)^2. |s_f - s| <= h: half a
            // binary32 ulp of s_f (RN, also in the subnormal range) plus (n + 2) 2^-53 s for the
            // double sum and division before it. Computing err (difference, square, n-term sum)
            // costs (n + 4) 2^-53 relative, computing theory (3n + 3) 2^-53 ||x||^2.
            const double ulp =
                static_cast<double>(std::nextafter(sf, std::numeric_limits<float>::infinity())) -
                sf;
            const double h = ulp / 2 + static_cast<double>(n + 2) * 0x1p-53 * sf;
            const double tol =
                d * h * h + static_cast<double>(4 * n + 8) * 0x1p-53 * std::max(norm2, err);
            CAPTURE(err, theory, tol);
            CHECK(std::abs(err - theory) <= tol);
            CHECK(std::abs(static_cast<double>(sf) - norm1 / d) <= h + d * 0x1p-53 * sf);
            // Contraction with alpha = 1/d in the worst case (Cauchy-Schwarz: ||x||_1 >= ||x||).
            CHECK(p.alpha(n) == 1.0 / d);
            CHECK(err <= (1 - 1.0 / d) * norm2 + tol);
            if (s == tv::shape::one_hot) // the worst case is attained
                CHECK(std::abs(err - (1 - 1.0 / d) * norm2) <= tol);
            if (s == tv::shape::flat || s == tv::shape::zero)
                CHECK(err == 0.0); // all |x_i| equal: C(x) = x
        }
}

TEST_CASE("scaled_sign message size: header, 4-byte scale, ceil(n/8) bytes",
          "[quantize][scaled_sign][bits]") {
    for (const std::size_t n : {0u, 1u, 7u, 8u, 9u, 64u, 1000u, 1001u}) {
        CAPTURE(n);
        recipes::scaled_sign p;
        const std::size_t want = message_header::size + (n == 0 ? 0 : 4 + (n + 7) / 8);
        CHECK(p.max_message_size(n) == want);
        const auto x = tv::make<float>(tv::shape::gaussian, n, n);
        CHECK(p.compress(std::span<const float>(x)).size() == want);
        CHECK(round_trip(p, x).size() == n); // decodes, also when empty
    }
    // A.13: b(scaled sign) = d + 32 bits, padded to a byte.
    recipes::scaled_sign p;
    const auto x = tv::make<float>(tv::shape::gaussian, 1024, 1);
    CHECK(8 * (p.compress(std::span<const float>(x)).size() - message_header::size) == 1024 + 32);
}

TEST_CASE("scaled_sign edge cases: signed zeros, NaN, infinities, double input",
          "[quantize][scaled_sign][edge]") {
    recipes::scaled_sign p;
    SECTION("+0 maps to +scale, -0 to -scale") {
        const std::vector<float> x = {0.0f, -0.0f, 4.0f, -4.0f};
        const auto out = round_trip(p, x);
        CHECK(out == std::vector<float>{2.0f, -2.0f, 2.0f, -2.0f});
    }
    SECTION("all zeros: scale 0, C(x) = +-0") {
        const std::vector<float> x = {0.0f, -0.0f, 0.0f};
        const auto out = round_trip(p, x);
        CHECK(std::bit_cast<std::uint32_t>(out[0]) == 0u);
        CHECK(std::bit_cast<std::uint32_t>(out[1]) == 0x8000'0000u);
    }
    SECTION("documented: NaN makes the scale NaN") {
        const std::vector<float> x = {1.0f, std::numeric_limits<float>::quiet_NaN(), -2.0f};
        for (const float v : round_trip(p, x))
            CHECK(std::isnan(v));
    }
    SECTION("an infinity makes the scale infinite; signs are kept") {
        const float inf = std::numeric_limits<float>::infinity();
        const std::vector<float> x = {-inf, 1.0f, -2.0f};
        CHECK(round_trip(p, x) == std::vector<float>{-inf, inf, -inf});
    }
    SECTION("double input: the scale is the binary32 rounding of ||x||_1 / d") {
        const std::vector<double> x = {0.1, -0.2, 0.3000000001};
        const auto out = round_trip(p, x);
        const auto sf = static_cast<double>(static_cast<float>((0.1 + 0.2 + 0.3000000001) / 3));
        CHECK(out == std::vector<double>{sf, -sf, sf});
    }
}
