// SPDX-License-Identifier: MIT
// quantize::identity — values travel as IEEE binary32.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <commpress/core/message.hpp>
#include <commpress/core/seed.hpp>

namespace commpress::quantize {

/// Sends each kept value as its binary32 bit pattern: exact for float inputs (omega = 0,
/// alpha = 1); double inputs are rounded to nearest binary32.
struct identity {
    static constexpr std::string_view name = "fp32";
    static constexpr bool unbiased = true;
    static constexpr bool exact = true; ///< C(v) = v for float v: stages before it keep their class
    static constexpr bool zero_code_is_zero = true; // +0.0 is code 0
    static constexpr bool every_code_valid = true;  ///< every code_bits()-bit pattern decodes

    void validate() const noexcept {}
    void fingerprint(fingerprint_builder& f) const noexcept { f(name); }
    std::string describe() const { return std::string(name); }

    double omega(std::size_t) const noexcept { return 0.0; }
    double alpha(std::size_t) const noexcept { return 1.0; }
    unsigned code_bits() const noexcept { return 32; }
    std::size_t scale_count(std::size_t) const noexcept { return 0; }
    bool valid_code(std::uint32_t) const noexcept { return true; }
    bool valid_scale(float) const noexcept { return true; }

    template <class T>
    void quantize(std::span<const T> v, const draw_context&, std::span<float>,
                  std::span<std::uint32_t> codes) const noexcept {
        for (std::size_t j = 0; j < v.size(); ++j)
            codes[j] = std::bit_cast<std::uint32_t>(static_cast<float>(v[j]));
    }

    struct decoder {
        float operator()(std::size_t, std::uint32_t code) const noexcept {
            return std::bit_cast<float>(code);
        }
    };
    decoder dequantizer(std::span<const float>) const noexcept { return {}; }
};

} // namespace commpress::quantize
