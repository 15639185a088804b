// SPDX-License-Identifier: MIT
// Compile-time facts: concepts, and theory constants that exist only where the theory gives them.
#include <commpress/commpress.hpp>

namespace cp = commpress;
namespace s = cp::sparsify;
namespace q = cp::quantize;
namespace e = cp::encode;

static_assert(cp::sparsifier<s::identity> && cp::sparsifier<s::top_k> &&
              cp::sparsifier<s::rand_k> && cp::sparsifier<s::rand_k_unscaled>);
static_assert(cp::quantizer<q::identity> && cp::quantizer<q::fp16> && cp::quantizer<q::bf16_sr> &&
              cp::quantizer<q::qsgd> && cp::quantizer<q::scaled_sign>);
static_assert(cp::encoder<e::raw> && cp::encoder<e::bitpack> && cp::encoder<e::elias_gamma>);
static_assert(!cp::sparsifier<q::qsgd> && !cp::quantizer<s::top_k> && !cp::encoder<int>);

// Unbiased stages have omega, contractive ones alpha; the exact identity has both. Stages in
// EF-BV's C(eta, omega) have eta and omega (deterministic top-k: omega = 0).
static_assert(cp::has_omega<s::rand_k> && !cp::has_alpha<s::rand_k> && !cp::has_eta<s::rand_k>);
static_assert(cp::has_alpha<s::rand_k_unscaled> && !cp::has_omega<s::rand_k_unscaled>);
static_assert(cp::has_alpha<s::top_k> && cp::has_eta<s::top_k> && cp::has_eta<s::dgc_top_k>);
static_assert(cp::has_eta<s::comp_k> && !cp::has_alpha<s::comp_k> && cp::has_eta<s::mix_k>);
static_assert(!cp::has_omega<s::threshold> && !cp::has_alpha<s::threshold>);
static_assert(cp::has_omega<q::fp16_sr> && !cp::has_alpha<q::fp16_sr>);
static_assert(cp::has_alpha<q::fp16> && !cp::has_omega<q::fp16>);

// Compositions: the constant exists only where the theory derives one (OPERATORS.md A.10).
static_assert(cp::recipes::rand_k::unbiased && cp::has_omega<cp::recipes::rand_k>);
static_assert(!cp::recipes::top_k::unbiased && cp::has_eta<cp::recipes::top_k> &&
              cp::has_alpha<cp::recipes::top_k>);
// C(eta, omega) passes through an exact quantizer only: QSGD after comp-k has no published pair.
static_assert(cp::has_eta<cp::pipeline<s::comp_k, q::identity, e::raw>>);
static_assert(!cp::has_eta<cp::pipeline<s::comp_k, q::qsgd, e::raw>> &&
              !cp::has_omega<cp::pipeline<s::comp_k, q::qsgd, e::raw>>);
// Exact payload bits exist for fixed-width encoders and a fixed kept count only.
template <class P>
concept has_bits = requires(const P& p, std::size_t n) {
    p.bits(n);
};
static_assert(has_bits<cp::recipes::natural> && !has_bits<cp::recipes::qsgd>);
static_assert(!has_bits<cp::pipeline<s::threshold, q::identity, e::bitpack>>);
static_assert(!cp::recipes::topk_qsgd::unbiased && cp::has_alpha<cp::recipes::topk_qsgd>);
static_assert(cp::recipes::fp32::unbiased && cp::has_omega<cp::recipes::fp32> &&
              cp::has_alpha<cp::recipes::fp32>);
// rand-k (unbiased) followed by scaled sign (biased): no published constant, so neither exists.
using randk_sign = cp::pipeline<s::rand_k, q::scaled_sign, e::bitpack>;
static_assert(!randk_sign::unbiased && !cp::has_omega<randk_sign> && !cp::has_alpha<randk_sign>);

// Empty stages cost nothing in the pipeline object.
static_assert(sizeof(cp::recipes::fp32) < sizeof(cp::recipes::top_k));
