// SPDX-License-Identifier: MIT
// sparsify::rand_k and rand_k_unscaled — k coordinates chosen uniformly at random.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <commpress/core/message.hpp>
#include <commpress/core/seed.hpp>
#include <commpress/core/stage.hpp>
#include <commpress/sparsify/detail/gather.hpp>
#include <commpress/sparsify/detail/k_param.hpp>
#include <commpress/sparsify/detail/sample.hpp>

namespace commpress::sparsify {

/// Random-k (OPERATORS.md A.3). Indices are never sent: the decoder draws them again from the
/// seed, with the sender's worker id and step read from the header. With `independent = false`
/// every worker draws the same set at a step (the shared stream, EF-BV's default); with `true`
/// each worker draws its own (EF-BV's --ind, omega_av = omega / n).
/// Scaled: C(x) = (n/k) x_S, unbiased with omega = n/k - 1 (equality for every x).
/// Unscaled: C(x) = x_S, contractive in expectation with alpha = k/n.
template <bool Scaled>
struct basic_rand_k {
    double ratio = 0.01;      ///< k = ceil(ratio * n), at least 1
    std::size_t k = 0;        ///< when nonzero, used instead of ratio (capped at n)
    bool independent = false; ///< per-worker sets instead of one shared set

    static constexpr std::string_view name = Scaled ? "rand_k" : "rand_k_unscaled";
    static constexpr bool unbiased = Scaled;
    static constexpr index_mode indices = index_mode::implicit;

    struct workspace {
        detail::sample_workspace sample;
        std::vector<float> vf;
        std::vector<double> vd;
    };

    void validate() const { detail::validate_k(name, ratio, k); }
    void fingerprint(fingerprint_builder& f) const noexcept { f(name)(ratio)(k)(independent); }
    std::string describe() const {
        return detail::describe_k(name, ratio, k) + (independent ? "[independent]" : "");
    }

    /// Every worker's message at a step carries the same coordinates: the messages can be
    /// summed value by value (mpi::allreduce then uses MPI_Allreduce on the values).
    bool shares_indices() const noexcept { return !independent; }

    std::size_t kept(std::size_t n) const noexcept {
        return commpress::detail::kept_count(ratio, k, n);
    }
    double omega(std::size_t n) const noexcept requires Scaled {
        return n == 0 ? 0.0 : static_cast<double>(n) / static_cast<double>(kept(n)) - 1.0;
    }
    double alpha(std::size_t n) const noexcept requires(!Scaled) {
        return n == 0 ? 1.0 : static_cast<double>(kept(n)) / static_cast<double>(n);
    }
    double decode_scale(std::size_t n) const noexcept {
        if constexpr (Scaled)
            return n == 0 ? 1.0 : static_cast<double>(n) / static_cast<double>(kept(n));
        else
            return 1.0;
    }

    std::span<const std::uint32_t> implicit_indices(std::size_t n, const draw_context& c,
                                                    workspace& w) const noexcept {
        philox rng(c, purpose::sparsify, /*shared=*/!independent);
        detail::sample_k(rng, n, kept(n), w.sample);
        return w.sample.idx;
    }

    template <class T>
    selection<T> select(std::span<const T> x, const draw_context& c, workspace& w) const noexcept {
        const auto idx = implicit_indices(x.size(), c, w);
        return {detail::gather(x, std::span<const std::uint32_t>(idx), w.vf, w.vd), idx};
    }
};

using rand_k = basic_rand_k<true>;
using rand_k_unscaled = basic_rand_k<false>;

} // namespace commpress::sparsify
