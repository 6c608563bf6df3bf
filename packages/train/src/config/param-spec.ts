/**
 * The shape of one row of the `openclip train` flag table (params.ts), and the helper that writes a
 * row while keeping its flag, type, default and choices as literal types, so TrainConfig can be
 * derived from the table.
 */
export type ParamType = 'string' | 'int' | 'float' | 'bool' | 'floats' | 'ints' | 'kwargs';

export type ParamGroup = 'Data' | 'Optimisation' | 'Model' | 'Precision' | 'Loss' | 'CoCa' | 'Distillation' | 'Evaluation' | 'Checkpoints' | 'Logging' | 'Distributed' | 'Remote sync' | 'Engine';

export interface ParamSpec<K extends string = string> {
  /** The flag as typed on the command line, without the leading dashes (OpenCLIP's name). */
  flag: string;
  /** The camelCase key in TrainConfig. */
  key: K;
  type: ParamType;
  default: unknown;
  group: ParamGroup;
  help: string;
  choices?: readonly string[];
  /**
   * When a value cannot work in openclip-ts, the reason (checked at start, so the run stops
   * with a clear message instead of silently doing something else).
   */
  unsupported?: (value: unknown) => string | null;
  /** An openclip-ts flag that OpenCLIP's params.py does not have (--save-format, config/fault-params.ts). */
  openclipTs?: boolean;
  /**
   * The table's default is null but parseTrainConfig always fills a value (from the model name, as
   * OpenCLIP's get_default_params, or the run name from the date), so TrainConfig's field is never null.
   */
  filledAtStart?: true;
}

/** `batch-size` -> `batchSize`, as a type. */
export type CamelCase<S extends string> = S extends `${infer H}-${infer R}` ? `${H}${Capitalize<CamelCase<R>>}` : S;

/** `batch-size` -> `batchSize` (TrainConfig's key of a flag). */
export function camelCase<S extends string>(flag: S): CamelCase<S> {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase()) as CamelCase<S>;
}

/** The optional parts of a row, as `param` takes them. */
export interface ParamExtras<C extends readonly string[], Fill extends boolean> {
  choices?: C;
  unsupported?: (value: unknown) => string | null;
  openclipTs?: boolean;
  filledAtStart?: Fill;
}

/** One table row with its flag, type, default, choices and filledAtStart kept as literal types (for TrainConfig). */
export function param<const F extends string, const T extends ParamType, const D, const C extends readonly string[] = never, const Fill extends boolean = false>(
  flag: F,
  type: T,
  def: D,
  group: ParamGroup,
  help: string,
  extra: ParamExtras<C, Fill> = {},
): { flag: F; key: CamelCase<F>; type: T; default: D; group: ParamGroup; help: string; unsupported?: (value: unknown) => string | null; openclipTs?: boolean } & ([C] extends [never] ? unknown : { choices: C }) &
  (Fill extends true ? { filledAtStart: true } : unknown) {
  // the return type's conditional parts (choices, filledAtStart) follow `extra`, which TypeScript cannot check against a spread
  return { flag, key: camelCase(flag), type, default: def, group, help, ...extra } as never;
}
