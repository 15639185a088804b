// SPDX-License-Identifier: MIT
// MPI_Init before Catch's main (Catch2WithMain) and MPI_Finalize after it. Every rank runs every
// test case in the same order, so the collectives inside them match up; the tests use CHECK,
// never REQUIRE, so that a failure on one rank does not skip a collective the others wait in.
// mpirun fails the run if any rank returns non-zero.
#include <mpi.h>

namespace {
struct mpi_session {
    mpi_session() { MPI_Init(nullptr, nullptr); }
    ~mpi_session() { MPI_Finalize(); }
    mpi_session(const mpi_session&) = delete;
    mpi_session& operator=(const mpi_session&) = delete;
} session;
} // namespace
