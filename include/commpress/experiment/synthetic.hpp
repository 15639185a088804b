// SPDX-License-Identifier: MIT
// Seeded synthetic data with a planted weight vector: a binary classification set (±1 labels with
// label noise) and a regression set (b = A x* + noise), the same bytes on every platform.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <commpress/core/error.hpp>
#include <commpress/experiment/dataset.hpp>
#include <commpress/experiment/detail/gram.hpp>
#include <commpress/experiment/detail/random.hpp>

namespace commpress::experiment {

namespace detail {

/// The seeds of the planted-weight stream and of the data stream, both derived from `seed`.
struct synthetic_seeds {
    std::uint64_t weights, rows;
};

inline synthetic_seeds split_seed(std::uint64_t seed) noexcept {
    const std::uint64_t weights = splitmix64(seed);
    return {weights, splitmix64(seed)};
}

/// The shared generator: rows of N(0, 1) features (and a last column 1 with `bias_column`);
/// label(margin a^T x*, stream) turns each row's margin into its label.
template <class Label>
dataset synthetic_rows(const char* who, std::size_t rows, std::size_t cols, std::uint64_t seed,
                       bool bias_column, const std::vector<float>& planted, Label label) {
    if (rows == 0 || cols == 0 || (bias_column && cols < 2))
        throw error(std::string(who) + ": needs at least 1 row and " +
                    (bias_column ? "2 columns (one is the bias)" : "1 column") + ", got " +
                    std::to_string(rows) + " x " + std::to_string(cols));
    gaussian_stream g(split_seed(seed).rows);
    const std::size_t drawn = bias_column ? cols - 1 : cols;
    dataset out;
    out.rows = rows;
    out.cols = cols;
    out.features.resize(rows * cols);
    out.labels.resize(rows);
    for (std::size_t j = 0; j < rows; ++j) {
        float* a = out.features.data() + j * cols;
        for (std::size_t k = 0; k < drawn; ++k)
            a[k] = static_cast<float>(g());
        if (bias_column)
            a[cols - 1] = 1.0f;
        out.labels[j] = label(dot(a, planted.data(), cols), g);
    }
    return out;
}

} // namespace detail

/// The planted weight vector x* (cols entries, i.i.d. N(0, 1)) behind synthetic_classification
/// and synthetic_regression with the same cols and seed. With a bias column, its last entry is
/// the planted bias.
inline std::vector<float> synthetic_weights(std::size_t cols, std::uint64_t seed) {
    detail::gaussian_stream g(detail::split_seed(seed).weights);
    std::vector<float> w(cols);
    for (float& v : w)
        v = static_cast<float>(g());
    return w;
}

/// `rows` rows of i.i.d. N(0, 1) features (the last column 1 instead with `bias_column`), label
/// sign(a^T x*) (+1 at 0) with x* = synthetic_weights(cols, seed), each label then negated with
/// probability `flip` (independently). Every row draws its flip uniform whatever `flip` is, so
/// the features do not depend on it: only the flipped labels differ.
inline dataset synthetic_classification(std::size_t rows, std::size_t cols, std::uint64_t seed,
                                        double flip = 0.0, bool bias_column = false) {
    if (!(flip >= 0 && flip <= 1))
        throw error("synthetic_classification: the flip probability must be in [0, 1], got " +
                    std::to_string(flip));
    return detail::synthetic_rows(
        "synthetic_classification", rows, cols, seed, bias_column, synthetic_weights(cols, seed),
        [flip](double margin, detail::gaussian_stream& g) {
            const float label = margin >= 0 ? 1.0f : -1.0f;
            return detail::splitmix_unit(g.state()) < flip ? -label : label;
        });
}

/// `rows` rows of i.i.d. N(0, 1) features (the last column 1 instead with `bias_column`), label
/// b = a^T x* + noise * N(0, 1) with x* = synthetic_weights(cols, seed): a least_squares problem
/// whose unregularised solution is x* when noise = 0. The features do not depend on `noise`.
inline dataset synthetic_regression(std::size_t rows, std::size_t cols, std::uint64_t seed,
                                    double noise = 0.0, bool bias_column = false) {
    if (!(noise >= 0 && std::isfinite(noise)))
        throw error("synthetic_regression: the noise standard deviation must be finite and >= 0, "
                    "got " +
                    std::to_string(noise));
    return detail::synthetic_rows("synthetic_regression", rows, cols, seed, bias_column,
                                  synthetic_weights(cols, seed),
                                  [noise](double margin, detail::gaussian_stream& g) {
                                      return static_cast<float>(margin + noise * g());
                                  });
}

} // namespace commpress::experiment
