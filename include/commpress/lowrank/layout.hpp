// SPDX-License-Identifier: MIT
// lowrank::layout: a model's flat parameter vector seen as its tensors, each a rows x cols
// row-major block laid back to back; the low-rank operators factor the matrices among them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include <commpress/core/error.hpp>
#include <commpress/core/message.hpp>

namespace commpress::lowrank {

/// A tensor as a matrix: a layer's weights out x in (as torch stores them), a bias 1 x out.
/// PowerSGD views a k-dimensional tensor as shape[0] x (the product of the rest).
struct tensor_shape {
    std::size_t rows = 0, cols = 0;
    std::size_t size() const noexcept { return rows * cols; }
};

class layout {
  public:
    /// Throws invalid_parameter on an empty tensor or a size that overflows.
    layout(std::initializer_list<tensor_shape> shapes)
        : layout(std::vector<tensor_shape>(shapes)) {}
    explicit layout(std::vector<tensor_shape> shapes) : shapes_(std::move(shapes)) {
        offsets_.reserve(shapes_.size() + 1);
        offsets_.push_back(0);
        for (const tensor_shape& s : shapes_) {
            const std::size_t big = std::numeric_limits<std::size_t>::max();
            if (s.rows == 0 || s.cols == 0 || s.rows > big / s.cols ||
                s.size() > big - offsets_.back())
                commpress::detail::fail_parameter(
                    "lowrank::layout: tensor " + std::to_string(offsets_.size() - 1) + " is " +
                    std::to_string(s.rows) + " x " + std::to_string(s.cols) +
                    "; tensors must be non-empty and sizes fit size_t");
            offsets_.push_back(offsets_.back() + s.size());
        }
    }

    std::size_t tensors() const noexcept { return shapes_.size(); }
    const tensor_shape& shape(std::size_t t) const noexcept { return shapes_[t]; }
    std::size_t offset(std::size_t t) const noexcept { return offsets_[t]; }
    std::size_t size() const noexcept { return offsets_.back(); } ///< elements of x

    /// The rank a rank-r factorisation of tensor t uses, min(r, rows, cols); 0 when the
    /// factors, r_t (rows + cols) numbers, would not be smaller than the tensor itself, which
    /// is then sent as it is (biases, and every tensor with a dimension of 1). PyTorch's hook
    /// decides the same way; the authors' code sends every 1-D tensor uncompressed.
    std::size_t rank(std::size_t t, std::size_t r) const noexcept {
        const tensor_shape& s = shapes_[t];
        const std::size_t rt = std::min({r, s.rows, s.cols});
        return rt * (s.rows + s.cols) < s.size() ? rt : 0;
    }

    void fingerprint(fingerprint_builder& f) const {
        f(shapes_.size());
        for (const tensor_shape& s : shapes_)
            f(s.rows)(s.cols);
    }
    std::string describe() const {
        std::string s = "[";
        for (std::size_t t = 0; t < shapes_.size(); ++t)
            s += (t ? ", " : "") + std::to_string(shapes_[t].rows) + "x" +
                 std::to_string(shapes_[t].cols);
        return s + "]";
    }

  private:
    std::vector<tensor_shape> shapes_;
    std::vector<std::size_t> offsets_;
};

} // namespace commpress::lowrank
