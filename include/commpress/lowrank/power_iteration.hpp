// SPDX-License-Identifier: MIT
// The products of the low-rank operators and PowerSGD's subspace-iteration step. The factors
// are kept as P (m x r) and Q^T (r x n), so every product walks M row by row, in memory order.
// Every sum runs in a fixed order (no dependence on SIMD width or threads): the results enter
// messages, which must be the same bits on every machine.
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <commpress/lowrank/matrix.hpp>
#include <commpress/lowrank/orthogonalize.hpp>

namespace commpress::lowrank {

namespace detail {
/// "lowrank::who: A x B <op> C x D into E x F<tail>"; built only on failure (cold).
[[noreturn, gnu::cold]] inline void fail_shapes(const char* who, const char* op, std::size_t ar,
                                                std::size_t ac, std::size_t br, std::size_t bc,
                                                std::size_t cr, std::size_t cc,
                                                const std::string& tail = {}) {
    const auto shape = [](std::size_t r, std::size_t c) {
        return std::to_string(r) + " x " + std::to_string(c);
    };
    commpress::detail::fail_parameter(std::string("lowrank::") + who + ": " + shape(ar, ac) + op +
                                      shape(br, bc) + " into " + shape(cr, cc) + tail);
}
} // namespace detail

/// c = a b^T (a: m x k, b: n x k, c: m x n): dot products of rows, in double over a fixed
/// virtual width of 8 lanes (lane j adds terms j, j + 8, ...; the lanes then add in a fixed
/// tree), which any SIMD width that divides 8 vectorises without changing a bit.
/// P = M Q is multiply_by_transpose(M, Q^T, P).
template <class T>
void multiply_by_transpose(std::type_identity_t<matrix_view<const T>> a,
                           std::type_identity_t<matrix_view<const T>> b, matrix_view<T> c) {
    if (a.cols() != b.cols() || c.rows() != a.rows() || c.cols() != b.rows())
        detail::fail_shapes("multiply_by_transpose", " times the transpose of ", a.rows(), a.cols(),
                            b.rows(), b.cols(), c.rows(), c.cols());
    constexpr std::size_t w = 8;
    const std::size_t k = a.cols(), body = k - k % w;
    for (std::size_t i = 0; i < a.rows(); ++i) {
        const T* x = a.row(i).data();
        for (std::size_t j = 0; j < b.rows(); ++j) {
            const T* y = b.row(j).data();
            double lane[w] = {};
            for (std::size_t l = 0; l < body; l += w)
                for (std::size_t u = 0; u < w; ++u)
                    lane[u] += static_cast<double>(x[l + u]) * static_cast<double>(y[l + u]);
            for (std::size_t l = body; l < k; ++l)
                lane[l - body] += static_cast<double>(x[l]) * static_cast<double>(y[l]);
            for (std::size_t half = w / 2; half > 0; half /= 2)
                for (std::size_t u = 0; u < half; ++u)
                    lane[u] += lane[u + half];
            c(i, j) = static_cast<T>(lane[0]);
        }
    }
}

/// c = a^T b (a: k x m, b: k x n, c: m x n), summed over the k rows in order in `work` (m n
/// doubles, the caller's: no allocation). Q^T = P^T M is multiply_transposed(P, M, Q^T).
template <class T>
void multiply_transposed(std::type_identity_t<matrix_view<const T>> a,
                         std::type_identity_t<matrix_view<const T>> b, matrix_view<T> c,
                         std::span<double> work) {
    if (a.rows() != b.rows() || c.rows() != a.cols() || c.cols() != b.cols() ||
        work.size() < c.rows() * c.cols())
        detail::fail_shapes("multiply_transposed", " transposed times ", a.rows(), a.cols(),
                            b.rows(), b.cols(), c.rows(), c.cols(),
                            " with " + std::to_string(work.size()) + " doubles of workspace");
    const std::size_t n = b.cols();
    std::fill(work.begin(), work.begin() + static_cast<std::ptrdiff_t>(c.rows() * n), 0.0);
    for (std::size_t l = 0; l < a.rows(); ++l) {
        const T* y = b.row(l).data();
        for (std::size_t i = 0; i < a.cols(); ++i) {
            const double s = static_cast<double>(a(l, i));
            double* acc = work.data() + i * n;
            for (std::size_t j = 0; j < n; ++j)
                acc[j] += s * static_cast<double>(y[j]);
        }
    }
    for (std::size_t k = 0; k < c.rows() * n; ++k)
        c.data()[k] = static_cast<T>(work[k]);
}

/// The same, allocating its workspace.
template <class T>
void multiply_transposed(std::type_identity_t<matrix_view<const T>> a,
                         std::type_identity_t<matrix_view<const T>> b, matrix_view<T> c) {
    std::vector<double> work(c.rows() * c.cols());
    multiply_transposed<T>(a, b, c, work);
}

/// c = a b, or c += weight a b with Add (a: m x k, b: k x n, c: m x n): rows of b scaled and
/// added in order, in T. Meant for a small k, the rank: decoding P Q^T.
template <bool Add = false, class T>
void multiply(std::type_identity_t<matrix_view<const T>> a,
              std::type_identity_t<matrix_view<const T>> b, matrix_view<T> c,
              std::type_identity_t<T> weight = T{1}) {
    if (a.cols() != b.rows() || c.rows() != a.rows() || c.cols() != b.cols())
        detail::fail_shapes("multiply", " times ", a.rows(), a.cols(), b.rows(), b.cols(), c.rows(),
                            c.cols());
    const std::size_t n = b.cols();
    for (std::size_t i = 0; i < a.rows(); ++i) {
        T* out = c.row(i).data();
        if (a.cols() == 0) {
            if constexpr (!Add)
                std::fill(out, out + n, T{0});
            continue;
        }
        // out = sum_l a(i, l) b_l, starting from l = 0 (no + 0, which would turn -0 into +0).
        const auto term = [&](std::size_t l, std::size_t j) { return a(i, l) * b(l, j); };
        for (std::size_t j = 0; j < n; ++j) {
            T v = term(0, j);
            for (std::size_t l = 1; l < a.cols(); ++l)
                v += term(l, j);
            if constexpr (Add)
                out[j] += weight * v;
            else
                out[j] = v;
        }
    }
}

/// PowerSGD's step on M (m x n) from the warm-started q^T (r x n): p = M q, p orthogonalised,
/// q^T = p^T M (`work`: r n doubles). Then p q^T = p p^T M, the orthogonal projection of M's
/// columns on span(p).
template <class T>
void power_step(std::type_identity_t<matrix_view<const T>> m, matrix_view<T> p, matrix_view<T> qt,
                std::span<double> work, double epsilon = 0) {
    multiply_by_transpose<T>(m, qt, p);
    orthogonalize(p, epsilon);
    multiply_transposed<T>(p, m, qt, work);
}

} // namespace commpress::lowrank
