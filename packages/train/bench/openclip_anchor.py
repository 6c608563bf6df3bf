"""Real OpenCLIP 3.1.0 (from ../shared/upstream) timed in the modes the shared anchor script
(openclip_train_step.py) does not cover: a training step with SigLipLoss (model built with
init_logit_bias -10 and init_logit_scale log(10), as open_clip_train's --siglip does), and
inference (encode_image / encode_text, normalised, under torch.no_grad in eval mode).

usage: T=THREADS [BLAS_T=THREADS] /usr/bin/python3 openclip_anchor.py UPSTREAM_DIR CONFIG.json|MODEL BATCH STEPS siglip|image|text
prints one JSON line: {"median_s", "samples_per_s", "peak_rss_mb"} (the anchor's format)
"""
import sys, json, time, math, statistics, resource

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from openclip_upstream import set_threads, import_open_clip, model_config, param_groups  # noqa: E402

threads = set_threads(blas_env='BLAS_T')
upstream, spec, batch, steps, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
torch, open_clip = import_open_clip(upstream, threads)
from open_clip.loss import SigLipLoss  # noqa: E402

name, cfg = model_config(open_clip, spec)
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
    opt = torch.optim.AdamW(param_groups(model, 0.2), lr=1e-3, betas=(0.9, 0.98), eps=1e-6)
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
