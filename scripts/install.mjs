#!/usr/bin/env node
// `npm install` and `npm run build:native`: makes libtorch available (see scripts/libtorch.mjs),
// then builds build/Release/torch_crossencoder.node with cmake-js.
//
// Nothing is built when the addon in place matches (scripts/addon-stamp.mjs says what matching
// means): `npx crossencoder` and reinstalls in a clone cost no compile. A build runs in its own
// tree (build/cmake) and the new addon is renamed over the old one only once it has linked, so an
// interrupted or failed build leaves the previous addon working.
// Set TORCH_CROSSENCODER_SKIP_BUILD=1 to skip all of it (e.g. when only packaging);
// `--force` builds even when the addon matches.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADDON_RELATIVE_PATH, mismatch, stampFor, stampPath } from './addon-stamp.mjs';
import {
  InstallError,
  aptInstall,
  ensureFastBlas,
  ensureGlooHeaders,
  ensureLibtorch,
  findLibtorch,
  isDebianRoot,
  log,
  which,
} from './libtorch.mjs';

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUILD_DIR = path.join(PACKAGE_ROOT, 'build');
/** Where bindings() loads the addon from. */
const ADDON = path.join(PACKAGE_ROOT, ADDON_RELATIVE_PATH);
/** cmake-js's build tree; its linker output is copied to ADDON when complete. */
const CMAKE_TREE = path.join(BUILD_DIR, 'cmake');
const BUILT_ADDON = path.join(CMAKE_TREE, 'Release', path.basename(ADDON));
/** Compiler memory per job: one libtorch translation unit peaks at ~1.4 GB. */
const BYTES_PER_JOB = 2 * 1024 ** 3;

/** [what, executables (any one will do), Debian package]. */
const BUILD_TOOLS = [
  ['cmake', ['cmake'], 'cmake'],
  ['make', ['make', 'ninja'], 'make'],
  ['a C++ compiler (g++ or clang++)', ['g++', 'clang++'], 'g++'],
];

function isSet(value) {
  return value !== undefined && !['', '0', 'false', 'no'].includes(value.trim().toLowerCase());
}

/** cmake, make and a C++ compiler, installed with apt-get where we can. */
function ensureBuildTools() {
  const missing = BUILD_TOOLS.filter(([, executables]) => !executables.some((name) => which(name)));
  if (missing.length === 0) return;
  const what = missing.map(([name]) => name).join(', ');
  if (!isDebianRoot()) {
    throw new InstallError(
      `${what} not found on PATH: building the native addon needs cmake (3.18 or newer), make ` +
        'and a C++17 compiler. Install them (Debian/Ubuntu: apt-get install cmake make g++; ' +
        'macOS: xcode-select --install && brew install cmake) and run npm install again.',
    );
  }
  const packages = missing.map(([, , pkg]) => pkg);
  log(`${what} not found: installing ${packages.join(' ')} with apt-get`);
  aptInstall(packages);
}

function readCMakeCache() {
  let text;
  try {
    text = fs.readFileSync(path.join(CMAKE_TREE, 'CMakeCache.txt'), 'utf8');
  } catch {
    return null;
  }
  const entry = (key) => new RegExp(`^${key}:[A-Z]+=(.*)$`, 'm').exec(text)?.[1];
  return { torchDir: entry('Torch_DIR'), sourceDir: entry('CMAKE_HOME_DIRECTORY') };
}

