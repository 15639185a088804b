// SPDX-License-Identifier: MIT
// DCGD on Fashion-MNIST T-shirt vs Shirt with every shipped recipe: loss and ||grad f||^2 against
// the bits each worker sends.
//
// Distributed compressed gradient descent (OPERATORS.md B.1): n in-process workers each hold a
// contiguous block of the rows; at every iteration worker i compresses grad f_i(x) into its own
// preallocated buffer, the server decompress_adds every message into the aggregate with weight
// 1/n, and x <- x - gamma * aggregate. Every byte of every message (header included) is counted.
//
//   dcgd_fashion_mnist [--iterations 300] [--workers 20] [--lambda 1e-3] [--heterogeneous]
//                      [--data-dir /usr/share/datasets/fashion-mnist] [--out results/dcgd]
//
// Output: progress on stderr, a summary table on stdout, OUT/dcgd.csv (one row per recipe and
// iteration), OUT/summary.json, OUT/loss_vs_bits.png and OUT/grad_vs_bits.png.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <commpress/commpress.hpp>
#include <commpress/experiment/csv.hpp>
#include <commpress/experiment/gnuplot.hpp>
#include <commpress/experiment/idx.hpp>
#include <commpress/experiment/logistic_regression.hpp>
#include <commpress/experiment/progress.hpp>
#include <commpress/recipes.hpp>

namespace cp = commpress;
namespace ex = commpress::experiment;

namespace {

struct options {
    std::size_t iterations = 300;
    std::size_t workers = 20;
    double lambda = 1e-3;
    bool heterogeneous = false;
    std::string data_dir = "/usr/share/datasets/fashion-mnist";
    std::string out = "results/dcgd";
    std::uint64_t seed = 42;
};

/// One entry of the experiment: a pipeline type (the template argument), a label for the table
/// and plots, and the parameters of its three stages.
template <class P>
struct recipe {
    using pipeline_type = P;
    std::string_view label;
    typename P::sparsifier_type sparsify{};
    typename P::quantizer_type quantize{};
    typename P::encoder_type encode{};

    P make(cp::seed sd, cp::stream st) const { return P{sparsify, quantize, encode, sd, st}; }

