"""PyTorch side of `npm run bench -w @openclip/models`: the same architectures (written here from
the OpenCLIP model description, random weights), the same shapes and thread count, timed the
same way (median of N runs after one warm-up). Prints one JSON line.

usage: bench_torch.py --models ViT-B-32,RN50 --batch 8 --runs 5 --threads 2
       --train-model ViT-S-32-alt --train-batch 16 --configs DIR
"""
import argparse
import json
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, w, heads, mlp_ratio, act):
        super().__init__()
        self.ln_1 = nn.LayerNorm(w)
        self.attn = nn.MultiheadAttention(w, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(w)
        hidden = int(w * mlp_ratio)
        self.fc = nn.Linear(w, hidden)
        self.act = act
        self.proj = nn.Linear(hidden, w)

    def forward(self, x, mask=None):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
        return x + self.proj(self.act(self.fc(self.ln_2(x))))


class Vit(nn.Module):
    def __init__(self, v, embed):
        super().__init__()
        w, p, s = v["width"], v["patch_size"], v["image_size"]
        self.conv1 = nn.Conv2d(3, w, p, p, bias=False)
        self.cls = nn.Parameter(torch.randn(w) * w ** -0.5)
        self.pos = nn.Parameter(torch.randn((s // p) ** 2 + 1, w) * w ** -0.5)
        self.ln_pre = nn.LayerNorm(w)
        heads = w // v.get("head_width", 64)
        self.blocks = nn.ModuleList([Block(w, heads, v.get("mlp_ratio", 4.0), nn.GELU()) for _ in range(v["layers"])])
        self.ln_post = nn.LayerNorm(w)
        self.proj = nn.Parameter(torch.randn(w, embed) * w ** -0.5)

    def forward(self, x):
        x = self.conv1(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], 1, -1), x], 1) + self.pos
        x = self.ln_pre(x)
        for b in self.blocks:
            x = b(x)
        return self.ln_post(x[:, 0]) @ self.proj


class Bottleneck(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(cin, planes, 1, bias=False), nn.BatchNorm2d(planes)
        self.c2, self.b2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False), nn.BatchNorm2d(planes)
        self.pool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.c3, self.b3 = nn.Conv2d(planes, planes * 4, 1, bias=False), nn.BatchNorm2d(planes * 4)
        self.down = None
        if stride > 1 or cin != planes * 4:
            self.down = nn.Sequential(nn.AvgPool2d(stride), nn.Conv2d(cin, planes * 4, 1, bias=False), nn.BatchNorm2d(planes * 4))

    def forward(self, x):
        o = F.relu(self.b1(self.c1(x)))
        o = self.pool(F.relu(self.b2(self.c2(o))))
        o = self.b3(self.c3(o))
        return F.relu(o + (self.down(x) if self.down is not None else x))


class ResNet(nn.Module):
    def __init__(self, v, embed):
        super().__init__()
        w = v["width"]
        self.stem = nn.Sequential(
            nn.Conv2d(3, w // 2, 3, 2, 1, bias=False), nn.BatchNorm2d(w // 2), nn.ReLU(),
            nn.Conv2d(w // 2, w // 2, 3, padding=1, bias=False), nn.BatchNorm2d(w // 2), nn.ReLU(),
            nn.Conv2d(w // 2, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(), nn.AvgPool2d(2))
        layers, cin = [], w
        for i, n in enumerate(v["layers"]):
            planes = w * 2 ** i
            for j in range(n):
                layers.append(Bottleneck(cin, planes, 2 if (j == 0 and i > 0) else 1))
                cin = planes * 4
        self.layers = nn.Sequential(*layers)
        c = w * 32
        self.pos = nn.Parameter(torch.randn((v["image_size"] // 32) ** 2 + 1, c) / c ** 0.5)
        self.attn = nn.MultiheadAttention(c, c // v.get("head_width", 64), batch_first=True)
        self.c_proj = nn.Linear(c, embed)

    def forward(self, x):
        x = self.layers(self.stem(x)).flatten(2).transpose(1, 2)
        x = torch.cat([x.mean(1, keepdim=True), x], 1) + self.pos
        return self.c_proj(self.attn(x[:, :1], x, x, need_weights=False)[0][:, 0])


class Text(nn.Module):
    def __init__(self, t, embed):
        super().__init__()
        w, ctx = t["width"], t["context_length"]
        self.tok = nn.Embedding(t["vocab_size"], w)
        self.pos = nn.Parameter(torch.randn(ctx, w) * 0.01)
        self.blocks = nn.ModuleList([Block(w, t["heads"], t.get("mlp_ratio", 4.0), nn.GELU()) for _ in range(t["layers"])])
        self.ln_final = nn.LayerNorm(w)
        self.proj = nn.Parameter(torch.randn(w, embed) * w ** -0.5)
        self.register_buffer("mask", torch.full((ctx, ctx), float("-inf")).triu_(1))

    def forward(self, ids):
        x = self.tok(ids) + self.pos
        for b in self.blocks:
            x = b(x, self.mask)
        x = self.ln_final(x)
        return x[torch.arange(x.shape[0]), ids.argmax(-1)] @ self.proj


def build(cfg):
    v, e = cfg["vision_cfg"], cfg["embed_dim"]
    visual = ResNet(v, e) if isinstance(v["layers"], list) else Vit(v, e)
    return visual, Text(cfg["text_cfg"], e)


def tokens(batch, ctx, seed_len=5):
    ids = torch.zeros(batch, ctx, dtype=torch.long)
    for i in range(batch):
        n = seed_len + i % 10
        ids[i, 0] = 49406
        for j in range(1, n):
            ids[i, j] = 300 + (i * 31 + j * 7) % 40000
        ids[i, n] = 49407
    return ids


def timed(fn, runs):
    fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="ViT-B-32,RN50")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-model", default="ViT-S-32-alt")
    ap.add_argument("--train-batch", type=int, default=16)
    ap.add_argument("--configs", required=True)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    rows = []
    load = lambda n: json.load(open(os.path.join(a.configs, n + ".json")))
    for name in a.models.split(","):
        cfg = load(name)
        visual, text = build(cfg)
        visual.eval(), text.eval()
        s = cfg["vision_cfg"]["image_size"]
        img = torch.randn(a.batch, 3, s, s)
        ids = tokens(a.batch, cfg["text_cfg"]["context_length"])
        with torch.no_grad():
            rows.append({"model": name, "what": "encode_image", "batch": a.batch, "runs_s": timed(lambda: visual(img), a.runs)})
            rows.append({"model": name, "what": "encode_text", "batch": a.batch, "runs_s": timed(lambda: text(ids), a.runs)})
    cfg = load(a.train_model)
    visual, text = build(cfg)
    scale = nn.Parameter(torch.tensor(2.6592))
    params = list(visual.parameters()) + list(text.parameters()) + [scale]
    s = cfg["vision_cfg"]["image_size"]
    img = torch.randn(a.train_batch, 3, s, s)
    ids = tokens(a.train_batch, cfg["text_cfg"]["context_length"], 11)
    labels = torch.arange(a.train_batch)

    def step():
        for p in params:
            p.grad = None
        fi = F.normalize(visual(img), dim=-1)
        ft = F.normalize(text(ids), dim=-1)
        logits = scale.exp() * fi @ ft.T
        loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
        loss.backward()

    rows.append({"model": a.train_model, "what": "train step (fwd+bwd)", "batch": a.train_batch, "runs_s": timed(step, max(3, min(a.runs, 5)))})
    for r in rows:
        r["median_s"] = statistics.median(r["runs_s"])
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "rows": rows}))


if __name__ == "__main__":
    main()
