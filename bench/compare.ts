/**
 * One workload compared at each side's best: ours at each of its thread settings, then the
 * PyTorch reference at each of its settings on the forwards ours ran (bench/forwards.ts), each
 * run a fresh process; the best run of each side is the one compared, and every run is kept for
 * the report. Then PyTorch once more at its best setting on whole batches of 32, what a
 * Sentence Transformers user runs. For predict and rank, ONNX Runtime (bench/ort_worker.ts) the
 * same way: each of its settings on our forwards, then whole batches at its best.
 */
import { differentForwards, recordedPlan, wholeBatchPlan } from './forwards.js';
import { sameAs, type ThreadSetting } from './settings.js';
import { runOrt, runOurs, runTorch } from './workers.js';
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
  /** ONNX Runtime (predict and rank; empty when it is not run). */
  ort: Trial[];
  best: { ours: WorkerResult; torch?: WorkerResult; ort?: WorkerResult };
  /** The setting of each best run. */
  bestSetting: { ours: ThreadSetting; torch?: ThreadSetting; ort?: ThreadSetting };
  /** PyTorch at its best setting on whole batches of 32 (predict and rank). */
  torchWholeBatches?: WorkerResult;
  /** ONNX Runtime at its best setting on whole batches of 32. */
  ortWholeBatches?: WorkerResult;
}

export interface CompareOptions {
  oursSettings: ThreadSetting[];
  torchSettings: ThreadSetting[];
  python: boolean;
  /** The ONNX Runtime side: its settings and the exported model; undefined when it is skipped. */
  ort?: { settings: ThreadSetting[]; model: string };
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
    ort: [],
    best: { ours: oursBest.result! },
    bestSetting: { ours: oursBest.setting },
  };
  const whole = options.scoringSpec && { name: 'whole', forwards: wholeBatchPlan(options.scoringSpec, PREDICT_BATCH_SIZE) };
  if (workload !== 'train' && options.ort) await compareOrt(comparison, workload, options.ort, first, whole, options);
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

  if (workload !== 'train' && whole) {
    log(`  ${workload}: PyTorch, whole batches of ${PREDICT_BATCH_SIZE}, ${torchBest.setting.name}…`);
    comparison.torchWholeBatches = await bestOf(repeat, () => runTorch(workload, torchBest.setting.env, whole));
  }
  return comparison;
}

/** ONNX Runtime's settings on our forwards, checked like PyTorch's, then whole batches at its best. */
async function compareOrt(
  comparison: Comparison,
  workload: 'predict' | 'rank',
  ort: NonNullable<CompareOptions['ort']>,
  first: WorkerResult,
  whole: { name: string; forwards: ForwardPlan } | undefined,
  { log, repeat }: CompareOptions,
): Promise<void> {
  const plan = { name: 'ours', forwards: recordedPlan(first) };
  comparison.ort = await trySettings(ort.settings, repeat, (setting) => {
    log(`  ${workload}: ONNX Runtime, ${setting.name}…`);
    return runOrt(workload, ort.model, setting.env, plan);
  });
  for (const t of comparison.ort) if (t.result) checkForwards(first, t.result, `ONNX Runtime with ${t.setting.name}`);
  const ortBest = bestTrial(comparison.ort);
  comparison.best.ort = ortBest.result;
  comparison.bestSetting.ort = ortBest.setting;
  if (whole) {
    log(`  ${workload}: ONNX Runtime, whole batches of ${PREDICT_BATCH_SIZE}, ${ortBest.setting.name}…`);
    comparison.ortWholeBatches = await bestOf(repeat, () => runOrt(workload, ort.model, ortBest.setting.env, whole));
  }
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
