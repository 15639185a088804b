// SPDX-License-Identifier: MIT
// A two-layer perceptron (inputs -> hidden, ReLU -> classes, softmax cross-entropy) on a block
// of rows, trained on minibatches: the layer-shaped problem of the low-rank experiments, whose
// weight matrices the low-rank compressors factor.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <commpress/core/error.hpp>
#include <commpress/experiment/dataset.hpp>
#include <commpress/experiment/detail/random.hpp>
#include <commpress/lowrank/layout.hpp>

namespace commpress::experiment {

struct mlp_shape {
    std::size_t inputs = 784, hidden = 256, classes = 10;

    /// x = W1 (hidden x inputs, torch's out x in), b1, W2 (classes x hidden), b2, back to back.
    lowrank::layout layout() const {
        return lowrank::layout{{hidden, inputs}, {1, hidden}, {classes, hidden}, {1, classes}};
    }
    std::size_t dim() const { return layout().size(); }

    /// PyTorch's default initialisation of nn.Linear: weights and biases U(-1/sqrt(in),
    /// 1/sqrt(in)), from a splitmix64 stream (the same on every platform).
    std::vector<float> initial(std::uint64_t seed) const {
        std::vector<float> x(dim());
        const std::size_t first_layer = hidden * inputs + hidden;
        const double s1 = 1 / std::sqrt(double(inputs)), s2 = 1 / std::sqrt(double(hidden));
        for (std::size_t j = 0; j < x.size(); ++j)
            x[j] = static_cast<float>((j < first_layer ? s1 : s2) * detail::splitmix_uniform(seed));
        return x;
    }
};

/// f_i(x) = the mean cross-entropy of a minibatch of `batch` rows drawn uniformly (with
/// replacement) from the block, a new one at each call, from the stream of `seed`; batch 0
/// takes every row. The features are the first `inputs` columns of the data set (Fashion-MNIST
/// loaders add a constant bias column, which b1 replaces), the labels class indices.
/// Holds a pointer to the data: the dataset must outlive it. One object per thread.
class mlp {
  public:
    mlp(const dataset& data, row_range rows, mlp_shape shape, std::size_t batch, std::uint64_t seed)
        : data_(&data), rows_(rows), s_(shape), batch_(batch), rng_(seed),
          w1t_(shape.inputs * shape.hidden), h_(shape.hidden), dh_(shape.hidden),
          z_(shape.classes) {
        if (rows.count == 0 || rows.first + rows.count > data.rows || data.cols < shape.inputs)
            throw error("mlp: rows [" + std::to_string(rows.first) + ", " +
                        std::to_string(rows.first + rows.count) + ") of a data set of " +
                        std::to_string(data.rows) + " x " + std::to_string(data.cols) + " for " +
                        std::to_string(shape.inputs) + " inputs");
    }

    std::size_t dim() const noexcept {
        return w1t_.size() + s_.hidden + s_.classes * s_.hidden + s_.classes;
    }

