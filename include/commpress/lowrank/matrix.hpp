// SPDX-License-Identifier: MIT
// lowrank::matrix_view: a tensor seen as a rows x cols row-major matrix, the shape in which the
// low-rank operators (PowerSGD, randomized SVD) see a layer's gradient.
#pragma once

#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <type_traits>

#include <commpress/core/error.hpp>

namespace commpress::lowrank {

/// rows x cols elements of a span, row-major: (i, j) is data[i cols + j]. Does not own them.
template <class T>
class matrix_view {
  public:
    /// Throws invalid_parameter unless rows cols == data.size().
    matrix_view(std::span<T> data, std::size_t rows, std::size_t cols)
        : data_(data), rows_(rows), cols_(cols) {
        if (cols != 0 && rows > std::numeric_limits<std::size_t>::max() / cols)
            commpress::detail::fail_parameter("lowrank::matrix_view: " + std::to_string(rows) +
                                              " x " + std::to_string(cols) + " overflows size_t");
        if (rows * cols != data.size())
            commpress::detail::fail_parameter(
                "lowrank::matrix_view: " + std::to_string(rows) + " x " + std::to_string(cols) +
                " is " + std::to_string(rows * cols) + " elements, the span has " +
                std::to_string(data.size()));
    }

    /// A view of mutable elements is also a view of const ones.
    template <class U>
    requires std::is_same_v<const U, T> &&
        (!std::is_same_v<U, T>)matrix_view(matrix_view<U> other) noexcept
        : data_(other.data()), rows_(other.rows()), cols_(other.cols()) {}

    std::size_t rows() const noexcept { return rows_; }
    std::size_t cols() const noexcept { return cols_; }
    std::span<T> data() const noexcept { return data_; }
    std::span<T> row(std::size_t i) const noexcept { return data_.subspan(i * cols_, cols_); }
    T& operator()(std::size_t i, std::size_t j) const noexcept { return data_[i * cols_ + j]; }

  private:
    std::span<T> data_;
    std::size_t rows_, cols_;
};

template <class T>
matrix_view(std::span<T>, std::size_t, std::size_t) -> matrix_view<T>;

} // namespace commpress::lowrank
