/**
 * Saves interrupted by a killed process (issue 15, item 5): what a dead writer left beside a
 * directory is put back or deleted by the next save, `fromPretrained` or `train()`, so the
 * directory is always the old one or the new one; a live writer's directories are left alone;
 * a checkpoint whose files changed since it was saved is refused on resume.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { recoverInterruptedSave, recoverInterruptedSaves, writeDirectoryAtomic } from '../lib/atomic-file.js';
import { CrossEncoder, ModelFormatError, train, type PairRow, type TrainerCallback } from '../lib/index.js';

import { testModel } from './helpers/models.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

let work: string;
const children: ChildProcess[] = [];
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'tce-interrupted-'));
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await rm(work, { recursive: true, force: true });
});

/** The pid of a process that has exited (and been reaped): what a killed writer's pid is. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await once(child, 'exit');
  return child.pid!;
}

/** The pid of a running process (a sleeping child, killed after the file's tests). */
async function livePid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600_000)'], { stdio: 'ignore' });
  children.push(child);
  await once(child, 'spawn');
  return child.pid!;
}

const hex = () => randomBytes(6).toString('hex');
/** The staging name writeDirectoryAtomic gives a save of `target` by process `pid`. */
const stagingOf = (target: string, pid: number) => path.join(path.dirname(target), `.${path.basename(target)}.saving-${pid}-${hex()}`);

/** A directory of `files` (name → content). */
async function makeDir(dir: string, files: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), content);
}

async function readDir(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) files[name] = await readFile(path.join(dir, name), 'utf8');
  return files;
}

describe('a save killed between its two renames', () => {
  it('is put back by the next writeDirectoryAtomic, which then replaces it; dead writers leave nothing, live ones keep theirs', async () => {
    const parent = await mkdtemp(path.join(work, 'between-'));
    const target = path.join(parent, 'target');
    const dead = await deadPid();
    // The state a kill after rename(target, aside) and before rename(staging, target) leaves:
    // no target, the old directory aside, the complete new one still in staging.
    const staging = stagingOf(target, dead);
    await makeDir(`${staging}.previous`, { 'marker.json': '{"version":1}', 'weights.bin': 'old' });
    await makeDir(staging, { 'marker.json': '{"version":2}', 'weights.bin': 'new' });
    // An earlier dead save, killed while filling.
    await makeDir(stagingOf(target, dead), { 'weights.bin': 'half' });
    // Saves still running: this process, and another live one, mid-save.
    const ours = stagingOf(target, process.pid);
    const other = stagingOf(target, await livePid());
    await makeDir(ours, { 'weights.bin': 'in progress' });
    await makeDir(`${other}.previous`, { 'marker.json': '{"version":0}' });

    let seenByFill: Record<string, string> | undefined;
    await writeDirectoryAtomic(
      target,
      async (dir) => {
        seenByFill = await readDir(target); // recovery ran before the fill
        await writeFile(path.join(dir, 'marker.json'), '{"version":3}');
      },
      'the test directory',
    );
    expect(seenByFill).toEqual({ 'marker.json': '{"version":1}', 'weights.bin': 'old' });
    expect(await readDir(target)).toEqual({ 'marker.json': '{"version":3}' });
    expect((await readdir(parent)).sort()).toEqual([path.basename(ours), `${path.basename(other)}.previous`, 'target'].sort());
  });

  it('deletes a dead writer\'s .previous when the new directory was already moved in', async () => {
    const parent = await mkdtemp(path.join(work, 'after-'));
    const target = path.join(parent, 'target');
    await makeDir(target, { 'marker.json': '{"version":2}' });
    await makeDir(`${stagingOf(target, await deadPid())}.previous`, { 'marker.json': '{"version":1}' });

    await recoverInterruptedSave(target);
    expect(await readdir(parent)).toEqual(['target']);
    expect(await readDir(target)).toEqual({ 'marker.json': '{"version":2}' });
  });

  it('leaves a live writer\'s .previous in place even when the target is missing', async () => {
    const parent = await mkdtemp(path.join(work, 'live-'));
    const target = path.join(parent, 'target');
    const aside = `${stagingOf(target, await livePid())}.previous`;
    await makeDir(aside, { 'marker.json': '{"version":1}' });
    const dead = stagingOf(target, await deadPid());
    await makeDir(dead, { 'marker.json': '{"version":2}' });

    await recoverInterruptedSave(target);
    // The live save is between its renames: restoring would make its second rename fail.
    expect(await readdir(parent)).toEqual([path.basename(aside)]);
  });

  it('is put back by fromPretrained, and the next savePretrained leaves no litter', async () => {
    const parent = await mkdtemp(path.join(work, 'model-'));
    const dir = path.join(parent, 'saved');
    const tiny = await CrossEncoder.fromPretrained(testModel('tiny'));
    await tiny.savePretrained(dir);
    const dead = await deadPid();
    const staging = stagingOf(dir, dead);
    await rename(dir, `${staging}.previous`);
    await makeDir(staging, { 'config.json': '{"half": "written"}' });

    const loaded = await CrossEncoder.fromPretrained(dir);
    expect(loaded.numLabels).toBe(1);
    expect(await readdir(parent)).toEqual(['saved']);

    // Killed again between the renames, then saved over by another model.
    await rename(dir, `${stagingOf(dir, dead)}.previous`);
    await makeDir(stagingOf(dir, dead), {});
    await (await CrossEncoder.fromPretrained(testModel('tiny-3labels'))).savePretrained(dir);
    expect(await readdir(parent)).toEqual(['saved']);
    expect((await CrossEncoder.fromPretrained(dir)).numLabels).toBe(3);
  });
});

