#!/usr/bin/env python3
"""Real-size timm vision towers of OpenCLIP 3.1.0 + timm 1.0.28 with random weights, for the
TypeScript parity test (timm-realsize.test.ts). Builds each model's vision tower exactly as
OpenCLIP's _build_vision_tower does, moves every parameter (and BatchNorm statistic) off its init value, and writes
<out>/<model>.visual.safetensors (keys under visual.*) and <out>/<model>.io.safetensors
(pixels + image features).

    PYTHONPATH=$U/pyshim:$U/open_clip-3.1.0/src:$U/timm-1.0.28 python3 timm_realsize_upstream.py OUT MODEL...
"""
import json
import os
import sys

import torch_compat

torch_compat.install_sdpa_polyfill()

import torch  # noqa: E402
import open_clip  # noqa: E402
from open_clip.model import CLIPVisionCfg, _build_vision_tower  # noqa: E402
from safetensors.torch import save_file  # noqa: E402


def main(out_dir, names):
    torch.set_num_threads(int(os.environ.get('T', '1')))
    report = {}
    for i, name in enumerate(names):
        cfg = open_clip.get_model_config(name)
        torch.manual_seed(100 + i)
        gen = torch.Generator().manual_seed(200 + i)
        visual = _build_vision_tower(cfg['embed_dim'], CLIPVisionCfg(**cfg['vision_cfg']))
        with torch.no_grad():
            for p in visual.parameters():
                p.add_(torch.randn(p.shape, generator=gen) * 0.02)
            for m in visual.modules():  # BatchNorm running statistics off their init too (FastViT)
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.add_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
                    m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
        visual.eval()
        size = cfg['vision_cfg']['image_size']
        pixels = torch.randn(2, 3, size, size, generator=gen)
        with torch.no_grad():
            feats = visual(pixels)
        state = {f'visual.{k}': v.contiguous() for k, v in visual.state_dict().items()}
        save_file(state, os.path.join(out_dir, f'{name}.visual.safetensors'))
        save_file({'pixels': pixels, 'image_features': feats.contiguous()}, os.path.join(out_dir, f'{name}.io.safetensors'))
        report[name] = {'n_params': sum(p.numel() for p in visual.parameters()), 'keys': len(state)}
    print(json.dumps(report))


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2:])
