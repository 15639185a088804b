// SPDX-License-Identifier: MIT
// Catch's main inside MPI_Init / MPI_Finalize. Every rank runs every test case in the same order,
// so the collectives inside them match up; the tests use CHECK, never REQUIRE, so that a failure
// on one rank does not skip a collective the others are waiting in.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <mpi.h>

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    const int failed = Catch::Session().run(argc, argv);
    int any = 0; // every rank returns non-zero if one failed
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return any;
}
