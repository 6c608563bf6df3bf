"""Reads a model folder the way OpenCLIP 3.1.0's `create_model_and_transforms('local-dir:<folder>')`
does, without OpenCLIP itself (it cannot be installed here), and compares what it would build and
load with a reference that real OpenCLIP 3.1.0 produced.

For each case it checks, in the order OpenCLIP's factory works:
  1. the folder has `open_clip_config.json` with a `model_cfg` (else OpenCLIP raises);
  2. the checkpoint OpenCLIP's directory search would pick (safetensors first, then its preferred
     file names) is `open_clip_model.safetensors`;
  3. `preprocess_cfg` survives OpenCLIP's filter (only PreprocessCfg fields are kept) with valid
     values, and its size equals the vision tower's image size;
  4. the model class OpenCLIP picks (CLIP / CustomTextCLIP / CoCa, from `custom_text`,
     `multimodal_cfg`, `hf_model_name`) and that every top-level key is a keyword argument of that
     class's constructor, and every `vision_cfg` / `text_cfg` / `multimodal_cfg` key a field of the
     3.1.0 dataclass (any other key is a TypeError in Python);
  5. that config, with the 3.1.0 dataclass defaults filled in, equals the reference model config
     (the one real OpenCLIP built the reference state dict from), resolved the same way;
  6. the safetensors file, parsed by the minimal reader below into torch tensors, after the
     adjustments of OpenCLIP's `load_checkpoint` (`module.` prefix, scalar/1-d logit_scale and
     logit_bias, zero logit_bias), has exactly the reference state dict's keys, shapes and dtypes,
     which is what `load_state_dict(strict=True)` requires; and whether the values are identical.

usage: check_openclip_local_dir.py CASES.json   (or --fields: the dataclass field names it uses)
  CASES.json: [{"name", "folder", "ref_config", "ref_weights"}]
prints one JSON list: [{"name", "ok", "errors": [...], "model_class", "checkpoint", "n_tensors",
                        "values_equal", "preprocess"}]
Needs only Python 3 and torch.
"""
import json
import math
import os
import struct
import sys

import torch

LOG_1_OVER_007 = math.log(1 / 0.07)

# OpenCLIP 3.1.0 dataclass fields and their defaults (model.py CLIPVisionCfg / CLIPTextCfg,
# coca_model.py MultimodalCfg, transform.py PreprocessCfg).
_BLOCK = {
    'act_kwargs': None, 'norm_kwargs': None, 'block_type': None, 'qk_norm': False,
    'scaled_cosine_attn': False, 'scale_heads': False, 'scale_attn_inner': False,
    'scale_attn': False, 'scale_fc': False,
}
VISION_FIELDS = {
    'layers': 12, 'width': 768, 'head_width': 64, 'mlp_ratio': 4.0, 'patch_size': 16, 'image_size': 224,
    'ls_init_value': None, 'patch_dropout': 0.0, 'attentional_pool': False, 'attn_pooler_queries': 256,
    'attn_pooler_heads': 8, 'no_ln_pre': False, 'pos_embed_type': 'learnable', 'final_ln_after_pool': False,
    'pool_type': 'tok', 'output_tokens': False, **_BLOCK,
    'timm_model_name': None, 'timm_model_pretrained': False, 'timm_pool': 'avg', 'timm_proj': 'linear',
    'timm_proj_bias': False, 'timm_drop': 0.0, 'timm_drop_path': None,
}
TEXT_FIELDS = {
    'context_length': 77, 'vocab_size': 49408, 'hf_tokenizer_name': None, 'tokenizer_mode': None,
    'tokenizer_kwargs': None, 'width': 512, 'heads': 8, 'layers': 12, 'mlp_ratio': 4.0, 'ls_init_value': None,
    'embed_cls': False, 'pad_id': 0, 'eos_id': 2, 'no_causal_mask': False, 'final_ln_after_pool': False,
    'pool_type': 'argmax', 'proj_bias': False, 'proj_type': 'linear', 'output_tokens': False, **_BLOCK,
    'hf_model_name': None, 'hf_model_pretrained': True, 'hf_proj_type': 'mlp', 'hf_pooler_type': 'mean_pooler',
}
MULTIMODAL_FIELDS = {**TEXT_FIELDS, 'mlp_ratio': 4, 'dim_head': 64, 'heads': 8, 'n_queries': 256, 'attn_pooler_heads': 8}
PREPROCESS_FIELDS = {
    'size': 224, 'mode': 'RGB', 'mean': [0.48145466, 0.4578275, 0.40821073], 'std': [0.26862954, 0.26130258, 0.27577711],
    'interpolation': 'bicubic', 'resize_mode': 'shortest', 'fill_color': 0,
}
# Constructor keyword arguments (besides cast_dtype, which the factory passes itself).
_COMMON_KW = {'embed_dim': None, 'vision_cfg': None, 'text_cfg': None, 'quick_gelu': False,
              'init_logit_scale': LOG_1_OVER_007, 'init_logit_bias': None, 'nonscalar_logit_scale': False}