    /// Whether all workers draw the same random set (rand_k's default shared stream). Their
    /// compression errors are then one and the same, so averaging over n workers does not
    /// shrink the variance: omega_av = omega instead of omega / n (OPERATORS.md conventions).
    bool shared_randomness() const noexcept {
        if constexpr (requires { sparsify.independent; })
            return !sparsify.independent;
        else
            return false;
    }
};

/// The experiment, fixed at compile time: a tuple of recipe entries whose types name their
/// pipelines. Adding a recipe is adding a line here.
auto all_recipes() {
    namespace r = cp::recipes;
    return std::tuple{
        recipe<r::fp32>{.label = "fp32"},
        recipe<r::bf16>{.label = "bf16"},
        recipe<r::fp16>{.label = "fp16"},
        recipe<r::top_k>{.label = "top_k 10%", .sparsify = {.ratio = 0.1}},
        recipe<r::rand_k>{.label = "rand_k 10% shared", .sparsify = {.ratio = 0.1}},
        recipe<r::rand_k>{.label = "rand_k 10% independent",
                          .sparsify = {.ratio = 0.1, .independent = true}},
        recipe<r::qsgd>{.label = "qsgd s=16 elias", .quantize = {.levels = 16}},
        recipe<r::qsgd_packed>{.label = "qsgd s=4 bitpack", .quantize = {.levels = 4}},
        recipe<r::scaled_sign>{.label = "scaled_sign"},
        recipe<r::topk_qsgd>{.label = "top_k 1% + qsgd s=16",
                             .sparsify = {.ratio = 0.01},
                             .quantize = {.levels = 16}},
    };
}

/// The distributed problem: f = (1/n) sum_i f_i, f_i the logistic loss on worker i's rows.
struct problem {
    const ex::dataset* test = nullptr;
    std::vector<ex::logistic_regression> workers;
    std::size_t d = 0;
    double L = 0;     // smoothness of f (global lambda_max): sets the step
    double L_max = 0; // max_i L_i, reported for comparison
};

struct run_result {
    std::string label;
    std::string describe;
    bool unbiased = false;
    std::string constant_name; // "omega", "alpha", or empty when the theory gives neither
    double constant = 0;
    double step = 0;
    double bits_per_worker = 0;
    double bits_per_element_iteration = 0;
    double final_loss = 0;
    double final_grad_norm_sq = 0;
    double test_accuracy = 0;
    std::size_t iterations_run = 0;
    bool diverged = false;
    double seconds = 0;
    std::vector<double> curve_bits, curve_loss, curve_grad;
};

/// Runs DCGD with pipeline P from x0 = 0 and records one CSV row per iteration.
template <class P>
run_result run(const recipe<P>& r, problem& pb, const options& o, ex::csv_writer& csv) {
    const auto start = std::chrono::steady_clock::now();
    const std::size_t n = pb.workers.size(), d = pb.d;

    // Worker i draws private randomness from stream i; one server object decodes everyone's
    // messages (the sender's stream and step travel in the header).
    std::vector<P> compressors;
    compressors.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        compressors.push_back(
            r.make(cp::seed{o.seed}, cp::stream{.worker = static_cast<std::uint32_t>(i)}));
    P server = r.make(cp::seed{o.seed}, cp::stream{});

    run_result res;
    res.label = std::string(r.label);
    res.describe = server.describe();
    res.unbiased = P::unbiased;
    // Step. Biased and deterministic operators: gamma = 1/L, the gradient-descent step. Unbiased
    // ones: DCGD's step is of order 1/((1 + omega/n) L) (OPERATORS.md B.1; the exact constant is
    // unverified there), since E||(1/n) sum_i C_i(g_i)||^2 <= ||grad f||^2 + (omega/n^2) sum_i
    // ||g_i||^2 for independent C_i. We take gamma = 1/((1 + omega_av) L) with omega_av = omega/n
    // for independent randomness and omega_av = omega when every worker draws the same set.
    res.step = 1.0 / pb.L;
    if constexpr (P::unbiased && requires { server.omega(d); }) {
        res.constant_name = "omega";
        res.constant = server.omega(d);
        const double omega_av =
            r.shared_randomness() ? res.constant : res.constant / static_cast<double>(n);
        res.step = 1.0 / ((1.0 + omega_av) * pb.L);
    } else if constexpr (requires { server.alpha(d); }) {
        res.constant_name = "alpha";
        res.constant = server.alpha(d);
    }
    const auto gamma = static_cast<float>(res.step);

    // Everything the loop touches is allocated here, once.
    std::vector<float> x(d, 0.0f), aggregate(d);
    std::vector<std::vector<float>> grads(n, std::vector<float>(d));
    std::vector<std::vector<std::byte>> buffers(n);
    for (std::size_t i = 0; i < n; ++i)
        buffers[i].resize(compressors[i].max_message_size(d));
    std::vector<double> full_grad(d);

    // f(x) and ||grad f(x)||^2, leaving each worker's gradient in grads[i].
    auto evaluate = [&]() {
        double loss = 0;
        std::fill(full_grad.begin(), full_grad.end(), 0.0);
        for (std::size_t i = 0; i < n; ++i) {
            loss += pb.workers[i].loss_and_gradient(x, grads[i]);
            for (std::size_t k = 0; k < d; ++k)
                full_grad[k] += grads[i][k];
        }
        double g2 = 0;
        for (double v : full_grad)
            g2 += (v / static_cast<double>(n)) * (v / static_cast<double>(n));
        return std::pair{loss / static_cast<double>(n), g2};
    };
    std::uint64_t bytes_sent = 0; // all workers, all iterations
    auto record = [&](std::size_t t, double loss, double g2, bool with_accuracy) {
        const double bits = 8.0 * static_cast<double>(bytes_sent) / static_cast<double>(n);
        std::optional<double> acc;
        if (with_accuracy)
            acc = ex::accuracy(*pb.test, x);
        csv.row(res.label, t, bits, loss, g2, acc);
        res.curve_bits.push_back(bits);
        res.curve_loss.push_back(loss);
        res.curve_grad.push_back(g2);
        res.bits_per_worker = bits;
        res.final_loss = loss;
        res.final_grad_norm_sq = g2;
        if (acc)
            res.test_accuracy = *acc;
    };

    ex::progress bar(res.label, o.iterations);
    const float weight = 1.0f / static_cast<float>(n);
    std::size_t t = 0;
    for (; t < o.iterations; ++t) {
        const auto [loss, g2] = evaluate();
        if (!std::isfinite(loss) || !std::isfinite(g2)) {
            res.diverged = true;
            break;
        }
        record(t, loss, g2, t % 10 == 0);
        std::fill(aggregate.begin(), aggregate.end(), 0.0f);
        for (std::size_t i = 0; i < n; ++i) {
            const std::size_t used =
                compressors[i].compress(std::span<const float>(grads[i]), std::span(buffers[i]));
            bytes_sent += used;
            server.decompress_add(std::span<const std::byte>(buffers[i].data(), used),
                                  std::span<float>(aggregate), weight);
        }
        for (std::size_t k = 0; k < d; ++k)
            x[k] -= gamma * aggregate[k];
        bar.update(t + 1);
    }
    bar.finish();
    res.iterations_run = t;
    if (!res.diverged) {
        const auto [loss, g2] = evaluate();
        res.diverged = !std::isfinite(loss) || !std::isfinite(g2);
        record(t, loss, g2, true);
    }
    res.bits_per_element_iteration =
        t == 0 ? 0.0 : res.bits_per_worker / (static_cast<double>(d) * static_cast<double>(t));
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return res;
}

void print_table(const std::vector<run_result>& results) {
    std::printf("%-24s %-8s %-22s %12s %10s %12s %12s %9s\n", "recipe", "unbiased",
                "omega/alpha at d", "Mbit/worker", "bits/el/it", "final loss", "||grad f||^2",
                "test acc");
    for (const auto& r : results) {
        char constant[32] = "-";
        if (!r.constant_name.empty())
            std::snprintf(constant, sizeof constant, "%s=%.9g", r.constant_name.c_str(),
                          r.constant);
        std::printf("%-24s %-8s %-22s %12.3f %10.3f %12.6f %12.3e %8.2f%%%s\n", r.label.c_str(),
                    r.unbiased ? "yes" : "no", constant, r.bits_per_worker / 1e6,
                    r.bits_per_element_iteration, r.final_loss, r.final_grad_norm_sq,
                    100.0 * r.test_accuracy, r.diverged ? "  (diverged)" : "");
    }
}

nlohmann::json to_json(const run_result& r) {
    nlohmann::json j = {{"recipe", r.label},
                        {"pipeline", r.describe},
                        {"unbiased", r.unbiased},
                        {"step", r.step},
                        {"iterations", r.iterations_run},
                        {"diverged", r.diverged},
                        {"bits_per_worker", r.bits_per_worker},
                        {"bits_per_element_per_iteration", r.bits_per_element_iteration},
                        {"final_loss", r.final_loss},
                        {"final_grad_norm_sq", r.final_grad_norm_sq},
                        {"test_accuracy", r.test_accuracy},
                        {"seconds", r.seconds}};
    if (!r.constant_name.empty())
        j[r.constant_name] = r.constant;
    return j;
}

void plot(const std::filesystem::path& png, const std::vector<run_result>& results, bool grad) {
    ex::line_plot p{.title = grad ? "DCGD, Fashion-MNIST T-shirt vs Shirt: squared gradient norm"
                                  : "DCGD, Fashion-MNIST T-shirt vs Shirt: training loss",
                    .x_label = "bits sent per worker",
                    .y_label = grad ? "||grad f(x)||^2" : "f(x)",
                    .log_x = true,
                    .log_y = grad,
                    .lines = {}};
    for (const auto& r : results)
        p.lines.push_back({r.label, r.curve_bits, grad ? r.curve_grad : r.curve_loss});
    ex::plot_png(png, p);
}

int run_all(const options& o) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::filesystem::path out = o.out;
    std::filesystem::create_directories(out);

