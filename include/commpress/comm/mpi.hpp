// SPDX-License-Identifier: MIT
// commpress over MPI (opt-in: link commpress::mpi; not in the umbrella header). Every rank's
// message reaches every rank (sizes and fingerprints by MPI_Allgather, bytes by MPI_Allgatherv)
// and is decoded in rank order, so all ranks hold the same bits: a compressed all-reduce for
// any compressor, and the feedback methods with one worker per rank.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <climits>
#include <mpi.h>

#include <commpress/core/error.hpp>
#include <commpress/core/message.hpp>
#include <commpress/experiment/simulator.hpp>
#include <commpress/feedback.hpp>

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
} // namespace detail

/// Gathers one message per rank onto every rank, in rank order. The buffers are kept between
/// calls: after the first call of a size, an exchange allocates nothing.
class exchange {
  public:
    explicit exchange(MPI_Comm comm) : comm_(comm) {
        detail::check(MPI_Comm_rank(comm, &rank_), "MPI_Comm_rank");
        detail::check(MPI_Comm_size(comm, &size_), "MPI_Comm_size");
        const auto p = static_cast<std::size_t>(size_);
        meta_.resize(2 * p);
        counts_.resize(p);
        displs_.resize(p);
    }

    int rank() const noexcept { return rank_; }
    int size() const noexcept { return size_; }
    MPI_Comm comm() const noexcept { return comm_; }

    /// Sends `mine` to every rank and receives theirs. Every rank must pass the fingerprint of
    /// its compressor: if one differs from rank 0's, every rank throws invalid_parameter naming
    /// the first such rank (the configurations differ: the messages cannot be decoded).
    void run(std::span<const std::byte> mine, std::uint64_t fingerprint) {
        const std::uint64_t my_meta[2] = {mine.size(), fingerprint};
        detail::check(MPI_Allgather(my_meta, 2, MPI_UINT64_T, meta_.data(), 2, MPI_UINT64_T, comm_),
                      "MPI_Allgather");
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
        detail::check(MPI_Allgatherv(mine.data(), static_cast<int>(mine.size()), MPI_BYTE,
                                     recv_.data(), counts_.data(), displs_.data(), MPI_BYTE, comm_),
                      "MPI_Allgatherv");
    }

    /// Rank r's message of the last run().
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
    MPI_Comm comm_;
    int rank_ = 0, size_ = 1;
    std::vector<std::uint64_t> meta_; // per rank: message bytes, fingerprint
    std::vector<int> counts_, displs_;
    std::vector<std::byte> recv_;
};

/// What an all-reduce computes from the ranks' compressed vectors.
enum class reduction : std::uint8_t { sum, mean };

/// All-reduce with compression: out = sum_r C_r(x_r), or the mean, where C_r is rank r's
/// compressor (same configuration everywhere; stream{.worker = rank} for private randomness).
/// Messages are decoded straight into one accumulator in rank order, with no dense temporary
/// per peer: every rank gets the same bits. A message that does not decode raises decode_error
/// on every rank, naming the rank that sent it, and leaves out untouched.
template <class C, class T = float>
class allreduce {
  public:
    allreduce(C c, MPI_Comm comm) : c_(std::move(c)), ex_(comm) {}

    void operator()(std::span<const T> x, std::span<T> out, reduction op = reduction::mean) {
        send_.resize(c_.max_message_size(x.size()));
        const std::size_t used = c_.compress(x, std::span<std::byte>(send_));
        reduce_messages(std::span<const std::byte>(send_.data(), used), out, op);
    }

    /// The same from this rank's message, compressed by the caller with this configuration.
    void reduce_messages(std::span<const std::byte> mine, std::span<T> out,
                         reduction op = reduction::mean) {
        ex_.run(mine, c_.fingerprint());
        const T w = op == reduction::mean ? T{1} / static_cast<T>(ex_.size()) : T{1};
        acc_.assign(out.size(), T{0});
        ex_.for_each([&](int, std::span<const std::byte> msg) {
            c_.decompress_add(msg, std::span<T>(acc_), w);
        });
        std::copy(acc_.begin(), acc_.end(), out.begin());
    }

    /// Bytes of this rank's message in the last call (header included).
    std::size_t bytes_sent() const noexcept { return ex_.message(ex_.rank()).size(); }
    const exchange& messages() const noexcept { return ex_; }
    C& compressor() noexcept { return c_; }

  private:
    C c_;
    exchange ex_;
    std::vector<std::byte> send_;
    std::vector<T> acc_;
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

/// Method M with compressor C over the ranks of comm, one worker per rank. Every rank keeps the
/// server's state too (a replicated server): each round every rank sends its worker's message,
/// receives all of them in rank order and updates its copy of x, so the copies stay equal bit
/// for bit, and equal to the in-process simulator's run with n = ranks workers and the same
/// compressors (experiment::simulator, whose binary32 broadcast of x is exact).
template <class M, class C>
class engine {
    static_assert(!feedback::detail::is_ef21_bc<M>,
                  "mpi::engine: a bidirectional method (ef21_bc) needs its broadcast step; it "
                  "runs in experiment::simulator for now");

  public:
    /// c: this rank's compressor (stream{.worker = rank}); d: the model's size.
    engine(M method, C c, std::size_t d, MPI_Comm comm)
        : ex_(comm), worker_(method, c, d, static_cast<std::size_t>(ex_.size())),
          server_(method, std::move(c), d, static_cast<std::size_t>(ex_.size())),
          fingerprint_(feedback::configuration_of(worker_.save())),
          msg_(worker_.max_message_size()), grad_(d), sum_(d) {}

    /// One round from x (the same on every rank), which it updates. part is this rank's f_i.
    /// The record's loss and ||grad f||^2 come from two extra MPI_Allreduce calls in double,
    /// a measurement that is not counted in the bits.
    template <experiment::problem_part P>
    experiment::round_record round(P& part, std::span<float> x) {
        const double loss = part.loss_and_gradient(std::span<const float>(x), grad_);
        const std::size_t used = worker_.step(std::span<const float>(grad_), msg_);
        ex_.run(std::span<const std::byte>(msg_.data(), used), fingerprint_);
        ex_.for_each([&](int, std::span<const std::byte> m) { server_.receive(m); });
        server_.update(x);
        std::uint64_t up = 0;
        for (int r = 0; r < ex_.size(); ++r)
            up += ex_.message(r).size();
        bytes_up_ += up;
        payload_up_ += up - message_header::size * static_cast<std::uint64_t>(ex_.size());
        const double n = ex_.size();
        experiment::round_record rec;
        rec.round = ++round_;
        rec.bits_up = 8.0 * static_cast<double>(bytes_up_) / n;
        rec.payload_bits_up = 8.0 * static_cast<double>(payload_up_) / n;
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

    feedback::worker<M, C>& worker() noexcept { return worker_; }
    feedback::server<M, C>& server() noexcept { return server_; }
    int rank() const noexcept { return ex_.rank(); }
    int size() const noexcept { return ex_.size(); }

  private:
    exchange ex_;
    feedback::worker<M, C> worker_;
    feedback::server<M, C> server_;
    std::uint64_t fingerprint_; // method, constants, compressor, d: equal on every rank
    std::vector<std::byte> msg_;
    std::vector<float> grad_;
    std::vector<double> sum_;
    std::size_t round_ = 0;
    std::uint64_t bytes_up_ = 0, payload_up_ = 0;
};

} // namespace commpress::mpi
