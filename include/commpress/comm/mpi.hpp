// SPDX-License-Identifier: MIT
// commpress over MPI (opt-in: link commpress::mpi; not in the umbrella header). Every rank's
// message reaches every rank (sizes and fingerprints by MPI_Allgather, bytes by MPI_Allgatherv)
// and is decoded in rank order, so all ranks hold the same bits: a compressed all-reduce for
// any compressor, and the feedback methods with one worker per rank.
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <climits>
#include <mpi.h>

#include <commpress/core/error.hpp>
#include <commpress/core/message.hpp>
#include <commpress/core/stage.hpp>
#include <commpress/experiment/simulator.hpp>
#include <commpress/feedback.hpp>
#include <commpress/lowrank/power_sgd.hpp>
#include <commpress/recipes.hpp>

namespace commpress::mpi {

namespace detail {
inline void check(int rc, const char* call) {
    if (rc != MPI_SUCCESS) {
        char text[MPI_MAX_ERROR_STRING];
        int len = 0;
        MPI_Error_string(rc, text, &len);
        throw error(std::string("mpi: ") + call + " failed: " + std::string(text, len));
    }
}

inline int to_int(std::uint64_t v, const char* who) {
    if (v > static_cast<std::uint64_t>(INT_MAX))
        commpress::detail::fail_parameter(std::string(who) +
                                          ": more than 2^31 - 1 bytes in one MPI call (its int "
                                          "counts); split the tensor or the call");
    return static_cast<int>(v);
}

template <class T>
MPI_Datatype datatype() noexcept {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "mpi: the elements must be float or double");
    return std::is_same_v<T, float> ? MPI_FLOAT : MPI_DOUBLE;
}
} // namespace detail

