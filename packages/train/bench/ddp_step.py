"""Real OpenCLIP 3.1.0 (from ../shared/upstream) data-parallel training step under torch DDP with the
gloo backend, as open_clip_train runs it with --local-loss --gather-with-grad on CPU: the model
wrapped in DistributedDataParallel, ClipLoss gathering features with gradient, AdamW with
open_clip_train's parameter groups, logit-scale clamp. Random batches; one thread per process.
With WORLD 1 it is the same step without DDP (the one-process baseline).

usage: T=1 /usr/bin/python3 ddp_step.py UPSTREAM_DIR CONFIG.json|MODEL RANK WORLD PORT BATCH STEPS
prints (rank 0) one JSON line: {"step_ms", "samples_per_s"} (samples/s over all ranks)
"""
import os, sys, json, time, statistics

threads = os.environ.get('T', '1')
os.environ['OMP_NUM_THREADS'] = threads
os.environ['OPENBLAS_NUM_THREADS'] = threads
upstream, spec = sys.argv[1], sys.argv[2]
rank, world, port, batch, steps = (int(a) for a in sys.argv[3:8])
sys.path[:0] = [os.path.join(upstream, d) for d in ('pyshim', os.path.join('open_clip-3.1.0', 'src'), 'timm-1.0.28')]
import torch
import torch.distributed as dist
import torch_compat
torch_compat.install_sdpa_polyfill()
import open_clip
from open_clip.loss import ClipLoss

torch.set_num_threads(int(threads))
if world > 1:
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=world)
if spec.endswith('.json'):
    open_clip.add_model_config(spec)
    name = os.path.basename(spec)[:-5]
else:
    name = spec
cfg = open_clip.get_model_config(name)
torch.manual_seed(0)
model = open_clip.create_model(name, output_dict=True)
model.train()
decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and 'bn' not in n and 'ln' not in n and 'bias' not in n and 'logit_scale' not in n]
rest = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and 'bn' not in n and 'ln' not in n and 'bias' not in n and 'logit_scale' not in n)]
opt = torch.optim.AdamW([{'params': rest, 'weight_decay': 0.}, {'params': decay, 'weight_decay': 0.2}], lr=1e-4, betas=(0.9, 0.98), eps=1e-6)
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
