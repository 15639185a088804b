// SPDX-License-Identifier: MIT
// L2-regularised binary logistic regression on a block of rows: loss, gradient, smoothness,
// accuracy.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <commpress/core/error.hpp>
#include <commpress/experiment/dataset.hpp>
#include <commpress/experiment/detail/gram.hpp>
#include <commpress/experiment/detail/random.hpp>

namespace commpress::experiment {

namespace detail {

/// log(1 + exp(-m)) without overflow: exp only ever sees a non-positive argument.
inline double softplus_neg(double m) noexcept {
    return m > 0 ? std::log1p(std::exp(-m)) : -m + std::log1p(std::exp(m));
}

/// sigma(-m) = 1 / (1 + exp(m)), again with exp of a non-positive argument only.
inline double sigmoid_neg(double m) noexcept {
    if (m > 0) {
        const double e = std::exp(-m);
        return e / (1.0 + e);
    }
    return 1.0 / (1.0 + std::exp(m));
}

} // namespace detail

/// The regulariser r(x) of a logistic regression: (lambda/2) ||x||^2, or the nonconvex
/// lambda sum_j x_j^2 / (1 + x_j^2) of the EF21 and EF-BV experiments (OPERATORS.md B), whose
/// second derivative (2 - 6 x^2) / (1 + x^2)^3 is at most 2: it adds 2 lambda to L.
enum class regulariser : std::uint8_t { l2, nonconvex };

/// f(x) = (1/N) sum_j log(1 + exp(-b_j a_j^T x)) + r(x) over a block of N rows of a dataset
/// (one worker's share). Holds a pointer to the data: the dataset must outlive it.
class logistic_regression {
  public:
    logistic_regression(const dataset& data, row_range rows, double lambda,
                        regulariser reg = regulariser::l2)
        : data_(&data), rows_(rows), lambda_(lambda), reg_(reg), acc_(data.cols) {
        if (rows.count == 0 || rows.first + rows.count > data.rows)
            throw error("logistic_regression: rows [" + std::to_string(rows.first) + ", " +
                        std::to_string(rows.first + rows.count) +
                        ") are not a non-empty part of the " + std::to_string(data.rows) +
                        " rows of the data set");
        if (!(lambda >= 0))
            throw error("logistic_regression: lambda must be >= 0, got " + std::to_string(lambda));
    }

    std::size_t dim() const noexcept { return data_->cols; }
    std::size_t rows() const noexcept { return rows_.count; }
    double lambda() const noexcept { return lambda_; }
    regulariser kind() const noexcept { return reg_; }
    /// The regulariser's share of the smoothness constant: lambda (l2) or 2 lambda (nonconvex).
    double regulariser_smoothness() const noexcept {
        return reg_ == regulariser::l2 ? lambda_ : 2 * lambda_;
    }
    const dataset& data() const noexcept { return *data_; }
    row_range range() const noexcept { return rows_; }

    double loss(std::span<const float> x) const noexcept {
        double sum = 0;
        for (std::size_t j = rows_.first; j < rows_.first + rows_.count; ++j)
            sum += detail::softplus_neg(data_->labels[j] *
                                        detail::dot(data_->row(j).data(), x.data(), dim()));
        return sum / static_cast<double>(rows_.count) + penalty(x);
    }

    /// Writes grad f(x) into `grad` (dim() elements) and returns f(x). Accumulates in double in a
    /// workspace owned by this object: no allocation per call, but one object per thread.
    double loss_and_gradient(std::span<const float> x, std::span<float> grad) noexcept {
        const std::size_t d = dim();
        for (double& v : acc_)
            v = 0;
        double sum = 0;
        for (std::size_t j = rows_.first; j < rows_.first + rows_.count; ++j) {
            const float* a = data_->row(j).data();
            const double b = data_->labels[j];
            const double m = b * detail::dot(a, x.data(), d);
            sum += detail::softplus_neg(m);
            const double c = -b * detail::sigmoid_neg(m); // d/dx log(1+exp(-b a^T x)) = c * a
            for (std::size_t k = 0; k < d; ++k)
                acc_[k] += c * static_cast<double>(a[k]);
        }
        const double inv_n = 1.0 / static_cast<double>(rows_.count);
        for (std::size_t k = 0; k < d; ++k) {
            const double v = static_cast<double>(x[k]), q = 1 + v * v;
            const double r = reg_ == regulariser::l2 ? lambda_ * v : 2 * lambda_ * v / (q * q);
            grad[k] = static_cast<float>(acc_[k] * inv_n + r);
        }
        return sum * inv_n + penalty(x);
    }

    /// L_i = lambda_max(A_i^T A_i) / (4 N_i) + regulariser_smoothness(): the logistic loss has
    /// second derivative <= 1/4.
    double smoothness(std::uint64_t seed = 1, int max_iterations = 2000) const;

    static double squared_norm(std::span<const float> x) noexcept {
        double s = 0;
        for (float v : x)
            s += static_cast<double>(v) * v;
        return s;
    }

  private:
    double penalty(std::span<const float> x) const noexcept {
        if (reg_ == regulariser::l2)
            return 0.5 * lambda_ * squared_norm(x);
        double s = 0;
        for (const float v : x)
            s += static_cast<double>(v) * v / (1 + static_cast<double>(v) * v);
        return lambda_ * s;
    }

    const dataset* data_;
    row_range rows_;
    double lambda_;
    regulariser reg_;
    std::vector<double> acc_;
};

/// Smoothness of the average f = (1/n) sum_i f_i: lambda_max of (1/n) sum_i A_i^T A_i / (4 N_i)
/// (detail::gram_lambda_max: power iteration, from below, never above the true value) plus the
/// regulariser's share. All parts must share the regulariser, lambda and the data width.
inline double smoothness(std::span<const logistic_regression> parts, std::uint64_t seed = 1,
                         int max_iterations = 2000) {
    if (parts.empty())
        throw error("smoothness: no parts given");
    for (const auto& p : parts)
        if (p.kind() != parts.front().kind() || p.lambda() != parts.front().lambda())
            throw error("smoothness: the logistic regression parts differ in regulariser or "
                        "lambda; L of their average needs one");
    // 1/4 bounds the logistic loss's second derivative. A power of two: applied after the power
    // iteration it gives the same bits as inside it.
    return 0.25 * detail::gram_lambda_max(parts, seed, max_iterations, "smoothness") +
           parts.front().regulariser_smoothness();
}

inline double logistic_regression::smoothness(std::uint64_t seed, int max_iterations) const {
    return experiment::smoothness(std::span<const logistic_regression>(this, 1), seed,
                                  max_iterations);
}

/// Fraction of rows whose label has the sign of a^T x (a^T x = 0 counts as +1).
inline double accuracy(const dataset& data, std::span<const float> x) noexcept {
    std::size_t right = 0;
    for (std::size_t j = 0; j < data.rows; ++j) {
        const double m = detail::dot(data.row(j).data(), x.data(), data.cols);
        right += ((m >= 0) == (data.labels[j] > 0)) ? 1 : 0;
    }
    return data.rows == 0 ? 0.0 : static_cast<double>(right) / static_cast<double>(data.rows);
}

} // namespace commpress::experiment