/// Gathers one message per rank onto every rank, in rank order. The buffers are kept between
/// calls: after the first call of a size, an exchange allocates nothing. Blocking (run) or
/// non-blocking (start, then test until true, or wait): two MPI non-blocking collectives, the
/// sizes and fingerprints, then the bytes.
class exchange {
  public:
    /// Collective over comm: every exchange works on its own duplicate of comm, so that its
    /// two-phase non-blocking collectives start in the same order on every rank whatever other
    /// exchanges are in flight (MPI matches collectives by their order per communicator).
    /// Destroy it before MPI_Finalize.
    explicit exchange(MPI_Comm comm) {
        detail::check(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
        detail::check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
        detail::check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
        const auto p = static_cast<std::size_t>(size_);
        meta_.resize(2 * p);
        mine_meta_.resize(2);
        counts_.resize(p);
        displs_.resize(p);
    }
    // An exchange in flight holds pointers into its buffers and into `mine`.
    exchange(const exchange&) = delete;
    exchange& operator=(const exchange&) = delete;
    ~exchange() {
        if (req_ != MPI_REQUEST_NULL) // abandoned after an exception: complete it, ignore errors
            MPI_Wait(&req_, MPI_STATUS_IGNORE);
        MPI_Comm_free(&comm_);
    }

    int rank() const noexcept { return rank_; }
    int size() const noexcept { return size_; }
    MPI_Comm comm() const noexcept { return comm_; }

    /// Sends `mine` to every rank and receives theirs. Every rank must pass the fingerprint of
    /// its compressor: if one differs from rank 0's, every rank throws invalid_parameter naming
    /// the first such rank (the configurations differ: the messages cannot be decoded).
    void run(std::span<const std::byte> mine, std::uint64_t fingerprint) {
        begin(mine, fingerprint);
        detail::check(
            MPI_Allgather(mine_meta_.data(), 2, MPI_UINT64_T, meta_.data(), 2, MPI_UINT64_T, comm_),
            "MPI_Allgather");
        plan();
        // Blocking collectives are MPI's tuned algorithms (a ring, say); non-blocking ones are
        // libnbc's schedules, which cannot be tuned the same way.
        detail::check(MPI_Allgatherv(mine_.data(), static_cast<int>(mine_.size()), MPI_BYTE,
                                     recv_.data(), counts_.data(), displs_.data(), MPI_BYTE, comm_),
                      "MPI_Allgatherv");
    }

    /// The same, non-blocking: `mine` must stay valid and unchanged until test() has returned
    /// true or wait() has returned. Errors surface in test() or wait(), on every rank.
    void start(std::span<const std::byte> mine, std::uint64_t fingerprint) {
        begin(mine, fingerprint);
        detail::check(MPI_Iallgather(mine_meta_.data(), 2, MPI_UINT64_T, meta_.data(), 2,
                                     MPI_UINT64_T, comm_, &req_),
                      "MPI_Iallgather");
        phase_ = phase::meta;
    }

    /// Moves the exchange on without blocking; true once every message is here (and when
    /// nothing is in flight).
    bool test() {
        while (phase_ != phase::idle) {
            int done = 0;
            detail::check(MPI_Test(&req_, &done, MPI_STATUS_IGNORE), "MPI_Test");
            if (!done)
                return false;
            next();
        }
        return true;
    }

    void wait() {
        while (phase_ != phase::idle) {
            detail::check(MPI_Wait(&req_, MPI_STATUS_IGNORE), "MPI_Wait");
            next();
        }
    }

    /// Rank r's message of the last exchange.
    std::span<const std::byte> message(int r) const noexcept {
        return std::span<const std::byte>(recv_).subspan(
            static_cast<std::size_t>(displs_[std::size_t(r)]),
            static_cast<std::size_t>(counts_[std::size_t(r)]));
    }

    /// Calls f(r, message) for every rank in order; a decode_error names the rank it came from.
    template <class F>
    void for_each(F&& f) const {
        for (int r = 0; r < size_; ++r) {
            try {
                f(r, message(r));
            } catch (const decode_error& e) {
                commpress::detail::fail_decode("rank " + std::to_string(r) +
                                               "'s message: " + e.what());
            }
        }
    }

  private:
    enum class phase : std::uint8_t { idle, meta, bytes };

    void begin(std::span<const std::byte> mine, std::uint64_t fingerprint) {
        if (phase_ != phase::idle)
            commpress::detail::fail_parameter(
                "mpi::exchange: the previous exchange is still in flight");
        mine_ = mine;
        mine_meta_[0] = mine.size();
        mine_meta_[1] = fingerprint;
    }

    void next() {
        if (phase_ == phase::bytes) {
            phase_ = phase::idle;
            return;
        }
        plan();
        detail::check(MPI_Iallgatherv(mine_.data(), static_cast<int>(mine_.size()), MPI_BYTE,
                                      recv_.data(), counts_.data(), displs_.data(), MPI_BYTE, comm_,
                                      &req_),
                      "MPI_Iallgatherv");
        phase_ = phase::bytes;
    }

    // The sizes and fingerprints are here: check them and lay out the receive buffer. Every
    // rank sees the same table, so a mismatch throws on every rank.
    void plan() {
        phase_ = phase::idle;
        std::uint64_t total = 0;
        for (int r = 0; r < size_; ++r) {
            const std::uint64_t bytes = meta_[2 * std::size_t(r)];
            if (meta_[2 * std::size_t(r) + 1] != meta_[1])
                commpress::detail::fail_parameter(
                    "mpi::exchange: rank " + std::to_string(r) +
                    "'s configuration differs from rank 0's (another fingerprint): every rank "
                    "must use the same compressor (and method)");
            if (total + bytes > static_cast<std::uint64_t>(INT_MAX))
                commpress::detail::fail_parameter(
                    "mpi::exchange: the messages of all ranks exceed 2^31 - 1 bytes, "
                    "MPI_Allgatherv's limit; split the tensor (chunked<C>) or the call");
            counts_[std::size_t(r)] = static_cast<int>(bytes);
            displs_[std::size_t(r)] = static_cast<int>(total);
            total += bytes;
        }
        recv_.resize(static_cast<std::size_t>(total));
    }

    MPI_Comm comm_;
    int rank_ = 0, size_ = 1;
    phase phase_ = phase::idle;
    MPI_Request req_ = MPI_REQUEST_NULL;
    std::span<const std::byte> mine_;
    std::vector<std::uint64_t> meta_, mine_meta_; // per rank: message bytes, fingerprint
    std::vector<int> counts_, displs_;
    std::vector<std::byte> recv_;
};

/// What an all-reduce computes from the ranks' compressed vectors.
enum class reduction : std::uint8_t { sum, mean };

/// Compressors whose messages from all ranks carry the same coordinates as exact values: rand-k
/// with the shared seed. Then sum_r C(x_r) = (n/k) sum_r x_r[S], and the values themselves can
/// go through MPI_Allreduce: each rank sends 2 (p - 1)/p of its k values (ring), not p - 1
/// messages. At compile time: the sparsifier draws its indices from the seed and can share
/// them, the quantizer is exact; at run time the set must be shared (independent == false).
template <class C>
concept summable = requires(const C& c) {
    requires C::sparsifier_type::indices == index_mode::implicit;
    requires C::quantizer_type::exact;
    { c.sparsifier().shares_indices() } -> std::convertible_to<bool>;
};

namespace detail {
template <class C, class T, bool = summable<C>>
struct sum_state {};
template <class C, class T>
struct sum_state<C, T, true> { // the kept values and where they go, per call
    typename C::sparsifier_type::workspace ws;
    std::vector<T> values;
    std::vector<std::uint32_t> indices;
    std::vector<std::size_t> kept; // per tensor
    std::array<std::uint64_t, 4> mine{};
    std::vector<std::uint64_t> all;
};
} // namespace detail

/// All-reduce with compression: out = sum_r C_r(x_r), or the mean, where C_r is rank r's
/// compressor (same configuration everywhere; stream{.worker = rank} for private randomness).
///
/// Messages are decoded straight into one accumulator in rank order, with no dense temporary
/// per peer: every rank gets the same bits. A message that does not decode raises decode_error
/// on every rank, naming the rank that sent it, and leaves out untouched. For a summable
/// compressor with a shared set, the kept values are summed by MPI_Allreduce instead (the same
/// operator, rounded in MPI's order; Open MPI gives every rank the same bits).
///
/// Several tensors in one call form a bucket: their messages travel as one, back to back (one
/// exchange instead of one per tensor). start() begins an all-reduce and returns; test() moves
/// it on, wait() finishes it: compute or compress the next tensor meanwhile, in another
/// allreduce object (one exchange in flight per object; the inputs and outputs must stay alive
/// until it is done).
template <class C, class T = float>
class allreduce {
  public:
    allreduce(C c, MPI_Comm comm) : c_(std::move(c)), ex_(comm) {}
    allreduce(const allreduce&) = delete;
    allreduce& operator=(const allreduce&) = delete;
    ~allreduce() {
        if (req_ != MPI_REQUEST_NULL) // abandoned after an exception: complete it
            MPI_Wait(&req_, MPI_STATUS_IGNORE);
    }

