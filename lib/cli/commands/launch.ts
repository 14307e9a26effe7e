/**
 * `crossencoder launch`: starts N processes of a training script with the environment torchrun
 * gives its workers (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT),
 * so that CrossEncoderTrainer trains data-parallel over them (lib/training/distributed.ts).
 * Signals are forwarded to every rank; when one rank fails, the others are stopped and the
 * launcher exits with the failing rank's status, naming it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { constants } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';

import { type Command, defineCommand } from '../command.js';
import { PROGRAM, UsageError } from '../usage-error.js';

/** Where and how many processes to start. */
export interface LaunchOptions {
  /** Processes on this machine. */
  nprocPerNode: number;
  /** Machines taking part (default 1). */
  nnodes?: number;
  /** This machine's index, 0 … nnodes - 1 (default 0); node 0 runs rank 0. */
  nodeRank?: number;
  /** Rank 0's address (default 127.0.0.1, which only suits one machine). */
  masterAddr?: string;
  /** Rank 0's rendezvous port (default: a free port on one machine, 29500 on several). */
  masterPort?: number;
  /** The program and its arguments, started once per rank. */
  command: readonly string[];
  /** The environment the ranks start from (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** How long the other ranks get to exit after SIGTERM before SIGKILL (default 5 s). */
  graceMs?: number;
  /** Receives the ranks' output instead of this process's stdout and stderr (tests). */
  output?: (rank: number, stream: 'stdout' | 'stderr', text: string) => void;
  /** Where the launcher's own messages go (default: stderr). */
  report?: (line: string) => void;
}

/** How a launch ended: 0 when every rank exited with 0, else the first failing rank's status. */
export interface LaunchResult {
  exitCode: number;
  /** The first rank that failed, with how. */
  failed?: { rank: number; localRank: number; pid: number | undefined; code: number | null; signal: NodeJS.Signals | null };
}

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** A TCP port nothing listens on now (the rendezvous binds it a moment later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (constants.signals[signal] ?? 1) : 1);
}

/** Starts the ranks of this machine and resolves when all have exited (or one failed and the rest were stopped). */
export async function launch(options: LaunchOptions): Promise<LaunchResult> {
  const { nprocPerNode, nnodes = 1, nodeRank = 0, command, env = process.env, graceMs = 5000 } = options;
  const report = options.report ?? ((line: string) => process.stderr.write(`${PROGRAM} launch: ${line}\n`));
  if (!Number.isInteger(nprocPerNode) || nprocPerNode < 1) throw new UsageError('--nproc-per-node must be an integer >= 1', 'launch');
  if (!Number.isInteger(nnodes) || nnodes < 1) throw new UsageError('--nnodes must be an integer >= 1', 'launch');
  if (!Number.isInteger(nodeRank) || nodeRank < 0 || nodeRank >= nnodes) throw new UsageError('--node-rank must be in [0, --nnodes)', 'launch');
  if (command.length === 0) throw new UsageError('no script given', 'launch');
  const masterAddr = options.masterAddr ?? env.MASTER_ADDR ?? '127.0.0.1';
  const portFromEnv = env.MASTER_PORT === undefined ? undefined : Number(env.MASTER_PORT);
  const masterPort = options.masterPort ?? portFromEnv ?? (nnodes === 1 ? await freePort() : 29500);
  const worldSize = nnodes * nprocPerNode;

  const children: ChildProcess[] = [];
  let failed: LaunchResult['failed'];
  let killTimer: NodeJS.Timeout | undefined;
  const stopOthers = () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    killTimer = setTimeout(() => {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }, graceMs);
    killTimer.unref();
  };
  const forward = (signal: NodeJS.Signals) => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  try {
    const exits = Array.from({ length: nprocPerNode }, (_, localRank) => {
      const rank = nodeRank * nprocPerNode + localRank;
      const child = spawn(command[0], command.slice(1), {
        env: {
          ...env,
          RANK: String(rank),
          LOCAL_RANK: String(localRank),
          WORLD_SIZE: String(worldSize),
          LOCAL_WORLD_SIZE: String(nprocPerNode),
          GROUP_RANK: String(nodeRank),
          MASTER_ADDR: masterAddr,
          MASTER_PORT: String(masterPort),
          // As torchrun: one intra-op thread per rank unless told otherwise (the ranks share the cores).
          OMP_NUM_THREADS: env.OMP_NUM_THREADS ?? (nprocPerNode > 1 ? '1' : undefined),
        },
        // Its own process group: a Ctrl-C in the terminal reaches the ranks once, forwarded from here.
        detached: true,
        stdio: ['ignore', options.output ? 'pipe' : 'inherit', options.output ? 'pipe' : 'inherit'],
      });
      children.push(child);
      child.stdout?.on('data', (chunk: Buffer) => options.output?.(rank, 'stdout', chunk.toString()));
      child.stderr?.on('data', (chunk: Buffer) => options.output?.(rank, 'stderr', chunk.toString()));
      return new Promise<void>((resolve) => {
        const onEnd = (code: number | null, signal: NodeJS.Signals | null) => {
          if ((code !== 0 || signal !== null) && failed === undefined) {
            failed = { rank, localRank, pid: child.pid, code, signal };
            const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
            const others = children.filter((c) => c !== child && c.exitCode === null && c.signalCode === null).length;
            report(`rank ${rank} (local rank ${localRank}, pid ${child.pid}) ${how}${others ? `: stopping the other ${others} rank${others > 1 ? 's' : ''}` : ''} (its own error is above)`);
            stopOthers();
          }
          resolve();
        };
        child.on('error', (error) => {
          report(`rank ${rank}: cannot start ${command[0]}: ${error.message}`);
          onEnd(127, null);
        });
        // 'close': the exit status and every byte of output are in.
        child.on('close', onEnd);
      });
    });
    await Promise.all(exits);
  } finally {
    for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
    if (killTimer) clearTimeout(killTimer);
  }
  return failed ? { exitCode: exitStatus(failed.code, failed.signal), failed } : { exitCode: 0 };
}

