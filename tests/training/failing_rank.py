"""A stand-in for the worker module whose rank 1 exits with status 3 while rank 0 waits for it.

Rank 0 joins the gloo process group, which blocks until every rank has joined: only the launcher
killing it when rank 1 dies lets it end, so a launcher that waited on its ranks one by one would hang
the test instead of failing it.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta

if __name__ == "__main__":
    if os.environ["RANK"] == "1":
        print("rank 1: exiting with status 3", flush=True)
        sys.exit(3)
    import torch.distributed as dist

    dist.init_process_group("gloo", timeout=timedelta(minutes=10))
    dist.barrier()
    print("rank 0: every rank joined", flush=True)
