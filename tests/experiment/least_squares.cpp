// SPDX-License-Identifier: MIT
// Least squares: gradient against finite differences, zero gradient at the normal-equations
// solution, L against the closed-form eigenvalue of a 2 × 2 Gram matrix.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/core/error.hpp>
#include <commpress/experiment/dataset.hpp>
#include <commpress/experiment/least_squares.hpp>
#include <commpress/experiment/simulator.hpp>

namespace ex = commpress::experiment;

// What the simulator needs of a worker's f_i: dim() and loss_and_gradient(x, grad).
static_assert(ex::problem_part<ex::least_squares>);

namespace {

/// Features uniform in [0, 1] (the last column 1), real targets uniform in [-2, 2].
ex::dataset regression_data(std::size_t rows, std::size_t cols, std::uint64_t seed) {
    ex::dataset d;
    d.rows = rows;
    d.cols = cols;
    for (std::size_t j = 0; j < rows; ++j) {
        for (std::size_t k = 0; k + 1 < cols; ++k)
            d.features.push_back(
                static_cast<float>(0.5 * (1.0 + ex::detail::splitmix_uniform(seed))));
        d.features.push_back(1.0f);
        d.labels.push_back(static_cast<float>(2 * ex::detail::splitmix_uniform(seed)));
    }
    return d;
}

std::vector<float> grid_point(std::size_t d, std::uint64_t seed) {
    std::vector<float> x(d);
    for (float& v : x)
        v = std::ldexp(std::round(512.0 * ex::detail::splitmix_uniform(seed)), -10);
    return x;
}

double norm(std::span<const double> v) {
    double s = 0;
    for (double e : v)
        s += e * e;
    return std::sqrt(s);
}

/// The 2 × 2 Gram matrix sum_j a_j a_j^T / N over rows [first, first + count) of a 2-column set.
struct gram2 {
    double p = 0, q = 0, r = 0; // [[p, q], [q, r]]
};

gram2 gram_of(const ex::dataset& d, std::size_t first, std::size_t count) {
    gram2 g;
    for (std::size_t j = first; j < first + count; ++j) {
        const double a0 = d.row(j)[0], a1 = d.row(j)[1];
        g.p += a0 * a0;
        g.q += a0 * a1;
        g.r += a1 * a1;
    }
    const double n = static_cast<double>(count);
    return {g.p / n, g.q / n, g.r / n};
}

/// The larger eigenvalue of [[p, q], [q, r]]: (p + r)/2 + sqrt(((p - r)/2)^2 + q^2).
double lambda_max(const gram2& g) {
    return (g.p + g.r) / 2 + std::sqrt((g.p - g.r) * (g.p - g.r) / 4 + g.q * g.q);
}

} // namespace

TEST_CASE("least squares loss and gradient at x = 0", "[experiment][least_squares]") {
    const auto data = regression_data(12, 4, 2);
    ex::least_squares f(data, {2, 10}, 0.7);
    const std::vector<float> x(4, 0.0f);
    std::vector<float> g(4);
    double expected = 0; // (1/(2N)) ||b||^2
    for (std::size_t j = 2; j < 12; ++j)
        expected += 0.5 * data.labels[j] * data.labels[j] / 10.0;
    CHECK(f.loss_and_gradient(x, g) == Approx(expected).epsilon(1e-15));
    CHECK(f.loss(x) == Approx(expected).epsilon(1e-15));
    for (std::size_t k = 0; k < 4; ++k) { // -A^T b / N
        double gk = 0;
        for (std::size_t j = 2; j < 12; ++j)
            gk -= static_cast<double>(data.row(j)[k]) * data.labels[j] / 10.0;
        CHECK(g[k] == Approx(gk).epsilon(1e-6));
    }
}

TEST_CASE("least squares gradient matches central finite differences",
          "[experiment][least_squares]") {
    const auto data = regression_data(80, 25, 13);
    ex::least_squares f(data, {10, 70}, 0.05);
    const std::size_t d = f.dim();
    const auto x = grid_point(d, 6);
    std::vector<float> g(d);
    CHECK(f.loss_and_gradient(x, g) == Approx(f.loss(x)).epsilon(1e-14));
    // f is quadratic: the central difference has no truncation error, only rounding. The loss
    // sums ~70 double terms of size ~10 (~1e-14 absolute), / (2h) with h = 2^-10: ~5e-12. The
    // float gradient: 6e-8 |g|. A wrong factor (1/N, 1/2) or sign is >= 1e-2 here.
    const float h = 0x1.0p-10f;
    for (std::size_t k = 0; k < d; ++k) {
        auto xp = x, xm = x;
        xp[k] += h;
        xm[k] -= h;
        const double fd = (f.loss(xp) - f.loss(xm)) / (2.0 * h);
        INFO("coordinate " << k);
        CHECK(std::abs(fd - g[k]) <= 1e-7 * (1.0 + std::abs(g[k])));
    }
}

