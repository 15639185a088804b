#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Times GRACE's PowerSGD (sands-lab/grace, not a Debian package: pass a checkout) on the matrix
# bench_lowrank uses: one 4096 x 4096 binary32 tensor, rank 4, the PowerSGD memory, the
# Allreduce communicator over gloo with one process, one thread. A step is GRACE's
# Communicator.step: compensate (add the residual, draw Q), compress (P = M Q, all-reduce,
# orthogonalise, Q = M^T P, all-reduce), the memory update (decompress, residual) and
# send_receive (decompress). Needs python3-torch (Debian).
#
#   /usr/bin/python3 bench/grace_powersgd.py GRACE_CHECKOUT [--steps 20]   (Debian's python)
import argparse
import os
import statistics
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("grace", help="a checkout of https://github.com/sands-lab/grace")
parser.add_argument("--steps", type=int, default=20)
parser.add_argument("--rank", type=int, default=4)
parser.add_argument("--side", type=int, default=4096)
args = parser.parse_args()
sys.path.insert(0, args.grace)

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from grace_dl.dist.communicator.allreduce import Allreduce  # noqa: E402
from grace_dl.dist.compressor.powersgd import PowerSGDCompressor  # noqa: E402
from grace_dl.dist.memory.powersgd import PowerSGDMemory  # noqa: E402

torch.set_num_threads(1)
os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
os.environ.setdefault("MASTER_PORT", "29517")
dist.init_process_group("gloo", rank=0, world_size=1)
compressor = PowerSGDCompressor(rank=args.rank, use_memory=True, world_size=1)
memory = PowerSGDMemory(compressor.q_memory, compress_rank=args.rank)
grace = Allreduce(compressor, memory, world_size=1)

torch.manual_seed(0)
grad = torch.rand(args.side, args.side) * 2 - 1
times = []
for step in range(args.steps + 2):  # two warm-up steps
    tensor = grad.clone()  # the step adds the residual in place
    start = time.perf_counter()
    grace.step(tensor, "w")
    if step >= 2:
        times.append(time.perf_counter() - start)
print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
      f"{args.side}x{args.side} rank {args.rank}: median {1e3 * statistics.median(times):.1f} ms, "
      f"min {1e3 * min(times):.1f} ms over {len(times)} steps")
dist.destroy_process_group()
