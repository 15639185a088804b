// SPDX-License-Identifier: MIT
// quantize::onebit through recipes::onebit (OPERATORS.md A.6): the projection identity
// ||C(x) - x||^2 = ||x||^2 - ||C(x)||^2 up to the binary32 rounding of the means (tolerance
// derived below), alpha = 1 / min(bucket, m) pointwise, exact message sizes, edge cases.
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
#include <type_traits>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/recipes.hpp>

#include "support/vectors.hpp"

namespace {

using namespace commpress;
namespace tv = commpress::testing;

std::size_t buckets(std::size_t n, std::size_t bucket) {
    return bucket ? (n + bucket - 1) / bucket : (n != 0);
}

float scale_at(std::span<const std::byte> msg, std::size_t k) {
    std::uint32_t v = 0;
    for (unsigned b = 0; b < 4; ++b)
        v |= std::uint32_t{std::to_integer<std::uint8_t>(msg[message_header::size + 4 * k + b])}
             << (8 * b);
    return std::bit_cast<float>(v);
}

struct decoded {
    std::vector<double> out;
    std::vector<float> scales;
};

template <class T>
decoded round_trip(recipes::onebit& p, const std::vector<T>& x, std::size_t bucket) {
    const auto msg = p.compress(std::span<const T>(x));
    const std::size_t nb = buckets(x.size(), bucket);
    REQUIRE(msg.size() == message_header::size + 8 * nb + (x.size() + 7) / 8);
    decoded d;
    for (std::size_t k = 0; k < 2 * nb; ++k)
        d.scales.push_back(scale_at(msg, k));
    std::vector<T> out(x.size(), T{-7});
    p.decompress(std::span<const std::byte>(msg), std::span<T>(out));
    d.out.assign(out.begin(), out.end());
    return d;
}

bool verbose() { return std::getenv("COMMPRESS_TEST_VERBOSE") != nullptr; }

double half_ulp(float s) {
    return (static_cast<double>(std::nextafter(s, std::numeric_limits<float>::infinity())) - s) / 2;
}

} // namespace

static_assert(quantizer<quantize::onebit>);
static_assert(!recipes::onebit::unbiased && !has_omega<recipes::onebit>);
static_assert(has_alpha<recipes::onebit>);

