// SPDX-License-Identifier: MIT
// Low-rank compression of a layered model (issue 8; OPERATORS.md A.11, E.5 on CPU): a
// 784-256-10 MLP on Fashion-MNIST's ten classes, n simulated workers with i.i.d. shards, each
// weight matrix compressed as a matrix:
// - SGD: binary32 gradients (feedback::dcgd with fp32);
// - EF + PowerSGD, ranks 1, 2, 4: the authors' method (two all-reduces, warm start, memory);
// - EF21 + randomized SVD (rank 4, oversampling 6, one power iteration): the proposal's method;
// - EF + top-k with k chosen so its bits per step equal PowerSGD rank 2's.
// Every arm takes the same step size (no momentum), minibatch and starting point.
//
//   lowrank_mlp [--rounds 700] [--workers 8] [--batch 32] [--lr 0.1] [--eval-every 50]
//               [--threads 2] [--data-dir DIR] [--out results/lowrank_mlp]
//
// Output: progress on stderr; a table (test accuracy, bits and seconds) on stdout;
// OUT/curves.csv, OUT/summary.json, OUT/accuracy_vs_bits.png, OUT/accuracy_vs_time.png.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <commpress/commpress.hpp>
#include <commpress/experiment/csv.hpp>
#include <commpress/experiment/gnuplot.hpp>
#include <commpress/experiment/idx.hpp>
#include <commpress/experiment/mlp.hpp>
#include <commpress/experiment/progress.hpp>
#include <commpress/experiment/simulator.hpp>

namespace cp = commpress;
namespace ex = commpress::experiment;
namespace fb = commpress::feedback;
namespace lr = commpress::lowrank;

namespace {

struct settings {
    std::size_t rounds = 700, workers = 8, batch = 32, eval_every = 50;
    double lr = 0.1;
    unsigned threads = 2;
    std::string data_dir = "/usr/share/datasets/fashion-mnist", out = "results/lowrank_mlp";
};

struct arm {
    std::string label;
    std::vector<double> rounds, bits_up, bits_down, seconds, loss, accuracy;
    std::vector<float> x; ///< the last iterate
};

struct context {
    const settings& s;
    const ex::dataset& train;
    const ex::dataset& test;
    ex::mlp_shape shape;
    std::vector<float> x0;
    std::shared_ptr<cp::thread_team> team;
    ex::csv_writer& csv;
};

template <class M, class C, class Make>
arm run(std::string label, M method, Make make, const context& c) {
    const std::size_t n = c.s.workers, d = c.shape.dim(), shard = c.train.rows / n;
    std::vector<ex::mlp> parts;
    for (std::size_t i = 0; i < n; ++i)
        parts.emplace_back(c.train, ex::row_range{i * shard, shard}, c.shape, c.s.batch, 1000 + i);
    ex::mlp judge(c.test, {0, c.test.rows}, c.shape, 0, 0);
    ex::simulator<M, C> sim(method, make, d, n, {.team = c.team});
    std::vector<float> x = c.x0;
    arm a{std::move(label), {}, {}, {}, {}, {}, {}, {}};
    ex::progress bar(a.label, c.s.rounds);
    double seconds = 0, loss = 0;
    for (std::size_t r = 1; r <= c.s.rounds; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        const ex::round_record rec = sim.round(std::span(parts), std::span<float>(x));
        seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        loss += rec.loss / double(c.s.eval_every);
        if (r % c.s.eval_every == 0 || r == c.s.rounds) {
            const double acc = judge.accuracy(x, c.test);
            a.rounds.push_back(double(r));
            a.bits_up.push_back(rec.payload_bits_up);
            a.bits_down.push_back(rec.payload_bits_down);
            a.seconds.push_back(seconds);
            a.loss.push_back(loss);
            a.accuracy.push_back(acc);
            c.csv.row(a.label, r, seconds, rec.payload_bits_up, rec.payload_bits_down, loss, acc);
            loss = 0;
        }
        bar.update(r);
    }
    bar.finish();
    a.x = std::move(x);
    return a;
}

// alpha-hat = 1 - ||g - C(g)||^2 / ||g||^2: the contraction C achieves on g.
template <class C>
double measured_alpha(C c, std::span<const float> g) {
    std::vector<std::byte> msg(c.max_message_size(g.size()));
    std::vector<float> out(g.size());
    c.decompress(std::span<const std::byte>(msg.data(), c.compress(g, std::span(msg))),
                 std::span(out));
    double err = 0, norm = 0;
    for (std::size_t j = 0; j < g.size(); ++j) {
        err += (double(g[j]) - out[j]) * (double(g[j]) - out[j]);
        norm += double(g[j]) * g[j];
    }
    return 1 - err / norm;
}

// The contraction of the exact and randomized SVDs (rank 4) on worker 0's minibatch gradient at
// x, beside the worst case r / min(m, n) over the layout's matrices.
nlohmann::json alphas(const context& c, std::span<const float> x, const lr::layout& layout) {
    const std::size_t shard = c.train.rows / c.s.workers;
    ex::mlp part(c.train, {0, shard}, c.shape, c.s.batch, 1000);
    std::vector<float> g(x.size());
    part.loss_and_gradient(x, g);
    lr::rank_r exact({.rank = 4}, layout);
    nlohmann::json js = {{"nominal_alpha", exact.alpha(g.size())},
                         {"rank_r", measured_alpha(exact, g)}};
    for (const std::size_t q : {0u, 1u})
        js["randomized_svd_q" + std::to_string(q)] =
            measured_alpha(lr::randomized_svd({.rank = 4, .oversampling = 6, .power_iterations = q},
                                              layout, cp::seed{7}),
                           g);
    return js;
}

} // namespace