/** The crossencoder CLI's entry point, to start a command of it (`train`) in every rank. */
export function cliEntry(): string[] {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const entry = ['index.js', 'index.ts'].map((name) => path.join(here, '..', name)).find((file) => existsSync(file));
  if (!entry) throw new Error(`cannot find the crossencoder CLI entry point next to ${here}`);
  return [process.execPath, ...process.execArgv, entry];
}

/** The CLI commands `launch` starts as they are (`crossencoder launch … train …`). */
const CLI_COMMANDS = new Set(['train']);

const LAUNCH_OPTIONS = {
  'nproc-per-node': { kind: 'integer', value: '<n>', min: 1, default: 1, help: 'Processes to start on this machine (one per core suits CPUs)' },
  nnodes: { kind: 'integer', value: '<n>', min: 1, default: 1, help: 'Machines taking part' },
  'node-rank': { kind: 'integer', value: '<i>', min: 0, default: 0, help: "This machine's index (0 runs rank 0)" },
  'master-addr': { kind: 'string', value: '<host>', help: "Rank 0's machine (default 127.0.0.1, or $MASTER_ADDR)" },
  'master-port': { kind: 'integer', value: '<port>', min: 1, help: 'Rendezvous port on it (default: a free one on one machine, 29500 on several)' },
} as const;

/** The script and its arguments: everything from the first word that is not a launcher option. */
let scriptArgv: string[] = [];

const parsedLaunch = defineCommand('launch', {
  summary: 'Run a training script on several processes (data-parallel)',
  usage: '[--nproc-per-node N] [--nnodes M --node-rank I --master-addr HOST --master-port P] <script.js | train> [args...]',
  description:
    'Starts --nproc-per-node processes of <script.js> (any script using CrossEncoderTrainer), or of\n' +
    "the CLI's own `train` command, with the variables torchrun sets: RANK, LOCAL_RANK, WORLD_SIZE,\n" +
    'LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT (and OMP_NUM_THREADS=1 unless set). The trainer sees\n' +
    'them and trains data-parallel: weights from rank 0, each rank its share of every batch, gradients\n' +
    'averaged before clipping; rank 0 logs, evaluates and saves. On several machines, run the same\n' +
    'command on each with its --node-rank and the same --nnodes, --master-addr and --master-port.\n' +
    "Launcher options go before the script; everything after it is the script's. When a rank fails,\n" +
    'the others are stopped and the launcher exits with its status. $CROSSENCODER_DDP_TIMEOUT (seconds,\n' +
    'default 1800) bounds how long a rank waits for the others.',
  options: LAUNCH_OPTIONS,
  async run(values) {
    const [script, ...rest] = scriptArgv;
    if (script === undefined) throw new UsageError('no script given: crossencoder launch [options] <script.js | train> [args...]', 'launch');
    const command = CLI_COMMANDS.has(script) ? [...cliEntry(), script, ...rest] : [process.execPath, ...process.execArgv, script, ...rest];
    const result = await launch({
      nprocPerNode: values['nproc-per-node'],
      nnodes: values.nnodes,
      nodeRank: values['node-rank'],
      masterAddr: values['master-addr'],
      masterPort: values['master-port'],
      command,
    });
    // The ranks' status, not the CLI's own 0/1/2: every rank has exited by now.
    if (result.exitCode !== 0) process.exit(result.exitCode);
  },
});

export const launchCommand: Command = {
  ...parsedLaunch,
  execute(argv) {
    let i = 0;
    while (i < argv.length && argv[i].startsWith('-')) {
      if (argv[i] === '--') {
        i++;
        break;
      }
      i += argv[i].includes('=') ? 1 : 2; // every launcher option takes a value
    }
    const cut = Math.min(i, argv.length);
    scriptArgv = argv.slice(cut);
    return parsedLaunch.execute(argv.slice(0, cut).filter((word) => word !== '--'));
  },
};

/** `crossencoder train --nproc-per-node N …`: the same command line in N ranks, without the flag. */
export async function relaunchTrain(nprocPerNode: number, argv: readonly string[]): Promise<void> {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--nproc-per-node') i++;
    else if (!argv[i].startsWith('--nproc-per-node=')) args.push(argv[i]);
  }
  const result = await launch({ nprocPerNode, command: [...cliEntry(), 'train', ...args] });
  if (result.exitCode !== 0) process.exit(result.exitCode);
}
