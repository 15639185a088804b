// SPDX-License-Identifier: MIT
// aggregate::majority_vote — the signSGD server: the sign of the sum of the workers' signs.
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <string>
#include <type_traits>

#include <commpress/core/error.hpp>
#include <commpress/core/message.hpp>
#include <commpress/core/stage.hpp>
#include <commpress/quantize/sign.hpp>

namespace commpress::detail {

template <class P>
constexpr bool quantizes_to_sign() {
    if constexpr (requires { typename P::quantizer_type; })
        return std::is_same_v<typename P::quantizer_type, quantize::sign>;
    else
        return false;
}

template <class P>
constexpr bool keeps_every_coordinate() {
    if constexpr (requires { P::sparsifier_type::indices; })
        return P::sparsifier_type::indices == index_mode::dense;
    else
        return false;
}

} // namespace commpress::detail

namespace commpress::aggregate {

/// signSGD with majority vote (Bernstein et al., ICML 2018; OPERATORS.md A.6): out_i =
/// sign(sum_w C_w(x)_i), ties -> +1 (as sign(+0) = +1 in quantize::sign). The reply is again
/// +-1 per coordinate, so the same sign pipeline compresses it to d bits for the downlink.
/// Every message is checked before out is touched: a bad one throws decode_error and leaves
/// out as it was. Allocates nothing once the pipeline's workspace is warm.
template <class P>
void majority_vote(P& pipeline, std::span<const std::span<const std::byte>> messages,
                   std::span<float> out) {
    static_assert(detail::quantizes_to_sign<P>(),
                  "majority_vote: the pipeline's quantizer must be quantize::sign "
                  "(a vote counts signs; scaled or stochastic codes are not votes)");
    static_assert(detail::keeps_every_coordinate<P>(),
                  "majority_vote: every worker must vote on every coordinate; use "
                  "sparsify::identity as the sparsifier");
    // Votes are sums of +-1 in binary32: exact while |sum| <= 2^24.
    if (messages.empty() || messages.size() > (std::size_t{1} << 24))
        detail::fail_parameter("majority_vote: needs 1 to 2^24 messages, got " +
                               std::to_string(messages.size()));
    for (const auto msg : messages)
        pipeline.check_message(msg, out.size());
    std::fill(out.begin(), out.end(), 0.0f);
    // Checked payloads: read_payload cannot throw, and a dense sparsifier recreates nothing
    // from the context, so any context will do.
    for (const auto msg : messages)
        pipeline.template read_payload<true>(msg.subspan(message_header::size), out, 1.0f,
                                             pipeline.context(0, 0));
    for (float& v : out)
        v = v < 0.0f ? -1.0f : 1.0f;
}

} // namespace commpress::aggregate
