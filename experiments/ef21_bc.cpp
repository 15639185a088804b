// SPDX-License-Identifier: MIT
// EF21-BC (OPERATORS.md B.5): EF21 with the broadcast compressed too, against EF21 broadcasting
// the model in binary32; ||grad f||^2 against the bits each worker sends and receives. The
// set-up of experiment 1 (nonconvex regulariser, lambda = 0.1, Fashion-MNIST T-shirt vs Shirt,
// rows sorted by label over 20 workers, x0 ~ N(0, I)); workers send top-k; the server top-k'.
// Every arm steps at EF21's theoretical step for the workers' alpha = k / d times a factor, as
// the authors' code does.
//
//   ef21_bc [--rounds 2000] [--workers 20] [--k 8] [--k-down 8,64] [--factor 1024]
//           [--target 0.1] [--threads 2] [--data-dir DIR | --libsvm FILE] [--out results/ef21_bc]
//
// Output: a table on stdout, OUT/curves.csv, OUT/summary.json, OUT/ef21_bc.png.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "problems.hpp"
#include "runner.hpp"

using namespace experiments;

int main(int argc, char** argv) {
    command_line cl;
    cl.run.max_rounds = 2000;
    cl.workers = 20;
    std::size_t k = 8;
    std::vector<std::size_t> k_down{8, 64};
    double factor = 1024, lambda = 0.1;
    cl.target = 0.1;
    cl.out = "results/ef21_bc";
    CLI::App app{"EF21-BC vs EF21: compressing the broadcast too (OPERATORS.md B.5)"};
    cl.add_to(app);
    app.add_option("--k", k, "the workers' top-k");
    app.add_option("--k-down", k_down, "the server's top-k' (one arm each)")->delimiter(',');
    app.add_option("--factor", factor, "multiple of EF21's theoretical step");
    CLI11_PARSE(app, argc, argv);
    auto& [o, workers, threads, target, data, out] = cl;
    try {
        auto p = split(data.load(), workers, lambda, cpx::regulariser::nonconvex,
                       /*heterogeneous=*/true);
        const std::size_t d = p.dim();
        o.x0 = gaussian_start(d, 1);
        cl.prepare();
        auto csv = open_csv(cl.file("curves.csv"));
        const auto top = [](std::size_t kk, std::uint32_t i) {
            return cp::recipes::top_k{{.k = kk}, {}, {}, cp::seed{7}, cp::stream{.worker = i}};
        };
        const auto make = [&](std::uint32_t i) { return top(k, i); };
        const double gamma =
            factor * fb::ef21_gamma(static_cast<double>(k) / static_cast<double>(d), p.sm);
        std::vector<curve> curves;
        curves.push_back(run<fb::ef21, cp::recipes::top_k>("EF21, x in binary32", fb::ef21{}, gamma,
                                                           make, std::span(p.parts), o, csv));
        for (const std::size_t kd : k_down) {
            using M = fb::ef21_bc<cp::recipes::top_k>;
            curves.push_back(run<M, cp::recipes::top_k>(
                "EF21-BC, top-" + std::to_string(kd) + " down", M{.down = top(kd, 0)}, gamma, make,
                std::span(p.parts), o, csv));
        }
        csv.close();
        auto js = summary(curves, target);
        js["experiment"] = "ef21_bc";
        js["k"] = k;
        js["gamma"] = gamma;
        std::ofstream(cl.file("summary.json")) << js.dump(2) << '\n';
        plot(cl.file("ef21_bc.png"),
             "EF21-BC vs EF21, top-" + std::to_string(k) + " up, x" + std::to_string(int(factor)) +
                 ", Fashion-MNIST, " + std::to_string(workers) + " workers",
             curves, /*both_directions=*/true);
        print_table(curves, target);
        return 0;
    } catch (const cp::error& e) {
        std::fprintf(stderr, "ef21_bc: %s\n", e.what());
        return 1;
    }
}
