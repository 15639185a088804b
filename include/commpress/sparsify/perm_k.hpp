// SPDX-License-Identifier: MIT
// sparsify::perm_k — Perm-K: the workers split one shared random permutation of the coordinates.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <commpress/core/error.hpp>
#include <commpress/core/message.hpp>
#include <commpress/core/seed.hpp>
#include <commpress/core/stage.hpp>

namespace commpress::sparsify {

/// Perm-K (Szlendak, Tyurin, Richtarik; OPERATORS.md A.10g) for `workers` = w workers, worker id
/// = the stream's worker (0 .. w - 1). Nothing is sent but values: the decoder redraws the layout
/// from the shared stream with the sender's worker id and step from the header.
///
/// Layout at a step, drawn from the shared stream (the same for every worker): a rotation s,
/// uniform in [0, w), then a uniform permutation pi of [0, n). The positions [0, n) are cut into
/// w consecutive blocks, the first n % w of size b = ceil(n/w), the others of size floor(n/w);
/// worker i takes block (i + s) mod w, i.e. the coordinates pi[start .. start + size), and sends
/// them scaled by w (decode_scale). Every coordinate lies in exactly one block, so
/// (1/w) sum_i C_i(x) = x exactly when all workers hold the same x.
///
/// kept(n) = b for every worker (the message size depends on n only): a worker whose block has
/// floor(n/w) < b coordinates also sends one padding slot, the coordinate at the next position
/// (cyclically) with value 0, so it decodes to 0 and C_i is unchanged.
///
/// Unbiased with omega = w - 1, with equality for every x: the rotation makes the block size of
/// worker i uniform over the w sizes, so E|B_i| = n/w, and given its size B_i is a uniform subset,
/// so P(j in B_i) = 1/w for every coordinate j. C_i(x)_j = w x_j with probability 1/w, else 0:
/// E C_i(x) = x and E||C_i(x) - x||^2 = ((w - 1)^2/w + (w - 1)/w) ||x||^2 = (w - 1) ||x||^2.
/// (Without the rotation, fixed larger blocks would need per-block scales n/size for
/// unbiasedness, and the average would no longer be exact.)
///
/// A worker id >= workers is invalid: the pipeline's constructor rejects it (validate_worker), and
/// its decoder rejects a message whose header names one (valid_worker). Reached anyway through the
/// payload-level API, such a worker's payload carries NaN in every slot (never a plausible C_i).
struct perm_k {
    std::uint32_t workers = 1; ///< number of workers sharing the permutation, >= 1

    static constexpr std::string_view name = "perm_k";
    static constexpr bool unbiased = true;
    static constexpr index_mode indices = index_mode::implicit;
    static constexpr std::uint32_t no_pad = 0xffff'ffffu;

    struct workspace {
        std::vector<std::uint32_t> perm;
        std::vector<std::uint32_t> idx;
        std::uint32_t pad = no_pad; ///< the padding coordinate of the last layout, if any
        bool bad_worker = false;    ///< the last layout was for a worker id >= workers
        std::vector<float> vf;
        std::vector<double> vd;
    };

    void validate() const {
        if (workers == 0)
            commpress::detail::fail_parameter("perm_k: workers must be at least 1, got 0");
    }
    bool valid_worker(std::uint32_t worker) const noexcept { return worker < workers; }
    /// Throws invalid_parameter unless worker < workers.
    void validate_worker(std::uint32_t worker) const {
        if (!valid_worker(worker)) {
            std::ostringstream s;
            s << "perm_k: worker id " << worker << " is out of range for " << workers
              << " workers (ids 0 to " << workers - 1 << ")";
            commpress::detail::fail_parameter(s.str());
        }
    }
    void fingerprint(fingerprint_builder& f) const noexcept { f(name)(std::uint64_t{workers}); }
    std::string describe() const {
        return std::string(name) + "(workers=" + std::to_string(workers) + ")";
    }

    std::size_t kept(std::size_t n) const noexcept {
        const std::size_t w = workers == 0 ? 1 : workers;
        return (n + w - 1) / w;
    }
    double omega(std::size_t n) const noexcept {
        return n == 0 ? 0.0 : static_cast<double>(workers) - 1.0;
    }
    double decode_scale(std::size_t) const noexcept { return static_cast<double>(workers); }

    std::span<const std::uint32_t> implicit_indices(std::size_t n, const draw_context& c,
                                                    workspace& ws) const noexcept {
        const std::size_t b = kept(n);
        ws.idx.resize(b);
        ws.pad = no_pad;
        ws.bad_worker = c.worker >= workers;
        if (n == 0)
            return ws.idx;
        const std::uint32_t w = workers == 0 ? 1 : workers;
        philox rng(c, purpose::sparsify, /*shared=*/true);
        const std::uint32_t shift = w > 1 ? rng.below(w) : 0;
        const std::uint32_t block = static_cast<std::uint32_t>(
            (std::uint64_t{c.worker % w} + shift) % w); // c.worker % w only for a bad worker
        const std::size_t q = n / w, r = n % w;
        const std::size_t size = q + (block < r ? 1 : 0);
        const std::size_t start = block * q + (block < r ? block : r);
        // Fisher-Yates from the front: positions [0, m) of pi are final after m swaps; the pad
        // position is start + size, or 0 when that is n (block [start, n) does not contain 0).
        const std::size_t m = start + size + 1 < n ? start + size + 1 : n;
        ws.perm.resize(n);
        for (std::size_t i = 0; i < n; ++i)
            ws.perm[i] = static_cast<std::uint32_t>(i);
        for (std::size_t i = 0; i < m && i + 1 < n; ++i) {
            const std::size_t j = i + rng.below(static_cast<std::uint32_t>(n - i));
            std::swap(ws.perm[i], ws.perm[j]);
        }
        for (std::size_t j = 0; j < size; ++j)
            ws.idx[j] = ws.perm[start + j];
        if (size < b) { // b = size + 1
            ws.pad = ws.perm[start + size < n ? start + size : 0];
            ws.idx[size] = ws.pad;
        }
        std::sort(ws.idx.begin(), ws.idx.end());
        return ws.idx;
    }

    template <class T>
    selection<T> select(std::span<const T> x, const draw_context& c, workspace& ws) const noexcept {
        const auto idx = implicit_indices(x.size(), c, ws);
        auto& v = [&]() -> std::vector<T>& {
            if constexpr (std::is_same_v<T, float>)
                return ws.vf;
            else
                return ws.vd;
        }();
        v.resize(idx.size());
        for (std::size_t j = 0; j < idx.size(); ++j)
            v[j] = ws.bad_worker      ? std::numeric_limits<T>::quiet_NaN()
                   : idx[j] == ws.pad ? T{0}
                                      : x[idx[j]];
        return {v, idx};
    }
};

} // namespace commpress::sparsify