    if (!std::filesystem::is_directory(o.data_dir))
        throw cp::error("no data folder '" + o.data_dir +
                        "': apt-get install dataset-fashion-mnist, or pass --data-dir");
    ex::dataset train = ex::load_fashion_mnist_binary(o.data_dir, ex::fashion_split::train);
    const ex::dataset test = ex::load_fashion_mnist_binary(o.data_dir, ex::fashion_split::test);
    if (o.heterogeneous)
        ex::sort_rows_by_label(train);

    problem pb;
    pb.test = &test;
    pb.d = train.cols;
    for (const auto& part : ex::split_rows(train.rows, o.workers))
        pb.workers.emplace_back(train, part, o.lambda);
    // The step uses the smoothness of f itself (power iteration on the average of the workers'
    // A_i^T A_i / (4 N_i)): it is <= max_i L_i and is what gradient descent on f needs.
    pb.L = ex::smoothness(pb.workers);
    for (const auto& w : pb.workers)
        pb.L_max = std::max(pb.L_max, w.smoothness());
    std::fprintf(stderr,
                 "data: %zu train rows, %zu test rows, d = %zu, %zu workers (%s split); "
                 "L = %.6g (global), max_i L_i = %.6g\n",
                 train.rows, test.rows, pb.d, o.workers,
                 o.heterogeneous ? "sorted by label" : "file order", pb.L, pb.L_max);

