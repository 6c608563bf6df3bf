import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listPretrainedInfo } from '../../src/pretrained/pretrained.js';
import { quickGeluMismatch } from '../../src/factory/quick-gelu-check.js';

test("a tag trained with QuickGELU on a GELU config warns in OpenCLIP's words; matching pairs and files do not", () => {
  const rows = listPretrainedInfo();
  const qg = rows.find((r) => r.quick_gelu && !r.model.endsWith('-quickgelu'));
  const plain = rows.find((r) => !r.quick_gelu);
  assert.ok(qg && plain, 'the registry has tags of both kinds');
  assert.equal(
    quickGeluMismatch(qg.model, qg.tag, false),
    `QuickGELU mismatch between final model config (quick_gelu=False) and pretrained tag '${qg.tag}' (quick_gelu=True).`,
  );
  assert.equal(quickGeluMismatch(qg.model, qg.tag, true), null); // --force-quick-gelu
  assert.equal(quickGeluMismatch(plain.model, plain.tag, false), null);
  assert.match(quickGeluMismatch(plain.model, plain.tag, true)!, /quick_gelu=True\) and pretrained tag '.*' \(quick_gelu=False\)/);
  assert.equal(quickGeluMismatch(plain.model, '/tmp/epoch_3.safetensors', true), null);
});
