/**
 * scripts/install.mjs (what `npm install` and `npx crossencoder` run) in a scratch copy of the
 * package: nothing is built when the addon in place matches its stamp, and a rebuild that is
 * interrupted leaves the previous addon in place and loadable. Plus what the stamp compares
 * (scripts/addon-stamp.mjs).
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

// @ts-expect-error a plain .mjs script without types
import { ADDON_RELATIVE_PATH, mismatch, stampFor, stampPath } from '../scripts/addon-stamp.mjs';
// @ts-expect-error a plain .mjs script without types
import { findLibtorch } from '../scripts/libtorch.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ADDON = path.join(ROOT, ADDON_RELATIVE_PATH as string);

type Lib = { configDir: string; version: string };
const stampMismatch = mismatch as (root: string, lib: Lib, addon: string) => string | null;
const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

let scratch: string;
let scratchAddon: string;

/** The package's sources and its built addon, stamped, in a fresh directory (node_modules linked). */
beforeEach(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'tce-install-'));
  for (const entry of ['package.json', 'CMakeLists.txt', 'binding.gyp', 'native', 'scripts']) {
    await cp(path.join(ROOT, entry), path.join(scratch, entry), { recursive: true });
  }
  await symlink(path.join(ROOT, 'node_modules'), path.join(scratch, 'node_modules'));
  scratchAddon = path.join(scratch, ADDON_RELATIVE_PATH as string);
  await mkdir(path.dirname(scratchAddon), { recursive: true });
  await cp(ADDON, scratchAddon);
  const lib = (findLibtorch as () => Lib)();
  await writeFile(stampPath(scratchAddon) as string, JSON.stringify((stampFor as (r: string, l: Lib, a: string) => object)(scratch, lib, scratchAddon)));
});
afterEach(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** Runs install.mjs in the scratch copy; `until(output)` may end it early with SIGKILL (its whole process group). */
function runInstall(until?: (output: string) => boolean, timeoutMs = 60_000): Promise<{ code: number | null; output: string; killed: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(scratch, 'scripts/install.mjs')], { cwd: scratch, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let killed = false;
    const kill = () => {
      if (killed) return;
      killed = true;
      process.kill(-child.pid!, 'SIGKILL');
    };
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (until?.(output)) kill();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const guard = setTimeout(kill, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, output, killed });
    });
  });
}

describe('scripts/install.mjs', () => {
  it('does nothing when the addon in place matches its stamp (what `npx crossencoder` runs)', async () => {
    const before = await sha256(scratchAddon);
    const started = performance.now();
    // A build would take minutes: 30 s is a generous bound for "nothing to build".
    const { code, output, killed } = await runInstall(undefined, 30_000);
    expect(killed, output).toBe(false);
    expect(code, output).toBe(0);
    expect(output).toMatch(/torch-crossencoder: build\/Release\/torch_crossencoder\.node is up to date \(libtorch .*\): nothing to build/);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(existsSync(path.join(scratch, 'build/cmake'))).toBe(false);
    expect(await sha256(scratchAddon)).toBe(before);
  });

  it('keeps the previous addon, unchanged and loadable, when a rebuild is interrupted', async () => {
    const before = await sha256(scratchAddon);
    await appendFile(path.join(scratch, 'native/runtime/memory.cc'), '\n// a change that needs a rebuild\n');
    // Killed once the compiler is at work (cmake-js has configured and started building).
    const { output, killed } = await runInstall((text) => /Building CXX object|\[\d+\/\d+\]/.test(text), 240_000);
    expect(killed, output).toBe(true);
    expect(output).toMatch(/using libtorch/);
    expect(await sha256(scratchAddon)).toBe(before);
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', `console.log(require(${JSON.stringify(scratchAddon)}).info().torchVersion)`]);
    expect(stdout.trim()).toMatch(/^\d+\.\d+/);
    // Its stamp no longer matches the sources, so the next install builds again.
    expect(stampMismatch(scratch, (findLibtorch as () => Lib)(), scratchAddon)).toBe('the native sources changed');
  }, 300_000);
});

describe('the addon stamp', () => {
  it('says what changed: sources, libtorch, the addon file, or no stamp at all', async () => {
    const lib = (findLibtorch as () => Lib)();
    expect(stampMismatch(scratch, lib, scratchAddon)).toBeNull();
    expect(stampMismatch(scratch, { ...lib, version: '9.9.9' }, scratchAddon)).toMatch(/^it was built against another libtorch/);
    expect(stampMismatch(scratch, { ...lib, configDir: '/opt/libtorch/share/cmake/Torch' }, scratchAddon)).toMatch(/another libtorch/);
    await writeFile(path.join(scratch, 'CMakeLists.txt'), `${await readFile(path.join(scratch, 'CMakeLists.txt'), 'utf8')}\n# changed\n`);
    expect(stampMismatch(scratch, lib, scratchAddon)).toBe('the native sources changed');
    await appendFile(scratchAddon, Buffer.from([0]));
    expect(stampMismatch(scratch, lib, scratchAddon)).toBe('the addon is not the one its stamp describes');
    await rm(stampPath(scratchAddon) as string);
    expect(stampMismatch(scratch, lib, scratchAddon)).toBe('it has no build stamp');
  });
});
