/**
 * An in-process simulated world of N ranks (the stand-in for N `torch.distributed` processes in
 * tests): each rank is an async task holding its own `Collective`; collectives rendezvous in
 * memory and copy tensor data as a network transport would. Mismatched collective sequences
 * and deadlocks fail loudly instead of hanging.
 */
import { tf } from '@openclip/engine';
import type { Tensor } from '@openclip/engine';
import { checkRank, checkReduceOp, CollectiveError } from '../src/collective.js';
import type { Collective, ReduceOp } from '../src/collective.js';

interface Payload {
  data: Float32Array | Int32Array;
  shape: number[];
  dtype: 'float32' | 'int32';
}

async function pack(t: Tensor, what: string): Promise<Payload> {
  if (t.dtype !== 'float32' && t.dtype !== 'int32') throw new CollectiveError(`${what}: dtype ${t.dtype} is not supported (float32 or int32)`);
  const data = (await t.data()) as Float32Array | Int32Array;
  return { data: data.slice(), shape: [...t.shape], dtype: t.dtype };
}

function unpack(p: Payload): Tensor {
  return tf.tensor(p.data.slice(), p.shape, p.dtype);
}

interface Round {
  op: string;
  payloads: (Payload | undefined)[];
  arg: number | string | undefined;
  posted: number;
  resolvers: ((p: Payload | null) => void)[];
}

interface Mailbox {
  messages: Payload[];
  waiter: ((p: Payload) => void) | null;
}

export class SimulatedWorld {
  readonly size: number;
  private readonly rounds = new Map<number, Round>();
  private readonly nextRound: number[];
  private readonly mailboxes = new Map<string, Mailbox>();
  private readonly waitingOn: (string | null)[];
  private readonly finished: boolean[];
  private readonly rejecters = new Set<(e: Error) => void>();
  private failure: Error | null = null;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new CollectiveError(`SimulatedWorld: size must be a positive integer, got ${size}`);
    this.size = size;
    this.nextRound = new Array<number>(size).fill(0);
    this.waitingOn = new Array<string | null>(size).fill(null);
    this.finished = new Array<boolean>(size).fill(false);
  }

  /** The collective of one rank. */
  collective(rank: number): Collective {
    checkRank(rank, this.size, 'SimulatedWorld.collective');
    return new SimulatedCollective(this, rank);
  }

  /**
   * Runs `fn` once per rank, concurrently, and returns the per-rank results in rank order.
   * If a rank throws, the others are aborted with an error naming it.
   */
  async run<T>(fn: (c: Collective) => Promise<T>): Promise<T[]> {
    this.finished.fill(false);
    this.waitingOn.fill(null);
    this.nextRound.fill(0);
    this.rounds.clear();
    this.mailboxes.clear();
    this.failure = null;
    return Promise.all(
      Array.from({ length: this.size }, async (_, rank) => {
        try {
          return await fn(this.collective(rank));
        } catch (e) {
          this.abort(new CollectiveError(`rank ${rank} failed: ${(e as Error).message}`));
          throw e;
        } finally {
          this.finished[rank] = true;
          this.checkDeadlock();
        }
      }),
    );
  }

  private abort(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const reject of this.rejecters) reject(e);
    this.rejecters.clear();
  }

  private checkDeadlock(): void {
    if (this.failure) return;
    const active = this.waitingOn.map((w, r) => (this.finished[r] ? null : w));
    const running = this.finished.filter((f) => !f).length;
    const blocked = active.filter((w) => w !== null).length;
    if (running > 0 && blocked === running) {
      const finished = this.finished.map((f, r) => (f ? r : -1)).filter((r) => r >= 0);
      const detail = this.waitingOn.map((w, r) => (w && !this.finished[r] ? `rank ${r} waits in ${w}` : null)).filter(Boolean);
      if (finished.length) detail.push(`rank(s) ${finished.join(', ')} already returned`);
      this.abort(new CollectiveError(`deadlock: ${detail.join('; ')}`));
    }
  }

  private wait<T>(rank: number, what: string, register: (resolve: (v: T) => void) => void): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      const rejecter = (e: Error) => {
        this.waitingOn[rank] = null;
        reject(e);
      };
      this.rejecters.add(rejecter);
      let done = false;
      register((v: T) => {
        done = true;
        this.rejecters.delete(rejecter);
        this.waitingOn[rank] = null;
        resolve(v);
      });
      if (!done) {
        this.waitingOn[rank] = what;
        this.checkDeadlock();
      }
    });
  }

  /** Posts one rank's part of the next collective; resolves with the payloads of every rank. */
  async collect(rank: number, op: string, payload: Payload | undefined, arg?: number | string): Promise<(Payload | undefined)[]> {
    const seq = this.nextRound[rank]++;
    let round = this.rounds.get(seq);
    if (!round) {
      round = { op, payloads: new Array(this.size), arg, posted: 0, resolvers: [] };
      this.rounds.set(seq, round);
    } else if (round.op !== op || round.arg !== arg) {
      const e = new CollectiveError(`collective #${seq}: rank ${rank} called ${op}(${arg ?? ''}) while another rank called ${round.op}(${round.arg ?? ''})`);
      this.abort(e);
      throw e;
    }
    const r = round;
    r.payloads[rank] = payload;
    r.posted++;
    if (r.posted === this.size) {
      this.rounds.delete(seq);
      for (const resolve of r.resolvers) resolve(null);
      return r.payloads;
    }
    await this.wait<Payload | null>(rank, `${op} (collective #${seq})`, (resolve) => r.resolvers.push(resolve));
    return r.payloads;
  }

  send(from: number, to: number, p: Payload): void {
    const box = this.mailbox(from, to);
    if (box.waiter) {
      const w = box.waiter;
      box.waiter = null;
      w(p);
    } else box.messages.push(p);
  }

  recv(from: number, to: number): Promise<Payload> {
    const box = this.mailbox(from, to);
    return this.wait<Payload>(to, `recv from rank ${from}`, (resolve) => {
      const m = box.messages.shift();
      if (m) resolve(m);
      else box.waiter = resolve;
    });
  }

  private mailbox(from: number, to: number): Mailbox {
    const key = `${from}->${to}`;
    let box = this.mailboxes.get(key);
    if (!box) {
      box = { messages: [], waiter: null };
      this.mailboxes.set(key, box);
    }
    return box;
  }
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

