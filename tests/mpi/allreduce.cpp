// SPDX-License-Identifier: MIT
// mpi::allreduce against the serial reference every rank computes itself: the same bits on every
// rank for every compressor, sums and means; and the errors: another configuration on one rank,
// a message that does not decode, another size.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <commpress/comm/mpi.hpp>
#include <commpress/commpress.hpp>

using namespace commpress;

namespace {

constexpr std::size_t d = 1000;

int world_rank() {
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}
int world_size() {
    int p = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &p);
    return p;
}

/// Rank r's vector in call t: a splitmix64 stream in [-1, 1).
std::vector<float> data_of(int r, int t) {
    std::vector<float> x(d);
    std::uint64_t s = 1000003u * std::uint64_t(r) + std::uint64_t(t);
    for (float& v : x)
        v = static_cast<float>(static_cast<double>(detail::splitmix64(s++) >> 11) * 0x1p-52 - 1.0);
    return x;
}

template <class C>
C make(int rank, double ratio = 0.1) {
    typename C::sparsifier_type sp{};
    if constexpr (requires { sp.ratio; })
        sp.ratio = ratio;
    if constexpr (requires { sp.independent; })
        sp.independent = true;
    return C{sp, {}, {}, seed{11}, stream{.worker = static_cast<std::uint32_t>(rank)}};
}

/// Three all-reduces of C against the reference: every rank's compressor applied in turn and
/// decoded in rank order, as the library does, but in one process.
template <class C>
void matches_reference(const char* what) {
    INFO(what << " on " << world_size() << " ranks");
    const int p = world_size(), me = world_rank();
    mpi::allreduce<C> ar(make<C>(me), MPI_COMM_WORLD);
    std::vector<C> ref;
    for (int r = 0; r < p; ++r)
        ref.push_back(make<C>(r));
    for (int t = 0; t < 3; ++t) {
        const auto op = t == 1 ? mpi::reduction::sum : mpi::reduction::mean;
        std::vector<float> out(d, 7.0f), want(d, 0.0f);
        ar(std::span<const float>(data_of(me, t)), std::span<float>(out), op);
        const float w = op == mpi::reduction::mean ? 1.0f / float(p) : 1.0f;
        for (int r = 0; r < p; ++r) {
            const auto msg = ref[r].compress(std::span<const float>(data_of(r, t)));
            ref[0].decompress_add(std::span<const std::byte>(msg), std::span<float>(want), w);
            if (r == me)
                CHECK(ar.bytes_sent() == msg.size());
        }
        CHECK(out == want);
    }
}

} // namespace

TEST_CASE("mpi::allreduce equals the serial reference bit for bit", "[mpi]") {
    matches_reference<recipes::top_k>("top_k");
    matches_reference<recipes::rand_k>("rand_k, independent");
    matches_reference<recipes::qsgd>("qsgd");
    matches_reference<recipes::fp16>("fp16");
    matches_reference<recipes::natural>("natural");
    matches_reference<recipes::scaled_sign>("scaled_sign");
}

TEST_CASE("mpi::allreduce: with the identity compressor, the mean of the vectors", "[mpi]") {
    const int p = world_size(), me = world_rank();
    mpi::allreduce<recipes::fp32> ar(make<recipes::fp32>(me), MPI_COMM_WORLD);
    std::vector<float> out(d);
    ar(std::span<const float>(data_of(me, 0)), std::span<float>(out), mpi::reduction::sum);
    std::vector<float> want(d, 0.0f);
    for (int r = 0; r < p; ++r) {
        const auto x = data_of(r, 0);
        for (std::size_t j = 0; j < d; ++j)
            want[j] += x[j]; // the same order as the decoder's adds: rank 0 first
    }
    CHECK(out == want);
}

TEST_CASE("mpi::allreduce: another configuration on one rank fails on every rank", "[mpi]") {
    const int p = world_size(), me = world_rank();
    if (p < 2)
        return;
    mpi::allreduce<recipes::top_k> ar(make<recipes::top_k>(me, me == 1 ? 0.2 : 0.1),
                                      MPI_COMM_WORLD);
    std::vector<float> out(d, 7.0f);
    CHECK_THROWS_WITH(ar(std::span<const float>(data_of(me, 0)), std::span<float>(out)),
                      Catch::Contains("rank 1's configuration differs"));
    CHECK(out == std::vector<float>(d, 7.0f));
}

