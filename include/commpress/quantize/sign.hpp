// SPDX-License-Identifier: MIT
// quantize::sign — plain signSGD: sign(x) with no scale, one bit per entry.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <commpress/core/message.hpp>
#include <commpress/core/seed.hpp>

namespace commpress::quantize {

/// signSGD (Bernstein, Wang, Azizzadenesheli, Anandkumar, ICML 2018; OPERATORS.md A.6):
/// C(x)_i = +1 or -1, exactly d bits. The code is the sign bit of x_i, which fixes sign(0):
/// +0 -> +1, -0 -> -1, and a NaN goes by its sign bit. Biased, and in no contraction class
/// (||sign(x)|| = sqrt(d) whatever ||x|| is), so it has neither alpha nor omega. Pair it with
/// aggregate::majority_vote, or use scaled_sign for a contraction.
struct sign {
    static constexpr std::string_view name = "sign";
    static constexpr bool unbiased = false;
    static constexpr bool zero_code_is_zero = false; // code 0 is +1
    static constexpr bool every_code_valid = true;   ///< every code_bits()-bit pattern decodes

    void validate() const noexcept {}
    void fingerprint(fingerprint_builder& f) const noexcept { f(name); }
    std::string describe() const { return std::string(name); }

    unsigned code_bits() const noexcept { return 1; }
    std::size_t scale_count(std::size_t) const noexcept { return 0; }
    bool valid_code(std::uint32_t c) const noexcept { return c <= 1; }
    bool valid_scale(float) const noexcept { return true; } // never called: no scales

    template <class T>
    void quantize(std::span<const T> v, const draw_context&, std::span<float>,
                  std::span<std::uint32_t> codes) const noexcept {
        for (std::size_t j = 0; j < v.size(); ++j)
            codes[j] = std::signbit(v[j]) ? 1u : 0u;
    }

    struct decoder {
        float operator()(std::size_t, std::uint32_t code) const noexcept {
            return code ? -1.0f : 1.0f;
        }
    };
    decoder dequantizer(std::span<const float>) const noexcept { return {}; }
};

} // namespace commpress::quantize
