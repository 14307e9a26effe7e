/**
 * A slice of the fuzzer (fuzz/, `npm run fuzz`): FUZZ_SECONDS (default 60) of mutated model
 * files and service requests, seed FUZZ_SEED (default random, printed), must give no crash, no
 * hang, no allocation over the cap — nor an untyped error, a NaN/Inf score from a model that
 * loaded, or a 5xx / non-JSON answer. Findings are written to fuzz-findings/ and can be replayed
 * with `npm run fuzz -- --replay <dir>`. The second test plants bugs in the worker to show each
 * failing class is caught (so the first test can fail).
 */
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { ROOT } from '../fuzz/corpus.js';
import { runFuzzer } from '../fuzz/fuzzer.js';
import { randomSeed } from '../fuzz/prng.js';
import { formatSummary } from '../fuzz/report.js';

const SECONDS = Number(process.env.FUZZ_SECONDS ?? 60);
const SEED = process.env.FUZZ_SEED === undefined ? randomSeed() : Number(process.env.FUZZ_SEED) >>> 0;
const OUT = path.join(ROOT, 'fuzz-findings');

describe('the fuzzer', () => {
  it(`finds nothing in ${SECONDS} s (seed ${SEED})`, { timeout: SECONDS * 1000 + 180_000 }, async () => {
    console.log(`fuzz slice: seed ${SEED}, ${SECONDS} s (repeat with FUZZ_SEED=${SEED})`);
    const summary = await runFuzzer({ seconds: SECONDS, seed: SEED, out: path.join(OUT, `test-seed-${SEED}-${Date.now()}`), maxRssMb: 3072, timeoutMs: 10_000, workers: 1 });
    const text = formatSummary(summary);
    console.log(text);
    expect(summary.cases).toBeGreaterThan(0);
    for (const cls of ['crash', 'hang', 'huge-allocation', 'untyped', 'garbage', 'http-5xx', 'bad-response'] as const) {
      expect.soft(summary.totals[cls], `${cls} findings (seed ${SEED}):\n${text}`).toBe(0);
    }
  });

  it('catches a planted abort, exit, hang, huge allocation and untyped error', { timeout: 240_000 }, async () => {
    const planted = { abort: 'crash', exit: 'crash', hang: 'hang', alloc: 'huge-allocation', untyped: 'untyped' } as const;
    for (const [plant, cls] of Object.entries(planted)) {
      // Cases 3 and 13 carry the bug (fuzz/worker.ts); the others must still run, in a restarted worker.
      const summary = await runFuzzer({ seconds: 120, maxCases: 15, seed: 7, out: path.join(ROOT, 'test', '.tmp', `fuzz-plant-${plant}`), maxRssMb: 1024, timeoutMs: 3000, workers: 1, targets: ['config', 'service'], plant });
      expect(summary.cases, plant).toBe(15);
      expect(summary.totals[cls], `${plant}:\n${formatSummary(summary)}`).toBe(2);
      expect(summary.findings, plant).toBe(2);
      expect(summary.groups[0].example.dir, plant).toBeDefined();
    }
  });
});