TEMPLATE_TEST_CASE("onebit is the projection onto per-bucket sign-group means, alpha = 1/b",
                   "[quantize][onebit][theory]", float, double) {
    for (const std::size_t bucket : {0u, 1u, 3u, 64u, 5000u})
        for (const tv::shape s : tv::all_shapes)
            for (const std::size_t n : {1u, 2u, 7u, 64u, 255u, 1000u}) {
                CAPTURE(bucket, tv::name(s), n);
                const auto x = tv::make<TestType>(s, n, 700 + n);
                recipes::onebit p(sparsify::identity{}, quantize::onebit{.bucket = bucket});
                const auto [out, scales] = round_trip(p, x, bucket);
                const std::size_t b = bucket ? std::min<std::size_t>(bucket, n) : n;
                // Per bucket and sign group G: the scale is the binary32 rounding of the exact
                // mean |x_i| (long double reference), and every member decodes to it, signed.
                // Error identity: with mu_f = mu + delta the sent mean, the cross term
                // sum_G (mu - |x_i|) vanishes, so exactly
                //   ||C - x||^2_G = ||x||^2_G - |G| mu^2 + |G| delta^2,
                //   ||x||^2_G - ||C||^2_G = ||x||^2_G - |G| mu^2 - 2 |G| mu delta - |G| delta^2,
                // a gap of 2 |G| |delta| mu_f. |delta| <= h_G: half an ulp of mu_f (RN, also
                // subnormal) plus (|G| + 1) 2^-53 mu for the library's double sum and division.
                double gap = 0;
                std::size_t bad = 0;
                for (std::size_t start = 0, k = 0; start < n; start += b, ++k)
                    for (unsigned c = 0; c < 2; ++c) {
                        long double sum = 0;
                        std::size_t cnt = 0;
                        for (std::size_t i = start; i < std::min(n, start + b); ++i)
                            if (std::signbit(x[i]) == (c == 1)) {
                                sum += std::abs(static_cast<long double>(x[i]));
                                ++cnt;
                                const double want =
                                    c ? -double{scales[2 * k + c]} : double{scales[2 * k + c]};
                                bad += std::bit_cast<std::uint64_t>(out[i]) !=
                                       std::bit_cast<std::uint64_t>(want);
                            }
                        const float mf = scales[2 * k + c];
                        const double mu = cnt ? static_cast<double>(sum / cnt) : 0.0;
                        const double h = half_ulp(mf) + static_cast<double>(cnt + 1) * 0x1p-53 * mu;
                        CHECK(std::abs(static_cast<double>(mf) - mu) <= h);
                        gap += 2 * static_cast<double>(cnt) * h * mf;
                    }
                CHECK(bad == 0);
                double norm2 = 0, c2 = 0, err = 0;
                for (std::size_t i = 0; i < n; ++i) {
                    const double xi = static_cast<double>(x[i]);
                    norm2 += xi * xi;
                    c2 += out[i] * out[i];
                    err += (out[i] - xi) * (out[i] - xi);
                }
                // Computing err, norm2 and c2 in double: (n + 4) 2^-53 relative each.
                const double tol =
                    gap + static_cast<double>(3 * n + 12) * 0x1p-53 * std::max(norm2, c2);
                CAPTURE(err, norm2, c2, tol);
                CHECK(std::abs(err - (norm2 - c2)) <= tol);
                // alpha = 1 / min(bucket, m), pointwise.
                const double alpha = p.alpha(n);
                if (verbose() && n == 1000 && norm2 > 0)
                    std::printf("onebit %-6s bucket %4zu %-12s alpha(x) %.6f bound %.6f\n",
                                sizeof(TestType) == 4 ? "float" : "double", bucket, tv::name(s),
                                1 - err / norm2, alpha);
                CHECK(alpha == 1.0 / static_cast<double>(b));
                CHECK(err <= (1 - alpha) * norm2 + tol);
                if (s == tv::shape::one_hot && n % b == 0) // attained: the bound is tight
                    CHECK(std::abs(err - (1 - alpha) * norm2) <= tol);
                if (s == tv::shape::flat || s == tv::shape::zero ||
                    (b == 1 && std::is_same_v<TestType, float>))
                    CHECK(err == 0.0); // each group constant (and a binary32): C(x) = x
                // Never worse than scaled sign (same subspace) when there is a single bucket.
                if (bucket == 0 || bucket >= n) {
                    recipes::scaled_sign ss;
                    std::vector<TestType> o(n);
                    ss.decompress(
                        std::span<const std::byte>(ss.compress(std::span<const TestType>(x))),
                        std::span<TestType>(o));
                    double e2 = 0;
                    for (std::size_t i = 0; i < n; ++i)
                        e2 += (static_cast<double>(o[i]) - static_cast<double>(x[i])) *
                              (static_cast<double>(o[i]) - static_cast<double>(x[i]));
                    CHECK(err <= e2 + 2 * tol);
                }
            }
}

TEST_CASE("onebit message: header + 8 bytes per bucket + ceil(m / 8)", "[quantize][onebit][bits]") {
    for (const std::size_t bucket : {0u, 1u, 8u, 100u})
        for (const std::size_t n : {0u, 1u, 7u, 8u, 9u, 64u, 1000u, 1001u}) {
            CAPTURE(bucket, n);
            recipes::onebit p(sparsify::identity{}, quantize::onebit{.bucket = bucket});
            const std::size_t want = message_header::size + 8 * buckets(n, bucket) + (n + 7) / 8;
            CHECK(p.max_message_size(n) == want);
            const auto x = tv::make<float>(tv::shape::gaussian, n, n);
            CHECK(p.compress(std::span<const float>(x)).size() == want);
        }
    // n + 64 bits per bucket-free tensor.
    recipes::onebit p;
    const auto x = tv::make<float>(tv::shape::gaussian, 1024, 9);
    CHECK(8 * (p.compress(std::span<const float>(x)).size() - message_header::size) == 1024 + 64);
}

