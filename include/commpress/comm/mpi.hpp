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

    /// Bytes this rank sent and received in the last call (whole messages).
    std::size_t bytes_sent() const noexcept { return ex_.message(ex_.rank()).size(); }
    const exchange& messages() const noexcept { return ex_; }
    C& compressor() noexcept { return c_; }

  private:
    C c_;
    exchange ex_;
    std::vector<std::byte> send_;
    std::vector<T> acc_;
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