class SimulatedCollective implements Collective {
  constructor(
    private readonly world: SimulatedWorld,
    readonly rank: number,
  ) {}

  get worldSize(): number {
    return this.world.size;
  }

  async allGather(t: Tensor): Promise<Tensor> {
    const all = (await this.world.collect(this.rank, 'allGather', await pack(t, 'allGather'))) as Payload[];
    const first = all[0];
    for (let r = 1; r < all.length; r++) {
      if (!sameShape(all[r].shape, first.shape) || all[r].dtype !== first.dtype) {
        throw new CollectiveError(`allGather: rank ${r} sent ${all[r].dtype} [${all[r].shape}] but rank 0 sent ${first.dtype} [${first.shape}]`);
      }
    }
    const n = first.data.length;
    const out = first.dtype === 'float32' ? new Float32Array(n * all.length) : new Int32Array(n * all.length);
    all.forEach((p, r) => out.set(p.data, r * n));
    const shape = first.shape.length === 0 ? [all.length] : [first.shape[0] * all.length, ...first.shape.slice(1)];
    return tf.tensor(out, shape, first.dtype);
  }

  async allReduce(t: Tensor, op: ReduceOp = 'sum'): Promise<Tensor> {
    checkReduceOp(op);
    const all = (await this.world.collect(this.rank, 'allReduce', await pack(t, 'allReduce'), op)) as Payload[];
    const first = all[0];
    for (let r = 1; r < all.length; r++) {
      if (!sameShape(all[r].shape, first.shape)) throw new CollectiveError(`allReduce: rank ${r} sent [${all[r].shape}] but rank 0 sent [${first.shape}]`);
    }
    const out = first.data.slice();
    for (let r = 1; r < all.length; r++) {
      const d = all[r].data;
      for (let i = 0; i < out.length; i++) {
        if (op === 'max') out[i] = Math.max(out[i], d[i]);
        else if (op === 'min') out[i] = Math.min(out[i], d[i]);
        else out[i] += d[i];
      }
    }
    if (op === 'mean') for (let i = 0; i < out.length; i++) out[i] /= all.length;
    return tf.tensor(out, first.shape, first.dtype);
  }

  async broadcast(t: Tensor, root: number): Promise<Tensor> {
    checkRank(root, this.worldSize, 'broadcast root');
    const mine = this.rank === root ? await pack(t, 'broadcast') : undefined;
    const all = await this.world.collect(this.rank, 'broadcast', mine, root);
    return unpack(all[root]!);
  }

  async barrier(): Promise<void> {
    await this.world.collect(this.rank, 'barrier', undefined);
  }

  async exchange(fromRank: number, toRank: number, t: Tensor): Promise<Tensor> {
    checkRank(fromRank, this.worldSize, 'exchange fromRank');
    checkRank(toRank, this.worldSize, 'exchange toRank');
    this.world.send(this.rank, toRank, await pack(t, 'exchange'));
    return unpack(await this.world.recv(fromRank, this.rank));
  }

  async exchangeBidir(leftRank: number, rightRank: number, toLeft: Tensor, toRight: Tensor): Promise<[Tensor, Tensor]> {
    checkRank(leftRank, this.worldSize, 'exchangeBidir leftRank');
    checkRank(rightRank, this.worldSize, 'exchangeBidir rightRank');
    const a = await pack(toLeft, 'exchangeBidir');
    const b = await pack(toRight, 'exchangeBidir');
    // Send left first, then right; receive from the right first, then from the left, so that
    // with leftRank === rightRank (world of 2) each message lands in the matching slot.
    this.world.send(this.rank, leftRank, a);
    this.world.send(this.rank, rightRank, b);
    const fromRight = await this.world.recv(rightRank, this.rank);
    const fromLeft = await this.world.recv(leftRank, this.rank);
    return [unpack(fromRight), unpack(fromLeft)];
  }
}
