/**
 * CoCa caption generation as OpenCLIP's `CoCa.generate` runs it (coca_model.py with the Hugging Face
 * logits processors it imports): top-k / top-p sampling (top-k 1 is greedy), and group beam search with
 * HF's `BeamSearchScorer` semantics, with `MinLengthLogitsProcessor`, `RepetitionPenaltyLogitsProcessor`,
 * the forced `<end_of_text>` at `seq_len`, the stop at `<end_of_text>` and `fixed_output_length`.
 *
 * The algorithms work on plain arrays and call back into the model for the next-token logits, so the
 * same code serves any decoder. Sampling draws from the engine's seeded `Rng`.
 */
import { Rng } from '@openclip/engine/rng';

export type GenerationType = 'beam_search' | 'top_k' | 'top_p' | 'greedy';

export const GENERATION_TYPES: readonly GenerationType[] = ['beam_search', 'top_k', 'top_p', 'greedy'];

export interface GenerateOptions {
  /** 'beam_search' (OpenCLIP's default), 'top_k', 'top_p', or 'greedy' (argmax; = top_k with topK 1). */
  generationType?: GenerationType;
  /** Maximum output length including `<start_of_text>` (default 30). */
  seqLen?: number;
  /** Sliding window of tokens fed to the model (OpenCLIP `max_seq_len`, default 77, capped at the decoder context). */
  maxSeqLen?: number;
  /** `<end_of_text>` is blocked while the prefix is shorter than this (default 5). */
  minSeqLen?: number;
  /** Softmax temperature for sampling (default 1). */
  temperature?: number;
  /** top_p: keep the smallest set of tokens whose probability mass exceeds topP (default 0.1). */
  topP?: number;
  /** top_k: keep the topK highest logits (default 1). */
  topK?: number;
  /** HF repetition penalty on tokens already in the prefix (default 1.0 = none). */
  repetitionPenalty?: number;
  numBeams?: number;
  numBeamGroups?: number;
  /** Pad every output to seqLen with padTokenId. */
  fixedOutputLength?: boolean;
  sotTokenId?: number;
  eosTokenId?: number;
  /** Defaults to the model's pad id (0). */
  padTokenId?: number;
  /** Seed or generator for sampling (top_k / top_p). */
  rng?: Rng | number;
  /**
   * Start the captions from these tokens instead of `[sotTokenId]` (OpenCLIP's `text` argument of the
   * sampling path): one row for every image, or one row per image. Not available with beam search.
   */
  prefix?: number[] | number[][];
}

export interface ResolvedGenerateOptions {
  generationType: GenerationType;
  seqLen: number;
  maxSeqLen: number;
  minSeqLen: number;
  temperature: number;
  topP: number;
  topK: number;
  repetitionPenalty: number;
  numBeams: number;
  numBeamGroups: number;
  fixedOutputLength: boolean;
  sotTokenId: number;
  eosTokenId: number;
  padTokenId: number;
  rng: Rng;
  prefix: number[] | number[][] | null;
}

