/**
 * Which collective backend a data-parallel run uses, and connecting it. `tcp` is openclip-ts's own
 * transport (npm only, the default); `mpi` is Open MPI through the optional addon. Without
 * `--dist-backend`, a process started by mpirun (OMPI_COMM_WORLD_*) or by srun with PMIx under
 * Open MPI uses `mpi` when the addon is built, else `tcp` (with a notice saying why). OpenCLIP's
 * PyTorch names `nccl` and `gloo` (pasted command lines) select `tcp`.
 */
import { TcpTransport, TransportError, type ReduceOp, type TransportOptions } from './tcp-transport.js';
import { MpiTransport, mpiAvailability } from './mpi-transport.js';
import type { WorldInfo } from './world.js';

export type DistBackendName = 'tcp' | 'mpi';

/** What the training loop needs from a backend (`ArrayTransport` plus in-place all-reduce and close). */
export interface Collectives {
  readonly backend: DistBackendName;
  readonly rank: number;
  readonly worldSize: number;
  allReduce(data: Float32Array, op?: ReduceOp): Promise<Float32Array>;
  allReduceInPlace(data: Float32Array, op?: ReduceOp): Promise<void>;
  /** All-reduce in place of several arrays taken as one (same lengths, same order on every rank). */
  allReduceParts(parts: readonly Float32Array[], op?: ReduceOp): Promise<void>;
  allGather(data: Float32Array): Promise<Float32Array[]>;
  broadcast(data: Float32Array | null, root: number): Promise<Float32Array>;
  barrier(): Promise<void>;
  exchange(from: number, to: number, data: Float32Array): Promise<Float32Array>;
  close(): void;
}

/** True when Open MPI started this process (mpirun; or srun --mpi=pmix, whose ranks the addon's Open MPI joins). */
export function launchedByOpenMpi(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.OMPI_COMM_WORLD_RANK !== undefined || (env.SLURM_PROCID !== undefined && env.PMIX_RANK !== undefined);
}

/**
 * The backend for `--dist-backend` (null: automatic). `notice` gets one line when the choice
 * differs from what the user might expect.
 */
export function chooseBackend(flag: string | null | undefined, env: NodeJS.ProcessEnv = process.env, notice: (line: string) => void = () => {}): DistBackendName {
  const f = flag ?? null;
  if (f === 'mpi') {
    const a = mpiAvailability();
    if (!a.ok && !a.reason.startsWith('mpirun')) throw new TransportError(`--dist-backend mpi: ${a.reason}`);
    if (!launchedByOpenMpi(env)) throw new TransportError('--dist-backend mpi: this process was not started by mpirun or srun --mpi=pmix (no OMPI_COMM_WORLD_RANK / PMIX_RANK): start every rank with e.g. mpirun -np 4 openclip train ... --dist-backend mpi');
    return 'mpi';
  }
  if (f === 'tcp') return 'tcp';
  if (f === 'nccl' || f === 'gloo') return 'tcp'; // parseTrainConfig says so
  if (f !== null) throw new TransportError(`--dist-backend '${f}': expected tcp or mpi (or OpenCLIP's nccl / gloo, which select tcp)`);
  if (!launchedByOpenMpi(env)) return 'tcp';
  const a = mpiAvailability();
  if (a.ok) return 'mpi';
  notice(`launched by Open MPI but the mpi backend is unavailable (${a.reason}): using the TCP transport`);
  return 'tcp';
}

/** Joins the world over `name`; for `mpi` the rank and size in `o` are checked against MPI's. */
export async function connectBackend(name: DistBackendName, o: TransportOptions): Promise<Collectives> {
  if (name === 'mpi') return MpiTransport.create({ opTimeoutMs: o.opTimeoutMs, expectRank: o.worldSize > 1 ? o.rank : undefined, expectWorldSize: o.worldSize > 1 ? o.worldSize : undefined });
  return TcpTransport.connect(o);
}

/** Joins the world a launcher described, over the chosen backend. */
export async function connectWorld(name: DistBackendName, world: WorldInfo, o: TransportOptions): Promise<Collectives> {
  if (name === 'tcp' && !world.masterAddr) throw new TransportError(`${world.launcher === 'mpi' ? 'Open MPI' : world.launcher} launch with the TCP backend: set MASTER_ADDR (e.g. mpirun -x MASTER_ADDR=<first host>) or pass --dist-url tcp://host:port, or use --dist-backend mpi`);
  return connectBackend(name, o);
}
