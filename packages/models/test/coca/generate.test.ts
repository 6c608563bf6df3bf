import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '@openclip/engine/rng';
import {
  applyMinLength,
  applyRepetitionPenalty,
  applyTopK,
  applyTopP,
  generateTokens,
  resolveGenerateOptions,
} from '../../src/coca/generate.js';
import type { GenerateOptions, NextTokenLogits } from '../../src/coca/generate.js';

// Toy vocabulary: 0 pad, 1..5 words, 6 SOT, 7 EOS.
const V = 8;
const SOT = 6;
const EOS = 7;
const base = { sotTokenId: SOT, eosTokenId: EOS, padTokenId: 0 };
const opts = (o: GenerateOptions) => resolveGenerateOptions({ ...base, ...o }, { padTokenId: 0, contextLength: 76 });

/** A decoder whose logits depend on (image, last token) through `table(image, last)`. */
function markov(table: (image: number, last: number, len: number) => number[]): { next: NextTokenLogits; calls: number[][] } {
  const calls: number[][] = [];
  const next: NextTokenLogits = async (tokens, source, len) => {
    const out = new Float32Array(source.length * V);
    source.forEach((img, r) => {
      const last = tokens[r * len + len - 1]!;
      calls.push(Array.from(tokens.subarray(r * len, (r + 1) * len)));
      out.set(table(img, last, len), r * V);
    });
    return out;
  };
  return { next, calls };
}

test('logits processors follow the Hugging Face definitions', () => {
  const s = Float32Array.from([2, -1, 0.5, 3, 3, -2, 0, 1]);
  const a = Float32Array.from(s);
  applyMinLength(a, 3, 5, EOS);
  assert.equal(a[EOS], -Infinity);
  const a2 = Float32Array.from(s);
  applyMinLength(a2, 5, 5, EOS);
  assert.equal(a2[EOS], 1);

  const r = Float32Array.from(s);
  applyRepetitionPenalty(r, [1, 3, 3, 0], 2);
  assert.deepEqual(Array.from(r), [1, -2, 0.5, 1.5, 3, -2, 0, 1]); // 0 → 2/2, 1 → -1*2, 3 → 3/2 once

  const k = Float32Array.from(s);
  applyTopK(k, 2); // ties with the 2nd largest (3) are kept: both 3s
  assert.deepEqual(Array.from(k), [-Infinity, -Infinity, -Infinity, 3, 3, -Infinity, -Infinity, -Infinity]);
  const k3 = Float32Array.from(s);
  applyTopK(k3, 3);
  assert.deepEqual(Array.from(k3).map((v) => v > -Infinity), [true, false, false, true, true, false, false, false]);

  // top-p on probabilities 0.5, 0.25, 0.125, 0.125: keep the smallest head whose mass exceeds p.
  const logp = [0.5, 0.25, 0.125, 0.125].map(Math.log);
  const p1 = Float32Array.from(logp);
  applyTopP(p1, 0.6);
  assert.deepEqual(Array.from(p1).map((v) => v > -Infinity), [true, true, false, false]);
  const p2 = Float32Array.from(logp);
  applyTopP(p2, 0.1); // the most likely token always survives
  assert.deepEqual(Array.from(p2).map((v) => v > -Infinity), [true, false, false, false]);
  const p3 = Float32Array.from(logp);
  applyTopP(p3, 1);
  assert.ok(Array.from(p3).every((v) => v > -Infinity));
});

test('top-p equals the sort-and-cumsum definition on random logits', () => {
  const rng = new Rng(3);
  for (let trial = 0; trial < 50; trial++) {
    const n = 5 + rng.randint(300);
    const s = rng.fillNormal(new Float32Array(n), 0, 1 + rng.randint(4));
    const topP = 0.05 + 0.9 * rng.random();
    // HF: ascending sort, softmax, cumsum, remove cum <= 1 - p, keep the last (largest).
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => s[a]! - s[b]!);
    const m = Math.max(...s);
    const z = Array.from(s).reduce((a, v) => a + Math.exp(v - m), 0);
    let cum = 0;
    const want = new Set<number>();
    order.forEach((i, r) => {
      cum += Math.exp(s[i]! - m) / z;
      if (!(cum <= 1 - topP) || r === n - 1) want.add(i);
    });
    const got = Float32Array.from(s);
    applyTopP(got, topP);
    const kept = new Set(Array.from(got).flatMap((v, i) => (v > -Infinity ? [i] : [])));
    assert.deepEqual([...kept].sort((a, b) => a - b), [...want].sort((a, b) => a - b), `trial ${trial} (n ${n}, p ${topP})`);
  }
});

