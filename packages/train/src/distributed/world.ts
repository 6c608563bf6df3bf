/**
 * Rank discovery: who this process is in a data-parallel job, read from the environment the
 * usual launchers set — torchrun (`RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `MASTER_ADDR`,
 * `MASTER_PORT`), SLURM (`SLURM_PROCID`, `SLURM_NTASKS`, `SLURM_LOCALID`, first host of
 * `SLURM_JOB_NODELIST`), Open MPI (`OMPI_COMM_WORLD_*`), Kubernetes Indexed Jobs
 * (`JOB_COMPLETION_INDEX`) — and OpenCLIP's `--dist-url` (`env://` or `tcp://host:port`).
 */

export type Launcher = 'torchrun' | 'slurm' | 'mpi' | 'kubernetes' | 'single';

export interface WorldInfo {
  rank: number;
  worldSize: number;
  localRank: number;
  /** Host and port of the rendezvous (rank 0 listens there). */
  masterAddr: string;
  masterPort: number;
  launcher: Launcher;
}

export const DEFAULT_MASTER_PORT = 29500;

export class WorldError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorldError';
  }
}

function int(env: NodeJS.ProcessEnv, key: string): number | null {
  const v = env[key];
  if (v === undefined || v === '') return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new WorldError(`${key}='${v}' is not a non-negative integer`);
  return n;
}

/**
 * Expands a SLURM host list (`node[01-03,07],gpu5`) into host names, in order, as
 * `scontrol show hostnames` does.
 */
export function expandSlurmHostlist(list: string): string[] {
  const hosts: string[] = [];
  // split on commas that are not inside brackets
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of list) {
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) parts.push(cur);
  for (const part of parts) {
    const m = /^([^[]*)\[([^\]]+)\](.*)$/.exec(part);
    if (!m) {
      hosts.push(part);
      continue;
    }
    const [, prefix, ranges, suffix] = m;
    for (const r of ranges.split(',')) {
      const [a, b] = r.split('-');
      if (b === undefined) {
        hosts.push(...expandSlurmHostlist(`${prefix}${a}${suffix}`));
        continue;
      }
      const width = a.length;
      for (let i = Number(a); i <= Number(b); i++) hosts.push(...expandSlurmHostlist(`${prefix}${String(i).padStart(width, '0')}${suffix}`));
    }
  }
  return hosts;
}

function parseDistUrl(url: string): { addr: string; port: number } | null {
  if (url === 'env://') return null;
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d+)\/?$/.exec(url);
  if (!m) throw new WorldError(`--dist-url '${url}': expected env:// or tcp://host:port`);
  return { addr: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/** Reads the world from the environment (first launcher whose variables are present wins). */
export function discoverWorld(env: NodeJS.ProcessEnv = process.env, distUrl?: string | null): WorldInfo {
  let info: WorldInfo;
  const port = int(env, 'MASTER_PORT') ?? DEFAULT_MASTER_PORT;
  if (env.RANK !== undefined && env.WORLD_SIZE !== undefined) {
    info = {
      rank: int(env, 'RANK')!,
      worldSize: int(env, 'WORLD_SIZE')!,
      localRank: int(env, 'LOCAL_RANK') ?? 0,
      masterAddr: env.MASTER_ADDR ?? '127.0.0.1',
      masterPort: port,
      launcher: 'torchrun',
    };
  } else if (env.SLURM_PROCID !== undefined && env.SLURM_NTASKS !== undefined) {
    const nodes = env.SLURM_JOB_NODELIST ?? env.SLURM_NODELIST;
    const first = env.MASTER_ADDR ?? (nodes ? expandSlurmHostlist(nodes)[0] : undefined);
    if (!first) throw new WorldError('SLURM: neither MASTER_ADDR nor SLURM_JOB_NODELIST is set; cannot find the rendezvous host');
    info = { rank: int(env, 'SLURM_PROCID')!, worldSize: int(env, 'SLURM_NTASKS')!, localRank: int(env, 'SLURM_LOCALID') ?? 0, masterAddr: first, masterPort: port, launcher: 'slurm' };
  } else if (env.OMPI_COMM_WORLD_RANK !== undefined && env.OMPI_COMM_WORLD_SIZE !== undefined) {
    info = {
      rank: int(env, 'OMPI_COMM_WORLD_RANK')!,
      worldSize: int(env, 'OMPI_COMM_WORLD_SIZE')!,
      localRank: int(env, 'OMPI_COMM_WORLD_LOCAL_RANK') ?? 0,
      masterAddr: env.MASTER_ADDR ?? '', // not needed by --dist-backend mpi; the TCP transport asks for it (backend.ts)
      masterPort: port,
      launcher: 'mpi',
    };
  } else if (env.JOB_COMPLETION_INDEX !== undefined) {
    const worldSize = int(env, 'WORLD_SIZE');
    if (worldSize === null) throw new WorldError('Kubernetes Indexed Job: set WORLD_SIZE to the job\'s completions (parallelism) count');
    if (!env.MASTER_ADDR && !distUrl) throw new WorldError('Kubernetes Indexed Job: set MASTER_ADDR to index 0\'s host in the headless service (<job>-0.<service>)');
    info = { rank: int(env, 'JOB_COMPLETION_INDEX')!, worldSize, localRank: 0, masterAddr: env.MASTER_ADDR ?? '', masterPort: port, launcher: 'kubernetes' };
  } else {
    info = { rank: 0, worldSize: 1, localRank: 0, masterAddr: '127.0.0.1', masterPort: port, launcher: 'single' };
  }
  const url = distUrl ? parseDistUrl(distUrl) : null;
  if (url) {
    info.masterAddr = url.addr;
    info.masterPort = url.port;
  }
  if (info.worldSize < 1) throw new WorldError(`world size must be at least 1, got ${info.worldSize}`);
  if (info.rank >= info.worldSize) throw new WorldError(`rank ${info.rank} is outside the world of size ${info.worldSize}`);
  return info;
}
