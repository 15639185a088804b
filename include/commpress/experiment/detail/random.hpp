// SPDX-License-Identifier: MIT
// The experiment layer's deterministic pseudo-random numbers: splitmix64 and what is built on it
// (uniforms, unbiased indices, Gaussians), the same values on every platform.
#pragma once

#include <cmath>
#include <cstdint>

#include <commpress/core/gaussian.hpp>

namespace commpress::experiment::detail {

/// The next output of a splitmix64 stream (Steele, Lea, Flood 2014), advancing `state`.
inline std::uint64_t splitmix64(std::uint64_t& state) noexcept {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/// A deterministic uniform [-1, 1) stream (splitmix64), so the power iteration's start vector is
/// the same on every platform; std::*_distribution output is implementation-defined.
inline double splitmix_uniform(std::uint64_t& state) noexcept {
    return static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-52 - 1.0;
}

/// Uniform [0, 1) with 53 random bits.
inline double splitmix_unit(std::uint64_t& state) noexcept {
    return static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53;
}

/// Uniform on {0, ..., bound - 1} (bound >= 1) without modulo bias: draws below 2^64 mod bound
/// are rejected, so every residue is hit by the same number of accepted draws.
inline std::uint64_t splitmix_below(std::uint64_t& state, std::uint64_t bound) noexcept {
    const std::uint64_t reject_below = (0 - bound) % bound; // 2^64 mod bound
    std::uint64_t r = splitmix64(state);
    while (r < reject_below)
        r = splitmix64(state);
    return r % bound;
}

using commpress::detail::portable_log;

/// Standard normal draws from a splitmix64 stream by Marsaglia's polar method
/// (commpress::detail::polar_normal): the same values on every platform.
class gaussian_stream {
  public:
    explicit gaussian_stream(std::uint64_t seed) noexcept : state_(seed) {}

    double operator()() noexcept {
        return commpress::detail::polar_normal([this] { return splitmix_uniform(state_); }, spare_,
                                               has_spare_);
    }

    /// The underlying stream, for uniforms drawn in between the Gaussians.
    std::uint64_t& state() noexcept { return state_; }

  private:
    std::uint64_t state_;
    double spare_ = 0;
    bool has_spare_ = false;
};

} // namespace commpress::experiment::detail
