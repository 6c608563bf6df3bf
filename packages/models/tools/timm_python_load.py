#!/usr/bin/env python3
"""Loads checkpoints written by openclip-ts for the timm-tower fixture cases into the real OpenCLIP
3.1.0 + timm 1.0.28 (strict load_state_dict) and prints their image features, so the TypeScript test
(timm-python-load.test.ts) can check that what it trained loads and computes the same in Python.

    PYTHONPATH=$U/pyshim:$U/open_clip-3.1.0/src:$U/timm-1.0.28 python3 timm_python_load.py CASES.json

CASES.json: [{"name", "config", "weights", "pixels", "generator"}]; each case's generator (a fixture
generator under tools/fixtures/) is imported for its timm registrations of the tiny architectures and
its `build`. Prints one JSON object.
"""
import importlib.util
import json
import sys

import torch_compat

torch_compat.install_sdpa_polyfill()

import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402


def load_generator(path, loaded):
    if path not in loaded:
        name = f'timm_fixtures_{len(loaded)}'
        spec = importlib.util.spec_from_file_location(name, path)
        gen = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = gen  # timm's register_model looks the module up
        spec.loader.exec_module(gen)  # registers the tiny timm architectures
        loaded[path] = gen
    return loaded[path]


def main(cases_file):
    sys.dont_write_bytecode = True  # leave no __pycache__ beside the generators
    torch.set_num_threads(1)
    out = {}
    loaded = {}
    for case in json.load(open(cases_file)):
        gen = load_generator(case['generator'], loaded)
        with open(case['config']) as f:
            cfg = json.load(f)
        model = gen.build(cfg)
        state = load_file(case['weights'])
        result = model.load_state_dict(state, strict=True)
        model.eval()
        pixels = load_file(case['pixels'])['pixels']
        with torch.no_grad():
            feats = model.encode_image(pixels)
        out[case['name']] = {
            'missing': list(result.missing_keys), 'unexpected': list(result.unexpected_keys),
            'image_features': feats.flatten().tolist(),
        }
    print(json.dumps(out))


if __name__ == '__main__':
    main(sys.argv[1])
