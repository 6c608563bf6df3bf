/**
 * OpenCLIP's model-config registry (`factory.py`: `list_models`, `get_model_config`,
 * `add_model_config`): the built-in `model-configs/*.json` (file stem = model name) plus any
 * added file or folder, listed in natural order.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelConfigError, cloneModelConfig, parseModelConfig } from './model-config.js';
import type { ModelConfig } from './model-config.js';
import { didYouMean } from '@openclip/common';
import { EXTERNAL_TOWER_MODELS } from './external-models.js';

const configs = new Map<string, ModelConfig>();
const configFiles = new Map<string, string>();
let builtinsLoaded = false;

/**
 * The folder of the built-in configs: this package's `src/model-configs`, seen from the compiled
 * module (`dist/config`, or `dist-test/src/config` under the tests) or from `src/config` itself.
 */
export function builtinConfigDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const candidates = [join(here, '..', '..', 'src', 'model-configs'), join(here, '..', '..', '..', 'src', 'model-configs'), join(here, '..', 'model-configs')];
  for (const candidate of candidates) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`built-in model configs not found near ${here}`);
}

/** OpenCLIP's `_natural_key`: digit runs compare as numbers, the rest case-insensitively. */
export function naturalKey(name: string): (string | number)[] {
  return name.toLowerCase().split(/(\d+)/).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function naturalCompare(a: string, b: string): number {
  const ka = naturalKey(a);
  const kb = naturalKey(b);
  for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
    const x = ka[i];
    const y = kb[i];
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return ka.length - kb.length;
}

/** Reads and parses one model-config JSON file; errors name the file. */
export function readModelConfigFile(path: string): ModelConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ModelConfigError(`${path}: cannot read model config (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ModelConfigError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  // An `open_clip_config.json` (Hugging Face Hub layout) wraps the model config: {model_cfg, preprocess_cfg}.
  if (json !== null && typeof json === 'object' && !Array.isArray(json) && 'model_cfg' in json) {
    const { model_cfg: modelCfg, preprocess_cfg: preprocessCfg, ...rest } = json as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length) throw new ModelConfigError(`${path}: unknown key '${extra[0]}' beside model_cfg (expected model_cfg and preprocess_cfg)`);
    const cfg = parseModelConfig(modelCfg, `${path}: model_cfg`);
    if (preprocessCfg !== undefined && cfg.preprocess_cfg === null) {
      if (preprocessCfg === null || typeof preprocessCfg !== 'object' || Array.isArray(preprocessCfg)) {
        throw new ModelConfigError(`${path}: preprocess_cfg must be an object`);
      }
      cfg.preprocess_cfg = preprocessCfg as Record<string, unknown>;
    }
    return cfg;
  }
  return parseModelConfig(json, path);
}

function registerFile(path: string): string {
  const name = basename(path, extname(path));
  configs.set(name, readModelConfigFile(path));
  configFiles.set(name, path);
  return name;
}

function ensureBuiltins(): void {
  if (builtinsLoaded) return;
  builtinsLoaded = true;
  const dir = builtinConfigDir();
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json')).sort()) {
    const name = basename(f, '.json');
    if (!configs.has(name)) registerFile(join(dir, f));
  }
}

/** Adds a model-config JSON file, or every `*.json` in a folder (the stem becomes the model name). Returns the names added. */
export function addModelConfig(pathOrDir: string): string[] {
  ensureBuiltins();
  const p = resolve(pathOrDir);
  if (!existsSync(p)) throw new ModelConfigError(`${pathOrDir}: no such model-config file or folder`);
  if (statSync(p).isDirectory()) {
    const files = readdirSync(p).filter((x) => x.endsWith('.json')).sort();
    if (files.length === 0) throw new ModelConfigError(`${pathOrDir}: folder has no *.json model configs`);
    return files.map((f) => registerFile(join(p, f)));
  }
  return [registerFile(p)];
}

/** Registers a parsed config under a name (programmatic counterpart of addModelConfig). */
export function registerModelConfig(name: string, config: ModelConfig): void {
  ensureBuiltins();
  configs.set(name, cloneModelConfig(config));
}

/** Every known model name, in OpenCLIP's natural order. */
export function listModels(): string[] {
  ensureBuiltins();
  return [...configs.keys()].sort(naturalCompare);
}

export class UnknownModelError extends Error {
  constructor(readonly modelName: string, readonly suggestions: string[]) {
    super(`unknown model '${modelName}'${suggestions.length ? ` (did you mean ${suggestions.map((s) => `'${s}'`).join(', ')}?)` : ''}; \`openclip list-models\` lists them all`);
    this.name = 'UnknownModelError';
  }
}

/** True when `name` is a registered model config. */
export function hasModelConfig(name: string): boolean {
  ensureBuiltins();
  return configs.has(name);
}

/** A copy of the named config; unknown names raise UnknownModelError listing the nearest known names. */
export function getModelConfig(name: string): ModelConfig {
  ensureBuiltins();
  const cfg = configs.get(name);
  if (!cfg && EXTERNAL_TOWER_MODELS.includes(name)) {
    throw new ModelConfigError(`model '${name}' is an OpenCLIP config that needs a timm/HF tower, which openclip-ts does not implement (native towers and the timm ViT towers of the built-in SigLIP / ViT configs)`);
  }
  if (!cfg) {
    const hint = didYouMean(name, configs.keys(), 3);
    const near = hint ? [...hint.matchAll(/'([^']+)'/g)].map((m) => m[1]) : [];
    throw new UnknownModelError(name, near);
  }
  return cloneModelConfig(cfg);
}

/** The file a registered config was read from, if any. */
export function modelConfigFile(name: string): string | undefined {
  ensureBuiltins();
  return configFiles.get(name);
}
