// SPDX-License-Identifier: MIT
// Every composition the conformance suite runs over: all recipes plus mixed stages, so that each
// sparsifier, quantizer and encoder is met in each index mode and layout.
#pragma once

#include <cstdint>
#include <tuple>

#include <commpress/commpress.hpp>
#ifdef COMMPRESS_TEST_ZSTD
#include <commpress/encode/zstd.hpp>
#endif

namespace commpress::testing {

namespace s = sparsify;
namespace q = quantize;
namespace e = encode;

using compositions = std::tuple<
    recipes::fp32, recipes::fp16, recipes::bf16, recipes::fp16_sr, recipes::bf16_sr, recipes::top_k,
    recipes::rand_k, recipes::qsgd, recipes::qsgd_packed, recipes::scaled_sign, recipes::topk_qsgd,
    pipeline<s::rand_k_unscaled, q::bf16, e::bitpack>, pipeline<s::top_k, q::scaled_sign, e::raw>,
    pipeline<s::rand_k, q::qsgd, e::elias_gamma>, pipeline<s::identity, q::fp16_sr, e::elias_gamma>,
    pipeline<s::top_k, q::identity, e::elias_gamma>,
    pipeline<s::identity, q::scaled_sign, e::elias_gamma>, pipeline<s::identity, q::qsgd, e::raw>,
    pipeline<s::rand_k, q::fp16_sr, e::bitpack>,
    pipeline<s::top_k, q::scaled<q::qsgd>, e::elias_gamma>, recipes::terngrad, recipes::uniform8,
    recipes::uniform8_sr, pipeline<s::top_k, q::terngrad_clipped, e::raw>,
    pipeline<s::rand_k, q::uniform_sr, e::elias_delta>, pipeline<s::top_k, q::qsgd, e::elias_delta>,
    pipeline<s::identity, q::terngrad, e::elias_delta>, recipes::natural,
    recipes::natural_dithering, pipeline<s::identity, q::random_dithering, e::bitpack>,
    pipeline<s::rand_k, q::natural, e::raw>, pipeline<s::top_k, q::natural, e::bitpack>,
    pipeline<s::identity, q::natural_dithering, e::elias_delta>,
    pipeline<s::comp_k, q::identity, e::bitpack>, pipeline<s::comp_k_unscaled, q::identity, e::raw>,
    pipeline<s::mix_k, q::fp16, e::elias_gamma>, pipeline<s::perm_k, q::identity, e::raw>,
    pipeline<s::perm_k, q::natural, e::bitpack>, pipeline<s::threshold, q::identity, e::bitpack>,
    pipeline<s::threshold, q::qsgd, e::elias_gamma>,
    pipeline<s::dgc_top_k, q::identity, e::bitpack>,
    pipeline<s::adaptive_rand, q::natural, e::elias_delta>, recipes::sign, recipes::onebit,
    pipeline<s::top_k, q::onebit, e::elias_gamma>, pipeline<s::rand_k, q::sign, e::raw>,
    recipes::qsgd_rans, pipeline<s::threshold, q::qsgd, e::rans>,
    pipeline<s::top_k, q::identity, e::sorted_index>, pipeline<s::mix_k, q::fp16, e::sorted_index>,
    pipeline<s::rand_k, q::uniform, e::rans>
#ifdef COMMPRESS_TEST_ZSTD
    ,
    pipeline<s::top_k, q::identity, e::zstd<e::sorted_index>>,
    pipeline<s::identity, q::qsgd, e::zstd<e::bitpack>>
#endif
    >;

/// A pipeline with parameters that keep a tenth of the coordinates (so sparse compositions carry
/// a useful number of entries at the test sizes) and bucketed QSGD.
template <class P>
P make(std::uint64_t sd = 42, std::uint32_t worker = 0, message_options opts = {}) {
    typename P::sparsifier_type sp{};
    if constexpr (requires { sp.ratio; })
        sp.ratio = 0.1;
    if constexpr (requires { sp.ratio_prime; })
        sp.ratio_prime = 0.3; // comp_k: k of the top 3k
    if constexpr (requires { sp.workers; })
        sp.workers = 8; // perm_k: the suite uses worker ids up to 5
    if constexpr (requires { sp.lambda; })
        sp.lambda = 1.0; // threshold: about a third of a Gaussian, none of the subnormal vector
    typename P::quantizer_type qu{};
    if constexpr (requires { qu.bucket; })
        qu.bucket = 128;
    return P{sp, qu, {}, seed{sd}, stream{.worker = worker, .tensor = 0}, opts};
}

} // namespace commpress::testing
