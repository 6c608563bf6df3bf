"""Real OpenCLIP 3.1.0 (from ../shared/upstream) data-parallel training step under torch DDP with the
gloo backend, as open_clip_train runs it with --local-loss --gather-with-grad on CPU: the model
wrapped in DistributedDataParallel, ClipLoss gathering features with gradient, AdamW with
open_clip_train's parameter groups, logit-scale clamp. Random batches; one thread per process.
With WORLD 1 it is the same step without DDP (the one-process baseline).

usage: T=1 /usr/bin/python3 ddp_step.py UPSTREAM_DIR CONFIG.json|MODEL RANK WORLD PORT BATCH STEPS
prints (rank 0) one JSON line: {"step_ms", "samples_per_s"} (samples/s over all ranks)
"""
import sys, json, time, statistics

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from openclip_upstream import set_threads, import_open_clip, model_config, param_groups  # noqa: E402

threads = set_threads()
upstream, spec = sys.argv[1], sys.argv[2]
rank, world, port, batch, steps = (int(a) for a in sys.argv[3:8])
torch, open_clip = import_open_clip(upstream, threads)
import torch.distributed as dist  # noqa: E402
from open_clip.loss import ClipLoss  # noqa: E402

if world > 1:
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=world)
name, cfg = model_config(open_clip, spec)
torch.manual_seed(0)
model = open_clip.create_model(name, output_dict=True)
model.train()
opt = torch.optim.AdamW(param_groups(model, 0.2), lr=1e-4, betas=(0.9, 0.98), eps=1e-6)
ddp = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
loss = ClipLoss(local_loss=True, gather_with_grad=True, rank=rank, world_size=world)
s = cfg['vision_cfg']['image_size']
ctx = cfg['text_cfg'].get('context_length', 77)
g = torch.Generator().manual_seed(100 + rank)
times = []
for i in range(steps + 3):
    x = torch.randn(batch, 3, s, s, generator=g)
    t = torch.randint(1, 49000, (batch, ctx), generator=g)
    e = min(20, ctx - 1)  # end of text (shorter contexts: the last position)
    t[:, 0] = 49406; t[:, e] = 49407; t[:, e + 1:] = 0
    t0 = time.perf_counter()
    opt.zero_grad()
    out = ddp(x, t)
    l = loss(out['image_features'], out['text_features'], out['logit_scale'])
    l.backward()
    opt.step()
    with torch.no_grad():
        model.logit_scale.clamp_(0, 4.6052)
    if i >= 3:
        times.append(time.perf_counter() - t0)
if rank == 0:
    m = statistics.median(times)
    print(json.dumps({'step_ms': m * 1000, 'samples_per_s': batch * world / m}), flush=True)
if world > 1:
    dist.destroy_process_group()
