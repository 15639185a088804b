// SPDX-License-Identifier: MIT
// Ridge-regularised least squares on a block of rows: loss, gradient, smoothness.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <commpress/core/error.hpp>
#include <commpress/experiment/dataset.hpp>
#include <commpress/experiment/detail/gram.hpp>

namespace commpress::experiment {

/// f(x) = (1/(2N)) ||A x - b||^2 + (lambda/2) ||x||^2 over a block of N rows A of a dataset,
/// b their labels (any real values). The Hessian is the constant A^T A / N + lambda I, so L is
/// exact (smoothness()) and lambda() is a lower bound for the strong convexity constant mu (the
/// true mu adds lambda_min(A^T A / N), which is 0 when N < cols and costly to find otherwise).
/// Holds a pointer to the data: the dataset must outlive it.
class least_squares {
  public:
    least_squares(const dataset& data, row_range rows, double lambda)
        : data_(&data), rows_(rows), lambda_(lambda), acc_(data.cols) {
        if (rows.count == 0 || rows.first + rows.count > data.rows)
            throw error("least_squares: rows [" + std::to_string(rows.first) + ", " +
                        std::to_string(rows.first + rows.count) +
                        ") are not a non-empty part of the " + std::to_string(data.rows) +
                        " rows of the data set");
        if (!(lambda >= 0))
            throw error("least_squares: lambda must be >= 0, got " + std::to_string(lambda));
    }

    std::size_t dim() const noexcept { return data_->cols; }
    std::size_t rows() const noexcept { return rows_.count; }
    double lambda() const noexcept { return lambda_; }
    const dataset& data() const noexcept { return *data_; }
    row_range range() const noexcept { return rows_; }

    double loss(std::span<const float> x) const noexcept {
        double sum = 0;
        for (std::size_t j = rows_.first; j < rows_.first + rows_.count; ++j) {
            const double r = detail::dot(data_->row(j).data(), x.data(), dim()) -
                             static_cast<double>(data_->labels[j]);
            sum += r * r;
        }
        return 0.5 * sum / static_cast<double>(rows_.count) + 0.5 * lambda_ * squared_norm(x);
    }

    /// Writes grad f(x) = A^T (A x - b) / N + lambda x into `grad` (dim() elements) and returns
    /// f(x). Accumulates in double in a workspace owned by this object: no allocation per call,
    /// but one object per thread.
    double loss_and_gradient(std::span<const float> x, std::span<float> grad) noexcept {
        const std::size_t d = dim();
        for (double& v : acc_)
            v = 0;
        double sum = 0;
        for (std::size_t j = rows_.first; j < rows_.first + rows_.count; ++j) {
            const float* a = data_->row(j).data();
            const double r = detail::dot(a, x.data(), d) - static_cast<double>(data_->labels[j]);
            sum += r * r;
            for (std::size_t k = 0; k < d; ++k)
                acc_[k] += r * static_cast<double>(a[k]);
        }
        const double inv_n = 1.0 / static_cast<double>(rows_.count);
        for (std::size_t k = 0; k < d; ++k)
            grad[k] = static_cast<float>(acc_[k] * inv_n + lambda_ * static_cast<double>(x[k]));
        return 0.5 * sum * inv_n + 0.5 * lambda_ * squared_norm(x);
    }

    /// L_i = lambda_max(A_i^T A_i) / N_i + lambda, the Hessian's largest eigenvalue.
    double smoothness(std::uint64_t seed = 1, int max_iterations = 2000) const;

    static double squared_norm(std::span<const float> x) noexcept {
        double s = 0;
        for (float v : x)
            s += static_cast<double>(v) * v;
        return s;
    }

  private:
    const dataset* data_;
    row_range rows_;
    double lambda_;
    std::vector<double> acc_;
};

/// Smoothness of the average f = (1/n) sum_i f_i: lambda_max((1/n) sum_i A_i^T A_i / N_i) +
/// lambda, exactly the largest eigenvalue of f's constant Hessian (the power iteration
/// approaches it from below). All parts must share lambda.
inline double smoothness(std::span<const least_squares> parts, std::uint64_t seed = 1,
                         int max_iterations = 2000) {
    if (parts.empty())
        throw error("smoothness: no parts given");
    for (const auto& p : parts)
        if (p.lambda() != parts.front().lambda())
            throw error("smoothness: the least squares parts differ in lambda; L of their "
                        "average needs one");
    return detail::gram_lambda_max(parts, seed, max_iterations, "smoothness") +
           parts.front().lambda();
}

inline double least_squares::smoothness(std::uint64_t seed, int max_iterations) const {
    return experiment::smoothness(std::span<const least_squares>(this, 1), seed, max_iterations);
}

} // namespace commpress::experiment
