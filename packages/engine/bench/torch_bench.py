"""PyTorch twins of the engine benchmark cases (src/bench/cases.ts), written in plain torch.nn:
pre-LN residual attention blocks, a ViT image tower, a causal text transformer, the symmetric
contrastive loss and torch.optim.AdamW. Prints one JSON object per case.

usage: torch_bench.py THREADS WARMUP STEPS CASE [CASE...]
"""
import json
import math
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, heads, mlp_ratio=4):
        super().__init__()
        self.heads = heads
        self.ln_1 = nn.LayerNorm(d)
        self.in_proj = nn.Linear(d, 3 * d)
        self.out_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d)
        self.c_fc = nn.Linear(d, int(d * mlp_ratio))
        self.c_proj = nn.Linear(int(d * mlp_ratio), d)

    def attn(self, x, mask):
        b, t, d = x.shape
        hd = d // self.heads
        qkv = self.in_proj(x).reshape(b, t, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        s = (q * (1.0 / math.sqrt(hd))) @ k.transpose(-1, -2)
        if mask is not None:
            s = s + mask
        o = torch.softmax(s, dim=-1) @ v
        return self.out_proj(o.transpose(1, 2).reshape(b, t, d))

    def forward(self, x, mask=None):
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.c_proj(F.gelu(self.c_fc(self.ln_2(x))))


class Blocks(nn.Module):
    def __init__(self, width, heads, layers):
        super().__init__()
        self.blocks = nn.ModuleList([Block(width, heads) for _ in range(layers)])

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x


class Vit(nn.Module):
    def __init__(self, image_size, patch, width, layers, heads, embed):
        super().__init__()
        self.patch = patch
        self.grid = image_size // patch
        self.conv1 = nn.Linear(3 * patch * patch, width, bias=False)
        self.class_embedding = nn.Parameter(torch.randn(width) * width ** -0.5)
        self.positional_embedding = nn.Parameter(torch.randn(self.grid ** 2 + 1, width) * width ** -0.5)
        self.ln_pre = nn.LayerNorm(width)
        self.blocks = nn.ModuleList([Block(width, heads) for _ in range(layers)])
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.randn(width, embed) * width ** -0.5)

    def forward(self, images):
        b, p, g = images.shape[0], self.patch, self.grid
        x = images.reshape(b, 3, g, p, g, p).permute(0, 2, 4, 1, 3, 5).reshape(b, g * g, 3 * p * p)
        x = self.conv1(x)
        x = torch.cat([self.class_embedding.expand(b, 1, -1), x], dim=1) + self.positional_embedding
        x = self.ln_pre(x)
        for blk in self.blocks:
            x = blk(x)
        return self.ln_post(x[:, 0]) @ self.proj


class Text(nn.Module):
    def __init__(self, context, vocab, width, layers, heads, embed):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, width)
        self.positional_embedding = nn.Parameter(torch.randn(context, width) * 0.01)
        self.blocks = nn.ModuleList([Block(width, heads) for _ in range(layers)])
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.randn(width, embed) * width ** -0.5)
        self.register_buffer('mask', torch.full((context, context), float('-inf')).triu(1))

    def forward(self, tokens):
        x = self.token_embedding(tokens) + self.positional_embedding
        for blk in self.blocks:
            x = blk(x, self.mask)
        x = self.ln_final(x)
        return x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)] @ self.text_projection


class Clip(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        v, t = cfg['vision'], cfg['text']
        self.visual = Vit(v['imageSize'], v['patchSize'], v['width'], v['layers'], v['heads'], cfg['embedDim'])
        self.text = Text(t['contextLength'], t['vocabSize'], t['width'], t['layers'], t['heads'], cfg['embedDim'])
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self, images, tokens):
        return self.visual(images), self.text(tokens)

    def loss(self, images, tokens):
        i, t = self.forward(images, tokens)
        i = F.normalize(i, dim=-1)
        t = F.normalize(t, dim=-1)
        logits = self.logit_scale.exp() * i @ t.t()
        labels = torch.arange(logits.shape[0])
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2


BLOCK2 = dict(batch=32, seq=50, width=256, heads=4, layers=2)
TINY = dict(embedDim=32, vision=dict(imageSize=64, patchSize=8, width=64, layers=2, heads=2),
            text=dict(contextLength=77, vocabSize=49408, width=64, layers=2, heads=2))
BENCH = dict(embedDim=128, vision=dict(imageSize=64, patchSize=8, width=256, layers=4, heads=4),
             text=dict(contextLength=77, vocabSize=49408, width=256, layers=4, heads=4))


def optimizer(model):
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and 'logit_scale' not in n]
    rest = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and 'logit_scale' not in n)]
    return torch.optim.AdamW([{'params': decay, 'weight_decay': 0.2}, {'params': rest, 'weight_decay': 0.0}],
                             lr=1e-4, betas=(0.9, 0.98), eps=1e-6)


def make_case(name):
    model_name, mode = name.rsplit('_', 1)
    g = torch.Generator().manual_seed(0)
    if model_name == 'block2':
        c = BLOCK2
        model = Blocks(c['width'], c['heads'], c['layers'])
        x = torch.randn(c['batch'], c['seq'], c['width'], generator=g)
        batch = c['batch']
        loss_fn = lambda: model(x).square().mean()
        infer_fn = lambda: model(x)
    else:
        cfg = TINY if model_name == 'tiny_clip' else BENCH
        model = Clip(cfg)
        batch = 64
        s, t, v = cfg['vision']['imageSize'], cfg['text']['contextLength'], cfg['text']['vocabSize']
        images = torch.randn(batch, 3, s, s, generator=g)
        tokens = torch.randint(1, v - 2, (batch, t), generator=g)
        lens = torch.randint(2, t, (batch,), generator=g)
        for b in range(batch):
            tokens[b, 0] = v - 2
            tokens[b, lens[b] - 1] = v - 1
            tokens[b, lens[b]:] = 0
        loss_fn = lambda: model.loss(images, tokens)
        infer_fn = lambda: model(images, tokens)
    if mode == 'train':
        opt = optimizer(model)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = loss_fn()
            loss.backward()
            opt.step()
            return loss.item()
        return step, batch

    def infer():
        with torch.no_grad():
            infer_fn()
    return infer, batch


def main():
    threads, warmup, steps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    for name in sys.argv[4:]:
        step, batch = make_case(name)
        for _ in range(warmup):
            step()
        times = []
        for _ in range(steps):
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        print(json.dumps({'case': name, 'step_s': med, 'samples_per_s': batch / med,
                          'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                          'threads': torch.get_num_threads(), 'torch': torch.__version__}), flush=True)


if __name__ == '__main__':
    main()