CLASS_KWARGS = {
    'CLIP': {**_COMMON_KW, 'output_dict': False},
    'CustomTextCLIP': {**_COMMON_KW, 'output_dict': False},
    'CoCa': {**_COMMON_KW, 'multimodal_cfg': None, 'pad_id': 0},
}
REQUIRED = {'CLIP': ('embed_dim', 'vision_cfg', 'text_cfg'), 'CustomTextCLIP': ('embed_dim', 'vision_cfg', 'text_cfg'),
            'CoCa': ('embed_dim', 'multimodal_cfg', 'text_cfg', 'vision_cfg')}

# _find_checkpoint_in_dir's preference.
PREFERRED = ['open_clip_model.safetensors', 'open_clip_pytorch_model.safetensors', 'open_clip_pytorch_model.bin',
             'open_clip_pytorch_model.pth', 'model.safetensors', 'pytorch_model.bin', 'pytorch_model.pth', 'model.pth']

ST_DTYPES = {
    'F64': torch.float64, 'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16,
    'I64': torch.int64, 'I32': torch.int32, 'I16': torch.int16, 'I8': torch.int8, 'U8': torch.uint8, 'BOOL': torch.bool,
}


def find_checkpoint_in_dir(folder):
    names = sorted(os.listdir(folder))
    found = [n for n in names if n.endswith('.safetensors')] + [n for n in names if n.endswith('.bin')] + \
        [n for n in names if n.endswith('.pth')]
    if not found:
        return None
    found.sort()
    found.sort(key=lambda n: n.endswith('.safetensors'), reverse=True)
    preferred = sorted((n for n in found if n in PREFERRED), key=PREFERRED.index)
    return preferred[0] if preferred else found[0]


def read_safetensors(path):
    """Minimal safetensors reader: u64 LE header length, JSON header, raw little-endian data."""
    with open(path, 'rb') as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f'{path}: shorter than the 8-byte header length')
    (n,) = struct.unpack('<Q', raw[:8])
    if 8 + n > len(raw):
        raise ValueError(f'{path}: header length {n} runs past the end of the file')
    header = json.loads(raw[8:8 + n].decode('utf-8'))
    meta = header.pop('__metadata__', None)
    data = raw[8 + n:]
    out = {}
    spans = []
    for key, info in header.items():
        dtype = ST_DTYPES.get(info['dtype'])
        if dtype is None:
            raise ValueError(f'{path}: tensor {key}: unknown dtype {info["dtype"]}')
        start, end = info['data_offsets']
        shape = list(info['shape'])
        numel = math.prod(shape)
        itemsize = torch.empty((), dtype=dtype).element_size()
        if end - start != numel * itemsize or end > len(data) or start < 0:
            raise ValueError(f'{path}: tensor {key}: offsets {start}..{end} do not hold {shape} {info["dtype"]}')
        spans.append((start, end, key))
        buf = bytearray(data[start:end])
        t = torch.frombuffer(buf, dtype=dtype) if numel else torch.empty(0, dtype=dtype)
        out[key] = t.reshape(shape)
    spans.sort()
    pos = 0
    for start, end, key in spans:
        if start != pos:
            raise ValueError(f'{path}: tensor {key} starts at {start}, expected {pos} (gap or overlap)')
        pos = end
    if pos != len(data):
        raise ValueError(f'{path}: {len(data) - pos} trailing bytes after the last tensor')
    return out, meta