    /// Blocking: MPI's tuned collectives (a ring, say). The non-blocking ones are libnbc's
    /// schedules, which Open MPI does not tune the same way.
    void operator()(std::span<const T> x, std::span<T> out, reduction op = reduction::mean) {
        one_in_ = x;
        one_out_ = out;
        (*this)(std::span<const std::span<const T>>(&one_in_, 1),
                std::span<const std::span<T>>(&one_out_, 1), op);
    }
    void operator()(std::span<const std::span<const T>> xs, std::span<const std::span<T>> outs,
                    reduction op = reduction::mean) {
        prepare(xs, outs, op);
        try {
            if constexpr (summable<C>) {
                if (summing_) {
                    auto& st = sum_;
                    detail::check(MPI_Allgather(st.mine.data(), 4, MPI_UINT64_T, st.all.data(), 4,
                                                MPI_UINT64_T, ex_.comm()),
                                  "MPI_Allgather");
                    check_agreement();
                    detail::check(MPI_Allreduce(MPI_IN_PLACE, st.values.data(),
                                                static_cast<int>(st.values.size()),
                                                detail::datatype<T>(), MPI_SUM, ex_.comm()),
                                  "MPI_Allreduce");
                    return finish_sum();
                }
            }
            ex_.run(std::span<const std::byte>(send_.data(), bytes_), c_.fingerprint());
            finish_gather();
        } catch (...) {
            phase_ = phase::idle;
            throw;
        }
    }

    void start(std::span<const T> x, std::span<T> out, reduction op = reduction::mean) {
        one_in_ = x;
        one_out_ = out;
        start(std::span<const std::span<const T>>(&one_in_, 1),
              std::span<const std::span<T>>(&one_out_, 1), op);
    }

    /// Compresses every tensor of the bucket now and starts the exchange.
    void start(std::span<const std::span<const T>> xs, std::span<const std::span<T>> outs,
               reduction op = reduction::mean) {
        prepare(xs, outs, op);
        if constexpr (summable<C>) {
            if (summing_) {
                auto& st = sum_;
                detail::check(MPI_Iallgather(st.mine.data(), 4, MPI_UINT64_T, st.all.data(), 4,
                                             MPI_UINT64_T, ex_.comm(), &req_),
                              "MPI_Iallgather");
                phase_ = phase::agree;
                return;
            }
        }
        ex_.start(std::span<const std::byte>(send_.data(), bytes_), c_.fingerprint());
        phase_ = phase::gather;
    }

    /// Moves the all-reduce on without blocking; true once the outputs hold the result.
    bool test() { return advance(false); }
    void wait() { advance(true); }

    /// The blocking all-reduce of one tensor from this rank's message, compressed by the caller
    /// with this configuration (error feedback compresses, then keeps what was not sent).
    void reduce_messages(std::span<const std::byte> mine, std::span<T> out,
                         reduction op = reduction::mean) {
        if (phase_ != phase::idle)
            commpress::detail::fail_parameter(
                "mpi::allreduce::reduce_messages: an all-reduce of this object is in flight");
        outs_.assign(1, out);
        op_ = op;
        bytes_ = mine.size();
        phase_ = phase::gather;
        try {
            ex_.run(mine, c_.fingerprint());
            finish_gather();
        } catch (...) {
            phase_ = phase::idle;
            throw;
        }
    }

    /// Bytes this rank contributed in the last call: its message (header included), or its
    /// kept values on the MPI_Allreduce path.
    std::size_t bytes_sent() const noexcept { return bytes_; }
    const exchange& messages() const noexcept { return ex_; }
    C& compressor() noexcept { return c_; }

  private:
    enum class phase : std::uint8_t { idle, gather, agree, sum };

    // Checks the arguments, then compresses every tensor (or, on the MPI_Allreduce path,
    // gathers its kept values).
    void prepare(std::span<const std::span<const T>> xs, std::span<const std::span<T>> outs,
                 reduction op) {
        if (phase_ != phase::idle)
            commpress::detail::fail_parameter(
                "mpi::allreduce::start: the previous all-reduce of this object is still in "
                "flight: wait() for it, or use another allreduce object");
        if (xs.size() != outs.size())
            commpress::detail::fail_parameter("mpi::allreduce: " + std::to_string(xs.size()) +
                                              " tensors in, " + std::to_string(outs.size()) +
                                              " out");
        for (std::size_t i = 0; i < xs.size(); ++i)
            if (xs[i].size() != outs[i].size())
                commpress::detail::fail_parameter("mpi::allreduce: tensor " + std::to_string(i) +
                                                  " has " + std::to_string(xs[i].size()) +
                                                  " elements, its output " +
                                                  std::to_string(outs[i].size()));
        outs_.assign(outs.begin(), outs.end());
        op_ = op;
        summing_ = false;
        if constexpr (summable<C>)
            if (c_.sparsifier().shares_indices())
                return gather_values(xs);
        std::size_t cap = 0;
        for (const auto x : xs)
            cap += c_.max_message_size(x.size());
        send_.resize(cap);
        std::size_t used = 0;
        for (const auto x : xs)
            used += c_.compress(x, std::span<std::byte>(send_).subspan(used));
        bytes_ = used;
    }

    T weight() const noexcept {
        return op_ == reduction::mean ? T{1} / static_cast<T>(ex_.size()) : T{1};
    }

