// SPDX-License-Identifier: MIT
// L2-regularised multinomial logistic (softmax cross-entropy) regression with K classes on a
// block of rows: loss, gradient, smoothness, accuracy.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <commpress/core/error.hpp>
#include <commpress/experiment/dataset.hpp>
#include <commpress/experiment/detail/gram.hpp>

namespace commpress::experiment {

/// f(x) = (1/N) sum_j [log sum_c exp(a_j^T x_c) - a_j^T x_{y_j}] + (lambda/2) ||x||^2 over a
/// block of N rows of a dataset whose labels y_j are class indices 0..K-1 (stored as float).
/// x is K × cols, class-major: the weights of class c are x[c*cols, (c+1)*cols). Holds a
/// pointer to the data: the dataset must outlive it.
class softmax_regression {
  public:
    softmax_regression(const dataset& data, row_range rows, std::size_t classes, double lambda)
        : data_(&data), rows_(rows), classes_(classes), lambda_(lambda), logits_(classes),
          acc_(classes * data.cols) {
        if (rows.count == 0 || rows.first + rows.count > data.rows)
            throw error("softmax_regression: rows [" + std::to_string(rows.first) + ", " +
                        std::to_string(rows.first + rows.count) +
                        ") are not a non-empty part of the " + std::to_string(data.rows) +
                        " rows of the data set");
        if (classes < 2)
            throw error("softmax_regression: needs at least 2 classes, got " +
                        std::to_string(classes));
        if (!(lambda >= 0))
            throw error("softmax_regression: lambda must be >= 0, got " + std::to_string(lambda));
        for (std::size_t j = rows.first; j < rows.first + rows.count; ++j) {
            const float y = data.labels[j];
            if (!(y >= 0 && y < static_cast<float>(classes) && y == std::floor(y))) {
                char text[32] = {};
                std::to_chars(text, text + sizeof text - 1, y); // shortest: "-1", "2.5", "nan"
                throw error("softmax_regression: row " + std::to_string(j) + " has label " + text +
                            ", expected a class index 0 to " + std::to_string(classes - 1) +
                            (y == -1 ? " (±1 labels are for logistic_regression)" : ""));
            }
        }
    }

    std::size_t dim() const noexcept { return classes_ * data_->cols; }
    std::size_t rows() const noexcept { return rows_.count; }
    std::size_t classes() const noexcept { return classes_; }
    double lambda() const noexcept { return lambda_; }
    const dataset& data() const noexcept { return *data_; }
    row_range range() const noexcept { return rows_; }

    /// f(x) without the gradient. The log-sum-exp runs as a single pass that rescales its sum
    /// whenever a larger logit appears, so it needs no workspace and never overflows.
    double loss(std::span<const float> x) const noexcept {
        const std::size_t d = data_->cols;
        double sum = 0;
        for (std::size_t j = rows_.first; j < rows_.first + rows_.count; ++j) {
            const float* a = data_->row(j).data();
            const auto y = static_cast<std::size_t>(data_->labels[j]);
            double m = detail::dot(a, x.data(), d), s = 1, zy = m;
            for (std::size_t c = 1; c < classes_; ++c) {
                const double z = detail::dot(a, x.data() + c * d, d);
                if (z > m) {
                    s = s * std::exp(m - z) + 1;
                    m = z;
                } else {
                    s += std::exp(z - m);
                }
                if (c == y)
                    zy = z;
            }
            sum += m + std::log(s) - zy;
        }
        return sum / static_cast<double>(rows_.count) + 0.5 * lambda_ * squared_norm(x);
    }

