// SPDX-License-Identifier: MIT
// sparsify::identity — keeps every coordinate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <commpress/core/message.hpp>
#include <commpress/core/seed.hpp>
#include <commpress/core/stage.hpp>

namespace commpress::sparsify {

/// Keeps all n coordinates (dense). Unbiased with omega = 0 and contractive with alpha = 1.
struct identity {
    static constexpr std::string_view name = "identity";
    static constexpr bool unbiased = true;
    static constexpr index_mode indices = index_mode::dense;
    struct workspace {};

    void validate() const noexcept {}
    void fingerprint(fingerprint_builder& f) const noexcept { f(name); }
    std::string describe() const { return std::string(name); }

    std::size_t kept(std::size_t n) const noexcept { return n; }
    double omega(std::size_t) const noexcept { return 0.0; }
    double alpha(std::size_t) const noexcept { return 1.0; }
    double decode_scale(std::size_t) const noexcept { return 1.0; }

    template <class T>
    selection<T> select(std::span<const T> x, const draw_context&, workspace&) const noexcept {
        return {x, {}};
    }
    std::span<const std::uint32_t> implicit_indices(std::size_t, const draw_context&,
                                                    workspace&) const noexcept {
        return {};
    }
};

} // namespace commpress::sparsify
