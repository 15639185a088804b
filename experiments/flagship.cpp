// SPDX-License-Identifier: MIT
// The README's main job: EF21, EF-BV and DIANA against DCGD and uncompressed gradient descent on
// Fashion-MNIST T-shirt vs Shirt, each at its theoretical step, with every byte counted.
// L2-regularised logistic regression (lambda = 0.1), rows sorted by label over 20 workers (each
// worker sees mostly one class), x0 = 0:
// - GD: binary32 messages, step 1/L;
// - DCGD and DIANA: rand-k, 10%, independent per worker, DIANA's step 1/((1 + 6 omega/n) L);
// - EF-BV: the same rand-k with its lambda*, nu* and step (B.6);
// - EF21: top-k, 10%, its step 1/(L + L~ sqrt(beta/theta)) (B.4).
//
//   flagship [--rounds 3000] [--workers 20] [--target 1e-3] [--threads 2] [--data-dir DIR]
//            [--out results/flagship]
//
// Output: progress on stderr; a table (final ||grad f||^2, test accuracy, payload bits to the
// target) on stdout; OUT/curves.csv, OUT/summary.json, OUT/grad_vs_bits.png.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "problems.hpp"
#include "runner.hpp"

using namespace experiments;

namespace {
using rand_k = cp::pipeline<cp::sparsify::rand_k, cp::quantize::identity, cp::encode::raw>;
using top_k = cp::recipes::top_k;
using fp32 = cp::recipes::fp32;
} // namespace

int main(int argc, char** argv) {
    command_line cl;
    cl.run.max_rounds = 3000;
    cl.workers = 20;
    double lambda = 0.1;
    cl.target = 1e-3;
    cl.out = "results/flagship";
    CLI::App app{"EF21, EF-BV, DIANA, DCGD and GD on Fashion-MNIST (the main job)"};
    cl.add_to(app);
    CLI11_PARSE(app, argc, argv);
    auto& [o, workers, threads, target, data, out] = cl;
    try {
        if (!data.libsvm.empty())
            throw cp::error("--libsvm: the main job measures accuracy on Fashion-MNIST's test set; "
                            "use the other experiments for LIBSVM files");
        auto p = split(data.load(), workers, lambda, cpx::regulariser::l2, true);
        const auto test = cpx::load_fashion_mnist_binary(data.dir, cpx::fashion_split::test);
        const std::size_t d = p.dim();
        const double n = double(workers), L = p.sm.L;
        o.x0.assign(d, 0.0f);
        cl.prepare();
        auto csv = open_csv(cl.file("curves.csv"));

        const auto make_rand = [](std::uint32_t i) {
            return rand_k{
                {.ratio = 0.1, .independent = true}, {}, {}, cp::seed{7}, cp::stream{.worker = i}};
        };
        const auto make_top = [](std::uint32_t i) {
            return top_k{{.ratio = 0.1}, {}, {}, cp::seed{7}, cp::stream{.worker = i}};
        };
        const auto make_fp32 = [](std::uint32_t i) {
            return fp32{{}, {}, {}, cp::seed{7}, cp::stream{.worker = i}};
        };
        const double omega = make_rand(0).omega(d);
        const auto bv = fb::ef_bv_theory(0, omega, omega / n);
        std::vector<curve> curves;
        const auto parts = std::span(p.parts);
        curves.push_back(
            run<fb::dcgd, fp32>("GD (binary32)", fb::dcgd{}, 1 / L, make_fp32, parts, o, csv));
        curves.push_back(run<fb::dcgd, rand_k>("DCGD rand-k 10%", fb::dcgd{},
                                               fb::diana_gamma(omega, workers, L), make_rand, parts,
                                               o, csv));
        curves.push_back(run<fb::diana, rand_k>("DIANA rand-k 10%", fb::diana{},
                                                fb::diana_gamma(omega, workers, L), make_rand,
                                                parts, o, csv));
        curves.push_back(run<fb::ef_bv, rand_k>("EF-BV rand-k 10%", fb::ef_bv{}, bv.gamma(p.sm),
                                                make_rand, parts, o, csv));
        curves.push_back(run<fb::ef21, top_k>("EF21 top-k 10%", fb::ef21{},
                                              fb::ef21_gamma(make_top(0).alpha(d), p.sm), make_top,
                                              parts, o, csv));
        csv.close();

        auto js = summary(curves, target);
        js["experiment"] = "flagship";
        js["problem"] = {{"data", "Fashion-MNIST 0 vs 6, rows sorted by label"},
                         {"d", d},
                         {"workers", workers},
                         {"lambda", lambda},
                         {"L", L},
                         {"L_tilde", p.sm.L_tilde}};
        js["ef_bv"] = {{"lambda", bv.lambda}, {"nu", bv.nu}};
        plot(cl.file("grad_vs_bits.png"),
             "Fashion-MNIST T-shirt vs Shirt, " + std::to_string(workers) +
                 " heterogeneous workers, theory steps",
             curves);
        print_table(curves, target);
        std::printf("\ntest accuracy (%zu rows):", test.rows);
        for (std::size_t i = 0; i < curves.size(); ++i) {
            const double acc = cpx::accuracy(test, curves[i].x);
            js["arms"][i]["test_accuracy"] = acc;
            std::printf("%s %s %.2f%%", i ? "," : "", curves[i].label.c_str(), 100 * acc);
        }
        std::printf("\nEF-BV with rand-k: lambda* = %.4g, nu* = %.4g\n", bv.lambda, bv.nu);
        std::ofstream(cl.file("summary.json")) << js.dump(2) << '\n';
        std::fprintf(stderr, "wrote %s/{curves.csv,summary.json,grad_vs_bits.png}\n", out.c_str());
        return 0;
    } catch (const cp::error& e) {
        std::fprintf(stderr, "flagship: %s\n", e.what());
        return 1;
    }
}