    /// Writes grad f(x) into `grad` (dim() elements) and returns f(x). Row j adds
    /// (p_jc - [c = y_j]) a_j to class c's block, p_j = softmax(logits). Accumulates in double in
    /// a workspace owned by this object: no allocation per call, but one object per thread.
    double loss_and_gradient(std::span<const float> x, std::span<float> grad) noexcept {
        const std::size_t d = data_->cols;
        for (double& v : acc_)
            v = 0;
        double sum = 0;
        for (std::size_t j = rows_.first; j < rows_.first + rows_.count; ++j) {
            const float* a = data_->row(j).data();
            const auto y = static_cast<std::size_t>(data_->labels[j]);
            for (std::size_t c = 0; c < classes_; ++c)
                logits_[c] = detail::dot(a, x.data() + c * d, d);
            const double m = *std::max_element(logits_.begin(), logits_.end()), zy = logits_[y];
            double s = 0;
            for (double& z : logits_) {
                z = std::exp(z - m); // <= 1: no overflow
                s += z;
            }
            sum += m + std::log(s) - zy;
            for (std::size_t c = 0; c < classes_; ++c) {
                const double coef = logits_[c] / s - (c == y ? 1.0 : 0.0);
                double* g = acc_.data() + c * d;
                for (std::size_t k = 0; k < d; ++k)
                    g[k] += coef * static_cast<double>(a[k]);
            }
        }
        const double inv_n = 1.0 / static_cast<double>(rows_.count);
        for (std::size_t k = 0; k < acc_.size(); ++k)
            grad[k] = static_cast<float>(acc_[k] * inv_n + lambda_ * static_cast<double>(x[k]));
        return sum * inv_n + 0.5 * lambda_ * squared_norm(x);
    }

    /// L_i = lambda_max(A_i^T A_i / N_i) / 2 + lambda; see smoothness(span) for the bound.
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
    std::size_t classes_;
    double lambda_;
    std::vector<double> logits_; // K, then exp(logit - max)
    std::vector<double> acc_;    // K * cols
};

/// Smoothness of the average f = (1/n) sum_i f_i: lambda_max((1/n) sum_i A_i^T A_i / N_i) / 2 +
/// lambda. Row a's cross-entropy has Hessian (diag(p) - p p^T) ⊗ a a^T, whose eigenvalues are
/// products of the factors'. By Gershgorin, row c of diag(p) - p p^T has diagonal p_c (1 - p_c)
/// and off-diagonal absolute sum p_c (1 - p_c), so its eigenvalues are <= 2 p_c (1 - p_c) <= 1/2;
/// hence the Hessian of f is <= (1/2) I ⊗ (1/n) sum_i A_i^T A_i / N_i + lambda I. (Tight for
/// K = 2 at p = (1/2, 1/2).) All parts must share K and lambda.
inline double smoothness(std::span<const softmax_regression> parts, std::uint64_t seed = 1,
                         int max_iterations = 2000) {
    if (parts.empty())
        throw error("smoothness: no parts given");
    for (const auto& p : parts)
        if (p.classes() != parts.front().classes() || p.lambda() != parts.front().lambda())
            throw error("smoothness: the softmax regression parts differ in classes or lambda; "
                        "L of their average needs one");
    return 0.5 * detail::gram_lambda_max(parts, seed, max_iterations, "smoothness") +
           parts.front().lambda();
}

inline double softmax_regression::smoothness(std::uint64_t seed, int max_iterations) const {
    return experiment::smoothness(std::span<const softmax_regression>(this, 1), seed,
                                  max_iterations);
}

/// Fraction of rows whose label is the argmax of the logits a^T x_c (ties go to the lowest
/// class). x is K × cols class-major as in softmax_regression; K = x.size() / data.cols.
inline double multiclass_accuracy(const dataset& data, std::span<const float> x) noexcept {
    const std::size_t d = data.cols, classes = d == 0 ? 0 : x.size() / d;
    std::size_t right = 0;
    for (std::size_t j = 0; j < data.rows && classes > 0; ++j) {
        std::size_t best = 0;
        double best_z = detail::dot(data.row(j).data(), x.data(), d);
        for (std::size_t c = 1; c < classes; ++c) {
            const double z = detail::dot(data.row(j).data(), x.data() + c * d, d);
            if (z > best_z) {
                best_z = z;
                best = c;
            }
        }
        right += data.labels[j] == static_cast<float>(best) ? 1 : 0;
    }
    return data.rows == 0 ? 0.0 : static_cast<double>(right) / static_cast<double>(data.rows);
}

} // namespace commpress::experiment
