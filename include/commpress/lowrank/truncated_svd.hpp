// SPDX-License-Identifier: MIT
// Single-message low-rank compressors: every matrix of a layout sent as its leading singular
// triplets (U, Sigma, V), exactly (rank_r) or by the randomized SVD of Halko, Martinsson and
// Tropp (randomized_svd). Each message decodes on its own, so they plug into every feedback
// method (EF21 with a low-rank compressor is the research proposal's method).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <commpress/core/error.hpp>
#include <commpress/core/gaussian.hpp>
#include <commpress/core/message.hpp>
#include <commpress/core/seed.hpp>
#include <commpress/lowrank/factors.hpp>
#include <commpress/lowrank/layout.hpp>
#include <commpress/lowrank/power_iteration.hpp>
#include <commpress/lowrank/svd.hpp>

namespace commpress::lowrank {

/// The best rank-r approximation of every matrix (Eckart-Young), its truncated SVD.
/// Contractive with alpha = r / min(m, n) (OPERATORS.md A.11, [D]).
struct rank_r_options {
    std::size_t rank = 1;
    static constexpr const char* name = "rank_r";
};

/// HMT's two stages with a Gaussian test matrix: Y = (A A^T)^q A Omega (Omega: n x (k + p)),
/// re-orthonormalised after every product; Q = orth(Y); B = Q^T A; the leading k triplets of
/// B, with U = Q U_B. Omega is drawn from the worker's own stream (seed, tensor, worker, step).
/// E ||A - A_k||_F^2 <= (2 + k / (p - 1)) sum_{j>k} sigma_j^2 (HMT Thm 10.5 with the truncation
/// to k; OPERATORS.md A.11, [U] for the bound). alpha() is the exact SVD's r / min(m, n): not
/// guaranteed for a draw (Omega can miss the top singular vectors); docs/operators.md gives
/// the measured values.
struct randomized_svd_options {
    std::size_t rank = 1;
    std::size_t oversampling = 10; ///< p (scikit-learn's default)
    std::size_t power_iterations = 1;
    static constexpr const char* name = "randomized_svd";
};

/// Message: a header, then per matrix t (rank k_t = layout.rank(t, rank) > 0) U (m x k_t),
/// Sigma (k_t) and V^T (k_t x n), the other tensors as they are; all binary32. Exact payload
/// bits: 32 sum_t k_t (m + n + 1) + 32 (uncompressed elements).
template <class Options>
class svd_compressor {
    static constexpr bool randomized = std::is_same_v<Options, randomized_svd_options>;

  public:
    static constexpr bool unbiased = false;

    svd_compressor(Options o, lowrank::layout l, seed s = {}, stream id = {},
                   message_options m = {})
        : o_(o), layout_(std::move(l)), seed_(s), id_(id), msg_(m) {
        if (o_.rank == 0)
            commpress::detail::fail_parameter(std::string(Options::name) + ": rank must be >= 1");
        fingerprint_builder f;
        f(Options::name)(o_.rank);
        if constexpr (randomized)
            f(o_.oversampling)(o_.power_iterations)(seed_.value);
        layout_.fingerprint(f);
        fingerprint_ = f.value();
        std::size_t rows = 0, cols = 0, factor = 0;
        for (std::size_t t = 0; t < layout_.tensors(); ++t) {
            const tensor_shape& sh = layout_.shape(t);
            const std::size_t k = rank(t);
            values_ += k ? k * (sh.rows + sh.cols + 1) : sh.size();
            if (k) {
                rows = std::max(rows, sh.rows);
                cols = std::max(cols, sh.cols);
                factor = std::max(factor, sketch(t) * std::max(sh.rows, sh.cols));
            }
        }
        values_buf_.resize(values_);
        y_.resize(factor);
        z_.resize(factor);
        us_.resize(factor);
        work_.resize(factor);
        ws_.reserve(randomized ? sketch_max() : rows, cols, o_.rank);
    }

    /// k_t of tensor t, 0 if it is sent as it is.
    std::size_t rank(std::size_t t) const noexcept { return layout_.rank(t, o_.rank); }
    const lowrank::layout& layout() const noexcept { return layout_; }

    /// The smallest k_t / min(m_t, n_t) (1 for the uncompressed tensors): the squared errors
    /// of disjoint blocks add, so the worst block bounds the whole.
    double alpha(std::size_t n) const noexcept {
        double a = 1;
        if (n != layout_.size())
            return 0;
        for (std::size_t t = 0; t < layout_.tensors(); ++t)
            if (const std::size_t k = rank(t))
                a = std::min(a, static_cast<double>(k) /
                                    static_cast<double>(
                                        std::min(layout_.shape(t).rows, layout_.shape(t).cols)));
        return a;
    }
    std::size_t bits(std::size_t) const noexcept { return 32 * values_; }
    std::size_t max_message_size(std::size_t) const noexcept {
        return detail::factor_message_size(values_);
    }