test('option checks name the bad option', () => {
  assert.throws(() => opts({ seqLen: 5, minSeqLen: 5 }), /seqLen \(5\) must be larger than minSeqLen \(5\)/);
  assert.throws(() => opts({ numBeams: 5, numBeamGroups: 3 }), /numBeams \(5\) must be divisible by numBeamGroups \(3\)/);
  assert.throws(() => opts({ generationType: 'top_a' as never }), /generationType 'top_a'/);
  assert.throws(() => opts({ temperature: 0 }), /temperature/);
});

test('greedy sampling: argmax each step, EOS blocked below minSeqLen, forced at seqLen, rows finish independently', async () => {
  // image 0 prefers 1,2,3 then EOS; image 1 prefers EOS at once (blocked until length 3) then 5 forever.
  const { next } = markov((img, last, len) => {
    const l = new Array(V).fill(0);
    if (img === 0) l[{ 6: 1, 1: 2, 2: 3, 3: EOS }[last] ?? 4] = 5;
    else {
      l[EOS] = 9;
      l[5] = len < 3 ? 4 : 1;
    }
    return l;
  });
  const out = await generateTokens(next, 2, opts({ generationType: 'greedy', seqLen: 10, minSeqLen: 3 }));
  assert.deepEqual(out, [
    [SOT, 1, 2, 3, EOS],
    [SOT, 5, 5, EOS, 0],
  ]);
  const fixed = await generateTokens(next, 2, opts({ generationType: 'greedy', seqLen: 8, minSeqLen: 3, fixedOutputLength: true }));
  assert.deepEqual(fixed, [
    [SOT, 1, 2, 3, EOS, 0, 0, 0],
    [SOT, 5, 5, EOS, 0, 0, 0, 0],
  ]);
  // top_k with k = 1 is the same loop.
  assert.deepEqual(await generateTokens(next, 2, opts({ generationType: 'top_k', topK: 1, seqLen: 10, minSeqLen: 3 })), out);
  // A decoder that never ends is cut at seqLen with a forced EOS.
  const loop = markov(() => [0, 0, 0, 0, 9, 0, 0, 0]);
  assert.deepEqual(await generateTokens(loop.next, 1, opts({ generationType: 'greedy', seqLen: 6, minSeqLen: 2 })), [[SOT, 4, 4, 4, 4, EOS]]);
});

test('sampling can start from a prefix (one row for all images, or one per image)', async () => {
  const { next, calls } = markov((_img, last) => {
    const l = new Array(V).fill(0);
    l[last === 2 ? EOS : 2] = 5;
    return l;
  });
  const out = await generateTokens(next, 2, opts({ generationType: 'greedy', seqLen: 10, minSeqLen: 0, prefix: [SOT, 1] }));
  assert.deepEqual(out, [[SOT, 1, 2, EOS], [SOT, 1, 2, EOS]]);
  assert.deepEqual(calls[0], [SOT, 1]);
  const per = await generateTokens(next, 2, opts({ generationType: 'greedy', seqLen: 10, minSeqLen: 0, prefix: [[SOT, 3], [SOT, 4]] }));
  assert.deepEqual(per, [[SOT, 3, 2, EOS], [SOT, 4, 2, EOS]]);
  assert.throws(() => opts({ generationType: 'beam_search', prefix: [SOT] }), /prefix is only supported by the sampling types/);
  assert.throws(() => opts({ generationType: 'greedy', prefix: [[SOT], [SOT, 1]] }), /same length/);
  await assert.rejects(generateTokens(next, 3, opts({ generationType: 'greedy', prefix: [[SOT], [SOT]] })), /2 prefix rows for 3 images/);
});

test('the model sees at most maxSeqLen tokens (sliding window)', async () => {
  const { next, calls } = markov(() => [0, 0, 0, 9, 0, 0, 0, 0]);
  await generateTokens(next, 1, opts({ generationType: 'greedy', seqLen: 9, minSeqLen: 2, maxSeqLen: 4 }));
  assert.ok(calls.every((c) => c.length <= 4));
  assert.deepEqual(calls.at(-1), [3, 3, 3, 3]);
});

