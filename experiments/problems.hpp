// SPDX-License-Identifier: MIT
// The experiments' problems (logistic or softmax regression) split over workers, with the
// smoothness constants the step sizes need.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <commpress/core/error.hpp>
#include <commpress/experiment/dataset.hpp>
#include <commpress/experiment/idx.hpp>
#include <commpress/experiment/libsvm.hpp>
#include <commpress/experiment/logistic_regression.hpp>
#include <commpress/experiment/softmax_regression.hpp>
#include <commpress/feedback/step_size.hpp>

namespace experiments {

namespace cpx = commpress::experiment;

/// f = (1/n) sum_i f_i, f_i the problem on worker i's contiguous block of rows.
template <class Part>
struct problem {
    std::unique_ptr<cpx::dataset> data; // the parts point into it
    std::vector<Part> parts;
    commpress::feedback::smoothness sm; ///< L of f (power iteration) and L~ = sqrt(mean L_i^2)
    std::size_t dim() const { return parts.front().dim(); }
};
using logistic_problem = problem<cpx::logistic_regression>;

/// Splits `data` over `workers` (sorted by label first when heterogeneous: each worker then sees
/// mostly one class, OPERATORS.md E.1), makes worker i's Part(data, rows_i, args...) and
/// computes L and L~.
template <class Part, class... Args>
problem<Part> split_as(cpx::dataset data, std::size_t workers, bool heterogeneous,
                       const Args&... args) {
    if (workers == 0 || workers > data.rows)
        throw commpress::error("split: " + std::to_string(workers) + " workers for " +
                               std::to_string(data.rows) + " rows");
    problem<Part> p;
    p.data = std::make_unique<cpx::dataset>(std::move(data));
    if (heterogeneous)
        cpx::sort_rows_by_label(*p.data);
    for (const auto& rows : cpx::split_rows(p.data->rows, workers))
        p.parts.emplace_back(*p.data, rows, args...);
    p.sm.L = cpx::smoothness(std::span<const Part>(p.parts));
    double q = 0;
    for (const auto& part : p.parts) {
        const double li = part.smoothness();
        q += li * li;
    }
    p.sm.L_tilde = std::sqrt(q / static_cast<double>(workers));
    std::fprintf(stderr, "problem: %zu rows, d = %zu, %zu workers (%s), L = %.6g, L~ = %.6g\n",
                 p.data->rows, p.dim(), workers, heterogeneous ? "sorted by label" : "file order",
                 p.sm.L, p.sm.L_tilde);
    return p;
}

/// Logistic regression with regulariser `reg` split over workers.
inline logistic_problem split(cpx::dataset data, std::size_t workers, double lambda,
                              cpx::regulariser reg, bool heterogeneous) {
    return split_as<cpx::logistic_regression>(std::move(data), workers, heterogeneous, lambda, reg);
}

/// Fashion-MNIST classes 0 (T-shirt, +1) and 6 (Shirt, -1): 12,000 training rows, 784 pixels /
/// 255 and a bias column.
inline cpx::dataset fashion_mnist(const std::string& dir) {
    return cpx::load_fashion_mnist_binary(dir, cpx::fashion_split::train);
}

} // namespace experiments