    // Drives the state machine, with MPI_Test or (block) MPI_Wait. An error leaves the object
    // idle and the outputs untouched; every rank sees the same tables and messages, so every
    // rank throws.
    bool advance(bool block) {
        try {
            while (phase_ != phase::idle) {
                if (phase_ == phase::gather) {
                    if (block)
                        ex_.wait();
                    else if (!ex_.test())
                        return false;
                    finish_gather();
                    continue;
                }
                if constexpr (summable<C>) { // phase agree or sum
                    if (block) {
                        detail::check(MPI_Wait(&req_, MPI_STATUS_IGNORE), "MPI_Wait");
                    } else {
                        int done = 0;
                        detail::check(MPI_Test(&req_, &done, MPI_STATUS_IGNORE), "MPI_Test");
                        if (!done)
                            return false;
                    }
                    if (phase_ == phase::agree)
                        begin_sum();
                    else
                        finish_sum();
                }
            }
            return true;
        } catch (...) {
            phase_ = phase::idle;
            throw;
        }
    }

    // The MPI_Allreduce path: the kept values of every tensor, and a table of (fingerprint,
    // step, elements, tensors) per rank, to check first: the shared set is the same on every
    // rank only at the same step of the same configuration.
    void gather_values(std::span<const std::span<const T>> xs) {
        auto& st = sum_;
        st.values.clear();
        st.indices.clear();
        st.kept.clear();
        std::uint64_t n = 0;
        const std::uint32_t step = c_.step();
        for (const auto x : xs) {
            const auto sel =
                c_.sparsifier().select(x, c_.context(c_.stream_id().worker, c_.step()), st.ws);
            st.values.insert(st.values.end(), sel.values.begin(), sel.values.end());
            st.indices.insert(st.indices.end(), sel.indices.begin(), sel.indices.end());
            st.kept.push_back(sel.values.size());
            n += x.size();
            c_.set_step(c_.step() + 1);
        }
        if (st.values.size() > static_cast<std::size_t>(INT_MAX))
            commpress::detail::fail_parameter(
                "mpi::allreduce: more than 2^31 - 1 kept values in one call, MPI's int count");
        st.mine = {c_.fingerprint(), step, n, xs.size()};
        st.all.resize(4 * static_cast<std::size_t>(ex_.size()));
        bytes_ = st.values.size() * sizeof(T);
        summing_ = true;
    }

    void check_agreement() {
        const auto& st = sum_;
        for (int r = 0; r < ex_.size(); ++r) {
            const std::uint64_t* row = st.all.data() + 4 * std::size_t(r);
            const std::string who = "mpi::allreduce: rank " + std::to_string(r);
            if (row[0] != st.all[0])
                commpress::detail::fail_parameter(
                    who + "'s configuration differs from rank 0's (another fingerprint): every "
                          "rank must use the same compressor");
            if (row[1] != st.all[1])
                commpress::detail::fail_parameter(
                    who + " is at step " + std::to_string(row[1]) + ", rank 0 at step " +
                    std::to_string(st.all[1]) +
                    ": a shared set is the same on every rank only at the same step");
            if (row[2] != st.all[2] || row[3] != st.all[3])
                commpress::detail::fail_parameter(who + " reduces " + std::to_string(row[2]) +
                                                  " elements in " + std::to_string(row[3]) +
                                                  " tensors, rank 0 " + std::to_string(st.all[2]) +
                                                  " in " + std::to_string(st.all[3]));
        }
    }

    void begin_sum() {
        phase_ = phase::idle;
        check_agreement();
        auto& st = sum_;
        detail::check(MPI_Iallreduce(MPI_IN_PLACE, st.values.data(),
                                     static_cast<int>(st.values.size()), detail::datatype<T>(),
                                     MPI_SUM, ex_.comm(), &req_),
                      "MPI_Iallreduce");
        phase_ = phase::sum;
    }

    // out_i = w (n_i / k_i) sum_r x_r[S_i] on S_i, 0 elsewhere: what decoding the p messages
    // into a zeroed accumulator computes, up to the order of the additions.
    void finish_sum() {
        const auto& st = sum_;
        const T w = weight();
        std::size_t at = 0;
        for (std::size_t i = 0; i < outs_.size(); ++i) {
            const std::span<T> out = outs_[i];
            const T scale = static_cast<T>(c_.sparsifier().decode_scale(out.size()));
            std::fill(out.begin(), out.end(), T{0});
            for (std::size_t j = at; j < at + st.kept[i]; ++j)
                out[st.indices[j]] = w * (scale * st.values[j]);
            at += st.kept[i];
        }
        phase_ = phase::idle;
    }

    void finish_gather() {
        std::size_t total = 0;
        for (const auto o : outs_)
            total += o.size();
        acc_.assign(total, T{0});
        const T w = weight();
        ex_.for_each([&](int, std::span<const std::byte> msg) {
            std::size_t at = 0, first = 0;
            for (std::size_t i = 0; i < outs_.size(); ++i) {
                const std::size_t rest = msg.size() - at;
                const std::uint64_t len = rest < message_header::size
                                              ? rest + 1
                                              : message_header::size + commpress::detail::load_le(
                                                                           msg.data() + at + 24, 8);
                if (len > rest)
                    commpress::detail::fail_decode("bucket: tensor " + std::to_string(i) + " of " +
                                                   std::to_string(outs_.size()) +
                                                   " is cut short (" + std::to_string(rest) +
                                                   " bytes left)");
                c_.decompress_add(msg.subspan(at, static_cast<std::size_t>(len)),
                                  std::span<T>(acc_).subspan(first, outs_[i].size()), w);
                at += static_cast<std::size_t>(len);
                first += outs_[i].size();
            }
            if (at != msg.size())
                commpress::detail::fail_decode("bucket: " + std::to_string(msg.size() - at) +
                                               " bytes after the last tensor's message");
        });
        std::size_t first = 0;
        for (const auto o : outs_) {
            std::copy_n(acc_.begin() + static_cast<std::ptrdiff_t>(first), o.size(), o.begin());
            first += o.size();
        }
        phase_ = phase::idle;
    }

