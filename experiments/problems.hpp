// SPDX-License-Identifier: MIT
// The experiments' problems: logistic regression on Fashion-MNIST T-shirt vs Shirt or on a LIBSVM
// file, split over workers, with the smoothness constants the step sizes need.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <commpress/core/error.hpp>
#include <commpress/experiment/dataset.hpp>
#include <commpress/experiment/idx.hpp>
#include <commpress/experiment/libsvm.hpp>
#include <commpress/experiment/logistic_regression.hpp>
#include <commpress/feedback/step_size.hpp>

namespace experiments {

namespace cpx = commpress::experiment;

/// f = (1/n) sum_i f_i, f_i the logistic loss on worker i's contiguous block of rows.
struct logistic_problem {
    std::unique_ptr<cpx::dataset> data; // the parts point into it
    std::vector<cpx::logistic_regression> parts;
    commpress::feedback::smoothness sm; ///< L of f (power iteration) and L~ = sqrt(mean L_i^2)
    std::size_t dim() const { return data->cols; }
};

/// Splits `data` over `workers` (sorted by label first when heterogeneous: each worker then sees
/// mostly one class, OPERATORS.md E.1) and computes L and L~.
inline logistic_problem split(cpx::dataset data, std::size_t workers, double lambda,
                              cpx::regulariser reg, bool heterogeneous) {
    if (workers == 0 || workers > data.rows)
        throw commpress::error("split: " + std::to_string(workers) + " workers for " +
                               std::to_string(data.rows) + " rows");
    logistic_problem p;
    p.data = std::make_unique<cpx::dataset>(std::move(data));
    if (heterogeneous)
        cpx::sort_rows_by_label(*p.data);
    for (const auto& rows : cpx::split_rows(p.data->rows, workers))
        p.parts.emplace_back(*p.data, rows, lambda, reg);
    p.sm.L = cpx::smoothness(p.parts);
    double q = 0;
    for (const auto& part : p.parts) {
        const double li = part.smoothness();
        q += li * li;
    }
    p.sm.L_tilde = std::sqrt(q / static_cast<double>(workers));
    std::fprintf(stderr, "problem: %zu rows, d = %zu, %zu workers (%s), L = %.6g, L~ = %.6g\n",
                 p.data->rows, p.data->cols, workers,
                 heterogeneous ? "sorted by label" : "file order", p.sm.L, p.sm.L_tilde);
    return p;
}

/// Fashion-MNIST classes 0 (T-shirt, +1) and 6 (Shirt, -1): 12,000 training rows, 784 pixels /
/// 255 and a bias column.
inline cpx::dataset fashion_mnist(const std::string& dir) {
    return cpx::load_fashion_mnist_binary(dir, cpx::fashion_split::train);
}

} // namespace experiments
