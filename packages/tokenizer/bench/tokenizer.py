"""Speed reference: a re-implementation of OpenCLIP's SimpleTokenizer + tokenize() in plain Python.

Same algorithm as open_clip/tokenizer.py (byte encoder, BPE merge loop with a word cache, html
unescape twice, whitespace collapse, lower-case, [SOT] + ids + [EOT] rows with EOT kept on
truncation). Differences, stated by the benchmark: ftfy.fix_text is skipped (not installed), the
pattern runs on the stdlib `re` engine with an equivalent ASCII-exact pattern when the `regex`
module is missing, and rows are Python lists (or a torch tensor when torch is installed).

usage: python3 tokenizer.py MERGES_TXT CAPTIONS_JSON CONTEXT_LENGTH REPEATS
       python3 tokenizer.py encode MERGES_TXT  (JSON strings on stdin)
prints one JSON line: {"seconds": [...], "captions": N, "engine": "...", "checksum": int}
"""
import html
import json
import sys
import time

try:
    import regex as re_engine
    PATTERN = r"""<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
    ENGINE = "regex"
except ImportError:
    import re as re_engine
    # letters = word chars minus digits/underscore; numbers one at a time; other non-space runs
    PATTERN = r"""<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|(?:[^\s\w]|_)+"""
    ENGINE = "re (stdlib)"

try:
    import torch
except ImportError:
    torch = None


def byte_alphabet():
    keep = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    chars = list(keep)
    extra = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(keep, [chr(c) for c in chars]))


class Tokenizer:
    def __init__(self, merges_text):
        self.byte_encoder = byte_alphabet()
        lines = merges_text.split("\n")[1:49152 - 256 - 2 + 1]
        merges = [tuple(line.split()) for line in lines]
        vocab = list(self.byte_encoder.values())
        vocab = vocab + [v + "</w>" for v in vocab]
        vocab.extend("".join(m) for m in merges)
        specials = ["<start_of_text>", "<end_of_text>"]
        vocab.extend(specials)
        self.encoder = {tok: i for i, tok in enumerate(vocab)}
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.cache = {t: t for t in specials}
        self.pat = re_engine.compile(PATTERN, re_engine.IGNORECASE)
        self.sot = self.encoder["<start_of_text>"]
        self.eot = self.encoder["<end_of_text>"]

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = list(token[:-1]) + [token[-1] + "</w>"]
        while len(word) > 1:
            best = None
            best_rank = None
            for pair in zip(word, word[1:]):
                r = self.ranks.get(pair)
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = pair, r
            if best is None:
                break
            a, b = best
            merged = []
            i = 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == a and word[i + 1] == b:
                    merged.append(a + b)
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        out = " ".join(word)
        self.cache[token] = out
        return out

    def encode(self, text):
        text = html.unescape(html.unescape(text)).strip()
        text = " ".join(text.split()).lower()
        ids = []
        for piece in self.pat.findall(text):
            piece = "".join(self.byte_encoder[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(piece).split(" "))
        return ids

    def __call__(self, texts, context_length):
        rows = [[self.sot] + self.encode(t) + [self.eot] for t in texts]
        if torch is not None:
            result = torch.zeros(len(rows), context_length, dtype=torch.long)
        else:
            result = [[0] * context_length for _ in rows]
        for i, row in enumerate(rows):
            if len(row) > context_length:
                row = row[:context_length]
                row[-1] = self.eot
            if torch is not None:
                result[i, : len(row)] = torch.tensor(row)
            else:
                result[i][: len(row)] = row
        return result


def main():
    if sys.argv[1] == "encode":
        # encode MERGES_TXT: JSON list of strings on stdin -> JSON list of id lists on stdout
        tok = Tokenizer(open(sys.argv[2], encoding="utf-8").read())
        texts = json.loads(sys.stdin.read())
        print(json.dumps({"engine": ENGINE, "ids": [tok.encode(t) for t in texts]}))
        return
    merges_path, captions_path, ctx, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    merges_text = open(merges_path, encoding="utf-8").read()
    captions = json.load(open(captions_path, encoding="utf-8"))
    seconds = []
    checksum = 0
    for _ in range(repeats):
        tok = Tokenizer(merges_text)  # cold cache each run, like a fresh process
        t0 = time.perf_counter()
        out = tok(captions, ctx)
        seconds.append(time.perf_counter() - t0)
        checksum = int(out.sum()) if torch is not None else sum(sum(r) for r in out)
    print(json.dumps({"seconds": seconds, "captions": len(captions), "engine": ENGINE,
                      "torch": torch is not None, "checksum": checksum}))


if __name__ == "__main__":
    main()