TEST_CASE("onebit edge cases: one-hot, zeros, subnormals, non-finite, double saturation",
          "[quantize][onebit][edge]") {
    recipes::onebit p;
    SECTION("one-hot: the +0 entries share the hot entry's group") {
        const std::vector<float> x = {0.0f, 4.0f, 0.0f, 0.0f};
        CHECK(round_trip(p, x, 0).out == std::vector<double>(4, 1.0));
        const std::vector<float> y = {-0.0f, -4.0f, -0.0f, -0.0f};
        CHECK(round_trip(p, y, 0).out == std::vector<double>(4, -1.0));
    }
    SECTION("zeros keep their sign bit; empty groups send 0") {
        const std::vector<float> x = {0.0f, -0.0f, 0.0f};
        const auto d = round_trip(p, x, 0);
        CHECK(d.scales == std::vector<float>{0.0f, 0.0f});
        CHECK(std::bit_cast<std::uint64_t>(d.out[0]) == 0u);
        CHECK(std::bit_cast<std::uint64_t>(d.out[1]) == 0x8000'0000'0000'0000u);
        const std::vector<float> pos = {1.0f, 2.0f};
        CHECK(round_trip(p, pos, 0).scales == std::vector<float>{1.5f, 0.0f});
    }
    SECTION("subnormal means are exact when representable, no flush to zero") {
        const std::vector<float> x = {3 * 0x1p-149f, 0x1p-149f, -0x1p-148f, -0x1p-147f};
        const auto d = round_trip(p, x, 0);
        CHECK(d.scales == std::vector<float>{0x1p-148f, 3 * 0x1p-149f});
        CHECK(d.out == std::vector<double>{0x1p-148, 0x1p-148, -3 * 0x1p-149, -3 * 0x1p-149});
    }
    SECTION("double input: nearest binary32 of the mean; beyond FLT_MAX it saturates") {
        const std::vector<double> x = {0.1, 0.2, -1e300, -1e300, 0.3000000001};
        const auto d = round_trip(p, x, 0);
        CHECK(d.scales[0] == static_cast<float>((0.1 + 0.2 + 0.3000000001) / 3));
        CHECK(d.scales[1] == std::numeric_limits<float>::max());
    }
    SECTION("documented: NaN makes its group NaN, an infinity its group infinite") {
        const float nan = std::numeric_limits<float>::quiet_NaN();
        const float inf = std::numeric_limits<float>::infinity();
        const std::vector<float> x = {1.0f, -nan, -2.0f, 3.0f};
        const auto d = round_trip(p, x, 0);
        CHECK(d.scales[0] == 2.0f);
        CHECK((std::isnan(d.scales[1]) && !std::signbit(d.scales[1])));
        CHECK((std::isnan(d.out[1]) && std::isnan(d.out[2]) && d.out[3] == 2.0));
        const std::vector<float> y = {1.0f, inf, -2.0f};
        CHECK(round_trip(p, y, 0).out == std::vector<double>{inf, inf, -2.0});
    }
}

TEST_CASE("onebit validation: bucket range and the sign bit of the scales",
          "[quantize][onebit][decode]") {
    CHECK_THROWS_WITH(
        recipes::onebit(sparsify::identity{}, quantize::onebit{.bucket = std::size_t{1} << 32}),
        Catch::Contains("onebit: bucket must be 0"));
    // The largest bucket is one bucket (no overflow in the bucket count), like bucket = 0.
    const std::size_t big = (std::size_t{1} << 32) - 1;
    recipes::onebit huge(sparsify::identity{}, quantize::onebit{.bucket = big});
    const std::vector<float> five = {1.0f, -2.0f, 3.0f, -4.0f, 5.0f};
    CHECK(round_trip(huge, five, big).out == std::vector<double>{3, -3, 3, -3, 3});
    CHECK(recipes::onebit(sparsify::identity{}, quantize::onebit{.bucket = 4}).fingerprint() !=
          recipes::onebit(sparsify::identity{}, quantize::onebit{.bucket = 8}).fingerprint());
    // Scales are magnitudes: a set sign bit is a corrupt message; inf and NaN are what non-finite
    // inputs send, so they decode.
    const quantize::onebit q;
    CHECK(q.valid_scale(0.0f));
    CHECK(q.valid_scale(std::numeric_limits<float>::infinity()));
    CHECK(q.valid_scale(std::numeric_limits<float>::quiet_NaN()));
    CHECK_FALSE(q.valid_scale(-0.0f));
    CHECK_FALSE(q.valid_scale(-1.0f));
    recipes::onebit p(sparsify::identity{}, quantize::onebit{.bucket = 2});
    const std::vector<float> x = {1.0f, -0.5f, 0.25f, 0.0f};
    const auto msg = p.compress(std::span<const float>(x));
    for (const std::size_t k : {0u, 1u, 2u, 3u}) {
        CAPTURE(k);
        auto bad = msg;
        bad[message_header::size + 4 * k + 3] ^= std::byte{0x80}; // flip scale k's sign bit
        std::vector<float> out(4, 42.0f);
        CHECK_THROWS_WITH(p.decompress(std::span<const std::byte>(bad), std::span<float>(out)),
                          Catch::Contains("payload.scale[" + std::to_string(k) + "]") &&
                              Catch::Contains("is not a valid onebit scale"));
        CHECK(out == std::vector<float>(4, 42.0f));
    }
}
