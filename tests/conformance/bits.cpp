// SPDX-License-Identifier: MIT
// pipeline::bits(n), the payload bit count of the theory (OPERATORS.md A.13), against the
// formulas written out here, and the message size it implies: header + ceil(bits / 8) bytes.
#include <cstddef>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/recipes.hpp>

#include "support/vectors.hpp"

namespace {

using namespace commpress;
namespace tv = commpress::testing;

std::size_t ceil_log2(std::size_t n) { // smallest b with 2^b >= n
    std::size_t b = 0;
    while ((std::size_t{1} << b) < n)
        ++b;
    return b;
}

template <class P>
void check_bits(P p, std::size_t n, std::size_t expected) {
    CAPTURE(p.describe(), n);
    CHECK(p.bits(n) == expected);
    const auto x = tv::make<float>(tv::shape::gaussian, n, 3 + n);
    CHECK(p.compress(std::span<const float>(x)).size() ==
          message_header::size + (expected + 7) / 8);
}

} // namespace

TEST_CASE("bits(n) is the theory's payload bit count", "[conformance][bits]") {
    for (const std::size_t n : {1u, 7u, 1000u, 4099u}) {
        const std::size_t k = (n + 99) / 100; // ratio 0.01, at least 1
        check_bits(recipes::fp32{}, n, 32 * n);
        check_bits(recipes::fp16{}, n, 16 * n);
        check_bits(recipes::bf16_sr{}, n, 16 * n);
        check_bits(recipes::top_k{}, n, k * (32 + ceil_log2(n)));
        check_bits(recipes::rand_k{}, n, 32 * k); // indices from the shared seed
        check_bits(recipes::scaled_sign{}, n, n + 32);
        check_bits(recipes::natural{}, n, 9 * n);
        check_bits(recipes::terngrad{}, n, 2 * n + 32);
        // QSGD plain: 32 + n (1 + ceil(log2(s + 1))) with one norm, s = 16.
        check_bits(recipes::qsgd_packed{}, n, 32 + n * (1 + ceil_log2(16 + 1)));
        // b-bit min-max per bucket: b n + 64 per bucket (minimum and maximum).
        recipes::uniform8 u8({}, quantize::uniform{.bits = 8, .bucket = 512});
        check_bits(u8, n, 8 * n + 64 * ((n + 511) / 512));
    }
}