    C c_;
    exchange ex_;
    phase phase_ = phase::idle;
    reduction op_ = reduction::mean;
    std::span<const T> one_in_;
    std::span<T> one_out_;
    std::vector<std::span<T>> outs_;
    std::vector<std::byte> send_;
    std::vector<T> acc_;
    std::size_t bytes_ = 0;
    bool summing_ = false;               // this call takes the MPI_Allreduce path
    MPI_Request req_ = MPI_REQUEST_NULL; // its non-blocking requests
    detail::sum_state<C, T> sum_;
};

/// Scatter-reduce then all-gather, both compressed: rank j owns chunk j of the tensor (elements
/// [j n / p, (j + 1) n / p)). Every rank compresses each chunk of x and sends chunk j to rank j
/// (MPI_Alltoallv); rank j reduces the p messages it got, compresses the reduced chunk again,
/// and every rank gathers those (MPI_Allgatherv). A rank sends and receives 2 (p - 1) / p of one
/// message's worth, like a ring all-reduce, where allreduce's gather receives p - 1 whole
/// messages; its buffers do not grow with p. The price: the reduced chunks are compressed a
/// second time, so the result is C(sum_r C(x_r)) chunk by chunk (for unbiased C the two
/// variances add). Errors are collective: every rank throws, the out vector is untouched.
template <class C, class T = float>
class reduce_scatter_allreduce {
  public:
    reduce_scatter_allreduce(C c, MPI_Comm comm) : c_(std::move(c)), ex_(comm) {
        const auto p = static_cast<std::size_t>(ex_.size());
        meta_out_.resize(2 * p);
        meta_in_.resize(2 * p);
        scounts_.resize(p);
        sdispls_.resize(p);
        rcounts_.resize(p);
        rdispls_.resize(p);
    }

    void operator()(std::span<const T> x, std::span<T> out, reduction op = reduction::mean) {
        const int p = ex_.size(), me = ex_.rank();
        const std::size_t n = x.size();
        if (out.size() != n || n < static_cast<std::size_t>(p))
            commpress::detail::fail_parameter(
                "mpi::reduce_scatter_allreduce: " + std::to_string(n) + " elements into " +
                std::to_string(out.size()) + ", for " + std::to_string(p) +
                " ranks (each rank owns a chunk: at least one element per rank)");
        const auto first = [&](int j) { return std::size_t(j) * n / std::size_t(p); };
        // Phase 1: chunk j of x, compressed, to rank j; sizes and fingerprints first.
        std::size_t cap = 0;
        for (int j = 0; j < p; ++j)
            cap += c_.max_message_size(first(j + 1) - first(j));
        send_.resize(cap);
        std::size_t at = 0;
        for (int j = 0; j < p; ++j) {
            const std::size_t used = c_.compress(x.subspan(first(j), first(j + 1) - first(j)),
                                                 std::span<std::byte>(send_).subspan(at));
            meta_out_[2 * std::size_t(j)] = used;
            meta_out_[2 * std::size_t(j) + 1] = c_.fingerprint();
            sdispls_[std::size_t(j)] = checked_int(at);
            scounts_[std::size_t(j)] = checked_int(used);
            at += used;
        }
        detail::check(MPI_Alltoall(meta_out_.data(), 2, MPI_UINT64_T, meta_in_.data(), 2,
                                   MPI_UINT64_T, ex_.comm()),
                      "MPI_Alltoall");
        std::size_t total = 0;
        for (int r = 0; r < p; ++r) {
            if (meta_in_[2 * std::size_t(r) + 1] != c_.fingerprint())
                commpress::detail::fail_parameter(
                    "mpi::reduce_scatter_allreduce: rank " + std::to_string(r) +
                    "'s configuration differs from rank " + std::to_string(me) +
                    "'s (another fingerprint): every rank must use the same compressor");
            rdispls_[std::size_t(r)] = checked_int(total);
            rcounts_[std::size_t(r)] = checked_int(meta_in_[2 * std::size_t(r)]);
            total += meta_in_[2 * std::size_t(r)];
        }
        checked_int(total);
        recv_.resize(total);
        detail::check(MPI_Alltoallv(send_.data(), scounts_.data(), sdispls_.data(), MPI_BYTE,
                                    recv_.data(), rcounts_.data(), rdispls_.data(), MPI_BYTE,
                                    ex_.comm()),
                      "MPI_Alltoallv");
        // Reduce this rank's chunk. A message that does not decode fails here on this rank only:
        // the lowest bad sender goes to every rank before anyone waits in the next collective.
        const T w = op == reduction::mean ? T{1} / static_cast<T>(p) : T{1};
        part_.assign(first(me + 1) - first(me), T{0});
        int bad = p;
        std::string why;
        for (int r = 0; r < p && bad == p; ++r) {
            try {
                c_.decompress_add(std::span<const std::byte>(recv_).subspan(
                                      std::size_t(rdispls_[std::size_t(r)]),
                                      std::size_t(rcounts_[std::size_t(r)])),
                                  std::span<T>(part_), w);
            } catch (const decode_error& e) {
                bad = r;
                why = e.what();
            }
        }
        int lowest = bad;
        detail::check(MPI_Allreduce(&bad, &lowest, 1, MPI_INT, MPI_MIN, ex_.comm()),
                      "MPI_Allreduce");
        if (lowest != p)
            commpress::detail::fail_decode(
                "rank " + std::to_string(lowest) + "'s message" +
                (bad == lowest ? ": " + why : std::string(" did not decode on another rank")));
        // Phase 2: the reduced chunks, compressed again, gathered by everyone.
        send_.resize(c_.max_message_size(part_.size()));
        const std::size_t used =
            c_.compress(std::span<const T>(part_), std::span<std::byte>(send_));
        ex_.run(std::span<const std::byte>(send_.data(), used), c_.fingerprint());
        acc_.resize(n);
        ex_.for_each([&](int j, std::span<const std::byte> msg) {
            c_.decompress(msg, std::span<T>(acc_).subspan(first(j), first(j + 1) - first(j)));
        });
        std::copy(acc_.begin(), acc_.end(), out.begin());
    }

