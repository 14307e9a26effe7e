/**
 * `npm run fuzz -- [--seconds 600] [--seed S] [--out fuzz-findings] [--max-rss-mb 3072]
 * [--timeout-ms 10000] [--workers 1] [--targets safetensors,bin,…] [--max-cases N]`: a seeded,
 * time-bounded fuzz campaign over the model files and the service (see fuzz/fuzzer.ts); exits 1
 * when it found anything. `--replay <finding dir>` or `--seed S --case N` runs one case again.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';

import { TARGETS, type Target } from './cases.js';
import { ROOT } from './corpus.js';
import { loadCase, replayCase, runFuzzer } from './fuzzer.js';
import { FINDING_CLASSES } from './protocol.js';
import { randomSeed } from './prng.js';
import { formatSummary } from './report.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '600' },
    seed: { type: 'string' },
    out: { type: 'string', default: 'fuzz-findings' },
    'max-rss-mb': { type: 'string', default: '3072' },
    'timeout-ms': { type: 'string', default: '10000' },
    workers: { type: 'string', default: '1' },
    targets: { type: 'string' },
    'max-cases': { type: 'string' },
    replay: { type: 'string' },
    case: { type: 'string' },
    plant: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});

function number(name: string, value: string | undefined, min = 0): number {
  const n = Number(value);
  if (value === undefined || !Number.isFinite(n) || n < min) {
    console.error(`fuzz: --${name} must be a number ≥ ${min}, got ${value}`);
    process.exit(2);
  }
  return n;
}

if (values.help) {
  console.log(
    'npm run fuzz -- [--seconds 600] [--seed S] [--out fuzz-findings] [--max-rss-mb 3072] [--timeout-ms 10000] [--workers 1]\n' +
      `               [--targets ${TARGETS.join(',')}] [--max-cases N]\n` +
      'npm run fuzz -- --replay <finding dir>   |   npm run fuzz -- --seed S --case N',
  );
  process.exit(0);
}

const maxRssMb = number('max-rss-mb', values['max-rss-mb'], 256);
const timeoutMs = number('timeout-ms', values['timeout-ms'], 100);

if (values.replay !== undefined || values.case !== undefined) {
  const fuzzCase = values.replay !== undefined ? loadCase({ dir: path.resolve(values.replay) }) : loadCase({ seed: number('seed', values.seed) >>> 0, index: number('case', values.case) });
  console.log(`case ${fuzzCase.index} of seed ${fuzzCase.seed} (${fuzzCase.target}): ${fuzzCase.mutations.join('; ')}`);
  const outcome = await replayCase(fuzzCase, { maxRssMb, timeoutMs });
  console.log(JSON.stringify(outcome, null, 2));
  process.exit(FINDING_CLASSES.includes(outcome.class) ? 1 : 0);
}

const targets = values.targets?.split(',').map((t) => t.trim()) as Target[] | undefined;
const unknown = targets?.filter((t) => !TARGETS.includes(t));
if (unknown && unknown.length > 0) {
  console.error(`fuzz: unknown target(s) ${unknown.join(', ')}; targets are ${TARGETS.join(', ')}`);
  process.exit(2);
}
const seed = values.seed === undefined ? randomSeed() : number('seed', values.seed) >>> 0;
const seconds = number('seconds', values.seconds);
const out = path.resolve(ROOT, values.out!, `seed-${seed}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
console.log(`fuzz: seed ${seed}, ${seconds} s, findings to ${out}`);
let lastLine = Date.now();
const summary = await runFuzzer({
  seconds,
  seed,
  out,
  maxRssMb,
  timeoutMs,
  workers: number('workers', values.workers, 1),
  targets,
  maxCases: values['max-cases'] === undefined ? undefined : number('max-cases', values['max-cases'], 1),
  plant: values.plant,
  onCase: (fuzzCase, outcome, dir) => {
    if (FINDING_CLASSES.includes(outcome.class)) console.log(`  case ${fuzzCase.index} ${fuzzCase.target}: ${outcome.class} (${outcome.phase}) ${outcome.errorName ?? ''} ${(outcome.message ?? '').split('\n')[0].slice(0, 160)}${dir ? '' : ' [not written]'}`);
    if (Date.now() - lastLine > 10_000) {
      lastLine = Date.now();
      console.log(`  … ${fuzzCase.index + 1} cases`);
    }
  },
});
console.log(`\n${formatSummary(summary)}`);
process.exit(summary.findings > 0 ? 1 : 0);
