/** oclif flags for every OpenCLIP train parameter, built from the one table in @openclip/train. */
import { Flags, type Interfaces } from '@oclif/core';
import { TRAIN_PARAMS, type ParamSpec } from '@openclip/train';

function describe(p: ParamSpec): string {
  const def = p.default === null || p.default === '' || (typeof p.default === 'object' && p.default !== null && Object.keys(p.default).length === 0) ? '' : ` (default: ${JSON.stringify(p.default)})`;
  return `${p.help}${def}`;
}

/** One oclif flag per parameter; values stay raw strings so parseTrainConfig reports every problem at once. */
export function trainFlags(exclude: readonly string[] = []) {
  const flags: Interfaces.FlagInput = {};
  for (const p of TRAIN_PARAMS) {
    if (exclude.includes(p.flag)) continue;
    const base = { description: describe(p), helpGroup: p.group.toUpperCase() };
    if (p.type === 'bool') flags[p.flag] = Flags.boolean({ ...base, allowNo: false }) as Interfaces.Flag<unknown>;
    else if (p.type === 'floats' || p.type === 'ints' || p.type === 'kwargs') flags[p.flag] = Flags.string({ ...base, multiple: true }) as unknown as Interfaces.Flag<unknown>;
    else flags[p.flag] = Flags.string({ ...base, ...(p.choices ? { options: [...p.choices] } : {}) }) as Interfaces.Flag<unknown>;
  }
  return flags;
}

/** The parsed oclif flags as `flag -> value`, only those the user gave (booleans only when set). */
export function givenTrainValues(flags: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of TRAIN_PARAMS) {
    const v = flags[p.flag];
    if (v === undefined || (p.type === 'bool' && v === false)) continue;
    out[p.flag] = v;
  }
  return out;
}
