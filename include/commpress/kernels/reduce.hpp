// SPDX-License-Identifier: MIT
// Reductions whose result does not depend on the machine: sums that enter a message.
#pragma once

#include <cmath>
#include <cstddef>
#include <span>

namespace commpress::kernels {

namespace detail {

/// Fixed virtual width of 16 lanes: lane j adds terms j, j+16, j+32, ... in order, and the lanes
/// combine in a fixed tree. Any real SIMD width that divides 16 reproduces these bits exactly
/// (one AVX-512 batch, two AVX2 batches, four SSE batches), and so does this scalar loop.
/// Accumulates in double: float squares neither overflow nor underflow there.
template <class T, class F>
double virtual_width_sum(std::span<const T> x, F term) noexcept {
    constexpr std::size_t w = 16;
    double lane[w] = {};
    const std::size_t body = x.size() - x.size() % w;
    for (std::size_t i = 0; i < body; i += w)
        for (std::size_t j = 0; j < w; ++j)
            lane[j] += term(x[i + j]);
    for (std::size_t i = body; i < x.size(); ++i)
        lane[i - body] += term(x[i]);
    for (std::size_t half = w / 2; half > 0; half /= 2)
        for (std::size_t j = 0; j < half; ++j)
            lane[j] += lane[j + half];
    return lane[0];
}

} // namespace detail

/// sum_i x_i^2 in double, machine independent.
struct sum_squares_fn {
    template <class T>
    double operator()(std::span<const T> x) const noexcept {
        return detail::virtual_width_sum(x, [](T v) {
            const double d = static_cast<double>(v);
            return d * d;
        });
    }
};
inline constexpr sum_squares_fn sum_squares{};

/// sum_i |x_i| in double, machine independent.
struct sum_abs_fn {
    template <class T>
    double operator()(std::span<const T> x) const noexcept {
        return detail::virtual_width_sum(x, [](T v) { return std::abs(static_cast<double>(v)); });
    }
};
inline constexpr sum_abs_fn sum_abs{};

} // namespace commpress::kernels
