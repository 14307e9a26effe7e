#!/usr/bin/env node
// `npm install` and `npm run build:native`: makes libtorch available (see scripts/libtorch.mjs),
// then builds build/Release/torch_crossencoder.node with cmake-js.
// Set TORCH_CROSSENCODER_SKIP_BUILD=1 to skip all of it (e.g. when only packaging).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  InstallError,
  aptInstall,
  ensureFastBlas,
  ensureLibtorch,
  isDebianRoot,
  log,
  which,
} from './libtorch.mjs';

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUILD_DIR = path.join(PACKAGE_ROOT, 'build');
const ADDON = path.join(BUILD_DIR, 'Release', 'torch_crossencoder.node');
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
    text = fs.readFileSync(path.join(BUILD_DIR, 'CMakeCache.txt'), 'utf8');
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
 * "build" reuses build/ (incremental); "rebuild" starts over when build/ holds a build for another
 * libtorch, another source tree, or node-gyp's: CMake keeps a found Torch_DIR in its cache and
 * would silently ignore a new choice.
 */
function cmakeJsCommand(lib) {
  if (!fs.existsSync(BUILD_DIR)) return 'build';
  const cache = readCMakeCache();
  if (cache && samePath(cache.torchDir, lib.configDir) && samePath(cache.sourceDir, PACKAGE_ROOT)) return 'build';
  log('build/ holds a build for another libtorch, source tree or build tool: starting it over');
  return 'rebuild';
}

function cmakeJsArgs(lib) {
  const args = [`--directory=${PACKAGE_ROOT}`, '--log-level=warn', `--CDTorch_DIR=${lib.configDir}`];
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
  const command = cmakeJsCommand(lib);
  const result = spawnSync(process.execPath, [resolveCmakeJs(), command, ...cmakeJsArgs(lib)], {
    cwd: PACKAGE_ROOT,
    stdio: 'inherit',
  });
  if (result.status !== 0 || !fs.existsSync(ADDON)) {
    throw new InstallError(
      `building the native addon with cmake-js failed (${result.error?.message ?? `exit ${result.status}`}); ` +
        `see the output above. It used libtorch ${lib.version} in ${lib.root}; another one can be chosen ` +
        'with `LIBTORCH=/path/to/libtorch npm install`.',
    );
  }
}

async function main() {
  if (isSet(process.env.TORCH_CROSSENCODER_SKIP_BUILD)) {
    log('TORCH_CROSSENCODER_SKIP_BUILD is set: not building the native addon');
    return;
  }
  ensureBuildTools();
  const lib = await ensureLibtorch();
  log(`using libtorch ${lib.version} ${lib.how}`);
  ensureFastBlas(lib);
  buildAddon(lib);
  log(`built ${path.relative(process.cwd(), ADDON) || ADDON}`);
}

main().catch((error) => {
  if (!(error instanceof InstallError)) throw error;
  console.error(`torch-crossencoder: ${error.message}`);
  process.exitCode = 1;
});