/** Whether two paths name the same file, symlinks resolved. */
function samePath(a, b) {
  const real = (p) => {
    try {
      return fs.realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  return a !== undefined && real(a) === real(b);
}

/**
 * "build" reuses build/cmake (incremental); "rebuild" starts over when it holds a build for another
 * libtorch or another source tree: CMake keeps a found Torch_DIR in its cache and would silently
 * ignore a new choice.
 */
function cmakeJsCommand(lib) {
  if (!fs.existsSync(CMAKE_TREE)) return 'build';
  const cache = readCMakeCache();
  if (cache && samePath(cache.torchDir, lib.configDir) && samePath(cache.sourceDir, PACKAGE_ROOT)) return 'build';
  log('build/cmake holds a build for another libtorch or source tree: starting it over');
  return 'rebuild';
}

/** Before build/cmake, cmake-js's tree was build/ itself: its files there are stale now. */
function removeLegacyTree() {
  if (!fs.existsSync(path.join(BUILD_DIR, 'CMakeCache.txt'))) return;
  for (const name of fs.readdirSync(BUILD_DIR)) {
    if (name !== 'Release' && name !== 'cmake') fs.rmSync(path.join(BUILD_DIR, name), { recursive: true, force: true });
  }
}

function cmakeJsArgs(lib) {
  const args = [`--directory=${PACKAGE_ROOT}`, `--out=${CMAKE_TREE}`, '--log-level=warn', `--CDTorch_DIR=${lib.configDir}`];
  if (!lib.system) {
    // Torch_DIR alone mixes trees (Caffe2's config would still come from /usr): put the whole
    // tree first in CMAKE_PREFIX_PATH, which also gives the addon a RUNPATH to it.
    const userPrefixes = (process.env.CMAKE_PREFIX_PATH ?? '').split(path.delimiter).filter(Boolean);
    args.push(`--CDCMAKE_PREFIX_PATH=${[lib.root, ...userPrefixes].join(';')}`);
  }
  if (!process.env.CMAKE_BUILD_PARALLEL_LEVEL) {
    const byMemory = Math.floor(os.totalmem() / BYTES_PER_JOB);
    args.push(`--parallel=${Math.max(1, Math.min(os.availableParallelism(), byMemory))}`);
  }
  return args;
}

function resolveCmakeJs() {
  try {
    return createRequire(import.meta.url).resolve('cmake-js/bin/cmake-js');
  } catch {
    throw new InstallError('cmake-js is not installed: run `npm install` (it is a dependency of torch-crossencoder)');
  }
}

function buildAddon(lib) {
  removeLegacyTree();
  const command = cmakeJsCommand(lib);
  const result = spawnSync(process.execPath, [resolveCmakeJs(), command, ...cmakeJsArgs(lib)], {
    cwd: PACKAGE_ROOT,
    stdio: 'inherit',
  });
  if (result.status !== 0 || !fs.existsSync(BUILT_ADDON)) {
    throw new InstallError(
      `building the native addon with cmake-js failed (${result.error?.message ?? `exit ${result.status}`}); ` +
        `see the output above. It used libtorch ${lib.version} in ${lib.root}; another one can be chosen ` +
        'with `LIBTORCH=/path/to/libtorch npm install`.' +
        (fs.existsSync(ADDON) ? ` The previous addon is still in place at ${ADDON}.` : ''),
    );
  }
}

/** Writes `write(temp)` to a temporary sibling of `file`, then renames it over `file`. */
function replaceFile(file, write) {
  const temp = `${file}.${process.pid}.tmp`;
  try {
    write(temp);
    fs.renameSync(temp, file);
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

/** Moves the new build into place (a copy, so the next incremental build finds its output), then stamps it. */
function installAddon(lib) {
  fs.mkdirSync(path.dirname(ADDON), { recursive: true });
  fs.rmSync(stampPath(ADDON), { force: true }); // a stamp must never describe another addon
  replaceFile(ADDON, (temp) => fs.copyFileSync(BUILT_ADDON, temp));
  const stamp = stampFor(PACKAGE_ROOT, lib, ADDON);
  replaceFile(stampPath(ADDON), (temp) => fs.writeFileSync(temp, `${JSON.stringify(stamp, null, 2)}\n`));
}

/** The libtorch CMake would use now, if the addon in place was built against it from these sources. */
function upToDate() {
  const lib = findLibtorch();
  return lib && mismatch(PACKAGE_ROOT, lib, ADDON) === null ? lib : null;
}

async function main() {
  if (isSet(process.env.TORCH_CROSSENCODER_SKIP_BUILD)) {
    log('TORCH_CROSSENCODER_SKIP_BUILD is set: not building the native addon');
    return;
  }
  const force = process.argv.includes('--force');
  const current = force ? null : upToDate();
  if (current) {
    log(`${path.relative(process.cwd(), ADDON) || ADDON} is up to date (libtorch ${current.version} in ${current.root}): nothing to build`);
    return;
  }
  ensureBuildTools();
  const lib = await ensureLibtorch();
  log(`using libtorch ${lib.version} ${lib.how}`);
  ensureFastBlas(lib);
  ensureGlooHeaders(lib);
  buildAddon(lib);
  installAddon(lib);
  log(`built ${path.relative(process.cwd(), ADDON) || ADDON}`);
}

main().catch((error) => {
  if (!(error instanceof InstallError)) throw error;
  console.error(`torch-crossencoder: ${error.message}`);
  process.exitCode = 1;
});
