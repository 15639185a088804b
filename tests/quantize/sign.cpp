// SPDX-License-Identifier: MIT
// quantize::sign through recipes::sign (OPERATORS.md A.6): C(x)_i = +-1 by the sign bit of x_i,
// exactly d bits after the header, no alpha and no omega (no contraction class), edge cases.
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

template <class T>
std::vector<T> round_trip(recipes::sign& p, const std::vector<T>& x) {
    const auto msg = p.compress(std::span<const T>(x));
    REQUIRE(msg.size() == message_header::size + (x.size() + 7) / 8);
    std::vector<T> out(x.size(), T{7});
    p.decompress(std::span<const std::byte>(msg), std::span<T>(out));
    return out;
}

} // namespace

static_assert(quantizer<quantize::sign>);
static_assert(!quantize::sign::unbiased && !has_alpha<quantize::sign> &&
              !has_omega<quantize::sign>);
static_assert(!recipes::sign::unbiased && !has_alpha<recipes::sign> && !has_omega<recipes::sign>);

TEMPLATE_TEST_CASE("sign decodes to +-1 by the sign bit of every entry, on every shape",
                   "[quantize][sign]", float, double) {
    for (const tv::shape s : tv::all_shapes)
        for (const std::size_t n : {1u, 7u, 8u, 64u, 1001u}) {
            CAPTURE(tv::name(s), n);
            const auto x = tv::make<TestType>(s, n, 900 + n);
            recipes::sign p;
            const auto out = round_trip(p, x);
            std::size_t bad = 0;
            for (std::size_t i = 0; i < n; ++i)
                bad += out[i] != (std::signbit(x[i]) ? TestType{-1} : TestType{1});
            CHECK(bad == 0);
        }
}

TEST_CASE("sign message: header plus exactly d bits", "[quantize][sign][bits]") {
    for (const std::size_t n : {0u, 1u, 7u, 8u, 9u, 64u, 1000u, 1001u}) {
        CAPTURE(n);
        recipes::sign p;
        const std::size_t want = message_header::size + (n + 7) / 8;
        CHECK(p.max_message_size(n) == want);
        const auto x = tv::make<float>(tv::shape::gaussian, n, n);
        CHECK(p.compress(std::span<const float>(x)).size() == want);
        CHECK(round_trip(p, x).size() == n); // decodes, also when empty
    }
    recipes::sign p;
    const auto x = tv::make<float>(tv::shape::gaussian, 1024, 3);
    CHECK(8 * (p.compress(std::span<const float>(x)).size() - message_header::size) == 1024);
    // The payload is the sign bits themselves, LSB first (bitpack's layout).
    const std::vector<float> y = {1.0f, -2.0f, 0.0f, -0.0f, -5.0f, 3.0f, 1.0f, 1.0f, -1.0f};
    const auto msg = p.compress(std::span<const float>(y));
    REQUIRE(msg.size() == message_header::size + 2);
    CHECK(std::to_integer<unsigned>(msg[message_header::size]) == 0b0001'1010u);
    CHECK(std::to_integer<unsigned>(msg[message_header::size + 1]) == 0b1u);
}

TEST_CASE("sign is in no contraction class: ||C(x)|| = sqrt(d) whatever ||x|| is",
          "[quantize][sign][theory]") {
    const std::size_t n = 256;
    auto x = tv::make<double>(tv::shape::gaussian, n, 5);
    for (const double t : {1e-20, 1.0, 1e20}) {
        CAPTURE(t);
        std::vector<double> y(n);
        for (std::size_t i = 0; i < n; ++i)
            y[i] = t * x[i];
        recipes::sign p;
        const auto out = round_trip(p, y);
        CHECK(tv::norm2(out) == static_cast<double>(n));
        double err = 0;
        for (std::size_t i = 0; i < n; ++i)
            err += (out[i] - y[i]) * (out[i] - y[i]);
        // ||C(x) - x||^2 <= (1 - alpha) ||x||^2 fails for every alpha > 0 at one of the ends:
        // small x has error ~ d >> ||x||^2, large x has error ~ ||x||^2 (1 - 2 ||x||_1 / (t d)).
        if (t == 1e-20)
            CHECK(err > 1e30 * tv::norm2(y));
        if (t == 1e20)
            CHECK(err > (1 - 1e-15) * tv::norm2(y));
    }
}

TEST_CASE("sign edge cases: signed zeros, NaN by its sign bit, infinities, subnormals",
          "[quantize][sign][edge]") {
    recipes::sign p;
    const float inf = std::numeric_limits<float>::infinity();
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const std::vector<float> x = {0.0f, -0.0f, nan, -nan, inf, -inf, 0x1p-149f, -0x1p-149f};
    REQUIRE(!std::signbit(x[2]));
    REQUIRE(std::signbit(x[3]));
    CHECK(round_trip(p, x) == std::vector<float>{1, -1, 1, -1, 1, -1, 1, -1});
}

TEST_CASE("sign decoding rejects truncated and foreign messages and leaves out untouched",
          "[quantize][sign][decode]") {
    recipes::sign p;
    const auto x = tv::make<float>(tv::shape::gaussian, 20, 1);
    const auto msg = p.compress(std::span<const float>(x));
    std::vector<float> out(20, 42.0f);
    const auto short_msg = std::span<const std::byte>(msg).first(msg.size() - 1);
    CHECK_THROWS_AS(p.decompress(short_msg, std::span<float>(out)), decode_error);
    recipes::scaled_sign other; // same bits per code, another configuration
    CHECK_THROWS_AS(other.decompress(std::span<const std::byte>(msg), std::span<float>(out)),
                    decode_error);
    CHECK(out == std::vector<float>(20, 42.0f));
}
