/**
 * Data-parallel training, as transformers' Trainer runs under torchrun: every process (rank) holds
 * the whole model, takes its own share of each global batch (accelerate's BatchSamplerShard), and
 * the gradients are averaged over the ranks by an all-reduce before clipping, so every rank steps
 * the same weights. The ranks talk through libtorch's own torch.distributed (c10d's
 * ProcessGroupGloo over a TCPStore rendezvous, native/distributed), found from the environment
 * torchrun sets: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT. `crossencoder launch`
 * sets them; any other launcher that does (torchrun itself, a job scheduler) works too.
 */
import { DistributedError, InvalidArgumentError } from '../errors.js';
import { NativeProcessGroup } from '../native.js';

/** The process's place in a data-parallel run, from torchrun's environment variables. */
export interface DistributedEnv {
  /** RANK: 0 … worldSize - 1 over all machines; rank 0 logs, evaluates and saves. */
  rank: number;
  /** WORLD_SIZE: the number of processes over all machines. */
  worldSize: number;
  /** LOCAL_RANK: the rank among this machine's processes (default: RANK). */
  localRank: number;
  /** MASTER_ADDR: where rank 0 serves the rendezvous. */
  masterAddr: string;
  /** MASTER_PORT. */
  masterPort: number;
}

/** What a rank waits for the others by default (torch.distributed's and transformers' `ddp_timeout`: 30 minutes). */
export const DEFAULT_DISTRIBUTED_TIMEOUT_MS = 30 * 60_000;
/** Seconds; overrides the default timeout of the rendezvous and every collective. */
export const TIMEOUT_VARIABLE = 'CROSSENCODER_DDP_TIMEOUT';

function integerVariable(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`distributed training: ${name}=${JSON.stringify(raw)} must be an integer in [${min}, ${max}]`);
  }
  return value;
}

/**
 * The distributed setup of this process, or undefined when it runs alone (WORLD_SIZE unset or 1),
 * as transformers' TrainingArguments reads it. A partial or inconsistent setup is an
 * InvalidArgumentError naming the variable.
 */
export function distributedEnv(env: NodeJS.ProcessEnv = process.env): DistributedEnv | undefined {
  const worldSize = integerVariable(env, 'WORLD_SIZE', 1, 1 << 20);
  if (worldSize === undefined || worldSize === 1) return undefined;
  const rank = integerVariable(env, 'RANK', 0, worldSize - 1);
  if (rank === undefined) throw new InvalidArgumentError(`distributed training: WORLD_SIZE=${worldSize} is set but RANK is not`);
  const localRank = integerVariable(env, 'LOCAL_RANK', 0, worldSize - 1) ?? rank;
  const masterAddr = env.MASTER_ADDR?.trim();
  if (!masterAddr) throw new InvalidArgumentError('distributed training: WORLD_SIZE is set but MASTER_ADDR is not (the address of rank 0)');
  const masterPort = integerVariable(env, 'MASTER_PORT', 1, 65535);
  if (masterPort === undefined) throw new InvalidArgumentError('distributed training: WORLD_SIZE is set but MASTER_PORT is not');
  return { rank, worldSize, localRank, masterAddr, masterPort };
}

/** transformers' `is_world_process_zero`: true in rank 0 and in a process running alone. */
export function isWorldProcessZero(env: NodeJS.ProcessEnv = process.env): boolean {
  return (distributedEnv(env)?.rank ?? 0) === 0;
}

/** The timeout of the rendezvous and of every collective: $CROSSENCODER_DDP_TIMEOUT seconds, else 30 minutes. */
export function distributedTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const seconds = integerVariable(env, TIMEOUT_VARIABLE, 1, 7 * 24 * 3600);
  return seconds === undefined ? DEFAULT_DISTRIBUTED_TIMEOUT_MS : seconds * 1000;
}