def model_class_of(model_cfg):
    cfg = dict(model_cfg)
    custom_text = bool(cfg.pop('custom_text', False)) or 'hf_model_name' in (cfg.get('text_cfg') or {})
    if custom_text:
        return ('CoCa' if 'multimodal_cfg' in cfg else 'CustomTextCLIP'), cfg
    return 'CLIP', cfg


def norm(v):
    if isinstance(v, tuple):
        return [norm(x) for x in v]
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items()}
    return v


def resolve(model_cfg, where, errors):
    """The config as OpenCLIP 3.1.0 would hand it to the model constructor, defaults filled in."""
    cls, cfg = model_class_of(model_cfg)
    kwargs = CLASS_KWARGS[cls]
    for k in cfg:
        if k not in kwargs:
            errors.append(f'{where}: {cls}.__init__() got an unexpected keyword argument {k!r}')
    for k in REQUIRED[cls]:
        if k not in cfg:
            errors.append(f'{where}: {cls}.__init__() missing required argument {k!r}')
    out = {'class': cls}
    for k, d in kwargs.items():
        if k in ('vision_cfg', 'text_cfg', 'multimodal_cfg'):
            continue
        out[k] = norm(cfg.get(k, d))
    for section, fields in (('vision_cfg', VISION_FIELDS), ('text_cfg', TEXT_FIELDS), ('multimodal_cfg', MULTIMODAL_FIELDS)):
        if section not in cfg:
            continue
        sub = cfg[section]
        if not isinstance(sub, dict):
            errors.append(f'{where}.{section}: expected an object, got {type(sub).__name__}')
            continue
        for k in sub:
            if k not in fields:
                errors.append(f'{where}.{section}: unexpected keyword argument {k!r} for the 3.1.0 dataclass')
        out[section] = {k: norm(sub.get(k, d)) for k, d in fields.items()}
    return out


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None or isinstance(a, (bool, str)) or isinstance(b, (bool, str)):
            return a == b
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b and type(a) is type(b)


def check_preprocess(pcfg, image_size, errors):
    if pcfg is None:
        pcfg = {}
    if not isinstance(pcfg, dict):
        errors.append(f'preprocess_cfg: expected an object, got {type(pcfg).__name__}')
        return None
    for k in pcfg:
        if k not in PREPROCESS_FIELDS:
            errors.append(f'preprocess_cfg.{k}: not a PreprocessCfg field; OpenCLIP drops it')
    merged = dict(PREPROCESS_FIELDS)
    merged.update({k: v for k, v in pcfg.items() if k in PREPROCESS_FIELDS and v is not None})
    for k in ('mean', 'std'):
        v = merged[k]
        if not (isinstance(v, list) and len(v) == 3 and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)):
            errors.append(f'preprocess_cfg.{k}: expected 3 numbers, got {v!r}')
    if merged['interpolation'] not in ('bicubic', 'bilinear', 'random'):
        errors.append(f'preprocess_cfg.interpolation: {merged["interpolation"]!r} is not bicubic/bilinear/random')
    if merged['resize_mode'] not in ('shortest', 'longest', 'squash'):
        errors.append(f'preprocess_cfg.resize_mode: {merged["resize_mode"]!r} is not shortest/longest/squash')
    if merged['mode'] != 'RGB':
        errors.append(f'preprocess_cfg.mode: {merged["mode"]!r} (PreprocessCfg asserts RGB)')
    if not isinstance(merged['fill_color'], int) or isinstance(merged['fill_color'], bool):
        errors.append(f'preprocess_cfg.fill_color: expected an int, got {merged["fill_color"]!r}')
    size = merged['size']
    as_pair = lambda s: [s, s] if isinstance(s, int) else list(s)
    if image_size is not None and as_pair(size) != as_pair(image_size):
        errors.append(f'preprocess_cfg.size {size!r} differs from vision_cfg.image_size {image_size!r}')
    return merged


