// SPDX-License-Identifier: MIT
// sparsify::dgc_top_k: the sampled threshold only changes the cost, never the result, so its
// messages carry exactly top_k's coordinates and values (same tie rule), for every sample size,
// seed and shape, including all-equal magnitudes (every coordinate is a candidate) and samples
// too small to see the top (the threshold is lowered until k candidates exist).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/encode/bitpack.hpp>
#include <commpress/pipeline.hpp>
#include <commpress/quantize/identity.hpp>
#include <commpress/sparsify/dgc_top_k.hpp>
#include <commpress/sparsify/top_k.hpp>

#include "support/vectors.hpp"

namespace {

using namespace commpress;
namespace tv = commpress::testing;

using dgc_fp32 = pipeline<sparsify::dgc_top_k, quantize::identity, encode::bitpack>;
using topk_fp32 = pipeline<sparsify::top_k, quantize::identity, encode::bitpack>;

template <class T>
void same_as_top_k(const std::vector<T>& x, std::size_t k, double sample_ratio,
                   std::uint64_t seed_value) {
    dgc_fp32 dgc(sparsify::dgc_top_k{0.01, k, sample_ratio}, {}, {}, seed{seed_value});
    topk_fp32 top(sparsify::top_k{0.01, k});
    const auto a = dgc.compress(std::span<const T>(x));
    const auto b = top.compress(std::span<const T>(x));
    // Same payload bytes (the headers differ only in the configuration fingerprint).
    REQUIRE(a.size() == b.size());
    CHECK(std::equal(a.begin() + message_header::size, a.end(), b.begin() + message_header::size));
    CHECK(dgc.alpha(x.size()) == top.alpha(x.size()));
}

} // namespace

TEST_CASE("dgc_top_k selects exactly top_k's coordinates", "[sparsify][dgc_top_k]") {
    for (const tv::shape s : tv::all_shapes)
        for (const std::size_t n : {1u, 2u, 7u, 300u, 4099u, 50000u})
            for (const std::size_t k : {1u, 3u, 40u, 1000u})
                for (const double sample_ratio : {1e-6, 0.01, 1.0}) {
                    CAPTURE(tv::name(s), n, k, sample_ratio);
                    const auto x = tv::make<float>(s, n, 900 + n + k);
                    same_as_top_k(x, k, sample_ratio, 11 + n);
                    if (n == 4099)
                        same_as_top_k(tv::make<double>(s, n, 77 + k), k, sample_ratio, 5);
                }
}

TEST_CASE("dgc_top_k finds the top when the sample misses it", "[sparsify][dgc_top_k]") {
    // 10 large values among 2^16 zeros: a 256-element sample almost surely sees only zeros, so the
    // estimated threshold is 0 and every coordinate is a candidate; the top 10 must still win.
    std::vector<float> x(1u << 16, 0.0f);
    for (std::size_t j = 0; j < 10; ++j)
        x[j * 6007 + 5] = static_cast<float>(j + 1);
    same_as_top_k(x, 10, 1e-6, 3);
    // Fewer candidates than k at the first threshold: k = 20 > 10 nonzeros.
    same_as_top_k(x, 20, 0.01, 4);
}

TEST_CASE("dgc_top_k rejects bad sample ratios", "[sparsify][dgc_top_k][errors]") {
    for (const double bad : {0.0, -0.5, 1.5})
        CHECK_THROWS_AS(dgc_fp32(sparsify::dgc_top_k{0.01, 0, bad}), invalid_parameter);
}
