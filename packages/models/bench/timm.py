#!/usr/bin/env python3
"""The real OpenCLIP 3.1.0 side of bench/timm.ts: builds MODEL with random weights
(open_clip.create_model, timm 1.0.28 tower), then answers one line per request on stdin:
"run" → encode_image of a fixed random batch under no_grad, timed; prints one JSON line.
Threads: T (torch intra-op and OpenBLAS, set by the caller's environment)."""
import json
import os
import resource
import sys
import time

import torch_compat

torch_compat.install_sdpa_polyfill()

import torch  # noqa: E402
import open_clip  # noqa: E402


def main(model_name, batch):
    threads = int(os.environ.get('T', '1'))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = open_clip.create_model(model_name, pretrained=None)
    model.eval()
    size = model.visual.image_size
    x = torch.randn(batch, 3, size[0], size[1])
    with torch.no_grad():
        model.encode_image(x)  # warm-up
    print(json.dumps({'ready': True, 'torch': torch.__version__, 'open_clip': open_clip.__version__, 'threads': threads,
                      'image_size': list(size)}), flush=True)
    for line in sys.stdin:
        if line.strip() != 'run':
            break
        t0 = time.perf_counter()
        c0 = time.process_time()
        with torch.no_grad():
            f = model.encode_image(x)
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
        rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({'wall_s': wall, 'cpu_s': cpu, 'peak_rss_mib': rss_mib, 'checksum': float(f.abs().sum())}), flush=True)


if __name__ == '__main__':
    main(sys.argv[1], int(sys.argv[2]))