/** A joined process group and this process's place in it. */
export interface Distributed extends DistributedEnv {
  readonly group: NativeProcessGroup;
  /** Set once the group was closed after an error: it cannot be used again in this process. */
  readonly closed: boolean;
  /** Closes the group, so that the other ranks' collectives fail at once rather than time out. */
  abort(): Promise<void>;
}

let joined: Promise<Distributed> | undefined;
let joinedEnv: string | undefined;

/**
 * The process group of this process, joined on first use and then kept (as torch.distributed's
 * default group): undefined when the process runs alone. Every rank must call it; it resolves
 * once all WORLD_SIZE ranks have joined, or rejects with a DistributedError after the timeout.
 */
export async function processGroup(env: NodeJS.ProcessEnv = process.env): Promise<Distributed | undefined> {
  const setup = distributedEnv(env);
  if (!setup) return undefined;
  const key = JSON.stringify(setup);
  if (joined && joinedEnv !== key) {
    throw new InvalidArgumentError('distributed training: the environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) changed after the process group was joined');
  }
  if (!joined) {
    joinedEnv = key;
    joined = join(setup, distributedTimeoutMs(env), env.GLOO_SOCKET_IFNAME);
    joined.catch(() => {
      joined = undefined;
    });
  }
  const distributed = await joined;
  if (distributed.closed) {
    throw new DistributedError(
      `distributed training, rank ${setup.rank} of ${setup.worldSize}: the process group was closed after an earlier error; start the processes again`,
    );
  }
  return distributed;
}

async function join(setup: DistributedEnv, timeoutMs: number, networkInterface: string | undefined): Promise<Distributed> {
  const group = new NativeProcessGroup({ ...setup, timeoutMs, interface: networkInterface });
  await group.connect();
  let closed = false;
  return {
    ...setup,
    group,
    get closed() {
      return closed;
    },
    async abort() {
      if (closed) return;
      closed = true;
      await group.close().catch(() => {});
    },
  };
}

/** Number of batches each rank takes per epoch: `len(BatchSamplerShard)` with even_batches (accelerate's default). */
export function shardLength(batches: number, worldSize: number, dropLast: boolean): number {
  if (batches % worldSize === 0) return batches / worldSize;
  return Math.floor(batches / worldSize) + (dropLast ? 0 : 1);
}

/**
 * Rank `rank`'s batches of an epoch, as accelerate's BatchSamplerShard (split_batches false,
 * even_batches true) cuts the single-process batches: global step k's batches are batches
 * k·W … k·W + W - 1, rank r taking the r-th. Without dropLast, a last incomplete round (too few
 * batches, or a short last one) is completed by wrapping around to the epoch's first rows, so that
 * every rank takes as many full batches; with dropLast it is dropped.
 *
 * @param batches The epoch's batches for one process (epochBatches), the last maybe short.
 */
export function shardBatches(batches: readonly number[][], batchSize: number, worldSize: number, rank: number, dropLast: boolean): number[][] {
  const shard: number[][] = [];
  let initial: number[] = [];
  let mine: number[] = [];
  let last: number[] = [];
  batches.forEach((batch, idx) => {
    if (!dropLast && idx < worldSize) initial.push(...batch);
    if (idx % worldSize === rank) mine = batch;
    if (idx % worldSize === worldSize - 1 && batch.length === batchSize) {
      shard.push(mine);
      mine = [];
    }
    last = batch;
  });
  if (dropLast || initial.length === 0) return shard;
  if (mine.length === batchSize) shard.push(mine);
  // A dataset smaller than one round of batches: repeat it.
  while (initial.length < worldSize * batchSize) initial = initial.concat(initial);
  let idx = batches.length - 1;
  let batch = [...last];
  if (batch.length === batchSize) {
    batch = [];
    idx += 1;
  }
  let cycle = 0;
  while (idx % worldSize !== 0 || batch.length > 0) {
    const end = cycle + batchSize - batch.length;
    batch = batch.concat(initial.slice(cycle, end));
    if (idx % worldSize === rank) shard.push(batch);
    cycle = end;
    batch = [];
    idx += 1;
  }
  return shard;
}
