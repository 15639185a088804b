// SPDX-License-Identifier: MIT
// lowrank::orthogonalize: Gram-Schmidt on the columns of a tall matrix, PowerSGD's step that
// turns P = M Q into an orthonormal basis of its column space.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include <commpress/lowrank/matrix.hpp>

namespace commpress::lowrank {

/// Modified Gram-Schmidt, column by column: column j is divided by (||column j|| + epsilon),
/// then its component is removed from every later column. Dot products and norms accumulate in
/// double in row order, so the result is the same bits on every machine. The PowerSGD authors'
/// code adds epsilon = 1e-8 (epfml/powersgd); PyTorch's hook defaults to 0. A column that is
/// exactly zero stays zero (nothing to normalise).
/// Cost: O(rows cols^2), meant for the few columns of a rank-r factor.
template <class T>
void orthogonalize(matrix_view<T> a, double epsilon = 0.0) {
    if (!(epsilon >= 0.0))
        commpress::detail::fail_parameter("lowrank::orthogonalize: epsilon must be >= 0");
    const std::size_t m = a.rows(), r = a.cols();
    double small[64]; // ranks and sketches up to 64 columns: no allocation
    std::vector<double> large(r > 64 ? r : 0);
    double* const dots = r > 64 ? large.data() : small;
    for (std::size_t j = 0; j < r; ++j) {
        double norm2 = 0;
        for (std::size_t i = 0; i < m; ++i)
            norm2 += static_cast<double>(a(i, j)) * static_cast<double>(a(i, j));
        const double scale = norm2 == 0 ? 0.0 : 1.0 / (std::sqrt(norm2) + epsilon);
        for (std::size_t i = 0; i < m; ++i)
            a(i, j) = static_cast<T>(static_cast<double>(a(i, j)) * scale);
        // Remove the new unit column's component from the later columns, all at once.
        std::fill(dots, dots + r, 0.0);
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t k = j + 1; k < r; ++k)
                dots[k] += static_cast<double>(a(i, j)) * static_cast<double>(a(i, k));
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t k = j + 1; k < r; ++k)
                a(i, k) = static_cast<T>(static_cast<double>(a(i, k)) -
                                         dots[k] * static_cast<double>(a(i, j)));
    }
}

} // namespace commpress::lowrank