    template <class T>
    std::size_t compress(std::span<const T> x, std::span<std::byte> out) {
        static_assert(std::is_same_v<T, float>, "lowrank compressors run on binary32");
        check_size("compress", x.size());
        std::size_t at = 0;
        for (std::size_t t = 0; t < layout_.tensors(); ++t) {
            const tensor_shape& sh = layout_.shape(t);
            const auto a = x.subspan(layout_.offset(t), sh.size());
            const std::size_t k = rank(t);
            if (!k) {
                std::copy(a.begin(), a.end(),
                          values_buf_.begin() + static_cast<std::ptrdiff_t>(at));
                at += sh.size();
                continue;
            }
            const auto v = std::span<float>(values_buf_).subspan(at, k * (sh.rows + sh.cols + 1));
            factor(t, matrix_view<const float>(a, sh.rows, sh.cols), k, v);
            at += v.size();
        }
        for (std::size_t j = 0; j < values_; ++j) // the decoder would refuse the message
            if (!std::isfinite(values_buf_[j]))
                commpress::detail::fail_parameter(
                    std::string(Options::name) +
                    "::compress: x has values that are not finite, or whose factors overflow "
                    "binary32");
        const std::size_t used = detail::factor_message_size(values_);
        if (out.size() < used)
            commpress::detail::fail_parameter(
                std::string(Options::name) + "::compress: the output buffer holds " +
                std::to_string(out.size()) + " bytes of " + std::to_string(used));
        detail::write_factors(values_buf_, fingerprint_, x.size(), id_.worker, step_, msg_, out);
        ++step_;
        return used;
    }

    template <class T>
    void decompress(std::span<const std::byte> msg, std::span<T> out) {
        apply<false>(msg, out, T{1});
    }
    template <class T>
    void decompress_add(std::span<const std::byte> msg, std::span<T> acc,
                        std::type_identity_t<T> weight = T{1}) {
        apply<true>(msg, acc, weight);
    }

    std::uint64_t fingerprint() const noexcept { return fingerprint_; }
    stream stream_id() const noexcept { return id_; }
    std::uint32_t step() const noexcept { return step_; }
    void set_step(std::uint32_t s) noexcept { step_ = s; }
    std::string describe() const {
        std::string d = std::string(Options::name) + "(rank " + std::to_string(o_.rank);
        if constexpr (randomized)
            d += ", oversampling " + std::to_string(o_.oversampling) + ", power iterations " +
                 std::to_string(o_.power_iterations);
        return d + ", layout " + layout_.describe() + ")";
    }

  private:
    std::size_t sketch(std::size_t t) const noexcept {
        const tensor_shape& sh = layout_.shape(t);
        if constexpr (randomized)
            return std::min(rank(t) + o_.oversampling, std::min(sh.rows, sh.cols));
        else
            return rank(t);
    }
    std::size_t sketch_max() const noexcept {
        std::size_t l = 0;
        for (std::size_t t = 0; t < layout_.tensors(); ++t)
            if (rank(t))
                l = std::max(l, sketch(t));
        return l;
    }
    void check_size(const char* who, std::size_t n) const {
        if (n != layout_.size())
            commpress::detail::fail_parameter(std::string(Options::name) + "::" + who + ": " +
                                              std::to_string(n) + " elements for a layout of " +
                                              std::to_string(layout_.size()));
    }

