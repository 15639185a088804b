// SPDX-License-Identifier: MIT
// The step sizes and shift rates the theory gives each method (OPERATORS.md B.2, B.4, B.6, B.7),
// as the authors' code computes them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>

#include <commpress/core/error.hpp>

namespace commpress::feedback {

namespace detail {
inline void check_constant(const char* what, double v, double lo, double hi) {
    if (!(v >= lo && v <= hi))
        commpress::detail::fail_parameter(std::string(what) + " = " + std::to_string(v) +
                                          " is outside [" + std::to_string(lo) + ", " +
                                          std::to_string(hi) + "]");
}
} // namespace detail

/// Smoothness of the problem: f = (1/n) sum f_i, f L-smooth, f_i L_i-smooth, and the quadratic
/// mean L~ = sqrt((1/n) sum L_i^2) the EF methods' step sizes use.
struct smoothness {
    double L = 1.0;
    double L_tilde = 1.0;
};

/// EF21 (B.4): sqrt(beta / theta) = sqrt(1 - alpha) / (1 - sqrt(1 - alpha)) for C in B(alpha).
inline double ef21_factor(double alpha) {
    detail::check_constant("ef21: alpha", alpha, 1e-300, 1.0);
    const double s = std::sqrt(1.0 - alpha);
    return s / (1.0 - s);
}

/// EF21's step gamma = 1 / (L + L~ sqrt(beta / theta)); 1 / L for the identity (alpha = 1).
inline double ef21_gamma(double alpha, smoothness s) {
    return 1.0 / (s.L + s.L_tilde * ef21_factor(alpha));
}

/// EF-BV's constants (B.6) for compressors in C(eta, omega) with average variance omega_av
/// (omega / n for n independent compressors, omega for shared randomness).
struct ef_bv_constants {
    double lambda; ///< lambda* = min(1, (1 - eta) / ((1 - eta)^2 + omega))
    double nu;     ///< nu* = min(1, (1 - eta) / ((1 - eta)^2 + omega_av))
    double r;      ///< (1 - lambda + lambda eta)^2 + lambda^2 omega, < 1
    double r_av;   ///< (1 - nu + nu eta)^2 + nu^2 omega_av
    double s;      ///< s* = sqrt((1 + r) / (2 r)) - 1
    /// The step factor sqrt(r_av / r) / s*: gamma = 1 / (L + L~ factor).
    double factor() const noexcept { return std::sqrt(r_av / r) / s; }
    double gamma(smoothness sm) const noexcept { return 1.0 / (sm.L + sm.L_tilde * factor()); }
};

/// lambda*, nu* and the step of EF-BV; explicit lambda and nu (> 0) replace the optimal ones.
inline ef_bv_constants ef_bv_theory(double eta, double omega, double omega_av, double lambda = 0,
                                    double nu = 0) {
    detail::check_constant("ef_bv: eta", eta, 0.0, 1.0 - 1e-15);
    detail::check_constant("ef_bv: omega", omega, 0.0, 1e300);
    detail::check_constant("ef_bv: omega_av", omega_av, 0.0, omega);
    ef_bv_constants c{};
    const double e = 1.0 - eta;
    c.lambda = lambda > 0 ? lambda : std::min(1.0, e / (e * e + omega));
    c.nu = nu > 0 ? nu : std::min(1.0, e / (e * e + omega_av));
    const double a = 1.0 - c.lambda + c.lambda * eta, b = 1.0 - c.nu + c.nu * eta;
    c.r = a * a + c.lambda * c.lambda * omega;
    c.r_av = b * b + c.nu * c.nu * omega_av;
    if (!(c.r < 1.0))
        commpress::detail::fail_parameter("ef_bv: r = " + std::to_string(c.r) +
                                          " >= 1: lambda is too large for this compressor");
    c.s = std::sqrt((1.0 + c.r) / (2.0 * c.r)) - 1.0;
    return c;
}

/// DIANA's shift rate alpha = 1 / (omega + 1), the largest the theory allows (B.2).
inline double diana_alpha(double omega) {
    detail::check_constant("diana: omega", omega, 0.0, 1e300);
    return 1.0 / (omega + 1.0);
}

/// DIANA's step as the EF-BV authors run it: 1 / ((1 + 6 omega / n) L) for n workers.
inline double diana_gamma(double omega, std::size_t workers, double L) {
    detail::check_constant("diana: omega", omega, 0.0, 1e300);
    return 1.0 / ((1.0 + 6.0 * omega / static_cast<double>(workers)) * L);
}

/// MARINA's step 1 / (L (1 + sqrt((1 - p) omega / (p n)))) for full rounds with probability p
/// (B.7, unverified in the paper's text: OPERATORS.md tags it [U]).
inline double marina_gamma(double omega, double p, std::size_t workers, double L) {
    detail::check_constant("marina: p", p, 1e-300, 1.0);
    return 1.0 / (L * (1.0 + std::sqrt((1.0 - p) * omega / (p * static_cast<double>(workers)))));
}

} // namespace commpress::feedback