/** Fills OpenCLIP 3.1.0's `generate()` defaults and checks the combination, naming the bad option. */
export function resolveGenerateOptions(o: GenerateOptions, defaults: { padTokenId: number; contextLength: number }): ResolvedGenerateOptions {
  const r: ResolvedGenerateOptions = {
    generationType: o.generationType ?? 'beam_search',
    seqLen: o.seqLen ?? 30,
    maxSeqLen: Math.min(o.maxSeqLen ?? 77, defaults.contextLength),
    minSeqLen: o.minSeqLen ?? 5,
    temperature: o.temperature ?? 1.0,
    topP: o.topP ?? 0.1,
    topK: o.topK ?? 1,
    repetitionPenalty: o.repetitionPenalty ?? 1.0,
    numBeams: o.numBeams ?? 6,
    numBeamGroups: o.numBeamGroups ?? 3,
    fixedOutputLength: o.fixedOutputLength ?? false,
    sotTokenId: o.sotTokenId ?? 49406,
    eosTokenId: o.eosTokenId ?? 49407,
    padTokenId: o.padTokenId ?? defaults.padTokenId,
    rng: o.rng instanceof Rng ? o.rng : new Rng(o.rng ?? 0),
    prefix: o.prefix ?? null,
  };
  if (!GENERATION_TYPES.includes(r.generationType)) {
    throw new Error(`generate: generationType '${r.generationType}' is not one of ${GENERATION_TYPES.join(', ')}`);
  }
  const posInt = (v: number, name: string) => {
    if (!Number.isInteger(v) || v < 1) throw new Error(`generate: ${name} must be a positive integer, got ${v}`);
  };
  posInt(r.seqLen, 'seqLen');
  posInt(r.maxSeqLen, 'maxSeqLen');
  posInt(r.topK, 'topK');
  posInt(r.numBeams, 'numBeams');
  posInt(r.numBeamGroups, 'numBeamGroups');
  if (!Number.isInteger(r.minSeqLen) || r.minSeqLen < 0) throw new Error(`generate: minSeqLen must be a non-negative integer, got ${r.minSeqLen}`);
  if (r.seqLen <= r.minSeqLen) throw new Error(`generate: seqLen (${r.seqLen}) must be larger than minSeqLen (${r.minSeqLen})`);
  if (!(r.temperature > 0)) throw new Error(`generate: temperature must be > 0, got ${r.temperature}`);
  if (!(r.topP > 0 && r.topP <= 1)) throw new Error(`generate: topP must be in (0, 1], got ${r.topP}`);
  if (!(r.repetitionPenalty > 0)) throw new Error(`generate: repetitionPenalty must be > 0, got ${r.repetitionPenalty}`);
  if (r.prefix !== null) {
    if (r.generationType === 'beam_search') throw new Error('generate: prefix is only supported by the sampling types (top_k, top_p, greedy), as in OpenCLIP');
    const rows = (Array.isArray(r.prefix[0]) ? r.prefix : [r.prefix]) as number[][];
    if (rows.length === 0 || rows.some((row) => !Array.isArray(row) || row.length === 0 || row.some((t) => !Number.isInteger(t) || t < 0))) {
      throw new Error('generate: prefix must be a non-empty list of token ids (or one such list per image)');
    }
    if (rows.some((row) => row.length !== rows[0]!.length)) throw new Error('generate: every prefix row must have the same length');
  }
  if (r.numBeams % r.numBeamGroups !== 0) {
    throw new Error(`generate: numBeams (${r.numBeams}) must be divisible by numBeamGroups (${r.numBeamGroups})`);
  }
  return r;
}

/**
 * Next-token logits for `rows` sequences of equal length `len` (`tokens` row-major [rows, len]);
 * `source[i]` is the index of the image (or beam's image) row i continues. Returns [rows, vocab].
 */
export type NextTokenLogits = (tokens: Int32Array, source: number[], len: number) => Promise<Float32Array>;

// Logits processors (HF semantics, in place on one row)

/** MinLengthLogitsProcessor: no `<end_of_text>` while the prefix is shorter than minLength. */
export function applyMinLength(scores: Float32Array, prefixLen: number, minLength: number, eos: number): void {
  if (prefixLen < minLength) scores[eos] = -Infinity;
}

/** RepetitionPenaltyLogitsProcessor: for every token in the prefix, s<0 ? s·p : s/p (once per token id). */
export function applyRepetitionPenalty(scores: Float32Array, prefix: ArrayLike<number>, penalty: number): void {
  if (penalty === 1) return;
  const seen = new Set<number>();
  for (let i = 0; i < prefix.length; i++) {
    const t = prefix[i]!;
    if (seen.has(t)) continue;
    seen.add(t);
    const s = scores[t]!;
    scores[t] = Math.fround(s < 0 ? s * penalty : s / penalty);
  }
}

/** TopKLogitsWarper: scores below the k-th largest become -inf (ties with it are kept). */
export function applyTopK(scores: Float32Array, k: number): void {
  const kk = Math.min(Math.max(k, 1), scores.length);
  const kth = kthLargest(scores, kk);
  for (let i = 0; i < scores.length; i++) if (scores[i]! < kth) scores[i] = -Infinity;
}

/**
 * TopPLogitsWarper: sort ascending, drop the tokens whose cumulative probability is ≤ 1 - topP,
 * always keeping the most likely one. Equivalently a token survives when the probability mass of
 * the tokens ranked above it is < topP; the top of a max-heap is walked until that mass reaches topP,
 * so the vocabulary is never fully sorted.
 */