int main(int argc, char** argv) {
    settings s;
    CLI::App app{"PowerSGD, randomized SVD and top-k on an MLP on Fashion-MNIST"};
    app.add_option("--rounds", s.rounds, "rounds per arm");
    app.add_option("--workers", s.workers, "simulated workers");
    app.add_option("--batch", s.batch, "minibatch per worker and round");
    app.add_option("--lr", s.lr, "step size of every arm");
    app.add_option("--eval-every", s.eval_every, "rounds between test-set evaluations");
    app.add_option("--threads", s.threads, "threads of the simulator");
    app.add_option("--data-dir", s.data_dir, "folder with the Fashion-MNIST .gz files");
    app.add_option("--out", s.out, "output folder");
    CLI11_PARSE(app, argc, argv);
    try {
        const auto train = ex::load_fashion_mnist(s.data_dir, ex::fashion_split::train);
        const auto test = ex::load_fashion_mnist(s.data_dir, ex::fashion_split::test);
        std::filesystem::create_directories(s.out);
        ex::csv_writer csv(std::filesystem::path(s.out) / "curves.csv",
                           {"arm", "round", "seconds", "payload_bits_up", "payload_bits_down",
                            "train_loss", "test_accuracy"});
        const ex::mlp_shape shape;
        const lr::layout layout = shape.layout();
        const std::size_t d = shape.dim();
        context c{s,
                  train,
                  test,
                  shape,
                  shape.initial(42),
                  s.threads > 1 ? std::make_shared<cp::thread_team>(s.threads) : nullptr,
                  csv};

        // Top-k's k at PowerSGD rank 2's bits: k (32 + index bits) <= 32 (P and Q numbers).
        const std::size_t budget = lr::power_sgd({.rank = 2}, layout).bits();
        std::size_t k = 1;
        while (cp::recipes::top_k{{.k = k + 1}}.bits(d) <= budget)
            ++k;
        using top_k = cp::recipes::top_k;

        std::vector<arm> arms;
        arms.push_back(run<fb::dcgd, cp::recipes::fp32>(
            "SGD (binary32)", fb::dcgd{.gamma = s.lr},
            [](std::uint32_t i) {
                return cp::recipes::fp32{{}, {}, {}, cp::seed{7}, {.worker = i}};
            },
            c));
        for (const std::size_t r : {1u, 2u, 4u})
            arms.push_back(run<fb::ef14, lr::power_sgd>(
                "EF + PowerSGD r=" + std::to_string(r), fb::ef14{.gamma = s.lr},
                [&](std::uint32_t i) {
                    return lr::power_sgd({.rank = r}, layout, cp::seed{7}, {.worker = i});
                },
                c));
        arms.push_back(run<fb::ef21, lr::randomized_svd>(
            "EF21 + randomized SVD r=4", fb::ef21{.gamma = s.lr},
            [&](std::uint32_t i) {
                return lr::randomized_svd({.rank = 4, .oversampling = 6, .power_iterations = 1},
                                          layout, cp::seed{7}, {.worker = i});
            },
            c));
        arms.push_back(run<fb::ef14, top_k>(
            "EF + top-k (k=" + std::to_string(k) + ", r=2's bits)", fb::ef14{.gamma = s.lr},
            [&](std::uint32_t i) {
                return top_k{{.k = k}, {}, {}, cp::seed{7}, {.worker = i}};
            },
            c));
        csv.close();
        // The contraction on real gradients, at the start and at SGD's last iterate.
        const nlohmann::json alpha = {{"at_x0", alphas(c, c.x0, layout)},
                                      {"at_sgd_final", alphas(c, arms.front().x, layout)}};

        nlohmann::json js = {{"experiment", "lowrank_mlp"},
                             {"model", "784-256-10 ReLU MLP, softmax cross-entropy"},
                             {"d", d},
                             {"workers", s.workers},
                             {"batch", s.batch},
                             {"lr", s.lr},
                             {"rounds", s.rounds},
                             {"top_k_k", k},
                             {"alpha_rank4", alpha},
                             {"arms", nlohmann::json::array()}};
        ex::line_plot by_bits{.title = "MLP 784-256-10, Fashion-MNIST, " +
                                       std::to_string(s.workers) + " workers",
                              .x_label = "bits sent per worker (payload)",
                              .y_label = "test accuracy",
                              .log_x = true,
                              .log_y = false,
                              .lines = {}};
        ex::line_plot by_time = by_bits;
        by_time.x_label = "seconds (simulated rounds on this machine, no network)";
        by_time.log_x = false;
        std::printf("%-34s %9s %14s %14s %9s\n", "arm", "accuracy", "bits up/worker", "bits/step",
                    "seconds");
        for (const arm& a : arms) {
            by_bits.lines.push_back({a.label, a.bits_up, a.accuracy});
            by_time.lines.push_back({a.label, a.seconds, a.accuracy});
            const double per_step = a.bits_up.back() / a.rounds.back();
            std::printf("%-34s %8.2f%% %14.4g %14.4g %9.2f\n", a.label.c_str(),
                        100 * a.accuracy.back(), a.bits_up.back(), per_step, a.seconds.back());
            js["arms"].push_back({{"arm", a.label},
                                  {"test_accuracy", a.accuracy.back()},
                                  {"payload_bits_up", a.bits_up.back()},
                                  {"payload_bits_down", a.bits_down.back()},
                                  {"seconds", a.seconds.back()},
                                  {"train_loss_last", a.loss.back()}});
        }
        ex::plot_png(std::filesystem::path(s.out) / "accuracy_vs_bits.png", by_bits);
        ex::plot_png(std::filesystem::path(s.out) / "accuracy_vs_time.png", by_time);
        std::printf(
            "\ncontraction of rank 4 on a minibatch gradient (nominal r/min(m,n) = %.4f):\n%s\n",
            alpha["at_x0"]["nominal_alpha"].get<double>(), alpha.dump(2).c_str());
        std::ofstream(std::filesystem::path(s.out) / "summary.json") << js.dump(2) << '\n';
        std::fprintf(stderr, "wrote %s/{curves.csv,summary.json,accuracy_vs_*.png}\n",
                     s.out.c_str());
        return 0;
    } catch (const cp::error& e) {
        std::fprintf(stderr, "lowrank_mlp: %s\n", e.what());
        return 1;
    }
}
