import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SafetensorsFile, toFloat32 } from '@openclip/engine';
import { referenceDir, referenceManifest } from '@openclip/test-config';

// `openclip embed` end to end on the reference fixtures: image files → eval transform → model, and
// captions → tokenizer → model, against the features OpenCLIP 3.1.0 computed. Every case, file,
// size and text comes from the manifest.

const bin = fileURLToPath(new URL('../../../bin/run.js', import.meta.url));
function openclip(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, OPENCLIP_BACKEND: 'cpu' } });
  return { ...r, stderr: r.stderr.replace(/\s*\n\s*›\s*/g, ' ') };
}

const R = referenceDir();
const work = mkdtempSync(join(tmpdir(), 'openclip-embed-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

function caseOf(name: string) {
  return referenceManifest().cases.find((c: { id: string }) => c.id === `model/${name}`);
}

function read(path: string) {
  const f = SafetensorsFile.open(path);
  try {
    return { tensors: f.readAll(), metadata: f.metadata };
  } finally {
    f.close();
  }
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function rows(data: Float32Array, e: number, idx: number): Float32Array {
  return data.subarray(idx * e, (idx + 1) * e);
}

const MODEL_CASES: string[] = referenceManifest()
  .cases.filter((c: { id: string; config?: string }) => c.id.startsWith('model/') && typeof c.config === 'string')
  .map((c: { id: string }) => c.id.slice('model/'.length));

/** The eval outputs file of a model case (models/<name>.outputs.safetensors in today's layout). */
function outputsOf(c: { files: string[] }): string {
  const f = c.files.find((x) => x.endsWith('.outputs.safetensors'));
  assert.ok(f, 'the case lists its outputs file');
  return join(R, f);
}

test('the fixtures have model cases, each with its config, weights and outputs', () => {
  assert.ok(MODEL_CASES.length > 0, `no model case in ${R}/manifest.json`);
  for (const n of MODEL_CASES) {
    const c = caseOf(n);
    for (const f of [c.config, c.weights, outputsOf(c)]) assert.ok(existsSync(f.startsWith(R) ? f : join(R, f)), `${n}: ${f}`);
  }
});

for (const name of MODEL_CASES) {
  test(`openclip embed reproduces ${name}'s fixture features from the image files and captions`, () => {
    const c = caseOf(name);
    const texts = join(work, `${name}.jsonl`);
    writeFileSync(texts, c.texts.map((t: string) => JSON.stringify(t)).join('\n') + '\n');
    const out = join(work, `${name}.safetensors`);
    const r = openclip(['embed', '--model', join(R, c.config), '--pretrained', join(R, c.weights), '--images', join(R, 'images'), '--texts', texts, '--out', out, '--batch-size', '3', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.equal(result.images, c.image_inputs.keys.length);
    assert.equal(result.texts, c.texts.length);
    const { tensors, metadata } = read(out);
    const ref = read(outputsOf(c)).tensors;
    const e = ref.get('image_features')!.shape[1]!;
    const sources: string[] = JSON.parse(metadata.image_sources!);
    assert.deepEqual(sources.map((s) => basename(s)), readdirSync(join(R, 'images')).sort());
    assert.deepEqual(JSON.parse(metadata.texts!), c.texts);
    const got = toFloat32(tensors.get('image_features')!);
    const want = toFloat32(ref.get('image_features')!);
    const keys: string[] = c.image_inputs.keys;
    const tol = c.tolerance;
    // PNG and JPEG (libjpeg-turbo, as Pillow) inputs decode to the fixture's pixels, so every row
    // matches within the manifest's feature tolerance.
    const worst = { png: 0, jpg: 0 };
    sources.forEach((s, i) => {
      const j = keys.findIndex((k) => k.startsWith(`${basename(s)}/`));
      const d = maxDiff(rows(got, e, i), rows(want, e, j));
      const kind = s.endsWith('.png') ? 'png' : 'jpg';
      worst[kind] = Math.max(worst[kind], d);
      const bound = tol.features_atol + tol.features_rtol * 3;
      assert.ok(d <= bound, `${basename(s)}: image features differ by ${d} (bound ${bound})`);
    });
    const d = maxDiff(toFloat32(tensors.get('text_features')!), toFloat32(ref.get('text_features')!));
    assert.ok(d <= tol.features_atol + tol.features_rtol * 3, `text features differ by ${d}`);
    console.log(`embed ${name}: image features max abs diff png ${worst.png.toExponential(2)} jpeg ${worst.jpg.toExponential(2)}, text ${d.toExponential(2)}`);
  });
}

// The first model case whose inputs include two PNG pictures (PNGs decode exactly) and two texts.
const pngRows = (n: string) => (caseOf(n).image_inputs.keys as string[]).flatMap((k, i) => (/\.png\//i.test(k) ? [i] : []));
const LIST_CASE = MODEL_CASES.find((n) => pngRows(n).length >= 2 && caseOf(n).texts.length >= 2);

test('openclip embed --normalize, list files in their order, and clear input errors', { skip: LIST_CASE ? false : `no model case in ${R} with two PNG inputs and two texts` }, () => {
  const c = caseOf(LIST_CASE!);
  // Two PNG pictures in the reverse of the fixture's order, and its first and last texts.
  const [a, b] = pngRows(LIST_CASE!).slice(0, 2).reverse() as [number, number];
  const file = (i: number) => join(R, 'images', c.image_inputs.keys[i].split('/')[0]);
  const list = join(work, 'list.txt');
  writeFileSync(list, [file(a), file(b)].join('\n') + '\n');
  const last = c.texts.length - 1;
  const caps = join(work, 'caps.txt');
  writeFileSync(caps, `${c.texts[0]}\n${c.texts[last]}\n`);
  const out = join(work, 'norm.safetensors');
  const r = openclip(['embed', '--model', join(R, c.config), '--pretrained', join(R, c.weights), '--images', list, '--texts', caps, '--normalize', '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const { tensors } = read(out);
  const ref = read(outputsOf(c)).tensors;
  const e = ref.get('image_features_normalized')!.shape[1]!;
  const atol = c.tolerance.normalized_atol;
  const img = toFloat32(tensors.get('image_features')!);
  const wantImg = toFloat32(ref.get('image_features_normalized')!);
  assert.ok(maxDiff(rows(img, e, 0), rows(wantImg, e, a)) < atol, `${file(a)} row`);
  assert.ok(maxDiff(rows(img, e, 1), rows(wantImg, e, b)) < atol, `${file(b)} row`);
  const txt = toFloat32(tensors.get('text_features')!);
  const wantTxt = toFloat32(ref.get('text_features_normalized')!);
  assert.ok(maxDiff(rows(txt, e, 0), rows(wantTxt, e, 0)) < atol);
  assert.ok(maxDiff(rows(txt, e, 1), rows(wantTxt, e, last)) < atol);

  const none = openclip(['embed', '--model', join(R, c.config), '--out', out]);
  assert.notEqual(none.status, 0);
  assert.match(none.stderr, /--images and\/or --texts/);
  const badJsonl = join(work, 'bad.jsonl');
  writeFileSync(badJsonl, '"ok"\n{"text": 1}\n');
  const bad = openclip(['embed', '--model', join(R, c.config), '--texts', badJsonl, '--out', out]);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /bad\.jsonl:2: expected a JSON string/);
  const unknown = openclip(['embed', '--model', 'ViT-B-3', '--texts', caps, '--out', out]);
  assert.notEqual(unknown.status, 0);
  assert.match(unknown.stderr, /ViT-B-32/);
});

test('openclip list-models lists configs with their pretrained tags', () => {
  const r = openclip(['list-models', '--filter', 'coca', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const { models } = JSON.parse(r.stdout);
  const names = models.map((m: { name: string }) => m.name);
  assert.ok(names.includes('coca_ViT-B-32'), names.join(', '));
  assert.ok(names.every((n: string) => n.toLowerCase().includes('coca')));
  assert.ok(models.find((m: { name: string }) => m.name === 'coca_ViT-B-32').pretrained.includes('laion2b_s13b_b90k'));
  // A fixture model's config file added by path is listed under its file name without .json.
  const config: string = caseOf(MODEL_CASES[0]!).config;
  const all = openclip(['list-models', '--add-config', join(R, config), '--json']);
  assert.ok(JSON.parse(all.stdout).models.some((m: { name: string }) => m.name === basename(config, '.json')));
});
