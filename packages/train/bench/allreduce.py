"""One rank of torch.distributed's gloo all-reduce, driven over stdin by bench/allreduce.ts
so that gloo and openclip-ts's transport run interleaved in one bench run.

usage: /usr/bin/python3 allreduce.py RANK WORLD PORT
stdin: one line per measurement, "MB REPEATS"; each rank answers one JSON line {"mb", "seconds": [...]}.
The tensor is float32, all-reduced in place with SUM (what DDP does before dividing), after one untimed
all-reduce of the whole tensor (a training step reduces the same buffer every step: the steady state is timed).
"""
import os, sys, json, time

os.environ.setdefault('OMP_NUM_THREADS', '1')
import torch
import torch.distributed as dist

torch.set_num_threads(1)
rank, world, port = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=world)
print(json.dumps({'ready': True}), flush=True)
for line in sys.stdin:
    if not line.strip():
        continue
    mb, repeats = line.split()
    mb, repeats = float(mb), int(repeats)
    n = int(mb * 1024 * 1024 / 4)
    data = torch.full((n,), float(rank + 1), dtype=torch.float32)
    dist.all_reduce(data)  # warm-up: first touch of the socket buffers and pages, untimed
    seconds = []
    for _ in range(repeats):
        data.fill_(float(rank + 1))
        dist.barrier()
        t0 = time.perf_counter()
        dist.all_reduce(data)
        seconds.append(time.perf_counter() - t0)
        want = world * (world + 1) / 2
        if data[-1].item() != want or data[0].item() != want:
            sys.exit(f'rank {rank}: wrong gloo all-reduce result')
    del data
    print(json.dumps({'mb': mb, 'seconds': seconds}), flush=True)
dist.destroy_process_group()
