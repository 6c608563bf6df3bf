/**
 * The transport settings a launched rank reads from its environment, beside the world itself:
 * `OPENCLIP_DIST_SECRET` (shared secret that authenticates ranks), `OPENCLIP_DIST_TIMEOUT_S`
 * (rendezvous and per-collective timeout, default 1800 s as torch.distributed) and
 * `OPENCLIP_DIST_BIND_ADDR` (address ranks listen on; default: the interface that reaches
 * MASTER_ADDR).
 */
import { DEFAULT_DIST_TIMEOUT_S, type TransportOptions } from './tcp-transport.js';
import { SECRET_ENV, secretFromEnv } from './handshake.js';
import { WorldError, type WorldInfo } from './world.js';

export { SECRET_ENV };
export const TIMEOUT_ENV = 'OPENCLIP_DIST_TIMEOUT_S';
export const BIND_ENV = 'OPENCLIP_DIST_BIND_ADDR';

export function transportOptionsFromEnv(world: WorldInfo, env: NodeJS.ProcessEnv = process.env, warn?: (line: string) => void): TransportOptions {
  const raw = env[TIMEOUT_ENV];
  const timeoutS = raw === undefined || raw === '' ? DEFAULT_DIST_TIMEOUT_S : Number(raw);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new WorldError(`${TIMEOUT_ENV}='${raw}' is not a positive number of seconds`);
  return {
    rank: world.rank,
    worldSize: world.worldSize,
    masterAddr: world.masterAddr,
    masterPort: world.masterPort,
    timeoutMs: timeoutS * 1000,
    opTimeoutMs: timeoutS * 1000,
    secret: secretFromEnv(env),
    bindAddr: env[BIND_ENV] || undefined,
    warn,
  };
}