TEST_CASE("least squares gradient vanishes at the normal-equations solution",
          "[experiment][least_squares]") {
    // (A^T A / N + lambda I) x* = A^T b / N, solved by Cramer's rule in double for 2 columns.
    const auto data = regression_data(7, 2, 41);
    const double lambda = 0.1;
    ex::least_squares f(data, {0, 7}, lambda);
    const gram2 m = gram_of(data, 0, 7);
    double c0 = 0, c1 = 0; // A^T b / N
    for (std::size_t j = 0; j < 7; ++j) {
        c0 += static_cast<double>(data.row(j)[0]) * data.labels[j] / 7.0;
        c1 += static_cast<double>(data.row(j)[1]) * data.labels[j] / 7.0;
    }
    const double h00 = m.p + lambda, h11 = m.r + lambda, det = h00 * h11 - m.q * m.q;
    const double s0 = (c0 * h11 - m.q * c1) / det, s1 = (h00 * c1 - m.q * c0) / det;
    const std::vector<float> x{static_cast<float>(s0), static_cast<float>(s1)};
    std::vector<float> g(2);
    f.loss_and_gradient(x, g);
    // grad f(x) = H (x - x*): rounding x* to float moves it by <= 2^-24 ||x*||, so
    // ||grad|| <= L 2^-24 ||x*||; the double sums add ~1e-15.
    const double L = f.smoothness();
    const double bound = L * 0x1.0p-24 * std::hypot(s0, s1) + 1e-12;
    CHECK(std::hypot(double(g[0]), double(g[1])) <= bound);
    // And the test can fail: 0.01 away the gradient is H d, of norm >= lambda * 0.01 = 1e-3.
    const std::vector<float> off{x[0] + 0.01f, x[1]};
    f.loss_and_gradient(off, g);
    CHECK(std::hypot(double(g[0]), double(g[1])) >= 1e-3);
}

TEST_CASE("least squares L is the closed-form top eigenvalue of the 2 by 2 Gram matrix",
          "[experiment][least_squares][smoothness]") {
    const auto data = regression_data(9, 2, 5);
    const double lambda = 0.25;
    // One part: L = lambda_max(A^T A / N) + lambda. The eigenvalues of this Gram matrix are far
    // apart (features in [0, 1] and a 1 column), so the power iteration converges to 1e-12.
    ex::least_squares whole(data, {0, 9}, lambda);
    CHECK(whole.smoothness() == Approx(lambda_max(gram_of(data, 0, 9)) + lambda).epsilon(1e-10));
    CHECK(whole.smoothness(/*seed=*/77) ==
          Approx(lambda_max(gram_of(data, 0, 9)) + lambda).epsilon(1e-10));

    // Two parts of 4 and 5 rows: the average's Hessian is (G_1 + G_2) / 2 + lambda I.
    const std::vector<ex::least_squares> parts{{data, {0, 4}, lambda}, {data, {4, 5}, lambda}};
    const gram2 g1 = gram_of(data, 0, 4), g2 = gram_of(data, 4, 5);
    const gram2 avg{(g1.p + g2.p) / 2, (g1.q + g2.q) / 2, (g1.r + g2.r) / 2};
    CHECK(ex::smoothness(parts) == Approx(lambda_max(avg) + lambda).epsilon(1e-10));
    CHECK(parts[0].smoothness() == Approx(lambda_max(g1) + lambda).epsilon(1e-10));
    CHECK(parts[1].smoothness() == Approx(lambda_max(g2) + lambda).epsilon(1e-10));
}

TEST_CASE("least squares L bounds gradient differences and is attained",
          "[experiment][least_squares][smoothness]") {
    const auto data = regression_data(60, 12, 23);
    ex::least_squares f(data, {0, 60}, 1e-2);
    const double L = f.smoothness();
    const std::size_t d = f.dim();
    std::uint64_t seed = 500;
    double best = 0; // the largest ||grad f(x) - grad f(y)|| / ||x - y|| seen
    for (int trial = 0; trial < 20; ++trial) {
        const auto x = grid_point(d, seed++), y = grid_point(d, seed++);
        std::vector<float> gx(d), gy(d);
        f.loss_and_gradient(x, gx);
        f.loss_and_gradient(y, gy);
        std::vector<double> dg(d), dx(d);
        for (std::size_t k = 0; k < d; ++k) {
            dg[k] = static_cast<double>(gx[k]) - gy[k];
            dx[k] = static_cast<double>(x[k]) - y[k];
        }
        // grad f(x) - grad f(y) = H (x - y) exactly; the float gradients add ~6e-8 |g|.
        CHECK(norm(dg) <= L * norm(dx) + 1e-6);
        best = std::max(best, norm(dg) / norm(dx));
    }
    // Along the all-ones direction (close to the top eigenvector of a Gram matrix of positive
    // features) the ratio comes near L: the constant is not loose.
    std::vector<float> x(d, 0.0f), y(d, 0.0f);
    for (float& v : y)
        v = 0.25f;
    std::vector<float> gx(d), gy(d);
    f.loss_and_gradient(x, gx);
    f.loss_and_gradient(y, gy);
    std::vector<double> dg(d);
    for (std::size_t k = 0; k < d; ++k)
        dg[k] = static_cast<double>(gy[k]) - gx[k];
    const double along_ones = norm(dg) / (0.25 * std::sqrt(static_cast<double>(d)));
    CHECK(along_ones <= L * (1 + 1e-6));
    CHECK(along_ones >= 0.9 * L);
    CHECK(best <= L * (1 + 1e-6));
}

TEST_CASE("least_squares and its smoothness reject bad arguments", "[experiment][least_squares]") {
    const auto data = regression_data(5, 3, 1);
    CHECK_THROWS_AS(ex::least_squares(data, {0, 0}, 0.0), commpress::error);
    CHECK_THROWS_AS(ex::least_squares(data, {3, 3}, 0.0), commpress::error);
    CHECK_THROWS_AS(ex::least_squares(data, {0, 5}, -1.0), commpress::error);
    CHECK_THROWS_AS(ex::smoothness(std::span<const ex::least_squares>()), commpress::error);
    const std::vector<ex::least_squares> mixed{{data, {0, 2}, 0.1}, {data, {2, 3}, 0.2}};
    CHECK_THROWS_AS(ex::smoothness(mixed), commpress::error);
}
