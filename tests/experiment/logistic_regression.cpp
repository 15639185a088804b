// SPDX-License-Identifier: MIT
// Logistic regression: gradient against finite differences, smoothness bounds, accuracy.
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/experiment/dataset.hpp>
#include <commpress/experiment/logistic_regression.hpp>

namespace ex = commpress::experiment;

namespace {

/// Rows of "pixels" uniform in [0, 1] plus a bias 1, random ±1 labels: the shape of the real data.
ex::dataset synthetic(std::size_t rows, std::size_t pixels, std::uint64_t seed) {
    ex::dataset d;
    d.rows = rows;
    d.cols = pixels + 1;
    for (std::size_t j = 0; j < rows; ++j) {
        for (std::size_t k = 0; k < pixels; ++k)
            d.features.push_back(
                static_cast<float>(0.5 * (1.0 + ex::detail::splitmix_uniform(seed))));
        d.features.push_back(1.0f);
        d.labels.push_back(ex::detail::splitmix_uniform(seed) < 0 ? -1.0f : 1.0f);
    }
    return d;
}

/// A weight vector whose entries are multiples of 2^-10 in [-0.5, 0.5]: x_k ± 2^-10 is then
/// exact in float, so the finite difference sees exactly the step it divides by.
std::vector<float> grid_point(std::size_t d, std::uint64_t seed) {
    std::vector<float> x(d);
    for (float& v : x)
        v = std::ldexp(std::round(512.0 * ex::detail::splitmix_uniform(seed)), -10);
    return x;
}

double norm(const std::vector<double>& v) {
    double s = 0;
    for (double e : v)
        s += e * e;
    return std::sqrt(s);
}

} // namespace

TEST_CASE("loss at x = 0 is log 2 and the gradient there is the mean of -b_j a_j / 2",
          "[experiment][logreg]") {
    const auto data = synthetic(30, 6, 3);
    ex::logistic_regression f(data, {0, 30}, 0.5);
    const std::vector<float> x(7, 0.0f);
    std::vector<float> g(7);
    CHECK(f.loss_and_gradient(x, g) == Approx(std::log(2.0)).epsilon(1e-15));
    CHECK(f.loss(x) == Approx(std::log(2.0)).epsilon(1e-15));
    for (std::size_t k = 0; k < 7; ++k) {
        double expected = 0;
        for (std::size_t j = 0; j < 30; ++j)
            expected -= 0.5 * data.labels[j] * data.row(j)[k] / 30.0;
        CHECK(g[k] == Approx(expected).epsilon(1e-6));
    }
}

TEST_CASE("gradient matches central finite differences of the loss", "[experiment][logreg]") {
    const auto data = synthetic(200, 40, 11);
    const auto parts = ex::split_rows(data.rows, 3);
    ex::logistic_regression f(data, parts[2], 1e-2); // the last, larger part: 68 rows
    const std::size_t d = f.dim();
    auto x = grid_point(d, 5);
    std::vector<float> g(d);
    const double loss = f.loss_and_gradient(x, g);
    CHECK(loss == Approx(f.loss(x)).epsilon(1e-14));

    // Tolerance. Central difference error = h^2/6 * |d^3 f / dx_k^3| + rounding.
    // * Each term's third derivative along e_k is sigma''(.) a_k^3 with |sigma''| <= 1/(6 sqrt 3)
    //   < 0.1 and 0 <= a_k <= 1; the quadratic term has none: truncation <= h^2/6 * 0.1 = 1.6e-8
    //   for h = 2^-10.
    // * loss() sums exact float*float products in double: relative error ~1e-16 * d, so the
    //   difference quotient carries ~1e-14 / (2h) = 5e-12.
    // * The gradient is returned as float: 2^-24 |g_k| = 6e-8 |g_k|.
    // So |fd - g_k| <= 1e-7 (1 + |g_k|) holds with margin; a sign or factor slip is >= 1e-3.
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

TEST_CASE("loss and gradient stay finite for huge margins", "[experiment][logreg]") {
    const auto data = synthetic(20, 10, 2);
    ex::logistic_regression f(data, {0, 20}, 0.0);
    std::vector<float> x(11, 1e4f); // margins of order +-5e4: exp() of them overflows
    std::vector<float> g(11);
    const double loss = f.loss_and_gradient(x, g);
    CHECK(std::isfinite(loss));
    for (float v : g)
        CHECK(std::isfinite(v));
    // Each misclassified row costs its margin |m| (softplus(-m) ~ -m for m << 0): loss is large,
    // not inf.
    CHECK(loss > 1e3);
}

TEST_CASE("power iteration finds the known top eigenvalue of a small matrix",
          "[experiment][logreg][smoothness]") {
    // A = diag(4, 3, 2, 1) Q with Q = I - (1/2) 1 1^T (orthogonal and symmetric, entries +-1/2,
    // exact in float). A^T A = Q diag(16, 9, 4, 1) Q has eigenvalues 16, 9, 4, 1, so with N = 4
    // rows L = 16 / (4 * 4) + lambda = 1 + lambda. Power iteration converges like (9/16)^(2t);
    // it stops when the Rayleigh quotient moves by < 1e-12 relative, far inside 1e-9.
    ex::dataset data;
    data.rows = 4;
    data.cols = 4;
    const double sigma[4] = {4, 3, 2, 1};
    for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t k = 0; k < 4; ++k)
            data.features.push_back(static_cast<float>(sigma[i] * ((i == k ? 1.0 : 0.0) - 0.5)));
    data.labels = {1, -1, 1, -1};
    const ex::logistic_regression f(data, {0, 4}, 0.25);
    CHECK(f.smoothness() == Approx(1.25).epsilon(1e-9));
    CHECK(f.smoothness(/*seed=*/99) == Approx(1.25).epsilon(1e-9));

    // Two copies of the same block: the average's matrix is the same, so the same L.
    data.rows = 8;
    data.features.insert(data.features.end(), data.features.begin(), data.features.end());
    data.labels.insert(data.labels.end(), data.labels.begin(), data.labels.end());
    const std::vector<ex::logistic_regression> parts{{data, {0, 4}, 0.25}, {data, {4, 4}, 0.25}};
    CHECK(ex::smoothness(parts) == Approx(1.25).epsilon(1e-9));
}