    C& compressor() noexcept { return c_; }

  private:
    static int checked_int(std::size_t v) {
        if (v > static_cast<std::size_t>(INT_MAX))
            commpress::detail::fail_parameter(
                "mpi::reduce_scatter_allreduce: more than 2^31 - 1 bytes in one exchange, "
                "MPI's int counts; split the call");
        return static_cast<int>(v);
    }

    C c_;
    exchange ex_;
    std::vector<std::uint64_t> meta_out_, meta_in_; // per rank: bytes, fingerprint
    std::vector<int> scounts_, sdispls_, rcounts_, rdispls_;
    std::vector<std::byte> send_, recv_;
    std::vector<T> part_, acc_;
};

/// Method M with compressor C over the ranks of comm, one worker per rank, giving the in-process
/// simulator's run with n = ranks workers and the same compressors bit for bit
/// (experiment::simulator, whose binary32 broadcast of x is exact).
///
/// Every rank keeps the server's state too (a replicated server): each round every rank sends
/// its worker's message, receives all of them in rank order and updates its copy of x, so the
/// copies stay equal bit for bit, and nothing goes down. A bidirectional method (ef21_bc) needs a
/// real downlink: rank 0 is then the server, the workers' messages go to it (MPI_Gatherv), and
/// it broadcasts its compressed message (MPI_Bcast), which every rank's worker applies to its
/// model copy; x on every rank is that copy.
template <class M, class C>
class engine {
  public:
    using worker_type = feedback::worker<M, C>;
    using server_type = feedback::server<M, C>;
    static constexpr bool bidirectional = requires(const server_type& s) { s.broadcast(); };

    /// c: this rank's compressor (stream{.worker = rank}); d: the model's size.
    engine(M method, C c, std::size_t d, MPI_Comm comm)
        : ex_(comm), worker_(method, c, d, static_cast<std::size_t>(ex_.size())),
          server_(method, std::move(c), d, static_cast<std::size_t>(ex_.size())),
          fingerprint_(feedback::configuration_of(worker_.save())),
          msg_(worker_.max_message_size()), grad_(d), sum_(d) {
        if constexpr (bidirectional) {
            counts_.resize(static_cast<std::size_t>(ex_.size()));
            displs_.resize(counts_.size());
            meta_.resize(2 * counts_.size());
        }
    }

    /// One round from x (the same on every rank), which it updates; part is this rank's f_i.
    /// The record's loss and ||grad f||^2 are at the round's x, from two extra MPI_Allreduce
    /// calls in double: a measurement, not counted in the bits.
    template <experiment::problem_part P>
    experiment::round_record round(P& part, std::span<float> x) {
        step(part, x);
        return record(loss_);
    }

    /// The round without the measurement: what a timed run calls.
    template <experiment::problem_part P>
    void step(P& part, std::span<float> x) {
        if (x.size() != grad_.size())
            commpress::detail::fail_parameter("mpi::engine: x has " + std::to_string(x.size()) +
                                              " coordinates, the model " +
                                              std::to_string(grad_.size()));
        if constexpr (bidirectional) {
            if (round_ == 0)
                down(x, true); // x^0 from rank 0, in binary32
            loss_ = part.loss_and_gradient(worker_.model(), grad_);
        } else {
            loss_ = part.loss_and_gradient(std::span<const float>(x), grad_);
        }
        const std::size_t used = worker_.step(std::span<const float>(grad_), msg_);
        const auto mine = std::span<const std::byte>(msg_.data(), used);
        if constexpr (bidirectional) {
            up(mine);
            if (ex_.rank() == 0)
                server_.update(x);
            down(x, false);
        } else {
            ex_.run(mine, fingerprint_);
            ex_.for_each([&](int, std::span<const std::byte> m) { server_.receive(m); });
            server_.update(x);
            for (int r = 0; r < ex_.size(); ++r)
                count_up(ex_.message(r).size());
        }
        ++round_;
    }

    /// f(x) and ||grad f(x)||^2 for f the mean of the ranks' parts (a gradient evaluation and
    /// two MPI_Allreduce calls in double, not counted in the bits).
    template <experiment::problem_part P>
    experiment::round_record measure(P& part, std::span<const float> x) {
        return record(part.loss_and_gradient(x, grad_));
    }

    worker_type& worker() noexcept { return worker_; }
    server_type& server() noexcept { return server_; }
    /// Bytes the workers have sent so far, summed over the ranks: whole messages, payloads.
    std::uint64_t bytes_up() const noexcept { return bytes_up_; }
    std::uint64_t payload_bytes_up() const noexcept { return payload_up_; }
    int rank() const noexcept { return ex_.rank(); }
    int size() const noexcept { return ex_.size(); }

