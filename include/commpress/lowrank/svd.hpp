// SPDX-License-Identifier: MIT
// The singular value decomposition the low-rank messages need: of a Gram matrix, by cyclic
// Jacobi rotations in double. Written here rather than called from LAPACK because its result
// enters messages: the same code and the same order of operations give the same bits on every
// machine, which an optimised LAPACK (blocked, threaded, per-CPU kernels) does not promise.
// LAPACK's dgesdd is the tests' oracle.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <span>
#include <vector>

#include <commpress/lowrank/matrix.hpp>
#include <commpress/lowrank/power_iteration.hpp>

namespace commpress::lowrank::detail {

/// Eigen-decomposition of the symmetric l x l matrix a (row-major, overwritten): a = W diag(w)
/// W^T, eigenvalues in w, eigenvectors as the columns of `vectors` (l x l). Cyclic Jacobi: each
/// sweep rotates every off-diagonal pair (p, q) in order to zero; it stops when the
/// off-diagonal mass is below 1e-30 of the total, or after 60 sweeps (quadratic convergence
/// needs ~10 in practice).
inline void symmetric_eigen(std::span<double> a, std::size_t l, std::span<double> w,
                            std::span<double> vectors) {
    const auto at = [&](std::size_t i, std::size_t j) -> double& { return a[i * l + j]; };
    std::fill(vectors.begin(), vectors.begin() + static_cast<std::ptrdiff_t>(l * l), 0.0);
    for (std::size_t i = 0; i < l; ++i)
        vectors[i * l + i] = 1.0;
    for (int sweep = 0; sweep < 60; ++sweep) {
        double off = 0, total = 0;
        for (std::size_t i = 0; i < l; ++i)
            for (std::size_t j = 0; j < l; ++j)
                (i == j ? total : off) += at(i, j) * at(i, j);
        if (off <= 1e-30 * (total + off))
            break;
        for (std::size_t p = 0; p + 1 < l; ++p)
            for (std::size_t q = p + 1; q < l; ++q) {
                const double apq = at(p, q);
                if (apq == 0)
                    continue;
                // The rotation (c, s) that zeroes a_pq, with |t| <= 1 (the smaller angle).
                const double theta = (at(q, q) - at(p, p)) / (2 * apq);
                const double t =
                    (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
                const double c = 1 / std::sqrt(t * t + 1), s = t * c;
                for (std::size_t k = 0; k < l; ++k) { // columns p, q
                    const double kp = at(k, p), kq = at(k, q);
                    at(k, p) = c * kp - s * kq;
                    at(k, q) = s * kp + c * kq;
                }
                for (std::size_t k = 0; k < l; ++k) { // rows p, q
                    const double pk = at(p, k), qk = at(q, k);
                    at(p, k) = c * pk - s * qk;
                    at(q, k) = s * pk + c * qk;
                }
                for (std::size_t k = 0; k < l; ++k) {
                    double* v = vectors.data() + k * l;
                    const double vp = v[p], vq = v[q];
                    v[p] = c * vp - s * vq;
                    v[q] = s * vp + c * vq;
                }
            }
    }
    for (std::size_t i = 0; i < l; ++i)
        w[i] = at(i, i);
}

/// Workspace of gram_svd for matrices up to `rows` x `cols`.
struct svd_workspace {
    std::vector<double> gram, values, vectors, acc;
    std::vector<std::size_t> order;
    void reserve(std::size_t rows, std::size_t cols, std::size_t rank) {
        const std::size_t l = std::min(rows, cols);
        gram.resize(std::max(gram.size(), l * l));
        values.resize(std::max(values.size(), l));
        vectors.resize(std::max(vectors.size(), l * l));
        order.resize(std::max(order.size(), l));
        acc.resize(std::max(acc.size(), rank * std::max(rows, cols)));
    }
};

/// The leading k singular triplets of a (m x n), k <= min(m, n): a ~ u diag(s) vt with u
/// (m x k) and vt (k x n) orthonormal, s non-increasing and >= 0. From the eigenvectors of the
/// smaller Gram matrix, a a^T or a^T a, in double; the other side's vectors are a's products
/// with them over sigma (a zero sigma gives a zero vector, and contributes nothing).
/// Squaring costs accuracy only below sigma_1 * 1e-8, far under binary32's own.
template <class T>
void gram_svd(matrix_view<const T> a, std::size_t k, matrix_view<T> u, std::span<T> s,
              matrix_view<T> vt, svd_workspace& ws) {
    const std::size_t m = a.rows(), n = a.cols(), l = std::min(m, n);
    const bool rows_side = m <= n; // eigenvectors of a a^T are u's columns, else of a^T a, v's
    double* g = ws.gram.data();
    std::fill(g, g + l * l, 0.0);
    if (rows_side) {
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = i; j < m; ++j) {
                double dot = 0;
                for (std::size_t c = 0; c < n; ++c)
                    dot += static_cast<double>(a(i, c)) * static_cast<double>(a(j, c));
                g[i * l + j] = g[j * l + i] = dot;
            }
    } else {
        for (std::size_t r = 0; r < m; ++r)
            for (std::size_t i = 0; i < n; ++i) {
                const double ai = static_cast<double>(a(r, i));
                for (std::size_t j = i; j < n; ++j)
                    g[i * l + j] += ai * static_cast<double>(a(r, j));
            }
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < i; ++j)
                g[i * l + j] = g[j * l + i];
    }
    symmetric_eigen(std::span<double>(ws.gram).first(l * l), l, ws.values, ws.vectors);
    // Largest first, ties by index (a deterministic choice); NaN (from a non-finite input,
    // which compress then refuses) sorts last, so the order stays a strict weak one.
    const auto key = [&](std::size_t x) {
        const double v = ws.values[x];
        return v == v ? v : -HUGE_VAL;
    };
    std::iota(ws.order.begin(), ws.order.begin() + static_cast<std::ptrdiff_t>(l), 0);
    std::sort(ws.order.begin(), ws.order.begin() + static_cast<std::ptrdiff_t>(l),
              [&](std::size_t x, std::size_t y) {
                  return key(x) > key(y) || (key(x) == key(y) && x < y);
              });
    const auto vec = [&](std::size_t i, std::size_t j) { return ws.vectors[i * l + ws.order[j]]; };
    // The other side: column j = a^T u_j / s_j (or a v_j / s_j), summed in double.
    double* acc = ws.acc.data();
    const std::size_t other = rows_side ? n : m;
    std::fill(acc, acc + k * other, 0.0);
    for (std::size_t r = 0; r < m; ++r)
        for (std::size_t j = 0; j < k; ++j) {
            if (rows_side) { // acc_j += u_j[r] a_r
                const double w = vec(r, j);
                for (std::size_t c = 0; c < n; ++c)
                    acc[j * n + c] += w * static_cast<double>(a(r, c));
            } else { // acc_j[r] = a_r . v_j
                double dot = 0;
                for (std::size_t c = 0; c < n; ++c)
                    dot += static_cast<double>(a(r, c)) * vec(c, j);
                acc[j * m + r] = dot;
            }
        }
    for (std::size_t j = 0; j < k; ++j) {
        const double sigma = std::sqrt(std::max(ws.values[ws.order[j]], 0.0));
        s[j] = static_cast<T>(sigma);
        const double inv = sigma > 0 ? 1 / sigma : 0.0;
        for (std::size_t i = 0; i < m; ++i)
            u(i, j) = static_cast<T>(rows_side ? vec(i, j) : acc[j * m + i] * inv);
        for (std::size_t c = 0; c < n; ++c)
            vt(j, c) = static_cast<T>(rows_side ? acc[j * n + c] * inv : vec(c, j));
    }
}

} // namespace commpress::lowrank::detail
