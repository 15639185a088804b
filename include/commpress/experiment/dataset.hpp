// SPDX-License-Identifier: MIT
// A dense row-major data set with one label per row, and how its rows are dealt to workers.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <commpress/core/error.hpp>
#include <commpress/experiment/detail/random.hpp>

namespace commpress::experiment {

/// Rows of features (row-major, `rows × cols` floats) and one label per row. What a label means
/// is the problem's: +1 or -1 for binary problems (logistic_regression, synthetic_classification),
/// the class index 0, 1, ..., K-1 stored as float for multiclass ones (softmax_regression,
/// load_fashion_mnist), any real target for least_squares. Plain vectors on purpose: the
/// experiments are small and compile time matters more than views.
struct dataset {
    std::size_t rows = 0;
    std::size_t cols = 0;
    std::vector<float> features; // rows * cols
    std::vector<float> labels;   // rows: ±1, a class index or a real target (above)

    std::span<const float> row(std::size_t j) const noexcept {
        return {features.data() + j * cols, cols};
    }
};

namespace detail {

/// Reorders the rows (features with their labels): row j of the result is row order[j].
inline void permute_rows(dataset& data, const std::vector<std::size_t>& order) {
    std::vector<float> features(data.features.size());
    std::vector<float> labels(data.rows);
    for (std::size_t j = 0; j < data.rows; ++j) {
        const auto src = data.row(order[j]);
        std::copy(src.begin(), src.end(),
                  features.begin() + static_cast<std::ptrdiff_t>(j * data.cols));
        labels[j] = data.labels[order[j]];
    }
    data.features = std::move(features);
    data.labels = std::move(labels);
}

} // namespace detail

/// Stable sort of the rows by decreasing label: +1 rows first (class K-1 first for class
/// indices). Dealing sorted rows out in contiguous chunks gives each worker (mostly) one class:
/// the heterogeneous split of OPERATORS.md E.1.
inline void sort_rows_by_label(dataset& data) {
    std::vector<std::size_t> order(data.rows);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return data.labels[a] > data.labels[b]; });
    detail::permute_rows(data, order);
}

/// Shuffles the rows (each keeps its label) by a Fisher-Yates shuffle drawn from splitmix64:
/// the same order for a seed on every platform. Dealing shuffled rows out in contiguous chunks
/// gives every worker an i.i.d. sample of the data: the homogeneous split.
inline void shuffle_rows(dataset& data, std::uint64_t seed) {
    std::vector<std::size_t> order(data.rows);
    std::iota(order.begin(), order.end(), std::size_t{0});
    for (std::size_t i = data.rows; i > 1; --i) {
        const auto j = static_cast<std::size_t>(detail::splitmix_below(seed, i));
        std::swap(order[i - 1], order[j]);
    }
    detail::permute_rows(data, order);
}

/// A half-open range of rows [first, first + count).
struct row_range {
    std::size_t first = 0;
    std::size_t count = 0;
    friend bool operator==(const row_range&, const row_range&) = default;
};

/// Rows in order, n contiguous chunks of floor(rows / n); the remainder goes to the last
/// worker (the EF21 code's split, OPERATORS.md E.1).
inline std::vector<row_range> split_rows(std::size_t rows, std::size_t n) {
    if (n == 0)
        throw error("split_rows: the number of workers must be at least 1, got 0");
    if (rows < n)
        throw error("split_rows: " + std::to_string(rows) + " rows cannot give each of " +
                    std::to_string(n) + " workers at least one row");
    const std::size_t chunk = rows / n;
    std::vector<row_range> parts(n);
    for (std::size_t i = 0; i < n; ++i)
        parts[i] = {i * chunk, chunk};
    parts.back().count = rows - (n - 1) * chunk;
    return parts;
}

} // namespace commpress::experiment
