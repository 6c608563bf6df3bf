// Every model family and loss trains on the webgpu backend (TF.js's WebGPU backend on Dawn):
// one training step of the real models — ViT CLIP, ModifiedResNet CLIP, CoCa, SigLIP and
// distillation — compared with the plain cpu backend (loss, every gradient, the loss of a second
// full step with the fused WGSL AdamW, no leaked tensors). Runs on whatever adapter Dawn offers,
// a CPU Vulkan driver included (`npm run setup:lavapipe`); skips, saying why, when there is none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, webgpuStatus, tf } from '@openclip/engine';
import { AdamW } from '../src/optim/adamw.js';
import { CASES, compare, runCase } from '../test-support/step-case.js';

async function adapterMissing(): Promise<string | null> {
  try {
    await initEngine({ backend: 'webgpu' });
    return null;
  } catch (e) {
    return `no usable WebGPU adapter: ${(e as Error).message}`;
  }
}

const missing = await adapterMissing();
const where = webgpuStatus()?.reason ?? 'not probed';

for (const [name, c] of Object.entries(CASES)) {
  test(`${name}: a training step on webgpu matches the cpu backend (${where})`, { skip: missing ?? c.skip }, async () => {
    const want = await runCase(c, 'cpu', 'none');
    assert.ok([...want.grads.values()].some((g) => g.some((x) => x !== 0)), 'all gradients are zero');
    compare(await runCase(c, 'webgpu', 'none'), want, `${name} on webgpu`);
  });
}

test('AdamW updates on the GPU on webgpu (the engine kernel, not a read-back of every parameter)', { skip: missing ?? false }, async () => {
  await initEngine({ backend: 'webgpu' });
  const w = tf.variable(tf.ones([4, 4]), true, 'webgpu-test.w');
  const opt = new AdamW(new Map([['w', w]]), { lr: 1e-3 });
  assert.equal(opt.kernel, 'engine');
  opt.step(new Map([['w', tf.onesLike(w)]]));
  assert.ok(Math.abs((w.dataSync() as Float32Array)[0] - (1 - 1e-3 * 0.01 - 1e-3)) < 1e-5, `updated value ${w.dataSync()[0]}`);
  opt.dispose();
  w.dispose();
});