/** mulberry32: the kill moments are the same on every run. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FILES = ['a.bin', 'b.bin', 'c.bin'];
/** Saves TARGET over and over, each version one higher, printing `saved <n>` once it is in place. */
const WRITER = `
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
const { writeDirectoryAtomic } = await import(${JSON.stringify(path.join(ROOT, 'lib/atomic-file.ts'))});
const target = process.env.TARGET;
let version = JSON.parse(await readFile(path.join(target, 'marker.json'), 'utf8')).version;
process.stdout.write('ready ' + version + '\\n');
for (;;) {
  const next = version + 1;
  await writeDirectoryAtomic(target, async (dir) => {
    for (const file of ${JSON.stringify(FILES)}) await writeFile(path.join(dir, file), (next + '\\n').repeat(4096));
    await writeFile(path.join(dir, 'marker.json'), JSON.stringify({ version: next }));
  }, 'the test directory');
  version = next;
  process.stdout.write('saved ' + next + '\\n');
}
`;

describe('kill -9 during saves', () => {
  it('leaves, after recovery, the last saved version or the one in flight, complete, and nothing else', { timeout: 300_000 }, async () => {
    const parent = await mkdtemp(path.join(work, 'kill-'));
    const target = path.join(parent, 'target');
    await makeDir(target, { ...Object.fromEntries(FILES.map((file) => [file, '0\n'.repeat(4096)])), 'marker.json': '{"version":0}' });
    const random = seededRandom(Number(process.env.KILL_SEED ?? 15));
    const kills = Number(process.env.KILLS ?? 20);
    let litterSeen = 0;
    for (let kill = 0; kill < kills; kill++) {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', WRITER], {
        cwd: ROOT,
        env: { ...process.env, TARGET: target },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk));
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
      const exited = once(child, 'exit');
      while (!stdout.includes('\n') && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(stdout, stderr).toMatch(/^ready \d+\n/);
      await new Promise((resolve) => setTimeout(resolve, random() * 150));
      child.kill('SIGKILL');
      await exited; // reaped: its pid is dead now

      const ready = Number(/^ready (\d+)/.exec(stdout)![1]);
      const saved = [...stdout.matchAll(/^saved (\d+)$/gm)].map((match) => Number(match[1]));
      const last = saved.at(-1) ?? ready;
      if ((await readdir(parent)).length > 1) litterSeen += 1;

      await recoverInterruptedSaves(parent);
      expect(await readdir(parent), `kill ${kill}`).toEqual(['target']);
      const files = await readDir(target);
      const version = (JSON.parse(files['marker.json']) as { version: number }).version;
      // The save in flight may have been moved in just before the kill, before it printed.
      expect([last, last + 1], `kill ${kill}: saved ${last}, found ${version}`).toContain(version);
      expect(Object.keys(files).sort()).toEqual([...FILES, 'marker.json'].sort());
      for (const file of FILES) expect(files[file], `kill ${kill}: ${file}`).toBe(`${version}\n`.repeat(4096));
    }
    // Most kills land inside a save (the fill is most of the loop): recovery had work to do.
    expect(litterSeen).toBeGreaterThan(kills / 4);
  });
});