    // U, Sigma, V^T of the k leading triplets of a, into v.
    void factor(std::size_t t, matrix_view<const float> a, std::size_t k, std::span<float> v) {
        const std::size_t m = a.rows(), n = a.cols();
        const matrix_view<float> u(v.first(m * k), m, k);
        const auto s = v.subspan(m * k, k);
        const matrix_view<float> vt(v.subspan(m * k + k, k * n), k, n);
        if constexpr (!randomized) {
            detail::gram_svd<float>(a, k, u, s, vt, ws_);
        } else {
            const std::size_t l = sketch(t);
            // Omega^T (l x n) from this worker's stream; Y = A Omega.
            const matrix_view<float> omega_t(std::span<float>(z_).first(l * n), l, n);
            normal_stream g(draw_context{seed_, static_cast<std::uint32_t>(t), id_.worker, step_},
                            purpose::lowrank, /*shared=*/false);
            for (float& w : omega_t.data())
                w = static_cast<float>(g());
            const matrix_view<float> y(std::span<float>(y_).first(m * l), m, l);
            multiply_by_transpose<float>(a, omega_t, y);
            orthonormalize(y);
            const matrix_view<float> zt(std::span<float>(z_).first(l * n), l, n);
            const matrix_view<float> z(std::span<float>(us_).first(n * l), n, l);
            for (std::size_t i = 0; i < o_.power_iterations; ++i) {
                multiply_transposed<float>(y, a, zt, work_); // Z^T = Y^T A
                transpose(zt, z);
                orthonormalize(z);
                transpose(z, zt);
                multiply_by_transpose<float>(a, zt, y); // Y = A Z
                orthonormalize(y);
            }
            const matrix_view<float> b(std::span<float>(z_).first(l * n), l, n);
            multiply_transposed<float>(y, a, b, work_); // B = Q^T A
            const matrix_view<float> ub(std::span<float>(us_).first(l * k), l, k);
            detail::gram_svd<float>(b, k, ub, s, vt, ws_);
            multiply<false, float>(y, ub, u); // U = Q U_B
        }
    }

    // Gram-Schmidt twice ("twice is enough", Giraud et al. 2005): one pass leaves columns that
    // were nearly dependent (a sketch wider than A's rank) far from orthogonal.
    static void orthonormalize(matrix_view<float> y) {
        orthogonalize(y);
        orthogonalize(y);
    }

    static void transpose(matrix_view<const float> from, matrix_view<float> to) noexcept {
        for (std::size_t i = 0; i < from.rows(); ++i)
            for (std::size_t j = 0; j < from.cols(); ++j)
                to(j, i) = from(i, j);
    }

    template <bool Add, class T>
    void apply(std::span<const std::byte> msg, std::span<T> out, T weight) {
        static_assert(std::is_same_v<T, float>, "lowrank compressors run on binary32");
        check_size("decompress", out.size());
        detail::read_factors(msg, fingerprint_, out.size(), msg_, Options::name, values_buf_);
        // Check every Sigma before writing anything: >= 0 and non-increasing, as an SVD's.
        std::size_t at = 0;
        for (std::size_t t = 0; t < layout_.tensors(); ++t) {
            const tensor_shape& sh = layout_.shape(t);
            const std::size_t k = rank(t);
            if (k) {
                const float* s = values_buf_.data() + at + sh.rows * k;
                for (std::size_t j = 0; j < k; ++j)
                    if (!(s[j] >= 0) || (j > 0 && s[j] > s[j - 1]))
                        commpress::detail::fail_decode(
                            std::string(Options::name) + ": tensor " + std::to_string(t) +
                            ": singular value " + std::to_string(j) +
                            " is negative or larger than the one before");
            }
            at += k ? k * (sh.rows + sh.cols + 1) : sh.size();
        }
        at = 0;
        for (std::size_t t = 0; t < layout_.tensors(); ++t) {
            const tensor_shape& sh = layout_.shape(t);
            const std::size_t k = rank(t);
            const auto o = out.subspan(layout_.offset(t), sh.size());
            const float* v = values_buf_.data() + at;
            if (!k) {
                for (std::size_t j = 0; j < o.size(); ++j)
                    o[j] = Add ? o[j] + weight * v[j] : v[j];
                at += sh.size();
                continue;
            }
            // U diag(Sigma), then times V^T.
            const matrix_view<float> us(std::span<float>(us_).first(sh.rows * k), sh.rows, k);
            for (std::size_t i = 0; i < sh.rows; ++i)
                for (std::size_t j = 0; j < k; ++j)
                    us(i, j) = v[i * k + j] * v[sh.rows * k + j];
            multiply<Add, float>(
                us,
                matrix_view<const float>(std::span<const float>(v + sh.rows * k + k, k * sh.cols),
                                         k, sh.cols),
                matrix_view<float>(o, sh.rows, sh.cols), weight);
            at += k * (sh.rows + sh.cols + 1);
        }
    }

    Options o_;
    lowrank::layout layout_;
    seed seed_;
    stream id_;
    message_options msg_;
    std::uint64_t fingerprint_ = 0;
    std::uint32_t step_ = 0;
    std::size_t values_ = 0;
    std::vector<float> values_buf_, y_, z_, us_;
    std::vector<double> work_;
    detail::svd_workspace ws_;
};

using rank_r = svd_compressor<rank_r_options>;
using randomized_svd = svd_compressor<randomized_svd_options>;

} // namespace commpress::lowrank
