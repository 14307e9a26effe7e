/**
 * One workload compared at each side's best: ours at each of its thread settings, then the
 * PyTorch reference at each of its settings on the forwards ours ran (bench/forwards.ts), each
 * run a fresh process; the best run of each side is the one compared, and every run is kept for
 * the report. Then PyTorch once more at its best setting on whole batches of 32, what a
 * Sentence Transformers user runs.
 */
import { differentForwards, recordedPlan, wholeBatchPlan } from './forwards.js';
import { sameAs, type ThreadSetting } from './settings.js';
import { runOurs, runTorch } from './workers.js';
import { beats, type ForwardPlan, PREDICT_BATCH_SIZE, type TorchScoringSpec, type Workload, type WorkerResult } from './workloads.js';

export interface Trial {
  setting: ThreadSetting;
  /** Undefined when the setting was skipped. */
  result?: WorkerResult;
  skipped?: string;
}

export interface Comparison {
  workload: Workload;
  ours: Trial[];
  torch: Trial[];
  best: { ours: WorkerResult; torch?: WorkerResult };
  /** The setting of each best run. */
  bestSetting: { ours: ThreadSetting; torch?: ThreadSetting };
  /** PyTorch at its best setting on whole batches of 32 (predict and rank). */
  torchWholeBatches?: WorkerResult;
}

export interface CompareOptions {
  oursSettings: ThreadSetting[];
  torchSettings: ThreadSetting[];
  python: boolean;
  /** Runs of each setting; the best is kept (for a shared, noisy machine). */
  repeat: number;
  /** Predict's and rank's calls as the PyTorch worker reads them, for the whole-batch plan. */
  scoringSpec?: TorchScoringSpec;
  log: (line: string) => void;
}

async function bestOf(repeat: number, run: () => Promise<WorkerResult>): Promise<WorkerResult> {
  let best = await run();
  for (let i = 1; i < repeat; i++) {
    const next = await run();
    if (beats(next, best)) best = next;
  }
  return best;
}

function bestTrial(trials: readonly Trial[]): Trial {
  const run = trials.filter((t) => t.result !== undefined);
  return run.reduce((best, t) => (beats(t.result!, best.result!) ? t : best));
}

/** Runs every setting of one side, skipping those that would repeat an earlier run's threads. */
async function trySettings(settings: readonly ThreadSetting[], repeat: number, run: (setting: ThreadSetting) => Promise<WorkerResult>): Promise<Trial[]> {
  const trials: Trial[] = [];
  for (const setting of settings) {
    const skipped = sameAs(setting, trials);
    trials.push(skipped ? { setting, skipped } : { setting, result: await bestOf(repeat, () => run(setting)) });
  }
  return trials;
}

/** Fails when a run did not execute the forwards of the reference run: the comparison would not be like for like. */
function checkForwards(reference: WorkerResult, result: WorkerResult, what: string): void {
  const difference = differentForwards(reference, result);
  if (difference) throw new Error(`${what} ran other forwards than our first ${reference.workload} run (${difference}): the comparison would not be like for like`);
}

export async function compare(workload: Workload, options: CompareOptions): Promise<Comparison> {
  const { log, repeat } = options;
  const ours = await trySettings(options.oursSettings, repeat, (setting) => {
    log(`  ${workload}: ours, ${setting.name}…`);
    return runOurs(workload, setting.env);
  });
  const first = ours[0].result!;
  for (const t of ours) if (t.result) checkForwards(first, t.result, `ours with ${t.setting.name}`);
  const oursBest = bestTrial(ours);
  const comparison: Comparison = {
    workload,
    ours,
    torch: [],
    best: { ours: oursBest.result! },
    bestSetting: { ours: oursBest.setting },
  };
  if (!options.python) return comparison;

  const plan = workload === 'train' ? undefined : { name: 'ours', forwards: recordedPlan(first) };
  comparison.torch = await trySettings(options.torchSettings, repeat, (setting) => {
    log(`  ${workload}: PyTorch, ${setting.name}…`);
    return runTorch(workload, setting.env, plan);
  });
  for (const t of comparison.torch) if (t.result) checkForwards(first, t.result, `PyTorch with ${t.setting.name}`);
  const torchBest = bestTrial(comparison.torch);
  comparison.best.torch = torchBest.result;
  comparison.bestSetting.torch = torchBest.setting;

  if (workload !== 'train' && options.scoringSpec) {
    const whole: { name: string; forwards: ForwardPlan } = { name: 'whole', forwards: wholeBatchPlan(options.scoringSpec, PREDICT_BATCH_SIZE) };
    log(`  ${workload}: PyTorch, whole batches of ${PREDICT_BATCH_SIZE}, ${torchBest.setting.name}…`);
    comparison.torchWholeBatches = await bestOf(repeat, () => runTorch(workload, torchBest.setting.env, whole));
  }
  return comparison;
}

/** --matrix: one setting, the same on both sides, PyTorch on the forwards ours ran. */
export async function compareAt(workload: Workload, setting: ThreadSetting, python: boolean, repeat: number, log: (line: string) => void) {
  log(`  ${workload} (${setting.name}): ours…`);
  const ours = await bestOf(repeat, () => runOurs(workload, setting.env));
  let torch: WorkerResult | undefined;
  if (python) {
    log(`  ${workload} (${setting.name}): PyTorch…`);
    const plan = workload === 'train' ? undefined : { name: 'ours', forwards: recordedPlan(ours) };
    torch = await bestOf(repeat, () => runTorch(workload, setting.env, plan));
    checkForwards(ours, torch, `PyTorch with ${setting.name}`);
  }
  return { setting: setting.name, workload, ours, torch };
}

export type MatrixRow = Awaited<ReturnType<typeof compareAt>>;