TEST_CASE("L_i bounds the curvature: Rayleigh quotients and gradient differences",
          "[experiment][logreg][smoothness]") {
    const auto data = synthetic(120, 30, 7);
    const double lambda = 1e-3;
    ex::logistic_regression f(data, {0, 120}, lambda);
    const double L = f.smoothness();
    const std::size_t d = f.dim();
    std::uint64_t seed = 1234;
    for (int trial = 0; trial < 20; ++trial) {
        // Rayleigh quotient of A^T A / (4N) + lambda I at a random u: never above lambda_max.
        std::vector<double> u(d);
        for (double& e : u)
            e = ex::detail::splitmix_uniform(seed);
        double quad = 0;
        for (std::size_t j = 0; j < data.rows; ++j) {
            double au = 0;
            for (std::size_t k = 0; k < d; ++k)
                au += data.row(j)[k] * u[k];
            quad += au * au;
        }
        const double uu = norm(u) * norm(u);
        const double rayleigh = quad / (4.0 * static_cast<double>(data.rows) * uu) + lambda;
        CHECK(rayleigh <= L);

        // L-smoothness itself: ||grad f(x) - grad f(y)|| <= L ||x - y||. The float gradients add
        // an absolute error ~6e-8 * |g| ~ 1e-8, far below L ||x - y|| ~ 1 at these distances.
        const auto x = grid_point(d, seed + 1), y = grid_point(d, seed + 2);
        std::vector<float> gx(d), gy(d);
        f.loss_and_gradient(x, gx);
        f.loss_and_gradient(y, gy);
        std::vector<double> dg(d), dx(d);
        for (std::size_t k = 0; k < d; ++k) {
            dg[k] = static_cast<double>(gx[k]) - gy[k];
            dx[k] = static_cast<double>(x[k]) - y[k];
        }
        CHECK(norm(dg) <= L * norm(dx) + 1e-6);
    }
}

TEST_CASE("accuracy counts rows whose label has the sign of the margin", "[experiment][logreg]") {
    ex::dataset data;
    data.rows = 4;
    data.cols = 2;
    data.features = {1, 1, -1, 1, 2, 1, -3, 1};
    data.labels = {1, -1, -1, -1};
    const std::vector<float> x{1.0f, 0.0f}; // margins 1, -1, 2, -3
    CHECK(ex::accuracy(data, x) == Approx(0.75));
    const std::vector<float> zero{0.0f, 0.0f}; // margin 0 predicts +1
    CHECK(ex::accuracy(data, zero) == Approx(0.25));
}

TEST_CASE("the nonconvex regulariser: gradient, and 2 lambda in L", "[experiment][logreg]") {
    // r(x) = lambda sum x^2 / (1 + x^2), r' = 2 lambda x / (1 + x^2)^2, r'' <= 2 lambda.
    const auto data = synthetic(120, 30, 8);
    const double lambda = 0.1;
    ex::logistic_regression f(data, {0, 120}, lambda, ex::regulariser::nonconvex);
    ex::logistic_regression plain(data, {0, 120}, 0.0);
    CHECK(f.smoothness() == Approx(plain.smoothness() + 2 * lambda).epsilon(1e-9));
    const std::size_t d = f.dim();
    std::uint64_t seed = 77;
    const auto x = grid_point(d, seed);
    std::vector<float> g(d), g0(d);
    const double fx = f.loss_and_gradient(x, g), f0 = plain.loss_and_gradient(x, g0);
    double r = 0;
    for (std::size_t k = 0; k < d; ++k) {
        const double v = x[k], q = 1 + v * v;
        r += v * v / q;
        // The regulariser's part of the gradient, in float: relative rounding ~1e-7.
        CHECK(double(g[k]) - g0[k] == Approx(2 * lambda * v / (q * q)).margin(1e-6));
    }
    CHECK(fx == Approx(f0 + lambda * r).epsilon(1e-12));
    CHECK(f.loss(x) == Approx(fx).epsilon(1e-12));
}
