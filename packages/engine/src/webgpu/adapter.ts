/**
 * Finding and describing a WebGPU adapter through Dawn (the `webgpu` npm package, which ships
 * `dawn.node` prebuilt). The description is what `openclip info` prints: who made the adapter,
 * whether it is a software/fallback one (those are used only when asked for by name), its
 * limits and features, and the Dawn options in effect.
 */
import { createRequire } from 'node:module';
import { installDawnTick } from './dawn-tick.js';

/** The slice of the WebGPU API the engine touches (the project compiles without DOM types). */
export interface GpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter?: boolean;
}
export interface GpuAdapter {
  readonly info: GpuAdapterInfo;
  readonly features: ReadonlySet<string>;
  readonly limits: Record<string, number>;
  readonly isFallbackAdapter?: boolean;
  requestDevice(descriptor?: Record<string, unknown>): Promise<GpuDevice>;
}
export interface GpuBuffer {
  readonly size: number;
  readonly mapState: 'unmapped' | 'pending' | 'mapped';
  mapAsync(mode: number, offset?: number, size?: number): Promise<void>;
  getMappedRange(offset?: number, size?: number): ArrayBuffer;
  unmap(): void;
  destroy(): void;
}
export interface GpuDevice {
  readonly lost: Promise<{ reason: string; message: string }>;
  destroy(): void;
}
interface Gpu {
  requestAdapter(options?: Record<string, unknown>): Promise<GpuAdapter | null>;
}
interface DawnModule {
  create(options: string[]): Gpu;
  globals: Record<string, unknown>;
}

export interface WebGpuAdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** The adapter says it is a fallback adapter (isFallbackAdapter). */
  fallback: boolean;
  /** A CPU implementation (fallback, or a known software driver: lavapipe/llvmpipe, SwiftShader, softpipe). */
  software: boolean;
  /** 'core', or 'compatibility' for Dawn's OpenGL (ES) backends. */
  featureLevel: 'core' | 'compatibility';
  /** Options handed to Dawn's create() (OPENCLIP_WEBGPU_DAWN). */
  dawnOptions: string[];
  features: string[];
  limits: Record<string, number>;
}

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|softpipe|software|basic render/i;

/** The limits worth showing, in this order (Dawn reports a few dozen). */
const LIMIT_NAMES = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxUniformBufferBindingSize',
  'maxBindGroups',
];

/** OPENCLIP_WEBGPU_DAWN: Dawn options, comma- or space-separated (e.g. `backend=opengles`). */
export function dawnOptions(): string[] {
  const v = process.env.OPENCLIP_WEBGPU_DAWN ?? '';
  return v.split(/[\s,]+/).filter((s) => s !== '').map((s) => {
    if (!/^[a-z-]+=.+$/.test(s)) throw new Error(`OPENCLIP_WEBGPU_DAWN: '${s}' is not a Dawn option of the form name=value (e.g. backend=opengles, adapter=<name>)`);
    return s;
  });
}

const require = createRequire(import.meta.url);
let dawn: DawnModule | null = null;
let gpu: Gpu | null = null;

/** Loads dawn.node and installs the WebGPU globals TF.js's WebGPU backend expects. */
export async function loadDawn(): Promise<DawnModule> {
  if (dawn) return dawn;
  let path: string;
  try {
    path = require.resolve('webgpu');
  } catch {
    throw new Error("the 'webgpu' npm package (Dawn) is not installed (it is an optional dependency of @openclip/engine)");
  }
  installDawnTick();
  const mod = (await import(path)) as DawnModule;
  for (const [k, v] of Object.entries(mod.globals)) {
    if (!(k in globalThis)) Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });
  }
  dawn = mod;
  return mod;
}

/** The process's Dawn instance (created once, with OPENCLIP_WEBGPU_DAWN's options), exposed as navigator.gpu. */
export async function dawnGpu(): Promise<Gpu> {
  if (gpu) return gpu;
  const mod = await loadDawn();
  const options = dawnOptions();
  if (options.some((o) => /^backend=opengl/.test(o))) process.env.EGL_PLATFORM ??= 'surfaceless';
  gpu = mod.create(options);
  const nav = (globalThis as { navigator?: Record<string, unknown> }).navigator;
  if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  return gpu;
}

export function featureLevel(options: string[]): 'core' | 'compatibility' {
  return options.some((o) => /^backend=opengl/.test(o)) ? 'compatibility' : 'core';
}

/** The best adapter Dawn offers (high-performance preference), or null. */
export async function requestAdapter(): Promise<GpuAdapter | null> {
  const g = await dawnGpu();
  const level = featureLevel(dawnOptions());
  return g.requestAdapter({ powerPreference: 'high-performance', featureLevel: level });
}

export function describeAdapter(adapter: GpuAdapter): WebGpuAdapterReport {
  const i = adapter.info;
  const fallback = Boolean(i.isFallbackAdapter ?? adapter.isFallbackAdapter);
  const options = dawnOptions();
  const limits: Record<string, number> = {};
  for (const k of LIMIT_NAMES) if (typeof adapter.limits[k] === 'number') limits[k] = adapter.limits[k];
  return {
    vendor: i.vendor ?? '',
    architecture: i.architecture ?? '',
    device: i.device ?? '',
    description: i.description ?? '',
    fallback,
    software: fallback || SOFTWARE.test(`${i.description} ${i.device} ${i.architecture}`),
    featureLevel: featureLevel(options),
    dawnOptions: options,
    features: [...adapter.features].sort(),
    limits,
  };
}

/** One line naming the adapter. */
export function adapterLabel(r: WebGpuAdapterReport): string {
  const name = r.description || r.device || 'unnamed adapter';
  const who = [r.vendor, r.architecture].filter((s) => s !== '').join('/');
  return `${name}${who ? ` (${who})` : ''}${r.software ? `, software${r.fallback ? '/fallback' : ''}` : ''}`;
}
