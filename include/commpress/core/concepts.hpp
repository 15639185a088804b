// SPDX-License-Identifier: MIT
// The concepts that state what a sparsifier, a quantizer and an encoder must provide.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <commpress/core/bitstream.hpp>
#include <commpress/core/message.hpp>
#include <commpress/core/seed.hpp>
#include <commpress/core/stage.hpp>

namespace commpress {

// clang-format 14 cannot lay out requires-expressions: the concepts are formatted by hand.
// clang-format off

/// A small value type with a name, parameters it can check, hash and print.
/// Example: encode::raw.
template <class P>
concept policy = std::semiregular<P> && requires(const P& p, fingerprint_builder& f) {
    { P::name } -> std::convertible_to<std::string_view>;
    p.validate();
    p.fingerprint(f);
    { p.describe() } -> std::convertible_to<std::string>;
};

/// A lossy stage that states whether it is unbiased (E C(x) = x). Example: quantize::qsgd.
template <class P>
concept stage_policy = policy<P> && requires {
    { P::unbiased } -> std::convertible_to<bool>;
};

/// Selects the coordinates to keep. Example: sparsify::top_k.
template <class S>
concept sparsifier = stage_policy<S> && std::default_initializable<typename S::workspace> &&
    requires(const S& s, std::size_t n, std::span<const float> x, std::span<const double> xd,
             const draw_context& c, typename S::workspace& w) {
        { S::indices } -> std::convertible_to<index_mode>;
        { s.kept(n) } noexcept -> std::same_as<std::size_t>;
        { s.decode_scale(n) } noexcept -> std::convertible_to<double>;
        { s.select(x, c, w) } noexcept -> std::same_as<selection<float>>;
        { s.select(xd, c, w) } noexcept -> std::same_as<selection<double>>;
        { s.implicit_indices(n, c, w) } noexcept -> std::same_as<std::span<const std::uint32_t>>;
    };

/// Maps kept values to scales (a few floats) and one code per value. Example: quantize::qsgd.
/// The decoder comes from dequantizer(scales), or dequantizer(scales, m) when it needs m.
template <class Q>
concept quantizer = stage_policy<Q> &&
    requires(const Q& q, std::size_t m, std::span<const float> v, std::span<const double> vd,
             const draw_context& c, std::span<float> scales, std::span<const float> cscales,
             std::span<std::uint32_t> codes, std::uint32_t code, float scale) {
        { Q::zero_code_is_zero } -> std::convertible_to<bool>;
        { q.code_bits() } noexcept -> std::same_as<unsigned>;
        { q.scale_count(m) } noexcept -> std::same_as<std::size_t>;
        { q.valid_code(code) } noexcept -> std::same_as<bool>;
        { q.valid_scale(scale) } noexcept -> std::same_as<bool>;
        { q.quantize(v, c, scales, codes) } noexcept;
        { q.quantize(vd, c, scales, codes) } noexcept;
    } &&
    (requires(const Q& q, std::span<const float> s, std::size_t j, std::uint32_t code) {
         { q.dequantizer(s)(j, code) } noexcept -> std::same_as<float>;
     } ||
     requires(const Q& q, std::span<const float> s, std::size_t j, std::uint32_t code) {
         { q.dequantizer(s, j)(j, code) } noexcept -> std::same_as<float>;
     });

namespace detail {
struct null_sink {
    void operator()(std::size_t, std::uint32_t, std::uint32_t) const noexcept {}
};
} // namespace detail

/// Turns coordinates and codes into bits and back, losslessly. Example: encode::elias_gamma.
template <class E>
concept encoder = policy<E> &&
    requires(const E& e, const code_layout& l, std::span<const std::uint32_t> ints, bit_writer& w,
             bit_reader& r) {
        { e.max_bytes(l) } noexcept -> std::same_as<std::size_t>;
        { e.encode(l, ints, ints, w) } noexcept;
        e.decode(l, r, detail::null_sink{});
    };

/// Theory constants exist on a type only where the theory gives them, in one naming scheme:
/// - unbiased, U(omega):        E C(x) = x, E||C(x) - x||^2 <= omega ||x||^2;
/// - contractive, B(alpha):     E||C(x) - x||^2 <= (1 - alpha) ||x||^2;
/// - EF-BV's C(eta, omega):     ||E C(x) - x|| <= eta ||x||, E||C(x) - E C(x)||^2 <= omega ||x||^2
///                              (U(omega) is C(0, omega); a deterministic B(alpha) is
///                              C(sqrt(1 - alpha), 0)). omega names the variance in both classes.
template <class C>
concept has_omega = requires(const C& c, std::size_t n) {
    { c.omega(n) } -> std::convertible_to<double>;
};
template <class C>
concept has_eta = has_omega<C> && requires(const C& c, std::size_t n) {
    { c.eta(n) } -> std::convertible_to<double>;
};
template <class C>
concept has_alpha = requires(const C& c, std::size_t n) {
    { c.alpha(n) } -> std::convertible_to<double>;
};

/// An encoder whose size depends on the layout only: bits(layout) is exact. It then carries
/// every code (the others may drop zero codes when the layout's zero_code_is_zero).
template <class E>
concept has_exact_bits = requires(const E& e, const code_layout& l) {
    { e.bits(l) } noexcept -> std::same_as<std::size_t>;
};

// clang-format on

} // namespace commpress
