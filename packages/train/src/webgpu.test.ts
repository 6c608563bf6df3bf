// Every model family and loss trains on the webgpu backend (TF.js's WebGPU backend on Dawn):
// one training step of the real models — ViT CLIP, ModifiedResNet CLIP, CoCa, SigLIP and
// distillation — compared with the plain cpu backend (loss, every gradient, the loss of a second
// full step with the fused WGSL AdamW, no leaked tensors). Runs on whatever adapter Dawn offers,
// a CPU Vulkan driver included (`npm run setup:lavapipe`); skips, saying why, when there is none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, webgpuStatus } from '@openclip/engine';
import { CASES, compare, runCase } from './test-support/step-case.js';

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
  test(`${name}: a training step on webgpu matches the cpu backend (${where})`, { skip: missing ?? false }, async () => {
    const want = await runCase(c, 'cpu', 'none');
    assert.ok([...want.grads.values()].some((g) => g.some((x) => x !== 0)), 'all gradients are zero');
    compare(await runCase(c, 'webgpu', 'none'), want, `${name} on webgpu`);
  });
}