    ex::csv_writer csv(out / "dcgd.csv", {"recipe", "iteration", "bits_per_worker", "loss",
                                          "grad_norm_sq", "test_accuracy"});
    std::vector<run_result> results;
    // A fold over the tuple instantiates run<P> for each entry's pipeline type, in order.
    std::apply([&](const auto&... r) { (results.push_back(run(r, pb, o, csv)), ...); },
               all_recipes());
    csv.close();

    print_table(results);

    nlohmann::json summary = {
        {"problem",
         {{"data", "Fashion-MNIST classes 0 (T-shirt, +1) vs 6 (Shirt, -1), pixels/255 + bias"},
          {"data_dir", o.data_dir},
          {"train_rows", train.rows},
          {"test_rows", test.rows},
          {"d", pb.d},
          {"workers", o.workers},
          {"split",
           o.heterogeneous ? "contiguous, rows sorted by label" : "contiguous, file order"},
          {"lambda", o.lambda},
          {"iterations", o.iterations},
          {"seed", o.seed},
          {"L", pb.L},
          {"L_max", pb.L_max},
          {"step_rule", "1/L if biased; 1/((1 + omega_av) L) if unbiased, omega_av = omega/n "
                        "(independent randomness) or omega (shared)"}}},
        {"recipes", nlohmann::json::array()}};
    for (const auto& r : results)
        summary["recipes"].push_back(to_json(r));
    std::ofstream(out / "summary.json") << summary.dump(2) << '\n';

    plot(out / "loss_vs_bits.png", results, false);
    plot(out / "grad_vs_bits.png", results, true);
    std::fprintf(stderr,
                 "wrote %s/{dcgd.csv,summary.json,loss_vs_bits.png,grad_vs_bits.png} in %.1f s\n",
                 out.string().c_str(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    options o;
    CLI::App app{"DCGD on Fashion-MNIST T-shirt vs Shirt with every commpress recipe"};
    app.add_option("--iterations", o.iterations, "DCGD iterations per recipe")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30));
    app.add_option("--workers", o.workers, "number of in-process workers")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30));
    app.add_option("--lambda", o.lambda, "L2 regularisation lambda")->check(CLI::NonNegativeNumber);
    app.add_flag("--heterogeneous", o.heterogeneous,
                 "sort rows by label before the contiguous split");
    app.add_option("--data-dir", o.data_dir, "folder with the Fashion-MNIST .gz files");
    app.add_option("--out", o.out, "output folder");
    app.add_option("--seed", o.seed, "root seed of every compressor");
    CLI11_PARSE(app, argc, argv);
    try {
        return run_all(o);
    } catch (const cp::error& e) {
        std::fprintf(stderr, "dcgd_fashion_mnist: %s\n", e.what());
        return 1;
    } catch (const std::filesystem::filesystem_error& e) {
        std::fprintf(stderr, "dcgd_fashion_mnist: %s\n", e.what());
        return 1;
    }
}
