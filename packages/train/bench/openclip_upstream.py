"""The start the bench scripts that time the real OpenCLIP 3.1.0 (ddp_step.py, openclip_anchor.py) share:
thread counts from T exported before torch loads, the unmodified upstream trees (UPSTREAM_DIR, i.e.
../shared/upstream) first on sys.path with torch 1.13's sdpa polyfill, the model named by a config file or
a name, and open_clip_train's AdamW parameter groups. Imported from the scripts' own folder.
"""
import os
import sys


def set_threads(blas_env=None):
    """The thread count from T (default 1), exported to OpenMP and OpenBLAS before torch loads; OpenBLAS takes the
    variable blas_env instead where it is given and set. Returns T as an int."""
    threads = os.environ.get('T', '1')
    os.environ['OMP_NUM_THREADS'] = threads
    os.environ['OPENBLAS_NUM_THREADS'] = os.environ.get(blas_env, threads) if blas_env else threads
    return int(threads)


def import_open_clip(upstream, threads):
    """open_clip from the upstream trees (pyshim, open_clip-3.1.0/src, timm-1.0.28) with the sdpa polyfill
    installed, torch set to `threads` threads. Returns (torch, open_clip)."""
    sys.path[:0] = [os.path.join(upstream, d) for d in ('pyshim', os.path.join('open_clip-3.1.0', 'src'), 'timm-1.0.28')]
    import torch
    import torch_compat
    torch_compat.install_sdpa_polyfill()
    import open_clip
    torch.set_num_threads(threads)
    return torch, open_clip


def model_config(open_clip, spec):
    """(name, config) of the model `spec` names: a CONFIG.json path (added to OpenCLIP's registry) or a model name."""
    if spec.endswith('.json'):
        open_clip.add_model_config(spec)
        name = os.path.basename(spec)[:-5]
    else:
        name = spec
    return name, open_clip.get_model_config(name)


def param_groups(model, weight_decay):
    """open_clip_train's AdamW groups: no decay for gains, biases, norms and logit_scale, `weight_decay` for the rest."""
    named = list(model.named_parameters())
    exclude = lambda n, p: p.ndim < 2 or 'bn' in n or 'ln' in n or 'bias' in n or 'logit_scale' in n  # noqa: E731
    return [{'params': [p for n, p in named if exclude(n, p)], 'weight_decay': 0.},
            {'params': [p for n, p in named if not exclude(n, p)], 'weight_decay': weight_decay}]
