/**
 * A fuzz campaign: cases 0, 1, 2… of a seed, each run in a supervised worker (one per
 * `workers`), until the time is up or `maxCases` ran; the report records every outcome and
 * writes every finding's input. `replayCase` runs one stored or rebuilt case again.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { type FuzzCase, makeCase, TARGETS, type Target } from './cases.js';
import { readSeeds } from './corpus.js';
import type { Outcome } from './protocol.js';
import { Report, type Summary, writeSummary } from './report.js';
import { Supervisor } from './supervisor.js';

export interface FuzzOptions {
  seconds: number;
  seed: number;
  /** The campaign's folder: report.json, report.txt, findings/. */
  out: string;
  maxRssMb: number;
  timeoutMs: number;
  workers: number;
  targets?: readonly Target[];
  maxCases?: number;
  /** Plants a bug in the worker (abort, hang, alloc, untyped, exit), for the fuzzer's own test. */
  plant?: string;
  /** Called after each case. */
  onCase?: (fuzzCase: FuzzCase, outcome: Outcome, findingDir: string | undefined) => void;
}

function supervisor(options: Pick<FuzzOptions, 'maxRssMb' | 'timeoutMs' | 'plant'>): Supervisor {
  return new Supervisor({ maxRssMb: options.maxRssMb, timeoutMs: options.timeoutMs, restartRssMb: Math.min(options.maxRssMb * 0.6, 1500), plant: options.plant });
}

export async function runFuzzer(options: FuzzOptions): Promise<Summary> {
  const seeds = readSeeds();
  const targets = options.targets ?? TARGETS;
  const report = new Report(options.seed, options.out);
  const deadline = Date.now() + options.seconds * 1000;
  let next = 0;
  const supervisors = Array.from({ length: Math.max(1, options.workers) }, () => supervisor(options));
  const loop = async (sup: Supervisor) => {
    while (Date.now() < deadline && (options.maxCases === undefined || next < options.maxCases)) {
      const fuzzCase = makeCase(seeds, options.seed, next++, targets);
      const outcome = await sup.run(fuzzCase);
      const dir = report.record(fuzzCase, outcome);
      options.onCase?.(fuzzCase, outcome, dir);
    }
  };
  try {
    await Promise.all(supervisors.map(loop));
  } finally {
    for (const sup of supervisors) sup.close();
  }
  const summary = report.summary({
    workerStarts: supervisors.reduce((sum, s) => sum + s.starts, 0),
    peakRssMb: Math.max(...supervisors.map((s) => s.peakRssMb)),
    maxRssMb: options.maxRssMb,
  });
  writeSummary(summary);
  return summary;
}

/**
 * The case of a finding folder (its case.json and stored input), or case `index` of `seed`
 * rebuilt from the seeds.
 */
export function loadCase(source: { dir: string } | { seed: number; index: number }): FuzzCase {
  if ('seed' in source) return makeCase(readSeeds(), source.seed, source.index);
  const file = source.dir.endsWith('.json') ? source.dir : path.join(source.dir, 'case.json');
  const stored = JSON.parse(readFileSync(file, 'utf8')) as FuzzCase & { outcome?: unknown; replay?: unknown };
  const { outcome: _outcome, replay: _replay, ...fuzzCase } = stored;
  if (fuzzCase.input.kind === 'files') fuzzCase.input.content = readFileSync(path.join(path.dirname(file), fuzzCase.input.file)).toString('base64');
  return fuzzCase;
}

/** Runs one case in a fresh worker. */
export async function replayCase(fuzzCase: FuzzCase, options: Pick<FuzzOptions, 'maxRssMb' | 'timeoutMs'>): Promise<Outcome> {
  const sup = supervisor(options);
  try {
    return await sup.run(fuzzCase);
  } finally {
    sup.close();
  }
}