TEST_CASE("mpi::allreduce: a message that does not decode fails on every rank, naming its sender",
          "[mpi]") {
    const int p = world_size(), me = world_rank();
    const int bad = p > 1 ? 1 : 0;
    mpi::allreduce<recipes::top_k> ar(make<recipes::top_k>(me), MPI_COMM_WORLD);
    auto msg = make<recipes::top_k>(me).compress(std::span<const float>(data_of(me, 0)));
    if (me == bad)
        msg[0] ^= std::byte{0xff}; // not a commpress message any more
    std::vector<float> out(d, 7.0f);
    CHECK_THROWS_WITH(ar.reduce_messages(std::span<const std::byte>(msg), std::span<float>(out)),
                      Catch::Contains("rank " + std::to_string(bad) + "'s message"));
    CHECK(out == std::vector<float>(d, 7.0f)); // untouched, also by the good messages before
    // A rank with another size: its message does not fit the others' output, nor theirs its.
    if (p == 1)
        return;
    const std::size_t n = me == bad ? d + 1 : d;
    std::vector<float> x(n, 1.0f), y(n, 7.0f);
    CHECK_THROWS_AS(ar(std::span<const float>(x), std::span<float>(y)), decode_error);
    CHECK(y == std::vector<float>(n, 7.0f));
}

namespace {

/// reduce_scatter_allreduce against its reference: rank r compresses chunk j of x_r for every j
/// in order; chunk j's messages are reduced in rank order and compressed again by rank j.
template <class C>
void reduce_scatter_matches(const char* what) {
    INFO(what << " on " << world_size() << " ranks");
    const int p = world_size(), me = world_rank();
    mpi::reduce_scatter_allreduce<C> ar(make<C>(me), MPI_COMM_WORLD);
    std::vector<C> ref;
    for (int r = 0; r < p; ++r)
        ref.push_back(make<C>(r));
    const auto first = [&](int j) { return std::size_t(j) * d / std::size_t(p); };
    for (int t = 0; t < 2; ++t) {
        std::vector<float> out(d, 7.0f), want(d);
        ar(std::span<const float>(data_of(me, t)), std::span<float>(out));
        std::vector<std::vector<std::vector<std::byte>>> msg(p); // [sender][chunk]
        for (int r = 0; r < p; ++r) {
            const auto x = data_of(r, t);
            for (int j = 0; j < p; ++j)
                msg[r].push_back(ref[r].compress(
                    std::span<const float>(x).subspan(first(j), first(j + 1) - first(j))));
        }
        for (int j = 0; j < p; ++j) {
            std::vector<float> part(first(j + 1) - first(j), 0.0f);
            for (int r = 0; r < p; ++r)
                ref[0].decompress_add(std::span<const std::byte>(msg[r][j]), std::span<float>(part),
                                      1.0f / float(p));
            const auto reduced = ref[j].compress(std::span<const float>(part));
            ref[0].decompress(std::span<const std::byte>(reduced),
                              std::span<float>(want).subspan(first(j), part.size()));
        }
        CHECK(out == want);
    }
}

} // namespace

TEST_CASE("mpi::reduce_scatter_allreduce equals its serial reference bit for bit", "[mpi]") {
    reduce_scatter_matches<recipes::top_k>("top_k");
    reduce_scatter_matches<recipes::rand_k>("rand_k, independent");
    reduce_scatter_matches<recipes::qsgd>("qsgd");
    reduce_scatter_matches<recipes::bf16>("bf16");
}

