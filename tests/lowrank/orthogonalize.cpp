// SPDX-License-Identifier: MIT
// lowrank::matrix_view and lowrank::orthogonalize: shapes are checked; Gram-Schmidt gives
// orthonormal columns spanning the same nested subspaces as the input's, the same bits on
// every run.
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/core/seed.hpp>
#include <commpress/lowrank/orthogonalize.hpp>

#include "lowrank/helpers.hpp"

using namespace commpress;
using lowrank::matrix_view;

namespace {

std::vector<float> random_matrix(std::size_t m, std::size_t r, std::uint64_t seed) {
    return testing::uniform(m * r, seed);
}

double dot_columns(matrix_view<const float> a, std::size_t j, std::size_t k) {
    double s = 0;
    for (std::size_t i = 0; i < a.rows(); ++i)
        s += static_cast<double>(a(i, j)) * a(i, k);
    return s;
}

} // namespace

TEST_CASE("lowrank::matrix_view: rows x cols must be the span's size", "[lowrank]") {
    std::vector<float> v(12);
    const matrix_view a(std::span<float>(v), 3, 4);
    a(2, 1) = 5.0f;
    CHECK(v[2 * 4 + 1] == 5.0f);
    CHECK(a.row(2)[1] == 5.0f);
    CHECK_THROWS_WITH(matrix_view(std::span<float>(v), 5, 3),
                      Catch::Contains("5 x 3 is 15 elements, the span has 12"));
    CHECK_THROWS_AS(matrix_view(std::span<float>(v), std::size_t(1) << 40, std::size_t(1) << 40),
                    invalid_parameter);
}

TEST_CASE("lowrank::orthogonalize: orthonormal columns with the input's nested spans",
          "[lowrank]") {
    constexpr std::size_t m = 1000, r = 4;
    const std::vector<float> a0 = random_matrix(m, r, 7);
    std::vector<float> q = a0;
    lowrank::orthogonalize(matrix_view(std::span<float>(q), m, r));
    const matrix_view<const float> Q(std::span<const float>(q), m, r),
        A(std::span<const float>(a0), m, r);
    // Q^T Q = I: each entry is a sum of m products of binary32 values, accumulated in double,
    // whose inputs carry a relative rounding of 2^-24 each: |error| <~ 2 * 2^-24 * ||q_j|| ||q_k||
    // = 1.2e-7 per entry, plus the orthogonalisation's own loss (A is well conditioned: random
    // columns of length 1000 are nearly orthogonal). 1e-5 leaves a wide margin and still fails
    // for any real defect (a missed projection leaves dots of order 1/sqrt(m) = 0.03).
    for (std::size_t j = 0; j < r; ++j)
        for (std::size_t k = 0; k < r; ++k)
            CHECK(std::abs(dot_columns(Q, j, k) - (j == k ? 1.0 : 0.0)) < 1e-5);
    // Column j of A lies in span(q_0..q_j): its residual after projecting on them vanishes.
    // Same tolerance argument, relative to ||a_j|| ~ 18.
    for (std::size_t j = 0; j < r; ++j) {
        std::vector<double> res(m);
        for (std::size_t i = 0; i < m; ++i)
            res[i] = A(i, j);
        for (std::size_t k = 0; k <= j; ++k) {
            double c = 0;
            for (std::size_t i = 0; i < m; ++i)
                c += static_cast<double>(Q(i, k)) * A(i, j);
            for (std::size_t i = 0; i < m; ++i)
                res[i] -= c * Q(i, k);
        }
        double n2 = 0, a2 = 0;
        for (std::size_t i = 0; i < m; ++i) {
            n2 += res[i] * res[i];
            a2 += static_cast<double>(A(i, j)) * A(i, j);
        }
        CHECK(std::sqrt(n2 / a2) < 1e-5);
    }
    // The first column is a_0 / ||a_0||.
    double a2 = 0;
    for (std::size_t i = 0; i < m; ++i)
        a2 += static_cast<double>(A(i, 0)) * A(i, 0);
    for (std::size_t i = 0; i < m; ++i)
        CHECK(std::abs(Q(i, 0) - A(i, 0) / std::sqrt(a2)) < 1e-7);
    // Deterministic: the same input gives the same bits.
    std::vector<float> again = a0;
    lowrank::orthogonalize(matrix_view(std::span<float>(again), m, r));
    CHECK(again == q);
}

TEST_CASE("lowrank::orthogonalize: a zero column stays zero, epsilon shrinks the norms",
          "[lowrank]") {
    constexpr std::size_t m = 50, r = 3;
    std::vector<float> a = random_matrix(m, r, 3);
    for (std::size_t i = 0; i < m; ++i)
        a[i * r + 1] = 0.0f;
    std::vector<float> q = a;
    lowrank::orthogonalize(matrix_view(std::span<float>(q), m, r));
    for (std::size_t i = 0; i < m; ++i)
        CHECK(q[i * r + 1] == 0.0f);
    const matrix_view<const float> Q(std::span<const float>(q), m, r);
    CHECK(std::abs(dot_columns(Q, 2, 2) - 1.0) < 1e-6);
    CHECK(std::abs(dot_columns(Q, 0, 2)) < 1e-6);
    // With epsilon, column 0's norm is ||a_0|| / (||a_0|| + epsilon) exactly (up to rounding).
    std::vector<float> e = a;
    lowrank::orthogonalize(matrix_view(std::span<float>(e), m, r), 1.0);
    const matrix_view<const float> E(std::span<const float>(e), m, r),
        A(std::span<const float>(a), m, r);
    const double n0 = std::sqrt(dot_columns(A, 0, 0));
    CHECK(std::sqrt(dot_columns(E, 0, 0)) == Approx(n0 / (n0 + 1.0)).epsilon(1e-6));
    CHECK_THROWS_AS(lowrank::orthogonalize(matrix_view(std::span<float>(e), m, r), -1.0),
                    invalid_parameter);
}
