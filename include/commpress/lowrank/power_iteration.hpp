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

#include <commpress/kernels/arch.hpp>
#include <commpress/kernels/dot.hpp>
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

/// c = a b^T (a: m x k, b: n x k, c: m x n): each row of a against up to 4 rows of b at once
/// by kernels::dot_rows (binary32 partial sums over a fixed virtual width of 16 lanes, added in
/// double): no sum depends on the SIMD width. P = M Q is multiply_by_transpose(M, Q^T, P).
template <class T>
void multiply_by_transpose(std::type_identity_t<matrix_view<const T>> a,
                           std::type_identity_t<matrix_view<const T>> b, matrix_view<T> c) {
    static_assert(std::is_same_v<T, float>, "the low-rank products run on binary32");
    if (a.cols() != b.cols() || c.rows() != a.rows() || c.cols() != b.rows())
        detail::fail_shapes("multiply_by_transpose", " times the transpose of ", a.rows(), a.cols(),
                            b.rows(), b.cols(), c.rows(), c.cols());
    const std::size_t k = a.cols();
    for (std::size_t i = 0; i < a.rows(); ++i) {
        const float* x = a.row(i).data();
        for (std::size_t j0 = 0; j0 < b.rows(); j0 += 4) {
            const float* y[4] = {};
            double out[4] = {};
            const std::size_t g = std::min<std::size_t>(4, b.rows() - j0);
            for (std::size_t jj = 0; jj < g; ++jj)
                y[jj] = b.row(j0 + jj).data();
            switch (g) {
            case 4:
                kernels::dot_rows.operator()<4>(kernels::arch{}, x, y, k, out);
                break;
            case 3:
                kernels::dot_rows.operator()<3>(kernels::arch{}, x, y, k, out);
                break;
            case 2:
                kernels::dot_rows.operator()<2>(kernels::arch{}, x, y, k, out);
                break;
            default:
                kernels::dot_rows.operator()<1>(kernels::arch{}, x, y, k, out);
                break;
            }
            for (std::size_t jj = 0; jj < g; ++jj)
                c(i, j0 + jj) = static_cast<T>(out[jj]);
        }
    }
}

/// c = a^T b (a: k x m, b: k x n, c: m x n), summed over the k rows in order: binary32 partial
/// sums over blocks of 16 rows, added in order into `work` (m n doubles, the caller's: no
/// allocation). Vectorised over the columns of b, so no sum depends on the SIMD width.
/// Q^T = P^T M is multiply_transposed(P, M, Q^T).
template <class T>
void multiply_transposed(std::type_identity_t<matrix_view<const T>> a,
                         std::type_identity_t<matrix_view<const T>> b, matrix_view<T> c,
                         std::span<double> work) {
    if (a.rows() != b.rows() || c.rows() != a.cols() || c.cols() != b.cols() ||
        work.size() < c.rows() * c.cols())
        detail::fail_shapes("multiply_transposed", " transposed times ", a.rows(), a.cols(),
                            b.rows(), b.cols(), c.rows(), c.cols(),
                            " with " + std::to_string(work.size()) + " doubles of workspace");
    constexpr std::size_t rows = 16, cols = 64;
    const std::size_t n = b.cols(), m = a.cols();
    std::fill(work.begin(), work.begin() + static_cast<std::ptrdiff_t>(m * n), 0.0);
    for (std::size_t l0 = 0; l0 < a.rows(); l0 += rows) {
        const std::size_t l1 = std::min(a.rows(), l0 + rows);
        for (std::size_t j0 = 0; j0 < n; j0 += cols) { // a 16 x 64 tile of b stays in L1
            const std::size_t len = std::min(cols, n - j0);
            for (std::size_t i = 0; i < m; ++i) {
                T part[cols] = {};
                for (std::size_t l = l0; l < l1; ++l) {
                    const T s = a(l, i);
                    const T* y = b.row(l).data() + j0;
                    for (std::size_t u = 0; u < len; ++u)
                        part[u] += s * y[u];
                }
                double* acc = work.data() + i * n + j0;
                for (std::size_t u = 0; u < len; ++u)
                    acc[u] += static_cast<double>(part[u]);
            }
        }
    }
    for (std::size_t k = 0; k < m * n; ++k)
        c.data()[k] = static_cast<T>(work[k]);
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
    const std::size_t n = b.cols(), k = a.cols();
    constexpr std::size_t block = 256; // columns at a time, on the stack: no allocation
    T v[block];
    for (std::size_t i = 0; i < a.rows(); ++i) {
        T* out = c.row(i).data();
        for (std::size_t j0 = 0; j0 < n; j0 += block) {
            const std::size_t len = std::min(block, n - j0);
            // v = sum_l a(i, l) b_l in the order l = 0, 1, ... (from the first term: no + 0,
            // which would turn -0 into +0); the loops over j vectorise.
            if (k == 0)
                std::fill(v, v + len, T{0});
            else
                for (std::size_t j = 0; j < len; ++j)
                    v[j] = a(i, 0) * b(0, j0 + j);
            for (std::size_t l = 1; l < k; ++l) {
                const T s = a(i, l);
                const T* bl = b.row(l).data() + j0;
                for (std::size_t j = 0; j < len; ++j)
                    v[j] += s * bl[j];
            }
            if constexpr (Add)
                for (std::size_t j = 0; j < len; ++j)
                    out[j0 + j] += weight * v[j];
            else
                std::copy(v, v + len, out + j0);
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
