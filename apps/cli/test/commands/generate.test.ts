import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { referenceDir, referenceManifest } from '@openclip/test-config';
import { captionText } from '../../src/commands/generate.js';

const bin = fileURLToPath(new URL('../../../bin/run.js', import.meta.url));
function openclip(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { ...r, stderr: r.stderr.replace(/\s*\n\s*›\s*/g, ' ') };
}

interface CocaCase {
  id: string;
  kind: string;
  config: string;
  weights: string;
  extra?: { generate?: { image: string; output_ids: number[]; call: string } };
}

function cocaCase(): { dir: string; c: CocaCase } | null {
  try {
    const dir = referenceDir();
    const c = (referenceManifest() as { cases: CocaCase[] }).cases.find((x) => x.kind === 'coca' && x.extra?.generate);
    return c ? { dir, c } : null;
  } catch {
    return null;
  }
}

/** The keyword arguments of a recorded Python call, e.g. "model.generate(image, generation_type='top_k', top_k=1, ...)". */
function callKwargs(call: string): Record<string, string> {
  return Object.fromEntries([...call.matchAll(/(\w+)=([^,)]+)/g)].map((m) => [m[1], m[2].replace(/^'|'$/g, '')]));
}

test("openclip generate writes OpenCLIP's caption tokens for a CoCa checkpoint (greedy, as the reference run)", (t) => {
  const found = cocaCase();
  if (!found) return t.skip('no CoCa case with a generate() reference in the fixture manifest');
  const { dir, c } = found;
  const g = c.extra!.generate!;
  const kw = callKwargs(g.call);
  if (kw.generation_type !== 'top_k' || !kw.top_k || !kw.seq_len || !kw.min_seq_len) return t.skip(`reference call not covered here: ${g.call}`);
  const image = join(dir, 'images', g.image.split('/')[0]);
  if (!existsSync(image)) return t.skip(`reference image ${image} absent`);
  const work = mkdtempSync(join(tmpdir(), 'openclip-gen-'));
  const list = join(work, 'images.txt');
  writeFileSync(list, `${image}\n`);
  const out = join(work, 'captions.tsv');
  const r = openclip(['generate', '--model', join(dir, c.config), '--pretrained', join(dir, c.weights), '--images', list, '--generation-type', 'top_k', '--top-k', kw.top_k, '--seq-len', kw.seq_len, '--min-seq-len', kw.min_seq_len, '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout) as { captions: { image: string; caption: string; tokens: number[] }[] };
  assert.equal(res.captions.length, 1);
  assert.deepEqual(res.captions[0].tokens, g.output_ids);
  assert.equal(readFileSync(out, 'utf8'), `${image}\t${res.captions[0].caption}\n`);
});

test('a model without a text decoder is refused by name; the caption text follows OpenCLIP\'s recipe', () => {
  assert.equal(captionText('<start_of_text>a red circle <end_of_text>!! '), 'a red circle');
  const work = mkdtempSync(join(tmpdir(), 'openclip-gen-'));
  const list = join(work, 'images.txt');
  writeFileSync(list, `${join(work, 'missing.png')}\n`);
  const r = openclip(['generate', '--model', 'ViT-Tiny-8-64-demo', '--images', list]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /missing\.png not found/);
  const found = cocaCase();
  if (!found) return;
  const image = join(found.dir, 'images', found.c.extra!.generate!.image.split('/')[0]);
  if (!existsSync(image)) return;
  writeFileSync(list, `${image}\n`);
  const clip = openclip(['generate', '--model', 'ViT-Tiny-8-64-demo', '--images', list]);
  assert.equal(clip.status, 2);
  assert.match(clip.stderr, /--model ViT-Tiny-8-64-demo: CLIP has no text decoder; captions need a CoCa model/);
});
