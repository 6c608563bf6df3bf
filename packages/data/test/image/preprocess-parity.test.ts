// Every case of fixtures/reference/preprocess (OpenCLIP 3.1.0 image_transform on Pillow 9.4), with
// both implementations (kernels 'js': TypeScript + sharp; 'native': @openclip/data-native, when it
// is built): the decoded RGB must equal the fixture's decoded_rgb_u8 and the float32 tensors must be
// bit-identical to the fixtures, PNG and JPEG alike.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSafetensors } from '@openclip/engine/safetensors';
import { referenceDir } from '@openclip/test-config';
import { decodeImage } from '../../src/image/decode.js';
import { imageTransform } from '../../src/image/image-transform.js';
import { nativeImageStatus, type ImageKernels } from '../../src/image/native.js';
import { convertToRgb } from '../../src/image/pil-image.js';
import { tensorToRgb } from '../../src/image/to-tensor.js';

interface Setting {
  name: string;
  image_transform_kwargs: Record<string, unknown> & { mean: number[]; std: number[] };
  images: 'all' | string[];
}

const dir = referenceDir();
const spec = JSON.parse(readFileSync(join(dir, 'preprocess', 'preprocess.json'), 'utf8')) as {
  settings: Setting[];
  images: { file: string; mode: string; width: number; height: number; format: string }[];
};
const { tensors } = loadSafetensors(join(dir, 'preprocess', 'preprocess.safetensors'));
const native = nativeImageStatus();
const KERNELS: [ImageKernels, false | string][] = [['js', false], ['native', native.addon ? false : `addon unavailable: ${native.detail}`]];

for (const [kernels, skip] of KERNELS) {
  for (const image of spec.images) {
    const name = image.file.split('/').pop() as string;
    const bytes = readFileSync(join(dir, image.file));

    test(`[${kernels}] decode ${name}: PIL mode ${image.mode}, RGB equals decoded_rgb_u8`, { skip }, async () => {
      const img = await decodeImage(bytes, name, kernels);
      assert.equal(img.mode, image.mode);
      assert.equal(img.width, image.width);
      assert.equal(img.height, image.height);
      const ref = tensors.get(`${name}/decoded_rgb_u8`);
      assert.ok(ref, `fixture tensor ${name}/decoded_rgb_u8 missing`);
      assert.deepEqual(ref.shape, [image.height, image.width, 3]);
      const rgb = convertToRgb(img);
      let maxErr = 0;
      for (let i = 0; i < rgb.length; i++) maxErr = Math.max(maxErr, Math.abs(rgb[i] - (ref.data[i] as number)));
      assert.equal(maxErr, 0, `${name}: decoded RGB differs from PIL by up to ${maxErr}`);
    });

    for (const setting of spec.settings) {
      if (setting.images !== 'all' && !setting.images.includes(name)) continue;
      test(`[${kernels}] preprocess ${name} / ${setting.name}: float32-exact`, { skip }, async () => {
        const { is_train: _isTrain, ...kwargs } = setting.image_transform_kwargs;
        const transform = imageTransform(kwargs, { kernels });
        const out = await transform(bytes, { source: name });
        const ref = tensors.get(`${name}/${setting.name}`);
        assert.ok(ref, `fixture tensor ${name}/${setting.name} missing`);
        assert.deepEqual(out.shape, ref.shape);
        assert.deepEqual(transform.outputShape, ref.shape);
        const { mean, std } = kwargs;
        const ours = tensorToRgb(out, mean, std);
        const theirs = tensorToRgb({ data: ref.data as Float32Array, shape: ref.shape as [3, number, number] }, mean, std);
        let maxErr = 0;
        for (let i = 0; i < ours.length; i++) maxErr = Math.max(maxErr, Math.abs(ours[i] - theirs[i]));
        assert.equal(maxErr, 0, `${name}/${setting.name}: max uint8 error ${maxErr}`);
        // Beyond uint8 equality the float32 values follow torch's ToTensor/Normalize rounding.
        let maxFloat = 0;
        for (let i = 0; i < out.data.length; i++) maxFloat = Math.max(maxFloat, Math.abs(out.data[i] - (ref.data[i] as number)));
        assert.equal(maxFloat, 0, `${name}/${setting.name}: float32 values differ by up to ${maxFloat}`);
      });
    }
  }
}
