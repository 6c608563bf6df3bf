"""Real OpenCLIP 3.1.0 (from ../shared/upstream) timed in the modes the shared anchor script
(openclip_train_step.py) does not cover: a training step with SigLipLoss (model built with
init_logit_bias -10 and init_logit_scale log(10), as open_clip_train's --siglip does), and
inference (encode_image / encode_text, normalised, under torch.no_grad in eval mode).

usage: T=THREADS [BLAS_T=THREADS] /usr/bin/python3 openclip_anchor.py UPSTREAM_DIR CONFIG.json|MODEL BATCH STEPS siglip|image|text
prints one JSON line: {"median_s", "samples_per_s", "peak_rss_mb"} (the anchor's format)
"""
import os, sys, json, time, math, statistics, resource

threads = os.environ.get('T', '1')
os.environ['OMP_NUM_THREADS'] = threads
os.environ['OPENBLAS_NUM_THREADS'] = os.environ.get('BLAS_T', threads)
upstream, spec, batch, steps, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
sys.path[:0] = [os.path.join(upstream, d) for d in ('pyshim', os.path.join('open_clip-3.1.0', 'src'), 'timm-1.0.28')]
import torch
import torch_compat
torch_compat.install_sdpa_polyfill()
import open_clip
from open_clip.loss import SigLipLoss

torch.set_num_threads(int(threads))
if spec.endswith('.json'):
    open_clip.add_model_config(spec)
    name = os.path.basename(spec)[:-5]
else:
    name = spec
cfg = open_clip.get_model_config(name)
torch.manual_seed(0)
kwargs = {'init_logit_bias': -10.0, 'init_logit_scale': math.log(10)} if mode == 'siglip' else {}
model = open_clip.create_model(name, output_dict=True, **kwargs)
size = cfg['vision_cfg']['image_size']
size = size if isinstance(size, (list, tuple)) else (size, size)
ctx = cfg['text_cfg'].get('context_length', 77)
images = torch.randn(batch, 3, size[0], size[1])
tokens = torch.randint(1, 49405, (batch, ctx))
tokens[:, 0] = 49406
if ctx > 20:
    tokens[:, 20] = 49407
    tokens[:, 21:] = 0

if mode == 'siglip':
    model.train()
    named = list(model.named_parameters())
    exclude = lambda n, p: p.ndim < 2 or 'bn' in n or 'ln' in n or 'bias' in n or 'logit_scale' in n
    opt = torch.optim.AdamW([{'params': [p for n, p in named if exclude(n, p)], 'weight_decay': 0.},
                             {'params': [p for n, p in named if not exclude(n, p)], 'weight_decay': 0.2}],
                            lr=1e-3, betas=(0.9, 0.98), eps=1e-6)
    loss = SigLipLoss()

    def run():
        opt.zero_grad()
        out = model(images, tokens)
        l = loss(out['image_features'], out['text_features'], out['logit_scale'], out['logit_bias'])
        l.backward()
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
elif mode in ('image', 'text'):
    model.eval()

    def run():
        with torch.no_grad():
            f = model.encode_image(images, normalize=True) if mode == 'image' else model.encode_text(tokens, normalize=True)
            f.sum().item()
else:
    sys.exit(f'unknown mode {mode!r} (siglip, image, text)')

times = []
for i in range(steps + 2):
    t0 = time.perf_counter()
    run()
    if i >= 2:
        times.append(time.perf_counter() - t0)
med = statistics.median(times)
print(json.dumps({'median_s': med, 'samples_per_s': batch / med,
                  'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