    /// The loss and gradient on the next minibatch.
    double loss_and_gradient(std::span<const float> x, std::span<float> g) {
        const std::size_t in = s_.inputs, hid = s_.hidden, cls = s_.classes;
        const float* w1 = x.data();
        const float* b1 = w1 + hid * in;
        const float* w2 = b1 + hid;
        const float* b2 = w2 + cls * hid;
        float* gw1 = g.data();
        float* gb1 = gw1 + hid * in;
        float* gw2 = gb1 + hid;
        float* gb2 = gw2 + cls * hid;
        std::fill(g.begin(), g.end(), 0.0f);
        for (std::size_t j = 0; j < hid; ++j) // W1^T: the forward pass adds its rows
            for (std::size_t i = 0; i < in; ++i)
                w1t_[i * hid + j] = w1[j * in + i];
        const std::size_t count = batch_ ? batch_ : rows_.count;
        const float scale = 1.0f / static_cast<float>(count);
        double loss = 0;
        for (std::size_t b = 0; b < count; ++b) {
            const std::size_t r =
                rows_.first + (batch_ ? detail::splitmix_below(rng_, rows_.count) : b);
            const float* a = data_->row(r).data();
            const auto y = static_cast<std::size_t>(data_->labels[r]);
            forward(a, b1, w2, b2);
            loss += lse_ - static_cast<double>(z_[y]);
            for (std::size_t c = 0; c < cls; ++c) { // dz = softmax - onehot, over the batch
                const float dz =
                    (static_cast<float>(std::exp(double(z_[c]) - lse_)) - (c == y ? 1.0f : 0.0f)) *
                    scale;
                gb2[c] += dz;
                for (std::size_t j = 0; j < hid; ++j)
                    gw2[c * hid + j] += dz * h_[j];
                z_[c] = dz;
            }
            for (std::size_t j = 0; j < hid; ++j) {
                float s = 0;
                for (std::size_t c = 0; c < cls; ++c)
                    s += w2[c * hid + j] * z_[c];
                dh_[j] = h_[j] > 0 ? s : 0.0f; // ReLU's derivative
            }
            for (std::size_t j = 0; j < hid; ++j) {
                if (dh_[j] == 0)
                    continue;
                gb1[j] += dh_[j];
                float* row = gw1 + j * in;
                for (std::size_t i = 0; i < in; ++i)
                    row[i] += dh_[j] * a[i];
            }
        }
        return loss / static_cast<double>(count);
    }

    /// Fraction of the data set's rows whose label is the argmax of the network's output.
    double accuracy(std::span<const float> x, const dataset& test) {
        const std::size_t in = s_.inputs, hid = s_.hidden;
        const float* w1 = x.data();
        for (std::size_t j = 0; j < hid; ++j)
            for (std::size_t i = 0; i < in; ++i)
                w1t_[i * hid + j] = w1[j * in + i];
        const float* b1 = w1 + hid * in;
        const float* w2 = b1 + hid;
        std::size_t right = 0;
        for (std::size_t r = 0; r < test.rows; ++r) {
            forward(test.row(r).data(), b1, w2, w2 + s_.classes * hid);
            const auto best = std::max_element(z_.begin(), z_.end()) - z_.begin();
            right += static_cast<float>(best) == test.labels[r];
        }
        return test.rows ? static_cast<double>(right) / static_cast<double>(test.rows) : 0.0;
    }

  private:
    // h = ReLU(W1 a + b1) (adding W1's columns for the non-zero inputs), z = W2 h + b2, and
    // lse_ = log sum exp z.
    void forward(const float* a, const float* b1, const float* w2, const float* b2) {
        const std::size_t in = s_.inputs, hid = s_.hidden, cls = s_.classes;
        std::copy(b1, b1 + hid, h_.begin());
        for (std::size_t i = 0; i < in; ++i) {
            if (a[i] == 0)
                continue;
            const float* col = w1t_.data() + i * hid;
            for (std::size_t j = 0; j < hid; ++j)
                h_[j] += a[i] * col[j];
        }
        for (float& v : h_)
            v = std::max(v, 0.0f);
        double m = -HUGE_VAL;
        for (std::size_t c = 0; c < cls; ++c) {
            float s = b2[c];
            for (std::size_t j = 0; j < hid; ++j)
                s += w2[c * hid + j] * h_[j];
            z_[c] = s;
            m = std::max(m, double(s));
        }
        double sum = 0;
        for (const float v : z_)
            sum += std::exp(double(v) - m);
        lse_ = m + std::log(sum);
    }

    const dataset* data_;
    row_range rows_;
    mlp_shape s_;
    std::size_t batch_;
    std::uint64_t rng_;
    std::vector<float> w1t_, h_, dh_, z_;
    double lse_ = 0;
};

} // namespace commpress::experiment
