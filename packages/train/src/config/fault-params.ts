/**
 * openclip-ts's own training flags (not in OpenCLIP's params.py): what a run does with bad data
 * and broken checkpoints, and step-level saves for exact mid-epoch resume. They join the flag
 * table as `openclipTs` entries, so the CLI and parseTrainConfig treat them like the others.
 */
import { DEFAULT_MAX_SKIP_RATIO } from '@openclip/data';
import { param, type ParamGroup, type ParamType } from './param-spec.js';

const ts = <const F extends string, const T extends ParamType, const D>(flag: F, type: T, def: D, group: ParamGroup, help: string) => param(flag, type, def, group, help, { openclipTs: true });

export const FAULT_PARAMS = [
  ts('max-skip-ratio', 'float', DEFAULT_MAX_SKIP_RATIO, 'Data', 'openclip-ts: stop when more than this fraction of the samples read in an epoch could not be loaded (0 = any skip stops, 1 = never stop for skips)'),
  ts('resume-start-over', 'bool', false, 'Checkpoints', 'openclip-ts: with --resume latest, when every checkpoint pair is unreadable, move them to checkpoints/broken-<time>/ and train from scratch (default: refuse)'),
  ts('save-every-n-steps', 'int', null, 'Checkpoints', 'openclip-ts: also save epoch_latest every N optimizer steps, with the data position and RNG state, so --resume latest continues mid-epoch exactly'),
] as const;
