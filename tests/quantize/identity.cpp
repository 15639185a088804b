// SPDX-License-Identifier: MIT
// quantize::identity (binary32 values) through the pipeline (OPERATORS.md A.2, A.13): the fp32
// recipe is lossless for binary32 input, bit for bit (signed zeros, subnormals, infinities; NaN
// stays NaN), omega = 0 and alpha = 1, double input is rounded to nearest binary32, and a
// message is the header plus 4n bytes.
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/recipes.hpp>

#include "support/vectors.hpp"

namespace {
using namespace commpress;
namespace tv = commpress::testing;
} // namespace

static_assert(recipes::fp32::unbiased && has_omega<recipes::fp32> && has_alpha<recipes::fp32>);

TEST_CASE("fp32 round trip is bit exact", "[quantize][identity][exact]") {
    std::vector<float> x;
    std::mt19937_64 rng(32);
    for (int i = 0; i < 200000; ++i)
        x.push_back(std::bit_cast<float>(static_cast<std::uint32_t>(rng())));
    const float inf = std::numeric_limits<float>::infinity();
    for (const float f :
         {0.0f, -0.0f, inf, -inf, std::numeric_limits<float>::max(),
          std::numeric_limits<float>::min(), std::numeric_limits<float>::denorm_min(),
          -std::numeric_limits<float>::denorm_min(), 1.0f, -1.0f})
        x.push_back(f);
    for (const tv::shape s : tv::all_shapes) {
        const auto v = tv::make<float>(s, 100, 3);
        x.insert(x.end(), v.begin(), v.end());
    }
    recipes::fp32 p;
    const auto msg = p.compress(std::span<const float>(x));
    CHECK(msg.size() == message_header::size + 4 * x.size());
    std::vector<float> out(x.size());
    p.decompress(std::span<const std::byte>(msg), std::span<float>(out));
    std::size_t bad = 0, nans = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        if (std::isnan(x[i])) {
            ++nans;
            bad += !std::isnan(out[i]);
        } else {
            bad += std::bit_cast<std::uint32_t>(out[i]) != std::bit_cast<std::uint32_t>(x[i]);
        }
    }
    CHECK(nans > 0); // the random patterns include NaNs
    CHECK(bad == 0);
    CHECK(p.omega(x.size()) == 0.0);
    CHECK(p.alpha(x.size()) == 1.0);
}

TEST_CASE("fp32 rounds double input to nearest binary32", "[quantize][identity][exact]") {
    std::vector<double> x = {0.1,
                             -1.0 / 3.0,
                             1.0 + 0x1p-24,
                             1.0 + 0x1p-24 + 0x1p-50,
                             1e-45,
                             3e-39,
                             0.0,
                             -0.0,
                             std::numeric_limits<double>::infinity()};
    std::mt19937_64 rng(33);
    std::normal_distribution<double> g;
    for (int i = 0; i < 1000; ++i)
        x.push_back(g(rng));
    recipes::fp32 p;
    const auto msg = p.compress(std::span<const double>(x));
    CHECK(msg.size() == message_header::size + 4 * x.size());
    std::vector<double> out(x.size());
    p.decompress(std::span<const std::byte>(msg), std::span<double>(out));
    std::size_t bad = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double want = static_cast<float>(x[i]);
        bad += std::bit_cast<std::uint64_t>(out[i]) != std::bit_cast<std::uint64_t>(want);
    }
    CHECK(bad == 0);
    CHECK(out[2] == 1.0);           // tie: to even
    CHECK(out[3] == 1.0 + 0x1p-23); // just above the tie
}

TEST_CASE("fp32 message size is the header plus 4n bytes", "[quantize][identity][bits]") {
    for (const std::size_t n : {0u, 1u, 3u, 1000u}) {
        CAPTURE(n);
        recipes::fp32 p;
        CHECK(p.max_message_size(n) == message_header::size + 4 * n);
        const auto x = tv::make<float>(tv::shape::gaussian, n, 1);
        const auto msg = p.compress(std::span<const float>(x));
        CHECK(msg.size() == message_header::size + 4 * n);
        std::vector<float> out(n);
        p.decompress(std::span<const std::byte>(msg), std::span<float>(out));
        CHECK(out == x);
    }
}
