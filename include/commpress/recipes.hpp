// SPDX-License-Identifier: MIT
// Named compositions: where most users start.
#pragma once

#include <commpress/encode/bitpack.hpp>
#include <commpress/encode/elias_gamma.hpp>
#include <commpress/encode/rans.hpp>
#include <commpress/encode/raw.hpp>
#include <commpress/encode/sorted_index.hpp>
#include <commpress/pipeline.hpp>
#include <commpress/quantize/dithering.hpp>
#include <commpress/quantize/half.hpp>
#include <commpress/quantize/identity.hpp>
#include <commpress/quantize/natural.hpp>
#include <commpress/quantize/onebit.hpp>
#include <commpress/quantize/qsgd.hpp>
#include <commpress/quantize/scaled_sign.hpp>
#include <commpress/quantize/sign.hpp>
#include <commpress/quantize/terngrad.hpp>
#include <commpress/quantize/uniform.hpp>
#include <commpress/sparsify/adaptive_rand.hpp>
#include <commpress/sparsify/dgc_top_k.hpp>
#include <commpress/sparsify/identity.hpp>
#include <commpress/sparsify/rand_k.hpp>
#include <commpress/sparsify/threshold.hpp>
#include <commpress/sparsify/top_k.hpp>

namespace commpress::recipes {

/// Uncompressed binary32: the baseline every other recipe is measured against. 32n bits.
using fp32 = pipeline<sparsify::identity, quantize::identity, encode::raw>;
/// Half-precision casts, 16n bits: nearest even (contractive) or stochastic (unbiased).
using fp16 = pipeline<sparsify::identity, quantize::fp16, encode::raw>;
using bf16 = pipeline<sparsify::identity, quantize::bf16, encode::raw>;
using fp16_sr = pipeline<sparsify::identity, quantize::fp16_sr, encode::raw>;
using bf16_sr = pipeline<sparsify::identity, quantize::bf16_sr, encode::raw>;
/// Top-k with packed indices: k (32 + ceil(log2 n)) bits. Contractive, alpha = k/n.
using top_k = pipeline<sparsify::top_k, quantize::identity, encode::bitpack>;
/// Scaled rand-k, indices from the shared seed (not sent): 32k bits. Unbiased, omega = n/k - 1.
using rand_k = pipeline<sparsify::rand_k, quantize::identity, encode::raw>;
/// QSGD with Elias-coded levels (the paper's scheme) or fixed-width levels.
using qsgd = pipeline<sparsify::identity, quantize::qsgd, encode::elias_gamma>;
using qsgd_packed = pipeline<sparsify::identity, quantize::qsgd, encode::bitpack>;
/// Scaled sign, n + 32 bits. Contractive, alpha = 1/n in the worst case.
using scaled_sign = pipeline<sparsify::identity, quantize::scaled_sign, encode::bitpack>;
/// Natural compression C_nat: sign and exponent, exactly 9 bits per value. Unbiased, omega = 1/8.
using natural = pipeline<sparsify::identity, quantize::natural, encode::bitpack>;
/// Natural dithering (levels 2^-k of the norm) with Elias-coded levels. Unbiased.
using natural_dithering =
    pipeline<sparsify::identity, quantize::natural_dithering, encode::elias_gamma>;
/// TernGrad: ternary codes in 2 bits and one scale, 2n + 32 bits. Unbiased.
using terngrad = pipeline<sparsify::identity, quantize::terngrad, encode::bitpack>;
/// Min-max 8-bit per tensor (set .bucket for buckets): nearest (contractive) or stochastic.
using uniform8 = pipeline<sparsify::identity, quantize::uniform, encode::bitpack>;
using uniform8_sr = pipeline<sparsify::identity, quantize::uniform_sr, encode::bitpack>;
/// Top-k values quantized by QSGD, gaps and levels Elias coded.
using topk_qsgd = pipeline<sparsify::top_k, quantize::qsgd, encode::elias_gamma>;
/// Top-k found from a sampled threshold (DGC); the same message body as top_k, cheaper to find.
using dgc_top_k = pipeline<sparsify::dgc_top_k, quantize::identity, encode::bitpack>;
/// Hard threshold |x_i| >= lambda: a data-dependent count; the indices go as the cheapest of
/// varint gaps, Elias gaps or a bitmap.
using threshold = pipeline<sparsify::threshold, quantize::identity, encode::sorted_index>;
/// One coordinate drawn with probability |x_i| / ||x||_1. Contractive in mean, alpha = 1/n.
using adaptive_rand = pipeline<sparsify::adaptive_rand, quantize::identity, encode::bitpack>;
/// signSGD: sign(x) in exactly n bits, no scale; biased, no alpha (aggregate::majority_vote).
using sign = pipeline<sparsify::identity, quantize::sign, encode::bitpack>;
/// 1-bit SGD, per-sign means (set .bucket for buckets): n + 64 bits. Contractive, alpha = 1/n.
using onebit = pipeline<sparsify::identity, quantize::onebit, encode::bitpack>;
/// QSGD with rANS-coded levels: within 2% of the levels' empirical entropy for large n.
using qsgd_rans = pipeline<sparsify::identity, quantize::qsgd, encode::rans>;

} // namespace commpress::recipes
