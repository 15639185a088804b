// SPDX-License-Identifier: MIT
// lowrank::power_step: one step of PowerSGD's subspace iteration on one matrix, the local math
// the protocol (all-reducing P, then Q) is built around. Plain loops with double accumulation:
// the reference the fast kernels will be checked against.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

#include <commpress/lowrank/matrix.hpp>
#include <commpress/lowrank/orthogonalize.hpp>

namespace commpress::lowrank {

namespace detail {
inline void check_shapes(bool ok, const char* who, const std::string& what) {
    if (!ok)
        commpress::detail::fail_parameter(std::string("lowrank::") + who + ": " + what);
}
inline std::string shape(std::size_t r, std::size_t c) {
    return std::to_string(r) + " x " + std::to_string(c);
}
} // namespace detail

/// c = a b (a: m x k, b: k x n, c: m x n), sums in double.
template <class T>
void multiply(std::type_identity_t<matrix_view<const T>> a,
              std::type_identity_t<matrix_view<const T>> b, matrix_view<T> c) {
    detail::check_shapes(
        a.cols() == b.rows() && c.rows() == a.rows() && c.cols() == b.cols(), "multiply",
        detail::shape(a.rows(), a.cols()) + " times " + detail::shape(b.rows(), b.cols()) +
            " into " + detail::shape(c.rows(), c.cols()));
    std::vector<double> row(b.cols());
    for (std::size_t i = 0; i < a.rows(); ++i) {
        std::fill(row.begin(), row.end(), 0.0);
        for (std::size_t l = 0; l < a.cols(); ++l)
            for (std::size_t j = 0; j < b.cols(); ++j)
                row[j] += static_cast<double>(a(i, l)) * static_cast<double>(b(l, j));
        for (std::size_t j = 0; j < b.cols(); ++j)
            c(i, j) = static_cast<T>(row[j]);
    }
}

/// c = a^T b (a: k x m, b: k x n, c: m x n), sums in double.
template <class T>
void multiply_transposed(std::type_identity_t<matrix_view<const T>> a,
                         std::type_identity_t<matrix_view<const T>> b, matrix_view<T> c) {
    detail::check_shapes(
        a.rows() == b.rows() && c.rows() == a.cols() && c.cols() == b.cols(), "multiply_transposed",
        detail::shape(a.rows(), a.cols()) + "^T times " + detail::shape(b.rows(), b.cols()) +
            " into " + detail::shape(c.rows(), c.cols()));
    std::vector<double> acc(c.rows() * c.cols(), 0.0);
    for (std::size_t l = 0; l < a.rows(); ++l)
        for (std::size_t i = 0; i < a.cols(); ++i)
            for (std::size_t j = 0; j < b.cols(); ++j)
                acc[i * c.cols() + j] +=
                    static_cast<double>(a(l, i)) * static_cast<double>(b(l, j));
    for (std::size_t k = 0; k < acc.size(); ++k)
        c.data()[k] = static_cast<T>(acc[k]);
}

/// PowerSGD's step on M (m x n) from the warm-started q (n x r): p = M q, p orthogonalised,
/// q = M^T p. Then p q^T = p p^T M, the orthogonal projection of M's columns on span(p).
template <class T>
void power_step(std::type_identity_t<matrix_view<const T>> m, matrix_view<T> p, matrix_view<T> q,
                double epsilon = 0) {
    multiply<T>(m, q, p);
    orthogonalize(p, epsilon);
    multiply_transposed<T>(m, p, q);
}

} // namespace commpress::lowrank