export function applyTopP(scores: Float32Array, topP: number): void {
  const n = scores.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (scores[i]! > max) max = scores[i]!;
  if (max === -Infinity) return;
  const p = new Float64Array(n);
  let z = 0;
  for (let i = 0; i < n; i++) {
    p[i] = Math.exp(scores[i]! - max);
    z += p[i]!;
  }
  // Max-heap of indices by (probability desc, index asc).
  const heap = Int32Array.from({ length: n }, (_, i) => i);
  const above = (a: number, b: number) => p[a]! > p[b]! || (p[a] === p[b] && a < b);
  const down = (start: number, size: number) => {
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < size && above(heap[l]!, heap[m]!)) m = l;
      if (r < size && above(heap[r]!, heap[m]!)) m = r;
      if (m === i) return;
      const t = heap[i]!;
      heap[i] = heap[m]!;
      heap[m] = t;
      i = m;
    }
  };
  for (let i = (n >> 1) - 1; i >= 0; i--) down(i, n);
  const keep = new Uint8Array(n);
  let size = n;
  let massAbove = 0;
  while (size > 0 && massAbove < topP) {
    const top = heap[0]!;
    keep[top] = 1;
    massAbove += p[top]! / z;
    size--;
    heap[0] = heap[size]!;
    down(0, size);
  }
  for (let i = 0; i < n; i++) if (!keep[i]) scores[i] = -Infinity;
}

/** The k-th largest value (k ≥ 1). */
function kthLargest(values: Float32Array, k: number): number {
  if (k === 1) {
    let m = -Infinity;
    for (let i = 0; i < values.length; i++) if (values[i]! > m) m = values[i]!;
    return m;
  }
  return Float32Array.from(values).sort().reverse()[k - 1]!;
}

function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** torch.multinomial(softmax(scores / temperature), 1) with the seeded generator. */
function sample(scores: Float32Array, temperature: number, rng: Rng): number {
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) if (scores[i]! > max) max = scores[i]!;
  if (max === -Infinity) throw new Error('generate: every token was filtered out');
  const p = new Float64Array(scores.length);
  let z = 0;
  for (let i = 0; i < scores.length; i++) {
    const e = Math.exp((scores[i]! - max) / temperature);
    p[i] = e;
    z += e;
  }
  let u = rng.random() * z;
  let last = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i]! === 0) continue;
    last = i;
    u -= p[i]!;
    if (u < 0) return i;
  }
  return last;
}

// Sampling (top_k, top_p, greedy)

/**
 * OpenCLIP's sampling loop: starting from `<start_of_text>` for each of `batch` images, append one
 * token per step to the rows not yet finished (last token EOS or PAD), forcing EOS when the next
 * length would reach seqLen; finished rows receive PAD. Stops when every row ends in EOS, when all
 * rows are finished (unless fixedOutputLength), or at seqLen.
 */
export async function generateBySampling(next: NextTokenLogits, batch: number, o: ResolvedGenerateOptions): Promise<number[][]> {
  let out: number[][] = Array.from({ length: batch }, () => [o.sotTokenId]);
  if (o.prefix) {
    const rows = (Array.isArray(o.prefix[0]) ? o.prefix : [o.prefix]) as number[][];
    if (rows.length !== 1 && rows.length !== batch) throw new Error(`generate: ${rows.length} prefix rows for ${batch} images`);
    out = Array.from({ length: batch }, (_, i) => (rows.length === 1 ? rows[0]! : rows[i]!).slice());
  }
  for (;;) {
    const len = out[0]!.length;
    const start = Math.max(0, len - o.maxSeqLen);
    const curLen = len - start;
    const done = out.map((row) => row[len - 1] === o.eosTokenId || row[len - 1] === o.padTokenId);
    const active = done.flatMap((d, i) => (d ? [] : [i]));
    const appended = new Array<number>(batch).fill(o.padTokenId);
    if (active.length === 0) {
      if (!o.fixedOutputLength) break;
    } else {
      const tokens = new Int32Array(active.length * curLen);
      active.forEach((row, r) => tokens.set(out[row]!.slice(start), r * curLen));
      const logits = await next(tokens, active, curLen);
      const vocab = logits.length / active.length;
      active.forEach((row, r) => {
        const scores = logits.slice(r * vocab, (r + 1) * vocab);
        const window = out[row]!.slice(start);
        applyMinLength(scores, curLen, o.minSeqLen, o.eosTokenId);
        applyRepetitionPenalty(scores, window, o.repetitionPenalty);
        if (curLen + 1 === o.seqLen) {
          appended[row] = o.eosTokenId;
        } else if (o.generationType === 'greedy') {
          appended[row] = argmax(scores);
        } else {
          if (o.generationType === 'top_k') applyTopK(scores, o.topK);
          else applyTopP(scores, o.topP);
          appended[row] = sample(scores, o.temperature, o.rng);
        }
      });
    }
    out.forEach((row, i) => row.push(appended[i]!));
    const newLen = len + 1;
    if (newLen >= o.seqLen || out.every((row) => row[newLen - 1] === o.eosTokenId)) break;
  }
  return out;
}

