/**
 * Membership proof for the rendezvous. Each accepted connection gets a fresh random challenge;
 * the connecting rank answers with a hello carrying an HMAC-SHA256, keyed by the job's shared
 * secret, over the challenge, its own nonce and every field it claims (rank, world size, port).
 * The answer (rank 0's table, or another rank's welcome) carries an HMAC over the connecting
 * rank's nonce, so both sides prove they hold the secret and no answer can be replayed.
 *
 * This authenticates who joins; it does not encrypt or sign the traffic that follows.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SECRET_ENV = 'OPENCLIP_DIST_SECRET';

export function nonce(): string {
  return randomBytes(16).toString('hex');
}

export function mac(secret: string, parts: unknown[]): string {
  return createHmac('sha256', secret).update(JSON.stringify(parts)).digest('hex');
}

export function macOk(secret: string, parts: unknown[], got: unknown): boolean {
  if (typeof got !== 'string' || !/^[0-9a-f]{64}$/.test(got)) return false;
  return timingSafeEqual(Buffer.from(mac(secret, parts), 'hex'), Buffer.from(got, 'hex'));
}

export interface Hello {
  type: 'hello';
  rank: number;
  worldSize: number;
  port: number;
  host: string;
  nonce: string;
  mac: string;
}

export function helloParts(challenge: string, h: Omit<Hello, 'type' | 'mac'>): unknown[] {
  return ['hello', challenge, h.nonce, h.rank, h.worldSize, h.port, h.host];
}

export function makeHello(secret: string, challenge: string, h: Omit<Hello, 'type' | 'mac' | 'nonce'>): Hello {
  const body = { ...h, nonce: nonce() };
  return { type: 'hello', ...body, mac: mac(secret, helloParts(challenge, body)) };
}

const isInt = (v: unknown, lo: number, hi: number): v is number => Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;

/**
 * Checks a hello's shape and MAC. Returns the reason it is refused, or null. Field checks come
 * first so a malformed message is named as such; the MAC covers every field used afterwards.
 */
export function checkHello(secret: string, challenge: string, m: Record<string, unknown>): string | null {
  if (m.type !== 'hello') return `expected a hello, got '${String(m.type)}'`;
  if (!isInt(m.rank, 0, 2 ** 31)) return 'hello has no valid rank';
  if (!isInt(m.worldSize, 1, 2 ** 31)) return 'hello has no valid world size';
  if (!isInt(m.port, 1, 65535)) return 'hello has no valid port';
  if (typeof m.host !== 'string' || m.host.length > 255) return 'hello has no valid host';
  if (typeof m.nonce !== 'string' || !/^[0-9a-f]{32}$/.test(m.nonce)) return 'hello has no valid nonce';
  if (!macOk(secret, helloParts(challenge, m as unknown as Hello), m.mac)) return `rank ${m.rank} failed authentication (wrong or missing ${SECRET_ENV})`;
  return null;
}

/** The secret from the environment, or '' (then anyone who reaches the ports can join). */
export function secretFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env[SECRET_ENV] ?? '';
}

export function unauthenticatedWarning(masterAddr: string, masterPort: number): string {
  return `warning: ${SECRET_ENV} is not set, so ranks do not authenticate: any process that can reach ${masterAddr}:${masterPort} or a rank's port can join this job, read the weights and alter the gradients. openclip launch sets it; with other launchers export the same random value to every rank.`;
}