def check_case(case):
    errors = []
    report = {'name': case['name'], 'errors': errors}
    folder = case['folder']
    if not os.path.isdir(folder):
        errors.append(f"{folder}: not a directory (OpenCLIP: Directory specified via 'local-dir:' schema not found)")
        return report
    cfg_path = os.path.join(folder, 'open_clip_config.json')
    if not os.path.isfile(cfg_path):
        errors.append(f"{cfg_path}: missing (OpenCLIP: 'local-dir:' specified, but config file missing)")
        return report
    with open(cfg_path, encoding='utf-8') as f:
        config = json.load(f)
    if 'model_cfg' not in config:
        errors.append(f"{cfg_path}: no 'model_cfg' key (OpenCLIP raises ValueError)")
        return report
    ckpt = find_checkpoint_in_dir(folder)
    report['checkpoint'] = ckpt
    if ckpt != 'open_clip_model.safetensors':
        errors.append(f'{folder}: OpenCLIP would load {ckpt!r}, not open_clip_model.safetensors')
    ours = resolve(config['model_cfg'], 'model_cfg', errors)
    report['model_class'] = ours['class']
    with open(case['ref_config'], encoding='utf-8') as f:
        ref_cfg = json.load(f)
    ref = resolve(ref_cfg, 'reference config', errors)
    for k in sorted(set(ours) | set(ref)):
        if not same(ours.get(k), ref.get(k)):
            if isinstance(ours.get(k), dict) and isinstance(ref.get(k), dict):
                for kk in ours[k]:
                    if not same(ours[k][kk], ref[k].get(kk)):
                        errors.append(f'model_cfg.{k}.{kk}: {ours[k][kk]!r} but the reference has {ref[k].get(kk)!r}')
            else:
                errors.append(f'model_cfg {k}: {ours.get(k)!r} but the reference has {ref.get(k)!r}')
    report['preprocess'] = check_preprocess(config.get('preprocess_cfg'), (ours.get('vision_cfg') or {}).get('image_size'), errors)
    if ckpt is None:
        return report
    try:
        sd, meta = read_safetensors(os.path.join(folder, ckpt))
        ref_sd, _ = read_safetensors(case['ref_weights'])
    except ValueError as e:
        errors.append(str(e))
        return report
    report['metadata'] = meta
    # load_checkpoint's adjustments
    if sd and next(iter(sd)).startswith('module'):
        sd = {k[7:]: v for k, v in sd.items()}
    if 'positional_embedding' in sd and ours['class'] != 'CLIP':
        errors.append("positional_embedding at the top level of a CustomTextCLIP/CoCa checkpoint (old text layout)")
    want_ndim = 1 if ours.get('nonscalar_logit_scale') else 0
    for k in ('logit_scale', 'logit_bias'):
        if k in sd and sd[k].ndim != want_ndim:
            sd[k] = sd[k].reshape([1] if want_ndim else [])
    if 'logit_bias' not in sd and ours.get('init_logit_bias') is not None and 'logit_scale' in sd:
        sd['logit_bias'] = torch.zeros_like(sd['logit_scale'])
    missing = sorted(set(ref_sd) - set(sd))
    unexpected = sorted(set(sd) - set(ref_sd))
    if missing:
        errors.append(f'missing keys (strict load fails): {missing}')
    if unexpected:
        errors.append(f'unexpected keys (strict load fails): {unexpected}')
    values_equal = not missing and not unexpected
    for k in sorted(set(sd) & set(ref_sd)):
        a, b = sd[k], ref_sd[k]
        if list(a.shape) != list(b.shape):
            errors.append(f'{k}: shape {list(a.shape)} but OpenCLIP builds {list(b.shape)}')
            values_equal = False
        elif a.dtype != b.dtype:
            errors.append(f'{k}: dtype {a.dtype} but OpenCLIP\'s state dict has {b.dtype}')
            values_equal = False
        elif not torch.equal(a, b):
            values_equal = False
    report['n_tensors'] = len(sd)
    report['values_equal'] = values_equal
    return report


def main():
    if sys.argv[1:] == ['--fields']:
        json.dump({'vision_cfg': list(VISION_FIELDS), 'text_cfg': list(TEXT_FIELDS), 'multimodal_cfg': list(MULTIMODAL_FIELDS),
                   'preprocess_cfg': list(PREPROCESS_FIELDS)}, sys.stdout)
        return
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding='utf-8') as f:
        cases = json.load(f)
    out = []
    for case in cases:
        r = check_case(case)
        r['ok'] = not r['errors']
        out.append(r)
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    main()
