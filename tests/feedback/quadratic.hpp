// SPDX-License-Identifier: MIT
// A separable quadratic split over n workers, with every constant known in closed form:
// f_i(x) = 1/2 sum_j D_ij (x_j - c_ij)^2, so L, mu, L_i and the minimiser are exact.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <commpress/feedback/step_size.hpp>

namespace commpress::testing {

struct quadratic {
    std::size_t d, n;
    std::vector<std::vector<double>> D, c; // per worker: curvatures in [1, 4], centres

    /// spread scales the centres: 0 gives identical workers (all grad f_i(x*) = 0).
    quadratic(std::size_t d_, std::size_t n_, double spread, std::uint64_t seed = 1)
        : d(d_), n(n_), D(n_, std::vector<double>(d_)), c(n_, std::vector<double>(d_)) {
        std::uint64_t s = seed;
        const auto uniform = [&s] { // splitmix64: the same data on every platform
            std::uint64_t z = (s += 0x9e37'79b9'7f4a'7c15ull);
            z = (z ^ (z >> 30)) * 0xbf58'476d'1ce4'e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d0'49bb'1331'11ebull;
            return static_cast<double>((z ^ (z >> 31)) >> 11) * 0x1p-53;
        };
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < d; ++j) {
                D[i][j] = 1.0 + 3.0 * uniform();
                c[i][j] = 1.0 + spread * (2.0 * uniform() - 1.0);
            }
    }

    template <class T>
    void grad(std::size_t i, std::span<const T> x, std::span<T> g) const {
        for (std::size_t j = 0; j < d; ++j)
            g[j] = static_cast<T>(D[i][j] * (static_cast<double>(x[j]) - c[i][j]));
    }

    double mean_D(std::size_t j) const {
        double s = 0;
        for (std::size_t i = 0; i < n; ++i)
            s += D[i][j];
        return s / static_cast<double>(n);
    }

    /// ||grad f(x)||^2 in double.
    template <class T>
    double grad_norm2(std::span<const T> x) const {
        double s = 0;
        for (std::size_t j = 0; j < d; ++j) {
            double g = 0;
            for (std::size_t i = 0; i < n; ++i)
                g += D[i][j] * (static_cast<double>(x[j]) - c[i][j]);
            g /= static_cast<double>(n);
            s += g * g;
        }
        return s;
    }

    /// f(x) - f(x*): separable, 1/2 mean_D_j (x_j - x*_j)^2 per coordinate.
    template <class T>
    double gap(std::span<const T> x) const {
        double s = 0;
        for (std::size_t j = 0; j < d; ++j) {
            double num = 0;
            for (std::size_t i = 0; i < n; ++i)
                num += D[i][j] * c[i][j];
            const double star = num / (static_cast<double>(n) * mean_D(j));
            const double e = static_cast<double>(x[j]) - star;
            s += 0.5 * mean_D(j) * e * e;
        }
        return s;
    }

    double L() const {
        double l = 0;
        for (std::size_t j = 0; j < d; ++j)
            l = std::max(l, mean_D(j));
        return l;
    }
    double mu() const {
        double m = 1e300;
        for (std::size_t j = 0; j < d; ++j)
            m = std::min(m, mean_D(j));
        return m;
    }
    feedback::smoothness smoothness() const {
        double q = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const double li = *std::max_element(D[i].begin(), D[i].end());
            q += li * li;
        }
        return {L(), std::sqrt(q / static_cast<double>(n))};
    }
};

/// Worker i's f_i as a problem part of the simulator (dim, loss_and_gradient).
struct quadratic_part {
    const quadratic* q;
    std::size_t i;
    std::size_t dim() const { return q->d; }
    double loss_and_gradient(std::span<const float> x, std::span<float> g) const {
        q->grad(i, x, g);
        double f = 0;
        for (std::size_t j = 0; j < q->d; ++j) {
            const double e = double(x[j]) - q->c[i][j];
            f += 0.5 * q->D[i][j] * e * e;
        }
        return f;
    }
};

inline std::vector<quadratic_part> parts_of(const quadratic& q) {
    std::vector<quadratic_part> p;
    for (std::size_t i = 0; i < q.n; ++i)
        p.push_back({&q, i});
    return p;
}

/// Plain gradient descent in float from x = 0, summing the workers' gradients as the servers
/// do: the iterate after each round.
inline std::vector<std::vector<float>> gd(const quadratic& q, double gamma, int rounds) {
    std::vector<float> x(q.d, 0.0f), g(q.d), sum(q.d);
    std::vector<std::vector<float>> xs;
    for (int t = 0; t < rounds; ++t) {
        std::fill(sum.begin(), sum.end(), 0.0f);
        for (std::size_t i = 0; i < q.n; ++i) {
            q.grad(i, std::span<const float>(x), std::span<float>(g));
            for (std::size_t j = 0; j < q.d; ++j)
                sum[j] += (1.0f / static_cast<float>(q.n)) * g[j];
        }
        for (std::size_t j = 0; j < q.d; ++j)
            x[j] -= static_cast<float>(gamma) * sum[j];
        xs.push_back(x);
    }
    return xs;
}

inline double max_diff(std::span<const float> a, std::span<const float> b) {
    double m = 0;
    for (std::size_t j = 0; j < a.size(); ++j)
        m = std::max(m, std::abs(double(a[j]) - double(b[j])));
    return m;
}

} // namespace commpress::testing
