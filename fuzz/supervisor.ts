/**
 * One long-lived fuzz worker (fuzz/worker.ts) and its limits: cases run one after another in it;
 * the parent polls its VmRSS in /proc every 20 ms and kills it above the cap, kills it after the
 * per-case time limit, and notices when it dies. After a kill or a death, the next case gets a
 * fresh worker (spawning one and loading the addon costs ~0.5 s, which is why it is long-lived).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { FuzzCase } from './cases.js';
import type { FromWorker, Outcome } from './protocol.js';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));
const STARTUP_MS = 120_000;
const POLL_MS = 20;

export interface SupervisorOptions {
  maxRssMb: number;
  timeoutMs: number;
  /** Restart a worker between cases once its RSS exceeds this (slow growth is not one case's fault). */
  restartRssMb: number;
  /** FUZZ_PLANT for the worker (the fuzzer's own test). */
  plant?: string;
}

function vmRssMb(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export class Supervisor {
  private child: ChildProcess | undefined;
  private stderrTail = '';
  private baselineMb = 0;
  /** Workers started (the first one included). */
  starts = 0;
  peakRssMb = 0;

  constructor(private readonly options: SupervisorOptions) {}

  private async start(): Promise<ChildProcess> {
    const child = fork(WORKER, [], {
      execArgv: ['--import', 'tsx'],
      cwd: path.dirname(path.dirname(WORKER)),
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      // One thread each: 2 shared cores, and a thread pool spinning is no finding.
      env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', ...(this.options.plant ? { FUZZ_PLANT: this.options.plant } : {}) },
    });
    this.stderrTail = '';
    child.stderr!.on('data', (chunk: Buffer) => (this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-4000)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the fuzz worker did not start in time')), STARTUP_MS);
      child.once('message', (message: FromWorker) => {
        clearTimeout(timer);
        if (message.type === 'ready') this.baselineMb = message.rssMb;
        resolve();
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the fuzz worker exited while starting (${signal ?? code}):\n${this.stderrTail}`));
      });
    });
    child.removeAllListeners('exit');
    return child;
  }

  private kill(): void {
    if (this.child?.pid !== undefined && this.child.exitCode === null) this.child.kill('SIGKILL');
    this.child = undefined;
  }

  /** Runs one case in the worker (starting one if needed) and classifies what happened. */
  async run(fuzzCase: FuzzCase): Promise<Outcome> {
    if (this.child !== undefined && (this.child.exitCode !== null || this.child.signalCode !== null)) this.child = undefined;
    if (this.child === undefined) {
      this.child = await this.start();
      this.starts++;
    }
    const child = this.child;
    const started = performance.now();
    const outcome = await new Promise<Outcome>((resolve) => {
      let done = false;
      let killedFor: 'hang' | 'huge-allocation' | undefined;
      let killRss = 0;
      const finish = (result: Outcome) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearInterval(poll);
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(result);
      };
      const onMessage = (message: FromWorker) => {
        if (message.type !== 'result' || message.index !== fuzzCase.index) return;
        const result = message.outcome;
        if (result.maxRssMb !== undefined && result.maxRssMb > this.options.maxRssMb && result.class !== 'huge-allocation') {
          finish({ ...result, class: 'huge-allocation', phase: result.phase, message: `peak RSS ${result.maxRssMb.toFixed(0)} MB > cap ${this.options.maxRssMb} MB (then: ${result.class} ${result.message ?? ''})` });
          this.kill();
          return;
        }
        if (message.rssMb > this.options.restartRssMb) this.kill();
        finish(result);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        const ms = performance.now() - started;
        if (killedFor === 'hang') finish({ class: 'hang', phase: 'worker', ms, message: `no answer within ${this.options.timeoutMs} ms` });
        else if (killedFor === 'huge-allocation') finish({ class: 'huge-allocation', phase: 'worker', ms, maxRssMb: killRss, message: `RSS ${killRss.toFixed(0)} MB > cap ${this.options.maxRssMb} MB` });
        else finish({ class: 'crash', phase: 'worker', ms, message: `worker died: ${signal ?? `exit code ${code}`}`, detail: this.stderrTail.slice(-2000) });
        this.child = undefined;
      };
      const timer = setTimeout(() => {
        killedFor = 'hang';
        if (child.exitCode !== null || child.signalCode !== null) onExit(child.exitCode, child.signalCode);
        else child.kill('SIGKILL');
      }, this.options.timeoutMs);
      const poll = setInterval(() => {
        const rss = child.pid === undefined ? undefined : vmRssMb(child.pid);
        if (rss === undefined) return;
        this.peakRssMb = Math.max(this.peakRssMb, rss);
        if (rss > this.options.maxRssMb && killedFor === undefined) {
          killedFor = 'huge-allocation';
          killRss = rss;
          child.kill('SIGKILL');
        }
      }, POLL_MS);
      child.on('message', onMessage);
      child.on('exit', onExit);
      child.send({ type: 'case', fuzzCase });
    });
    return outcome;
  }

  /** The worker's RSS right after it started, MB. */
  get baselineRssMb(): number {
    return this.baselineMb;
  }

  close(): void {
    this.kill();
  }
}