  private:
    void count_up(std::size_t bytes) noexcept {
        bytes_up_ += bytes;
        payload_up_ += bytes - message_header::size;
    }

    // The record from this rank's loss and grad_: sums over the ranks in double.
    experiment::round_record record(double loss) {
        const double n = ex_.size();
        experiment::round_record rec;
        rec.round = round_;
        rec.bits_up = 8.0 * static_cast<double>(bytes_up_) / n;
        rec.payload_bits_up = 8.0 * static_cast<double>(payload_up_) / n;
        rec.bits_down = 8.0 * static_cast<double>(bytes_down_);
        rec.payload_bits_down = 8.0 * static_cast<double>(payload_down_);
        for (std::size_t j = 0; j < grad_.size(); ++j)
            sum_[j] = static_cast<double>(grad_[j]);
        double f = loss;
        detail::check(MPI_Allreduce(MPI_IN_PLACE, &f, 1, MPI_DOUBLE, MPI_SUM, ex_.comm()),
                      "MPI_Allreduce");
        detail::check(MPI_Allreduce(MPI_IN_PLACE, sum_.data(), static_cast<int>(sum_.size()),
                                    MPI_DOUBLE, MPI_SUM, ex_.comm()),
                      "MPI_Allreduce");
        rec.loss = f / n;
        for (const double g : sum_)
            rec.grad_norm2 += (g / n) * (g / n);
        return rec;
    }

    // Bidirectional: every worker's message to rank 0, which receives them in rank order. An
    // error there (another configuration, a message that does not decode) travels down in
    // place of the broadcast, so that every rank throws it.
    void up(std::span<const std::byte> mine) {
        const std::uint64_t my_meta[2] = {mine.size(), fingerprint_};
        detail::check(
            MPI_Gather(my_meta, 2, MPI_UINT64_T, meta_.data(), 2, MPI_UINT64_T, 0, ex_.comm()),
            "MPI_Gather");
        std::size_t total = 0;
        if (ex_.rank() == 0)
            for (std::size_t r = 0; r < counts_.size(); ++r) {
                counts_[r] = detail::to_int(meta_[2 * r], "mpi::engine");
                displs_[r] = detail::to_int(total, "mpi::engine");
                total += meta_[2 * r];
            }
        recv_.resize(total);
        detail::check(MPI_Gatherv(mine.data(), detail::to_int(mine.size(), "mpi::engine"), MPI_BYTE,
                                  recv_.data(), counts_.data(), displs_.data(), MPI_BYTE, 0,
                                  ex_.comm()),
                      "MPI_Gatherv");
        failure_ = 0;
        if (ex_.rank() != 0)
            return;
        for (std::size_t r = 0; r < counts_.size() && failure_ == 0; ++r) {
            if (meta_[2 * r + 1] != fingerprint_) {
                failure_ = 'p';
                why_ = "mpi::engine: rank " + std::to_string(r) +
                       "'s configuration differs from rank 0's (another fingerprint)";
                break;
            }
            try {
                server_.receive(std::span<const std::byte>(recv_).subspan(std::size_t(displs_[r]),
                                                                          std::size_t(counts_[r])));
            } catch (const decode_error& e) {
                failure_ = 'd';
                why_ = "rank " + std::to_string(r) + "'s message: " + e.what();
            }
        }
        for (std::size_t r = 0; r < counts_.size(); ++r)
            count_up(meta_[2 * r]);
    }

    // Rank 0's broadcast (x in binary32 at first, then the server's message), or its error.
    void down(std::span<float> x, bool model) {
        // failure ('p', 'd' or 0), bytes, and rank 0's count of the bits up, for every rank
        std::uint64_t head[4] = {0, 0, bytes_up_, payload_up_};
        std::span<const std::byte> msg;
        if (ex_.rank() == 0) {
            if (failure_ != 0) {
                msg = std::as_bytes(std::span<const char>(why_));
                head[0] = static_cast<std::uint64_t>(failure_);
            } else if (model) {
                send_.resize(fp32_.max_message_size(x.size()));
                msg = std::span<const std::byte>(send_).first(
                    fp32_.compress(std::span<const float>(x), send_));
            } else {
                msg = server_.broadcast();
            }
            head[1] = msg.size();
        }
        detail::check(MPI_Bcast(head, 4, MPI_UINT64_T, 0, ex_.comm()), "MPI_Bcast");
        send_.resize(static_cast<std::size_t>(head[1]));
        if (ex_.rank() == 0 && msg.data() != send_.data())
            std::copy(msg.begin(), msg.end(), send_.begin());
        detail::check(MPI_Bcast(send_.data(), detail::to_int(send_.size(), "mpi::engine"), MPI_BYTE,
                                0, ex_.comm()),
                      "MPI_Bcast");
        if (head[0] != 0) {
            failure_ = 0;
            const std::string why(reinterpret_cast<const char*>(send_.data()), send_.size());
            if (head[0] == 'p')
                commpress::detail::fail_parameter(why);
            commpress::detail::fail_decode(why);
        }
        bytes_up_ = head[2];
        payload_up_ = head[3];
        worker_.receive(std::span<const std::byte>(send_));
        if (!model)
            std::copy(worker_.model().begin(), worker_.model().end(), x.begin());
        bytes_down_ += send_.size();
        payload_down_ += send_.size() - message_header::size;
    }

