// SPDX-License-Identifier: MIT
// Reductions whose result does not depend on the machine: sums that enter a message.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>

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

/// The bit pattern of a float or double as an unsigned integer.
template <class T>
using bits_t = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;

/// Flips the magnitude bits of negative patterns: as signed integers, the keys then order like
/// the values (-0 just below +0, NaNs outside +-inf). Its own inverse.
template <class U>
constexpr U order_key(U u) noexcept {
    constexpr U mag = ~U{0} >> 1;
    return u ^ ((U{0} - (u >> (8 * sizeof(U) - 1))) & mag);
}

} // namespace detail

// Extremes by integer compares on bit patterns: exact, so any order and width gives the same
// result, and GCC 12 vectorises integer min / max reductions but not floating-point ones
// (those need -ffinite-math-only -fno-signed-zeros).

/// The largest magnitude bit pattern, |x_i| as an unsigned integer: above inf's exactly when
/// some x_i is NaN. 0 for an empty x.
template <class T>
detail::bits_t<T> max_magnitude_bits(std::span<const T> x) noexcept {
    using U = detail::bits_t<T>;
    constexpr U mag = ~U{0} >> 1;
    U top = 0;
    for (const T v : x) {
        const U a = std::bit_cast<U>(v) & mag;
        top = a > top ? a : top;
    }
    return top;
}

/// Of a non-empty x: the smallest and largest value by the order of detail::order_key (-0 below
/// +0) and the largest magnitude bit pattern (as max_magnitude_bits). lo and hi are
/// meaningful when top shows no NaN.
template <class T>
struct extremes {
    T lo, hi;
    detail::bits_t<T> top;
};

template <class T>
extremes<T> min_max(std::span<const T> x) noexcept {
    using U = detail::bits_t<T>;
    using S = std::make_signed_t<U>;
    constexpr U mag = ~U{0} >> 1;
    S lo = std::numeric_limits<S>::max(), hi = std::numeric_limits<S>::min();
    U top = 0;
    for (const T v : x) {
        const U u = std::bit_cast<U>(v);
        const auto k = static_cast<S>(detail::order_key(u));
        lo = k < lo ? k : lo;
        hi = k > hi ? k : hi;
        top = (u & mag) > top ? u & mag : top;
    }
    return {std::bit_cast<T>(detail::order_key(static_cast<U>(lo))),
            std::bit_cast<T>(detail::order_key(static_cast<U>(hi))), top};
}

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