test('top-k / top-p sampling draws from the filtered, tempered softmax with the seeded generator', async () => {
  const logits = [-Infinity, 1, 0.5, 0, -0.5, 2, -Infinity, -Infinity];
  const { next } = markov((_i, last) => (last === SOT ? logits : [0, 0, 0, 0, 0, 0, 0, 9]));
  const counts = new Array(V).fill(0);
  const rng = new Rng(5);
  const n = 4000;
  const out = await generateTokens(next, n, opts({ generationType: 'top_k', topK: 3, temperature: 2, seqLen: 4, minSeqLen: 0, rng }));
  for (const row of out) counts[row[1]!]++;
  // Independent expectation: softmax(logits/2) over the 3 largest (tokens 5, 1, 2).
  const kept = [5, 1, 2];
  const z = kept.reduce((a, t) => a + Math.exp(logits[t]! / 2), 0);
  for (const t of kept) assert.ok(Math.abs(counts[t] / n - Math.exp(logits[t]! / 2) / z) < 0.03, `token ${t}: ${counts[t] / n}`);
  assert.equal(counts[3] + counts[4], 0);
  // Same seed, same samples.
  const again = await generateTokens(next, n, opts({ generationType: 'top_k', topK: 3, temperature: 2, seqLen: 4, minSeqLen: 0, rng: 5 }));
  assert.deepEqual(again, out);
  // Probabilities at temperature 1: token 5 ≈ 0.553, 1 ≈ 0.203, 2 ≈ 0.123, 3 ≈ 0.075, 4 ≈ 0.045.
  // top_p 0.7 drops the ascending tail with cumulative mass ≤ 0.3 (tokens 4, 3, 2): 5 and 1 remain.
  const pOut = await generateTokens(next, 500, opts({ generationType: 'top_p', topP: 0.7, seqLen: 4, minSeqLen: 0, rng: 1 }));
  const seen = new Set(pOut.map((r) => r[1]));
  assert.deepEqual([...seen].sort(), [1, 5]);
  // top_p 0.5: token 5 alone holds more than half the mass.
  const p5 = await generateTokens(next, 200, opts({ generationType: 'top_p', topP: 0.5, seqLen: 4, minSeqLen: 0, rng: 2 }));
  assert.ok(p5.every((r) => r[1] === 5));
});

test('beam search finds the best-scoring caption, honours minSeqLen and pads to a common length', async () => {
  // One dominant path per image: image 0 → 1 2 EOS, image 1 → 3 4 5 EOS.
  const paths = [[1, 2], [3, 4, 5]];
  const { next } = markov((img, last, len) => {
    // Log-probability-like scores: 0 on the path, -10 elsewhere.
    const l = new Array(V).fill(-10);
    const path = paths[img]!;
    const pos = len - 1; // tokens generated so far
    void last;
    l[pos < path.length ? path[pos]! : EOS] = 0;
    return l;
  });
  const out = await generateTokens(next, 2, opts({ generationType: 'beam_search', numBeams: 4, numBeamGroups: 2, seqLen: 10, minSeqLen: 2 }));
  assert.deepEqual(out, [
    [SOT, 1, 2, EOS, 0],
    [SOT, 3, 4, 5, EOS],
  ]);
  const fixed = await generateTokens(next, 2, opts({ generationType: 'beam_search', numBeams: 4, numBeamGroups: 2, seqLen: 8, minSeqLen: 2, fixedOutputLength: true }));
  assert.deepEqual(fixed.map((r) => r.length), [8, 8]);
  assert.deepEqual(fixed[0], [SOT, 1, 2, EOS, 0, 0, 0, 0]);
  // minSeqLen longer than the path: EOS is blocked until the prefix has 5 tokens.
  const long = await generateTokens(next, 1, opts({ generationType: 'beam_search', numBeams: 2, numBeamGroups: 1, seqLen: 10, minSeqLen: 5 }));
  assert.ok(long[0]!.length >= 6 && long[0]!.at(-1) === EOS, `got ${long[0]}`);
  assert.deepEqual(long[0]!.slice(0, 3), [SOT, 1, 2]);
  assert.ok(!long[0]!.slice(1, 5).includes(EOS));
});

test('beam search with one beam on log-probabilities follows the greedy path', async () => {
  // A fixed random Markov chain over log-softmax scores; with a single beam every step keeps the best
  // non-EOS continuation and the first EOS ends the search, exactly like greedy decoding.
  const rng = new Rng(11);
  const table = Array.from({ length: V }, () => {
    const l = Array.from({ length: V }, () => rng.normal() * 2);
    l[0] = -50; // no pad
    l[SOT] = -50;
    const m = Math.max(...l);
    const z = Math.log(l.reduce((a, v) => a + Math.exp(v - m), 0)) + m;
    return l.map((v) => v - z);
  });
  // Make EOS the argmax after token 3 so the greedy path ends.
  table[3]![EOS] = 0;
  const { next } = markov((_img, last) => table[last]!);
  const greedy = await generateTokens(next, 1, opts({ generationType: 'greedy', seqLen: 12, minSeqLen: 0 }));
  const beam = await generateTokens(next, 1, opts({ generationType: 'beam_search', numBeams: 1, numBeamGroups: 1, seqLen: 12, minSeqLen: 0 }));
  assert.deepEqual(beam, greedy);
});

test('beam search stops at seqLen without EOS when no hypothesis finishes', async () => {
  const { next } = markov(() => [-9, 1, 2, 3, 0, 0, -9, -20]);
  const out = await generateTokens(next, 1, opts({ generationType: 'beam_search', numBeams: 2, numBeamGroups: 1, seqLen: 5, minSeqLen: 1 }));
  assert.equal(out[0]!.length, 5);
  assert.deepEqual(out[0], [SOT, 3, 3, 3, 3]);
});