    exchange ex_;
    worker_type worker_;
    server_type server_;
    std::uint64_t fingerprint_; // method, constants, compressor, d: equal on every rank
    std::vector<std::byte> msg_;
    std::vector<float> grad_;
    std::vector<double> sum_;
    double loss_ = 0;
    std::size_t round_ = 0;
    std::uint64_t bytes_up_ = 0, payload_up_ = 0, bytes_down_ = 0, payload_down_ = 0;
    // bidirectional only
    commpress::recipes::fp32 fp32_;
    std::vector<std::uint64_t> meta_;
    std::vector<int> counts_, displs_;
    std::vector<std::byte> recv_, send_;
    char failure_ = 0; // rank 0's error of this round: 'p' invalid_parameter, 'd' decode_error
    std::string why_;
};

/// PowerSGD with its authors' error feedback, one worker per rank, as the paper runs it: P and Q
/// are sums, so each round is one MPI_Allreduce (P with the uncompressed tensors, then Q),
/// never a gather. Open MPI gives every rank the same bits of a reduction, so the replicas of x
/// stay identical; the sums' order differs from the simulator's worker order, so iterates agree
/// with it to rounding, not bit for bit. Each step first checks with one MPI_Allgather that
/// every rank has the same configuration and step.
class power_sgd {
  public:
    /// Collective over comm (duplicated, as exchange does). c names this rank's worker.
    power_sgd(feedback::ef14 m, lowrank::power_sgd c, std::size_t d, MPI_Comm comm)
        : c_(c), worker_(m, c, d, ranks(comm)), d_(d), msg_(c.max_message_size()),
          sum_(c.max_message_size()), values_(std::max(c.p_values(), c.q_values())) {
        detail::check(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
        detail::check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
        all_.resize(2 * static_cast<std::size_t>(size_));
    }
    power_sgd(const power_sgd&) = delete;
    power_sgd& operator=(const power_sgd&) = delete;
    ~power_sgd() { MPI_Comm_free(&comm_); }

    /// One step on every rank: x -= the aggregated output (gamma applied by the workers).
    void step(std::span<const float> grad, std::span<float> x) {
        feedback::detail::check_dimension("mpi::power_sgd::step", x.size(), d_);
        agree();
        const std::uint32_t step = worker_.round();
        const std::size_t p_used = worker_.step(grad, msg_);
        const std::size_t a = reduce(lowrank::power_sgd::part::p_sum, p_used, 1.0f, step);
        const std::size_t q_used = worker_.answer(std::span<const std::byte>(sum_.data(), a), msg_);
        const std::size_t b = reduce(lowrank::power_sgd::part::q_mean, q_used,
                                     1.0f / static_cast<float>(size_), step);
        worker_.receive(std::span<const std::byte>(sum_.data(), b));
        const auto out = worker_.output();
        for (std::size_t j = 0; j < d_; ++j)
            x[j] -= out[j];
        bytes_ += p_used + q_used;
    }

    const lowrank::power_sgd_worker& worker() const noexcept { return worker_; }
    /// Bytes this rank handed to MPI (its payloads with their headers, both rounds).
    std::uint64_t bytes_sent() const noexcept { return bytes_; }

  private:
    static std::size_t ranks(MPI_Comm comm) {
        int p = 0;
        detail::check(MPI_Comm_size(comm, &p), "MPI_Comm_size");
        return static_cast<std::size_t>(p);
    }

    void agree() {
        const std::uint64_t mine[2] = {c_.fingerprint(), worker_.round()};
        detail::check(MPI_Allgather(mine, 2, MPI_UINT64_T, all_.data(), 2, MPI_UINT64_T, comm_),
                      "MPI_Allgather");
        for (int r = 0; r < size_; ++r) {
            const std::uint64_t* row = all_.data() + 2 * std::size_t(r);
            if (row[0] != all_[0] || row[1] != all_[1])
                commpress::detail::fail_parameter("mpi::power_sgd: rank " + std::to_string(r) +
                                                  (row[0] != all_[0]
                                                       ? "'s configuration differs from rank 0's"
                                                       : " is at another step than rank 0"));
        }
    }

    // Sums the values of this rank's message in msg_ over the ranks, scales them, and writes
    // the result as the server's message `part` into sum_; returns its size.
    std::size_t reduce(lowrank::power_sgd::part part, std::size_t used, float scale,
                       std::uint32_t step) {
        const std::size_t count = (used - message_header::size) / 4;
        std::memcpy(values_.data(), msg_.data() + message_header::size, 4 * count);
        detail::check(MPI_Allreduce(MPI_IN_PLACE, values_.data(),
                                    detail::to_int(count, "mpi::power_sgd"), MPI_FLOAT, MPI_SUM,
                                    comm_),
                      "MPI_Allreduce");
        if (scale != 1.0f)
            for (std::size_t j = 0; j < count; ++j)
                values_[j] *= scale;
        return lowrank::detail::write_factors(std::span<const float>(values_.data(), count),
                                              c_.fingerprint(part), d_, shared_worker, step,
                                              c_.message(), sum_);
    }

    lowrank::power_sgd c_;
    lowrank::power_sgd_worker worker_;
    std::size_t d_;
    MPI_Comm comm_ = MPI_COMM_NULL;
    int size_ = 1;
    std::vector<std::uint64_t> all_;
    std::vector<std::byte> msg_, sum_;
    std::vector<float> values_;
    std::uint64_t bytes_ = 0;
};

} // namespace commpress::mpi
