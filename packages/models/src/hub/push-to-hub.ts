/**
 * OpenCLIP's `push_to_hf_hub` / `save_for_hf`: a model folder in the Hub layout that
 * `create_model_and_transforms('hf-hub:org/name')` and `'local-dir:<folder>'` load —
 * `open_clip_model.safetensors` (state dict under OpenCLIP's key names), `open_clip_config.json`
 * (`model_cfg` + `preprocess_cfg`), the tokenizer files of models that use a Hugging Face
 * tokenizer, and a model card `README.md` — and its upload through
 * `@huggingface/hub` (create the repo if needed, then one commit).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRepo, uploadFiles } from '@huggingface/hub';
import { saveSafetensors, type TensorToWrite } from '@openclip/engine/safetensors';
import type { PreprocessConfig } from '@openclip/data';
import { locateHfTokenizer } from '@openclip/tokenizer';
import { TOKENIZER_FILES } from './hf-tokenizer-download.js';
import type { OpenClipModel } from '../model/types.js';
import { modelConfigToJson } from '../config/model-config.js';
import { hubEndpoint } from './hf-download.js';
import { HF_CONFIG_NAME, HF_SAFE_WEIGHTS_NAME, hfTokenPath } from '@openclip/common';
import { hfToken } from './hf-token.js';

export interface HubFolderOptions {
  /** The model name the card shows (a built-in name or the config file stem). */
  modelName: string;
  preprocessCfg: PreprocessConfig;
  /** Where the weights came from, for the card. */
  source?: string | null;
  /** The repo id the card's loading snippets name. */
  repoId?: string;
  license?: string;
  /** Hub cache searched for the HF tokenizer of models that use one (default: the environment's). */
  cacheDir?: string;
}


/**
 * For a model whose text tower uses a Hugging Face tokenizer (`text_cfg.hf_tokenizer_name`),
 * copies that tokenizer's files into the folder, as OpenCLIP's `push_to_hf_hub` saves the
 * tokenizer beside the weights: `get_tokenizer('hf-hub:…')` / `'local-dir:…'` then load it from
 * there. The tokenizer must be local (a folder or the hub cache); nothing is downloaded.
 */
function copyHfTokenizer(hfName: string, outDir: string, cacheDir?: string): string[] {
  let dir: string;
  try {
    dir = locateHfTokenizer(hfName, { cacheDir });
  } catch (e) {
    throw new Error(`the model's text tower uses the Hugging Face tokenizer ${JSON.stringify(hfName)}, which the Hub folder must carry: ${(e as Error).message}`);
  }
  const written: string[] = [];
  for (const f of TOKENIZER_FILES) {
    if (!existsSync(join(dir, f))) continue;
    copyFileSync(join(dir, f), join(outDir, f));
    written.push(join(outDir, f));
  }
  return written;
}

function stateDictTensors(model: OpenClipModel): Map<string, TensorToWrite> {
  const out = new Map<string, TensorToWrite>();
  for (const [k, v] of model.stateDict()) {
    if (v.dtype === 'int32') out.set(k, { dtype: 'I64', shape: [...v.shape], data: BigInt64Array.from(v.dataSync() as Int32Array, (x) => BigInt(x)) });
    else out.set(k, { dtype: 'F32', shape: [...v.shape], data: Float32Array.from(v.dataSync() as Float32Array) });
  }
  return out;
}

/** The model card: front matter with the tags the Hub and OpenCLIP use, and how to load the model. */
export function modelCard(o: HubFolderOptions): string {
  const repo = o.repoId ?? '<org>/<name>';
  return [
    '---',
    'tags:',
    '- clip',
    '- open_clip',
    '- openclip-ts',
    'library_name: open_clip',
    'pipeline_tag: zero-shot-image-classification',
    `license: ${o.license ?? 'mit'}`,
    '---',
    '',
    `# ${repo}`,
    '',
    `A ${o.modelName} CLIP model${o.source ? ` (weights: ${o.source})` : ''}, written by openclip-ts in OpenCLIP's Hub format.`,
    '',
    '## Use with OpenCLIP (Python)',
    '',
    '```python',
    'import open_clip',
    `model, preprocess_train, preprocess_val = open_clip.create_model_and_transforms('hf-hub:${repo}')`,
    `tokenizer = open_clip.get_tokenizer('hf-hub:${repo}')`,
    '```',
    '',
    '## Use with openclip-ts',
    '',
    '```sh',
    `openclip embed --model hf-hub:${repo} --images photos/ --out features.safetensors`,
    `openclip eval --model hf-hub:${repo} --imagenet-val /data/imagenet/val`,
    '```',
    '',
    '## Files',
    '',
    `- \`${HF_SAFE_WEIGHTS_NAME}\`: the state dict under OpenCLIP's key names`,
    `- \`${HF_CONFIG_NAME}\`: \`model_cfg\` (model config) and \`preprocess_cfg\` (image size, mean, std, interpolation, resize mode)`,
    '',
  ].join('\n');
}

