// SPDX-License-Identifier: MIT
// quantize::scaled<Q> — an unbiased quantizer shrunk by 1/(1 + omega): a contraction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <commpress/core/concepts.hpp>
#include <commpress/core/message.hpp>
#include <commpress/core/seed.hpp>

namespace commpress::quantize {

/// (1/(1 + omega)) Q for an unbiased Q in U(omega): in B(alpha) with alpha = 1/(1 + omega)
/// (Beznosikov et al. 2020: (1/zeta) C in B3(zeta), zeta = 1 + omega; OPERATORS.md A.1). After a
/// projection sparsifier in B(alpha_S) the pipeline's product rule gives
/// alpha = alpha_S / (1 + omega): the scaled U o B composition of OPERATORS.md A.10b.
/// Same codes and bits as Q; only the decoded values are scaled.
template <class Q>
struct scaled {
    static_assert(Q::unbiased && has_omega<Q>,
                  "quantize::scaled<Q>: Q must be unbiased with an omega (e.g. quantize::qsgd)");

    Q inner{};

    static constexpr std::string_view name = "scaled";
    static constexpr bool unbiased = false;
    static constexpr bool zero_code_is_zero = Q::zero_code_is_zero;

    void validate() const { inner.validate(); }
    void fingerprint(fingerprint_builder& f) const noexcept {
        f(name);
        inner.fingerprint(f);
    }
    std::string describe() const { return "scaled(" + inner.describe() + ")"; }

    double alpha(std::size_t m) const noexcept { return 1.0 / (1.0 + inner.omega(m)); }
    unsigned code_bits() const noexcept { return inner.code_bits(); }
    std::size_t scale_count(std::size_t m) const noexcept { return inner.scale_count(m); }
    bool valid_code(std::uint32_t c) const noexcept { return inner.valid_code(c); }
    bool valid_scale(float s) const noexcept { return inner.valid_scale(s); }

    template <class T>
    void quantize(std::span<const T> v, const draw_context& c, std::span<float> scales,
                  std::span<std::uint32_t> codes) const noexcept {
        inner.quantize(v, c, scales, codes);
    }

    /// The factor 1/(1 + omega(m)) depends on m: the pipeline passes it to quantizers whose
    /// dequantizer takes it.
    struct decoder {
        typename Q::decoder d;
        float factor;
        float operator()(std::size_t slot, std::uint32_t code) const noexcept {
            return factor * d(slot, code);
        }
    };
    decoder dequantizer(std::span<const float> scales, std::size_t m) const noexcept {
        return {inner.dequantizer(scales), static_cast<float>(alpha(m))};
    }
};

} // namespace commpress::quantize
