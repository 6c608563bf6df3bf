// timm's initialisation of the transformer trunks (what a `timm_model_pretrained: false` run starts
// from): trunc_normal_(.02) linears and position embeddings, trunc_normal_tf_ latent queries, and
// EVA's depth-rescaled output projections. Checked as distributions, since the draws differ from torch's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, Rng } from '@openclip/engine';
import { materialize, truncNormal, truncNormalTf } from '../../../src/init/initializers.js';
import { createModel } from '../../../src/model/create.js';
import { registerTimmModel } from '../../../src/towers/timm/timm-registry.js';

function stats(x: Float32Array): { mean: number; std: number; maxAbs: number } {
  let s = 0;
  let s2 = 0;
  let m = 0;
  for (const v of x) {
    s += v;
    s2 += v * v;
    m = Math.max(m, Math.abs(v));
  }
  const mean = s / x.length;
  return { mean, std: Math.sqrt(s2 / x.length - mean * mean), maxAbs: m };
}

function near(got: number, want: number, rel: number, what: string): void {
  assert.ok(Math.abs(got - want) <= rel * want, `${what}: ${got} vs ${want} (±${rel * 100}%)`);
}

test('truncated normals: trunc_normal_ bounds are absolute, trunc_normal_tf_ bounds are in units of std', () => {
  const rng = new Rng(1);
  const tf2 = stats(materialize(truncNormalTf(0.5), 200_000, rng));
  assert.ok(tf2.maxAbs <= 1.0, `|x| ≤ 2σ, got ${tf2.maxAbs}`);
  near(tf2.std, 0.5 * 0.87962566, 0.01, 'std of N(0,1) cut at ±2, times σ'); // truncated-normal std at ±2σ
  const abs = stats(materialize(truncNormal(1, -0.5, 1.5), 200_000, rng));
  assert.ok(abs.maxAbs <= 1.5 && Math.abs(abs.mean - 0.3563) < 0.01, `asymmetric absolute bounds honoured: ${JSON.stringify(abs)}`);
  const wide = stats(materialize(truncNormal(0.02), 200_000, rng));
  near(wide.std, 0.02, 0.01, 'at std .02 the ±2 bounds change nothing');
  assert.throws(() => materialize(truncNormal(1, 7, 8), 10, rng), /no mass/);
});

test('timm trunks initialise as timm does: linears and pos_embed N(0,.02) truncated, EVA proj/fc2 ÷ √(2(i+1)), MAP latent ±2σ', async () => {
  await initEngine({ backend: 'cpu' });
  registerTimmModel('test_init_eva', { family: 'eva', args: { img_size: 32, patch_size: 8, embed_dim: 128, depth: 3, num_heads: 2, mlp_ratio: 4, global_pool: 'token', use_rot_pos_emb: true, ref_feat_shape: [4, 4] } });
  registerTimmModel('test_init_map', { family: 'vit', args: { img_size: 32, patch_size: 8, embed_dim: 128, depth: 1, num_heads: 2, class_token: false, global_pool: 'map' } });
  const text = { context_length: 8, vocab_size: 64, width: 16, heads: 2, layers: 1 };
  for (const [name, pool] of [['test_init_eva', 'token'], ['test_init_map', 'map']] as const) {
    const model = createModel({ embed_dim: 128, custom_text: true, vision_cfg: { image_size: 32, timm_model_name: name, timm_model_pretrained: false, timm_pool: pool, timm_proj: null }, text_cfg: text }, { seed: 7 });
    try {
      const sd = model.stateDict();
      const get = (k: string) => {
        const t = sd.get(`visual.trunk.${k}`);
        assert.ok(t, `${name}: visual.trunk.${k} exists`);
        return t.dataSync() as Float32Array;
      };
      near(stats(get('pos_embed')).std, 0.02, 0.1, `${name} pos_embed`);
      if (name === 'test_init_eva') {
        near(stats(get('cls_token')).std, 0.02, 0.35, 'eva cls_token (128 values)');
        for (let i = 0; i < 3; i++) {
          near(stats(get(`blocks.${i}.attn.qkv.weight`)).std, 0.02, 0.05, `eva block ${i} qkv`);
          near(stats(get(`blocks.${i}.mlp.fc1.weight`)).std, 0.02, 0.05, `eva block ${i} fc1`);
          const scale = Math.sqrt(2 * (i + 1));
          near(stats(get(`blocks.${i}.attn.proj.weight`)).std, 0.02 / scale, 0.06, `eva block ${i} attn.proj (fix_init_weight)`);
          near(stats(get(`blocks.${i}.mlp.fc2.weight`)).std, 0.02 / scale, 0.06, `eva block ${i} mlp.fc2 (fix_init_weight)`);
          assert.equal(stats(get(`blocks.${i}.attn.proj.bias`)).maxAbs, 0, 'linear biases are zero');
        }
      } else {
        const latent = stats(get('attn_pool.latent'));
        assert.ok(latent.maxAbs <= 2 / Math.sqrt(128) + 1e-7, `latent is trunc_normal_tf_: |x| ≤ 2/√dim, got ${latent.maxAbs}`);
        near(stats(get('blocks.0.attn.proj.weight')).std, 0.02, 0.06, 'vit attn.proj is not rescaled');
        near(stats(get('attn_pool.kv.weight')).std, 0.02, 0.05, 'MAP head linears');
      }
    } finally {
      model.dispose();
    }
  }
});