/** Writes the Hub folder; returns the files written. */
export function writeHubFolder(model: OpenClipModel, outDir: string, o: HubFolderOptions): string[] {
  mkdirSync(outDir, { recursive: true });
  const weights = join(outDir, HF_SAFE_WEIGHTS_NAME);
  saveSafetensors(weights, stateDictTensors(model), { format: 'pt' });
  const p = o.preprocessCfg;
  // OpenCLIP's factory passes model_cfg's top-level keys to the model constructor, which has no
  // preprocess_cfg argument: preprocessing lives only in the file's own preprocess_cfg.
  const modelCfg = modelConfigToJson(model.config);
  delete modelCfg.preprocess_cfg;
  const config = {
    model_cfg: modelCfg,
    preprocess_cfg: { size: p.image_size, mean: p.mean, std: p.std, interpolation: p.interpolation, resize_mode: p.resize_mode, fill_color: p.fill_color },
  };
  const cfgPath = join(outDir, HF_CONFIG_NAME);
  writeFileSync(cfgPath, JSON.stringify(config, null, 2) + '\n');
  const hfTokenizer = (model.config.text_cfg as { hf_tokenizer_name?: string | null }).hf_tokenizer_name;
  const tokenizerFiles = hfTokenizer ? copyHfTokenizer(hfTokenizer, outDir, o.cacheDir) : [];
  const card = join(outDir, 'README.md');
  writeFileSync(card, modelCard(o));
  return [weights, cfgPath, ...tokenizerFiles, card];
}

export interface PushOptions {
  repoId: string;
  /** Default: $HF_TOKEN, $HUGGING_FACE_HUB_TOKEN, then the huggingface-cli login token file. */
  token?: string;
  private?: boolean;
  commitMessage?: string;
  /** Default: $HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
}

/** Creates the repo when it does not exist, then uploads the folder's files in one commit. */
export async function pushFolderToHub(files: string[], o: PushOptions): Promise<{ repoUrl: string; commit: string | null }> {
  const token = o.token ?? hfToken()?.token;
  if (!token) throw new Error(`push-to-hub needs a Hugging Face token: set HF_TOKEN or run huggingface-cli login (a write token from huggingface.co/settings/tokens; looked in $HF_TOKEN, $HUGGING_FACE_HUB_TOKEN and ${hfTokenPath()})`);
  if (!/^[\w.-]+\/[\w.-]+$/.test(o.repoId)) throw new Error(`--repo-id '${o.repoId}' is not of the form org/name`);
  const hubUrl = hubEndpoint(o.endpoint);
  const credentials = { accessToken: token };
  let repoUrl = `${hubUrl}/${o.repoId}`;
  try {
    repoUrl = (await createRepo({ repo: { type: 'model', name: o.repoId }, ...credentials, hubUrl, visibility: o.private ? 'private' : undefined })).repoUrl;
  } catch (e) {
    // an existing repo (409 Conflict) is fine: we add a commit to it
    if (!/already|conflict|409/i.test((e as Error).message)) throw new Error(`push-to-hub: could not create ${o.repoId} on ${hubUrl}: ${(e as Error).message}`);
  }
  const upload = files.map((f) => ({ path: f.split(/[\\/]/).pop()!, content: new Blob([readFileSync(f)]) }));
  const out = await uploadFiles({ repo: { type: 'model', name: o.repoId }, ...credentials, hubUrl, files: upload, commitTitle: o.commitMessage ?? 'Add model', useXet: false });
  return { repoUrl, commit: out?.commit.oid ?? null };
}
