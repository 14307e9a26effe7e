/**
 * Loading holds no second copy of the weights: float32 safetensors are read straight into the
 * parameters, other formats one tensor at a time, and the NaN check works in chunks. Measured in a
 * child process (its own peak RSS, reset with /proc/self/clear_refs just before the load) on
 * MiniLM-L6's 91 MB of weights: the load peaks at ~1.2× the weight bytes (tokenizer included);
 * reading every tensor first and copying it in peaked at ~2.3×.
 */
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { testModel } from './helpers/models.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

// Loads a model in a fresh process and reports its RSS before and its peak during fromPretrained.
const PROBE = `
import { readFileSync, writeFileSync } from 'node:fs';
import { CrossEncoder } from './lib/index.ts';
const status = (key) => Number(/\\d+/.exec(readFileSync('/proc/self/status', 'utf8').split('\\n').find((l) => l.startsWith(key)))[0]) * 1024;
// The addon, libtorch's allocator and the tokenizer code, loaded and warmed first.
await (await CrossEncoder.fromPretrained(process.argv[1])).dispose();
const before = status('VmRSS:');
writeFileSync('/proc/self/clear_refs', '5'); // resets VmHWM, the peak, to the current RSS
const model = await CrossEncoder.fromPretrained(process.argv[2]);
console.log(JSON.stringify({ before, peak: status('VmHWM:') }));
await model.dispose();
`;

function loadPeak(warmup: string, model: string): number {
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', PROBE, warmup, model], { cwd: ROOT, encoding: 'utf8' });
  expect(child.status, child.stderr).toBe(0);
  const { before, peak } = JSON.parse(child.stdout.trim().split('\n').pop()!) as { before: number; peak: number };
  return peak - before;
}

describe('peak memory of a load', () => {
  it('stays well under twice the weight bytes (MiniLM-L6, float32 safetensors)', () => {
    const dir = testModel('minilm-l6');
    const weights = statSync(path.join(dir, 'model.safetensors')).size;
    const peak = loadPeak(testModel('tiny'), dir);
    expect(peak / weights, `peak ${Math.round(peak / 1e6)} MB for ${Math.round(weights / 1e6)} MB of weights`).toBeLessThan(1.5);
  });
});