// Beam search (HF BeamSearchScorer with beam groups, as OpenCLIP's _generate_beamsearch drives it)

interface Hypothesis {
  score: number;
  tokens: number[];
}

/** HF BeamHypotheses (length_penalty 1.0, early_stopping false). */
class BeamHypotheses {
  readonly beams: Hypothesis[] = [];
  worstScore = 1e9;
  constructor(readonly numBeams: number) {}

  add(tokens: number[], sumLogprobs: number, generatedLen: number): void {
    const score = sumLogprobs / generatedLen;
    if (this.beams.length < this.numBeams || score > this.worstScore) {
      this.beams.push({ score, tokens });
      if (this.beams.length > this.numBeams) {
        const sorted = this.beams.map((b, i) => [b.score, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        this.beams.splice(sorted[0]![1], 1);
        this.worstScore = sorted[1]![0];
      } else {
        this.worstScore = Math.min(score, this.worstScore);
      }
    }
  }

  isDone(bestSumLogprobs: number, curLen: number): boolean {
    if (this.beams.length < this.numBeams) return false;
    return this.worstScore >= bestSumLogprobs / curLen;
  }
}

/** The `k` largest entries of `values` (value descending, index ascending on ties), like torch.topk(sorted). */
function topKIndices(values: Float32Array, k: number): number[] {
  const idx: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (idx.length === k && !(v > values[idx[k - 1]!]!)) continue;
    let pos = idx.length;
    while (pos > 0 && v > values[idx[pos - 1]!]!) pos--;
    idx.splice(pos, 0, i);
    if (idx.length > k) idx.pop();
  }
  return idx;
}

/**
 * Group beam search: `numBeams` beams per image in `numBeamGroups` groups; each step scores every
 * beam's continuation with the processed logits (OpenCLIP feeds raw logits, not log-probabilities,
 * to the scorer), keeps the best 2·groupSize candidates per group, finishes hypotheses at EOS, and
 * returns the best hypothesis per image with EOS appended (padded to a common length).
 */
export async function generateByBeamSearch(next: NextTokenLogits, batch: number, o: ResolvedGenerateOptions): Promise<number[][]> {
  const numBeams = o.numBeams;
  const groups = o.numBeamGroups;
  const groupSize = numBeams / groups;
  const rows = batch * numBeams;
  let inputIds: number[][] = Array.from({ length: rows }, () => [o.sotTokenId]);
  const beamScores = new Float64Array(rows).fill(-1e9);
  for (let b = 0; b < batch; b++) for (let g = 0; g < groups; g++) beamScores[b * numBeams + g * groupSize] = 0;
  const hyps = Array.from({ length: batch * groups }, () => new BeamHypotheses(groupSize));
  const doneFlags = new Array<boolean>(batch * groups).fill(false);
  const source = Array.from({ length: rows }, (_, r) => Math.floor(r / numBeams));

  for (;;) {
    const len = inputIds[0]!.length;
    const flat = new Int32Array(rows * len);
    inputIds.forEach((row, r) => flat.set(row, r * len));
    const logits = await next(flat, source, len);
    const vocab = logits.length / rows;
    const currentTokens = new Array<number>(rows).fill(0);
    const nextInputIds: number[][] = inputIds.map((r) => r.slice());

    for (let g = 0; g < groups; g++) {
      const start = g * groupSize;
      const groupRows: number[] = [];
      for (let b = 0; b < batch; b++) for (let j = 0; j < groupSize; j++) groupRows.push(b * numBeams + start + j);
      const groupIds = groupRows.map((r) => inputIds[r]!);
      // Processed scores + running beam score, per image flattened over [groupSize, vocab].
      const scores = new Float32Array(batch * groupSize * vocab);
      groupRows.forEach((r, gi) => {
        const s = logits.slice(r * vocab, (r + 1) * vocab);
        applyMinLength(s, len, o.minSeqLen, o.eosTokenId);
        applyRepetitionPenalty(s, groupIds[gi]!, o.repetitionPenalty);
        const base = beamScores[r]!;
        const off = gi * vocab;
        for (let v = 0; v < vocab; v++) scores[off + v] = Math.fround(s[v]! + base);
      });
      const nextBeamScores = new Float64Array(batch * groupSize);
      const nextBeamTokens = new Array<number>(batch * groupSize).fill(0);
      const nextBeamIndices = new Array<number>(batch * groupSize).fill(0);
      const curLen = len + 1;
      for (let b = 0; b < batch; b++) {
        const bg = b * groups + g;
        const slice = scores.subarray(b * groupSize * vocab, (b + 1) * groupSize * vocab);
        const cand = topKIndices(slice, 2 * groupSize);
        if (doneFlags[bg]) {
          for (let j = 0; j < groupSize; j++) {
            nextBeamScores[b * groupSize + j] = 0;
            nextBeamTokens[b * groupSize + j] = o.padTokenId;
            nextBeamIndices[b * groupSize + j] = 0;
          }
          continue;
        }
        let beamIdx = 0;
        for (let rank = 0; rank < cand.length; rank++) {
          const flatIdx = cand[rank]!;
          const token = flatIdx % vocab;
          const from = Math.floor(flatIdx / vocab);
          const score = slice[flatIdx]!;
          const batchBeamIdx = b * groupSize + from;
          if (token === o.eosTokenId) {
            if (rank >= groupSize) continue;
            hyps[bg]!.add(groupIds[batchBeamIdx]!.slice(), score, curLen);
          } else {
            nextBeamScores[b * groupSize + beamIdx] = score;
            nextBeamTokens[b * groupSize + beamIdx] = token;
            nextBeamIndices[b * groupSize + beamIdx] = batchBeamIdx;
            beamIdx++;
          }
          if (beamIdx === groupSize) break;
        }
        if (beamIdx < groupSize) throw new Error(`generate: beam search found fewer than ${groupSize} non-EOS continuations`);
        doneFlags[bg] = doneFlags[bg]! || hyps[bg]!.isDone(slice[cand[0]!]!, curLen);
      }
      groupRows.forEach((r, gi) => {
        beamScores[r] = nextBeamScores[gi]!;
        const srcRow = groupIds[nextBeamIndices[gi]!]!;
        nextInputIds[r] = srcRow.slice();
        currentTokens[r] = nextBeamTokens[gi]!;
      });
    }
    inputIds = nextInputIds.map((row, r) => [...row, currentTokens[r]!]);
    const newLen = len + 1;
    const allDone = doneFlags.every(Boolean);
    if (allDone || newLen >= o.seqLen || inputIds.every((row) => row[newLen - 1] === o.eosTokenId)) break;
  }

  // finalize
  for (let bg = 0; bg < batch * groups; bg++) {
    if (doneFlags[bg]) continue;
    const b = Math.floor(bg / groups);
    const g = bg % groups;
    for (let j = 0; j < groupSize; j++) {
      const r = b * numBeams + g * groupSize + j;
      hyps[bg]!.add(inputIds[r]!.slice(), beamScores[r]!, inputIds[r]!.length);
    }
  }
  const best: number[][] = [];
  for (let b = 0; b < batch; b++) {
    const cands = hyps.slice(b * groups, (b + 1) * groups).flatMap((h) => h.beams);
    // Python's sorted() is stable; pop() takes the last of the highest scores.
    const sorted = cands.map((c, i) => [c, i] as const).sort((x, y) => x[0].score - y[0].score || x[1] - y[1]);
    best.push(sorted[sorted.length - 1]![0].tokens);
  }
  const maxLen = Math.max(...best.map((t) => t.length));
  const outLen = Math.min(maxLen + 1, o.seqLen);
  let out = best.map((t) => {
    const row = new Array<number>(outLen).fill(o.padTokenId);
    for (let i = 0; i < Math.min(t.length, outLen); i++) row[i] = t[i]!;
    if (t.length < outLen) row[t.length] = o.eosTokenId;
    return row;
  });
  if (o.fixedOutputLength && outLen < o.seqLen) out = out.map((row) => [...row, ...new Array<number>(o.seqLen - outLen).fill(o.padTokenId)]);
  return out;
}

/** Dispatches on `generationType`. */
export async function generateTokens(next: NextTokenLogits, batch: number, o: ResolvedGenerateOptions): Promise<number[][]> {
  return o.generationType === 'beam_search' ? generateByBeamSearch(next, batch, o) : generateBySampling(next, batch, o);
}
