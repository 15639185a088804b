// SPDX-License-Identifier: MIT
// The linear algebra the experiment problems share: a double-accumulated dot product and the
// largest eigenvalue of the averaged Gram matrix behind every smoothness constant.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <commpress/core/error.hpp>
#include <commpress/experiment/dataset.hpp>
#include <commpress/experiment/detail/random.hpp>

namespace commpress::experiment::detail {

/// <a, x> with products and sum in double: features and weights are float, but a float sum
/// over ~800 terms loses ~5 digits where the margin is near zero, exactly where it matters.
/// Four independent partial sums break the add dependency chain (and let GCC use SIMD lanes).
inline double dot(const float* a, const float* x, std::size_t d) noexcept {
    double s[4] = {0.0, 0.0, 0.0, 0.0};
    std::size_t k = 0;
    for (; k + 4 <= d; k += 4)
        for (std::size_t l = 0; l < 4; ++l)
            s[l] += static_cast<double>(a[k + l]) * static_cast<double>(x[k + l]);
    for (; k < d; ++k)
        s[0] += static_cast<double>(a[k]) * static_cast<double>(x[k]);
    return (s[0] + s[1]) + (s[2] + s[3]);
}

/// lambda_max of M = (1/n) sum_i A_i^T A_i / N_i, A_i the N_i rows of part i (`p.data()` rows
/// `p.range()`): the curvature every problem's smoothness constant scales. Power iteration from a
/// fixed pseudo-random start; it stops when the Rayleigh quotient changes by less than 1e-12
/// relative, or after max_iterations. For a PSD matrix the Rayleigh quotient of the power
/// iterates only grows, so the result never exceeds the true lambda_max and approaches it from
/// below. `who` names the caller in errors.
template <class Part>
double gram_lambda_max(std::span<const Part> parts, std::uint64_t seed, int max_iterations,
                       const char* who) {
    if (parts.empty())
        throw error(std::string(who) + ": no parts given");
    const std::size_t d = parts.front().data().cols;
    for (const Part& p : parts)
        if (p.data().cols != d)
            throw error(std::string(who) + ": the parts' data sets have " + std::to_string(d) +
                        " and " + std::to_string(p.data().cols) + " columns; all must agree");
    std::vector<double> v(d), w(d);
    for (double& e : v)
        e = splitmix_uniform(seed);
    auto normalise = [&](std::vector<double>& u) {
        double s = 0;
        for (double e : u)
            s += e * e;
        const double inv = s > 0 ? 1.0 / std::sqrt(s) : 0.0;
        for (double& e : u)
            e *= inv;
        return std::sqrt(s);
    };
    normalise(v);
    double rayleigh = 0;
    for (int it = 0; it < max_iterations; ++it) {
        // w = M v, one pass over the rows.
        for (double& e : w)
            e = 0;
        for (const Part& p : parts) {
            const double weight =
                1.0 / (static_cast<double>(p.range().count) * static_cast<double>(parts.size()));
            const row_range r = p.range();
            for (std::size_t j = r.first; j < r.first + r.count; ++j) {
                const auto a = p.data().row(j);
                double av = 0;
                for (std::size_t k = 0; k < d; ++k)
                    av += static_cast<double>(a[k]) * v[k];
                av *= weight;
                for (std::size_t k = 0; k < d; ++k)
                    w[k] += av * static_cast<double>(a[k]);
            }
        }
        double next = 0; // v^T M v with ||v|| = 1
        for (std::size_t k = 0; k < d; ++k)
            next += v[k] * w[k];
        const bool converged = it > 0 && std::abs(next - rayleigh) <= 1e-12 * std::abs(next);
        rayleigh = next;
        v.swap(w);
        if (normalise(v) == 0 || converged)
            break;
    }
    return rayleigh;
}

} // namespace commpress::experiment::detail