TEST_CASE("mpi::reduce_scatter_allreduce: errors reach every rank", "[mpi]") {
    const int p = world_size(), me = world_rank();
    mpi::reduce_scatter_allreduce<recipes::top_k> ar(make<recipes::top_k>(me), MPI_COMM_WORLD);
    std::vector<float> few(std::size_t(p) - 1, 1.0f), out(few.size());
    CHECK_THROWS_AS(ar(std::span<const float>(few), std::span<float>(out)), invalid_parameter);
    if (p < 2)
        return;
    mpi::reduce_scatter_allreduce<recipes::top_k> other(
        make<recipes::top_k>(me, me == 1 ? 0.2 : 0.1), MPI_COMM_WORLD);
    std::vector<float> y(d, 7.0f);
    CHECK_THROWS_WITH(other(std::span<const float>(data_of(me, 0)), std::span<float>(y)),
                      Catch::Contains("configuration differs"));
    CHECK(y == std::vector<float>(d, 7.0f));
    // Another size on rank 1: its chunks do not fit; every rank throws, nothing hangs.
    const std::size_t n = me == 1 ? d + 8 : d;
    std::vector<float> x(n, 1.0f), z(n, 7.0f);
    CHECK_THROWS_AS(ar(std::span<const float>(x), std::span<float>(z)), decode_error);
    CHECK(z == std::vector<float>(n, 7.0f));
}

namespace {

/// Dyadic values m/8, |m| <= 8: sums of up to 4 of them, times n/k = 10 and 1/p, are exact in
/// binary32 in any order of the additions, so MPI_Allreduce's order cannot change a bit.
std::vector<float> dyadic_of(int r, int t, std::size_t n = d) {
    std::vector<float> x(n);
    for (std::size_t j = 0; j < n; ++j)
        x[j] = static_cast<float>(
                   static_cast<int>((7 * std::size_t(r) + 13 * j + 5 * std::size_t(t)) % 17) - 8) /
               8.0f;
    return x;
}

recipes::rand_k shared_rand_k(int rank) {
    return recipes::rand_k{
        {.ratio = 0.1}, {}, {}, seed{11}, stream{.worker = static_cast<std::uint32_t>(rank)}};
}

template <class T>
std::vector<std::span<const T>> const_spans(const std::vector<std::vector<T>>& vs) {
    return {vs.begin(), vs.end()};
}
template <class T>
std::vector<std::span<T>> spans(std::vector<std::vector<T>>& vs) {
    return {vs.begin(), vs.end()};
}

} // namespace

TEST_CASE(
    "mpi::allreduce: shared-seed rand-k goes through MPI_Allreduce, with the messages' result",
    "[mpi]") {
    static_assert(mpi::summable<recipes::rand_k>);
    static_assert(!mpi::summable<recipes::top_k> && !mpi::summable<recipes::qsgd> &&
                  !mpi::summable<recipes::fp32> && !mpi::summable<chunked<recipes::rand_k>>);
    const int p = world_size(), me = world_rank();
    mpi::allreduce<recipes::rand_k> ar(shared_rand_k(me), MPI_COMM_WORLD);
    std::vector<recipes::rand_k> ref;
    for (int r = 0; r < p; ++r)
        ref.push_back(shared_rand_k(r));
    for (int t = 0; t < 3; ++t) {
        const auto op = t == 1 ? mpi::reduction::sum : mpi::reduction::mean;
        std::vector<float> out(d, 7.0f), want(d, 0.0f);
        ar(std::span<const float>(dyadic_of(me, t)), std::span<float>(out), op);
        const float w = op == mpi::reduction::mean ? 1.0f / float(p) : 1.0f;
        for (int r = 0; r < p; ++r)
            ref[0].decompress_add(std::span<const std::byte>(
                                      ref[r].compress(std::span<const float>(dyadic_of(r, t)))),
                                  std::span<float>(want), w);
        CHECK(out == want);
        CHECK(ar.bytes_sent() == 100 * sizeof(float)); // the k = 100 values, not a message
    }
    CHECK(ar.compressor().step() == 3); // its draws advance as if it had compressed
    if (p < 2)
        return;
    // A rank one step ahead would sum values from other coordinates: refused on every rank.
    auto ahead = shared_rand_k(me);
    if (me == 1)
        ahead.set_step(5);
    mpi::allreduce<recipes::rand_k> skewed(ahead, MPI_COMM_WORLD);
    std::vector<float> out(d, 7.0f);
    CHECK_THROWS_WITH(skewed(std::span<const float>(dyadic_of(me, 0)), std::span<float>(out)),
                      Catch::Contains("rank 1 is at step 5"));
    CHECK(out == std::vector<float>(d, 7.0f));
}