describe('checkpoints', () => {
  const rows: PairRow[] = [
    { query: 'How do I reset a user password?', document: 'Open Settings > Users and click Send reset link.', label: 1 },
    { query: 'How do I reset a user password?', document: 'The release dashboard lists deployments.', label: 0 },
    { query: 'How can I export audit logs?', document: 'Admins export audit logs as CSV from the Admin page.', label: 1 },
    { query: 'How can I export audit logs?', document: 'The office is closed on public holidays.', label: 0 },
  ];
  const args = { maxSteps: 4, perDeviceTrainBatchSize: 2, saveSteps: 1, learningRate: 1e-3, disableTqdm: true, seed: 3 };
  let trained: string;

  beforeAll(async () => {
    trained = path.join(work, 'trained');
    // Stopped at step 3: checkpoints 1 to 3, and a resume has a step left to take.
    const stop = { onStepEnd: ({ state, control }: { state: { globalStep: number }; control: { shouldTrainingStop: boolean } }) => {
      if (state.globalStep === 3) control.shouldTrainingStop = true;
    } };
    await train({ model: await CrossEncoder.fromPretrained(testModel('tiny')), trainDataset: rows, args: { ...args, outputDir: trained }, callbacks: [stop] });
  });

  /** A copy of the trained output directory to tamper with. */
  async function copy(name: string): Promise<string> {
    const outputDir = path.join(work, name);
    await cp(trained, outputDir, { recursive: true });
    return outputDir;
  }

  const resume = async (outputDir: string, callbacks: TrainerCallback[] = []) =>
    train({ model: await CrossEncoder.fromPretrained(testModel('tiny')), trainDataset: rows, args: { ...args, outputDir }, resumeFromCheckpoint: true, callbacks });
  const crossEncoderWarnings = (warn: { mock: { calls: unknown[][] } }) => warn.mock.calls.filter((call) => call[1] === 'CrossEncoderWarning');

  it('records the sha256 and step of the files a resume reads, and resumes from an untouched checkpoint', async () => {
    const outputDir = await copy('untouched');
    const hashes = JSON.parse(await readFile(path.join(outputDir, 'checkpoint-3', 'checkpoint_hashes.json'), 'utf8'));
    expect(hashes.global_step).toBe(3);
    expect(Object.keys(hashes.sha256).sort()).toEqual(['model.safetensors', 'optimizer.safetensors', 'rng_state.safetensors', 'trainer_state.json']);
    const warn = vi.spyOn(process, 'emitWarning');
    try {
      expect((await resume(outputDir)).globalStep).toBe(4);
      expect(crossEncoderWarnings(warn)).toEqual([]);
    } finally {
      warn.mockRestore();
    }
  });

  it.each([
    {
      change: 'the weights swapped for another checkpoint\'s',
      file: 'model.safetensors',
      tamper: (dir: string) => cp(path.join(dir, 'checkpoint-2', 'model.safetensors'), path.join(dir, 'checkpoint-3', 'model.safetensors')),
    },
    {
      change: 'a byte of the optimiser state flipped',
      file: 'optimizer.safetensors',
      tamper: async (dir: string) => {
        const file = path.join(dir, 'checkpoint-3', 'optimizer.safetensors');
        const bytes = await readFile(file);
        bytes[bytes.length - 1] ^= 0x01; // the last byte of the last tensor: still a valid file
        await writeFile(file, bytes);
      },
    },
    {
      change: 'the hashes of another checkpoint',
      file: 'checkpoint_hashes.json',
      tamper: (dir: string) => cp(path.join(dir, 'checkpoint-2', 'checkpoint_hashes.json'), path.join(dir, 'checkpoint-3', 'checkpoint_hashes.json')),
    },
  ])('refuses to resume from a checkpoint with $change', async ({ file, tamper }) => {
    const outputDir = await copy(`tampered-${file}`);
    await tamper(outputDir);
    const error = await resume(outputDir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelFormatError);
    expect((error as Error).message).toContain(path.join(outputDir, 'checkpoint-3', file));
    if (file === 'checkpoint_hashes.json') expect((error as Error).message).toMatch(/records step 2 but trainer_state\.json says 3/);
  });

  it('resumes from a checkpoint without hashes (an older version\'s) with a warning', async () => {
    const outputDir = await copy('unhashed');
    await rm(path.join(outputDir, 'checkpoint-3', 'checkpoint_hashes.json'));
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      expect((await resume(outputDir)).globalStep).toBe(4);
      expect(crossEncoderWarnings(warn)).toHaveLength(1);
      const [message] = crossEncoderWarnings(warn)[0] as [string];
      expect(message).toContain(path.join(outputDir, 'checkpoint-3'));
    } finally {
      warn.mockRestore();
    }
  });

  it('train() puts back a checkpoint killed between its renames and cleans dead writers\' litter, not live ones\'', async () => {
    const outputDir = await copy('litter');
    const dead = await deadPid();
    const checkpoint = path.join(outputDir, 'checkpoint-3');
    // checkpoint-3 being replaced (a rerun saving it again) when the process was killed.
    const aside = stagingOf(checkpoint, dead);
    await rename(checkpoint, `${aside}.previous`);
    await makeDir(aside, { 'model.safetensors': 'half' });
    // A checkpoint-4 save killed while its model was being saved into its staging directory.
    const staging = stagingOf(path.join(outputDir, 'checkpoint-4'), dead);
    await makeDir(staging, {});
    await makeDir(stagingOf(staging, dead), { 'config.json': '{}' });
    await writeFile(path.join(outputDir, `trainer_state.json.${dead}.${randomBytes(4).toString('hex')}.tmp`), '{');
    // A save of this process still running.
    const live = stagingOf(path.join(outputDir, 'checkpoint-9'), process.pid);
    await makeDir(live, {});

    const steps: number[] = [];
    const result = await resume(outputDir, [{ onStepEnd: ({ state }) => void steps.push(state.globalStep) }]);
    expect(result.globalStep).toBe(4);
    expect(steps).toEqual([4]); // resumed from the restored checkpoint-3, not from checkpoint-2
    expect(await readdir(checkpoint)).toContain('optimizer.safetensors');
    const names = (await readdir(outputDir)).filter((name) => name.startsWith('.') || name.endsWith('.tmp'));
    expect(names).toEqual([path.basename(live)]);
  });
});
