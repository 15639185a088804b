// SPDX-License-Identifier: MIT
// sparsify::dgc_top_k — top-k found the Deep Gradient Compression way: a threshold estimated
// from a random sample, then exact count control on the few candidates above it.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <commpress/core/error.hpp>
#include <commpress/core/message.hpp>
#include <commpress/core/seed.hpp>
#include <commpress/core/stage.hpp>
#include <commpress/kernels/select.hpp>
#include <commpress/sparsify/detail/gather.hpp>
#include <commpress/sparsify/detail/k_param.hpp>
#include <commpress/sparsify/top_k.hpp>

namespace commpress::sparsify {

/// DGC-style top-k (Lin, Han, Mao, Wang, Dally, ICLR 2018, arXiv 1712.01887): sample
/// `sample_ratio` n magnitudes, take the sample's quantile just above rank k as a threshold,
/// keep the candidates at or above it, then select exactly the k largest among them (lowering
/// the threshold and scanning again in the rare case of fewer than k candidates).
/// Every coordinate above the k-th largest magnitude is a candidate, so the result is exactly
/// top_k's (same tie rule, same alpha = k/n); the sample only decides how much work it takes:
/// one pass over x plus a selection on about 1.25 k candidates, instead of a selection on n.
struct dgc_top_k {
    double ratio = 0.01;        ///< k = ceil(ratio * n), at least 1
    std::size_t k = 0;          ///< when nonzero, used instead of ratio (capped at n)
    double sample_ratio = 0.01; ///< fraction of x sampled for the threshold, in (0, 1]

    static constexpr std::string_view name = "dgc_top_k";
    static constexpr bool unbiased = false;
    static constexpr index_mode indices = index_mode::sent;

    struct workspace {
        std::vector<std::uint64_t> sample;
        std::vector<std::uint32_t> candidates;
        std::vector<std::uint32_t> idx;
        std::vector<float> vf;
        std::vector<double> vd;
    };

    void validate() const {
        detail::validate_k(name, ratio, k);
        if (!(sample_ratio > 0.0 && sample_ratio <= 1.0)) {
            std::ostringstream s;
            s << name << ": sample_ratio must be in (0, 1], got " << sample_ratio;
            commpress::detail::fail_parameter(s.str());
        }
    }
    void fingerprint(fingerprint_builder& f) const noexcept { f(name)(ratio)(k)(sample_ratio); }
    std::string describe() const {
        std::ostringstream s;
        s << detail::describe_k(name, ratio, k) << "[sample=" << sample_ratio << ']';
        return s.str();
    }

    /// The exact top-k this selects: same kept count and theory constants.
    top_k exact() const noexcept { return {ratio, k}; }
    std::size_t kept(std::size_t n) const noexcept { return exact().kept(n); }
    double alpha(std::size_t n) const noexcept { return exact().alpha(n); }
    double eta(std::size_t n) const noexcept { return exact().eta(n); }
    double omega(std::size_t n) const noexcept { return exact().omega(n); }
    double decode_scale(std::size_t) const noexcept { return 1.0; }

    template <class T>
    selection<T> select(std::span<const T> x, const draw_context& c, workspace& w) const noexcept {
        const std::size_t n = x.size(), m = kept(n);
        w.idx.resize(m);
        if (m == n) {
            for (std::size_t i = 0; i < n; ++i)
                w.idx[i] = static_cast<std::uint32_t>(i);
        } else {
            collect_candidates(x, m, c, w);
            // Exact count control: the m largest candidates, ties to the lowest index (top_k's
            // order, so the kept set is the same).
            const auto larger = [&](std::uint32_t a, std::uint32_t b) {
                const auto ma = magnitude_bits(x[a]), mb = magnitude_bits(x[b]);
                return ma > mb || (ma == mb && a < b);
            };
            auto& cand = w.candidates;
            std::nth_element(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(m - 1),
                             cand.end(), larger);
            std::copy_n(cand.begin(), m, w.idx.begin());
            std::sort(w.idx.begin(), w.idx.end());
        }
        return {detail::gather(x, std::span<const std::uint32_t>(w.idx), w.vf, w.vd), w.idx};
    }

    std::span<const std::uint32_t> implicit_indices(std::size_t, const draw_context&,
                                                    workspace&) const noexcept {
        return {};
    }

  private:
    template <class T>
    static std::uint64_t magnitude_bits(T v) noexcept { // NaN above inf, as in top_k
        return kernels::detail::magnitude_bits(v);
    }

    // Fills w.candidates with every index whose magnitude is at least a threshold chosen so that
    // there are at least m of them (0 < m < n).
    template <class T>
    void collect_candidates(std::span<const T> x, std::size_t m, const draw_context& c,
                            workspace& w) const noexcept {
        const std::size_t n = x.size();
        const auto s = std::clamp<std::size_t>(
            static_cast<std::size_t>(std::ceil(sample_ratio * static_cast<double>(n))),
            std::min<std::size_t>(n, 256), n);
        philox rng(c, purpose::sparsify, /*shared=*/false);
        w.sample.resize(s);
        for (auto& v : w.sample) // with replacement: a uniform draw per sample
            v = magnitude_bits(x[rng.below(static_cast<std::uint32_t>(n))]);
        // Aim for 1.25 m expected candidates, so that fewer than m is rare.
        double rank =
            1.25 * static_cast<double>(m) * static_cast<double>(s) / static_cast<double>(n);
        w.candidates.reserve(n);
        for (;;) {
            std::uint64_t t = 0; // the last round keeps everything
            if (rank < static_cast<double>(s)) {
                const auto r = static_cast<std::ptrdiff_t>(rank);
                std::nth_element(w.sample.begin(), w.sample.begin() + r, w.sample.end(),
                                 std::greater<>{});
                t = w.sample[static_cast<std::size_t>(r)];
            }
            w.candidates.resize(n); // within capacity: store, then advance (branch-free)
            std::size_t count = 0;
            for (std::size_t i = 0; i < n; ++i) {
                w.candidates[count] = static_cast<std::uint32_t>(i);
                count += magnitude_bits(x[i]) >= t;
            }
            w.candidates.resize(count);
            if (count >= m)
                return;
            rank *= 4;
        }
    }
};

} // namespace commpress::sparsify