namespace {

/// A bucket of three tensors in one exchange against three exchanges: the same bits.
template <class C>
void bucket_matches(const char* what, C (*make_c)(int)) {
    INFO(what << " on " << world_size() << " ranks");
    const int me = world_rank();
    const std::vector<std::size_t> sizes{1000, 37, 500};
    mpi::allreduce<C> bucket(make_c(me), MPI_COMM_WORLD), single(make_c(me), MPI_COMM_WORLD);
    std::vector<std::vector<float>> xs, got, want;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        xs.push_back(dyadic_of(me, int(i), sizes[i]));
        got.emplace_back(sizes[i], 7.0f);
        want.emplace_back(sizes[i], 7.0f);
    }
    bucket(const_spans(xs), spans(got), mpi::reduction::sum);
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        single(std::span<const float>(xs[i]), std::span<float>(want[i]), mpi::reduction::sum);
        bytes += single.bytes_sent();
    }
    CHECK(got == want);
    CHECK(bucket.bytes_sent() == bytes);
}

recipes::top_k top_k_of(int rank) { return make<recipes::top_k>(rank); }
recipes::qsgd qsgd_of(int rank) { return make<recipes::qsgd>(rank); }

} // namespace

TEST_CASE("mpi::allreduce: a bucket of tensors in one message equals one exchange per tensor",
          "[mpi]") {
    bucket_matches<recipes::top_k>("top_k", top_k_of);
    bucket_matches<recipes::qsgd>("qsgd", qsgd_of);
    bucket_matches<recipes::rand_k>("rand_k, shared: MPI_Allreduce", shared_rand_k);
}

TEST_CASE("mpi::allreduce: a bucket of another shape on one rank fails on every rank", "[mpi]") {
    const int p = world_size(), me = world_rank();
    if (p < 2)
        return;
    // Rank 1 sends two tensors, the others three: each side finds the other's bucket wrong.
    const std::size_t tensors = me == 1 ? 2 : 3;
    std::vector<std::vector<float>> xs(tensors, dyadic_of(me, 0, 100)), outs(tensors);
    for (auto& o : outs)
        o.assign(100, 7.0f);
    mpi::allreduce<recipes::top_k> ar(make<recipes::top_k>(me), MPI_COMM_WORLD);
    CHECK_THROWS_WITH(
        ar(const_spans(xs), spans(outs)),
        Catch::Contains(me == 1 ? "rank 0's message: bucket: "
                                : "rank 1's message: bucket: tensor 2 of 3 is cut short"));
    for (const auto& o : outs)
        CHECK(o == std::vector<float>(100, 7.0f));
    auto shared = mpi::allreduce<recipes::rand_k>(shared_rand_k(me), MPI_COMM_WORLD);
    CHECK_THROWS_WITH(shared(const_spans(xs), spans(outs)), Catch::Contains("rank 1 reduces"));
}

TEST_CASE("mpi::allreduce: non-blocking all-reduces in flight together give the blocking results",
          "[mpi]") {
    const int me = world_rank();
    mpi::allreduce<recipes::top_k> a(make<recipes::top_k>(me), MPI_COMM_WORLD),
        ra(make<recipes::top_k>(me), MPI_COMM_WORLD);
    mpi::allreduce<recipes::qsgd> b(make<recipes::qsgd>(me), MPI_COMM_WORLD),
        rb(make<recipes::qsgd>(me), MPI_COMM_WORLD);
    mpi::allreduce<recipes::rand_k> c(shared_rand_k(me), MPI_COMM_WORLD),
        rc(shared_rand_k(me), MPI_COMM_WORLD);
    const auto x = dyadic_of(me, 1);
    const std::span<const float> in(x);
    std::vector<float> oa(d), ob(d), oc(d), wa(d), wb(d), wc(d);
    for (int t = 0; t < 2; ++t) {
        a.start(in, std::span<float>(oa));
        b.start(in, std::span<float>(ob));
        c.start(in, std::span<float>(oc));
        CHECK_THROWS_AS(a.start(in, std::span<float>(oa)), invalid_parameter); // one at a time
        bool done = false;
        while (!done) {
            const bool da = a.test(), db = b.test(), dc = c.test();
            done = da && db && dc;
        }
        ra(in, std::span<float>(wa));
        rb(in, std::span<float>(wb));
        rc(in, std::span<float>(wc));
        CHECK(oa == wa);
        CHECK(ob == wb);
        CHECK(oc == wc);
    }
    CHECK(a.test()); // nothing in flight
}
