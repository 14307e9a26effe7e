#!/usr/bin/env node
// Finds, or installs, the libtorch that torch-crossencoder's native addon builds against.
//
// Order (the first that yields a libtorch wins):
//   1. $LIBTORCH, a libtorch root (an explicit choice: a bad one is an error, not skipped);
//   2. a libtorch CMake finds: $Torch_DIR, $CMAKE_PREFIX_PATH, then the system prefixes;
//   3. on Debian/Ubuntu as root: apt-get install libtorch-dev libopenblas0-pthread libgloo-dev;
//   4. the official CPU zip, downloaded once into a cache and checked against a pinned sha256.
//
// Used by scripts/install.mjs (all four steps) and, as a CLI, by binding.gyp
// (`--gyp-include`, `--gyp-libs`: steps 1, 2 and an earlier download only, no side effects).
// Only Node built-ins: this runs before (or instead of) any dependency being usable.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';

const TAG = 'torch-crossencoder';

/** Oldest libtorch the native sources compile against (Debian bookworm's). */
export const MIN_VERSION = '1.13';

/**
 * The official CPU builds we download, pinned. We found no checksums from PyTorch for these
 * zips; the values are those other projects verify their downloads of the same URLs against
 * (Linux: three unrelated build scripts agree; macOS: one CMake URL_HASH, not cross-checked).
 * `LIBTORCH_SHA256` overrides them.
 */
export const OFFICIAL_VERSION = '2.5.1';
const OFFICIAL_BUILDS = {
  'linux-x64': {
    url: `https://download.pytorch.org/libtorch/cpu/libtorch-cxx11-abi-shared-with-deps-${OFFICIAL_VERSION}%2Bcpu.zip`,
    sha256: '618ca54eef82a1dca46ff1993d5807d9c0deb0bae147da4974166a147cb562fa',
  },
  'darwin-arm64': {
    url: `https://download.pytorch.org/libtorch/cpu/libtorch-macos-arm64-${OFFICIAL_VERSION}.zip`,
    sha256: '0822824c1df267159a649ad4701518217c60b8f75de056a26ab43958d8ab1622',
  },
};

/** Prefixes CMake searches by itself (CMAKE_SYSTEM_PREFIX_PATH), most specific first. */
const SYSTEM_PREFIXES = ['/usr/local', '/usr', '/opt/homebrew', '/opt/local'];
const SHA_STAMP = '.sha256';
const DOWNLOAD_IDLE_MS = 60_000;

/** A failure the user can act on; `message` says what was tried and what to do. */
export class InstallError extends Error {}

export function log(message) {
  console.log(`${TAG}: ${message}`);
}

export function warn(message) {
  console.warn(`${TAG}: warning: ${message}`);
}

// ---------------------------------------------------------------------------------------------
// Looking at a libtorch tree

/** TorchConfig.cmake directories under a prefix, in CMake's own search order. */
function torchConfigDirs(prefix) {
  const subdirs = ['share/cmake/Torch', 'lib/cmake/Torch', 'lib64/cmake/Torch'];
  for (const entry of readdirOrEmpty(path.join(prefix, 'lib'))) {
    if (/-linux-gnu/.test(entry)) subdirs.push(`lib/${entry}/cmake/Torch`); // Debian multiarch
  }
  return subdirs
    .map((sub) => path.join(prefix, sub))
    .filter((dir) => fs.existsSync(path.join(dir, 'TorchConfig.cmake')));
}

/** The install prefix a TorchConfig.cmake directory belongs to (what TorchConfig itself computes). */
function prefixOfConfigDir(configDir) {
  const multiarch = /[\\/]lib[\\/][^\\/]+[\\/]cmake[\\/]Torch[\\/]?$/i.test(configDir);
  return path.resolve(configDir, multiarch ? '../../../..' : '../../..');
}

/** Directories the dynamic linker searches without help: a libtorch there needs no rpath. */
function isSystemLibDir(dir) {
  return /^\/(usr\/)?lib(32|64)?(\/[^/]*-linux-gnu[^/]*)?$/.test(dir);
}

function libraryDirOf(prefix, configDir) {
  const candidates = [path.resolve(configDir, '../..'), path.join(prefix, 'lib'), path.join(prefix, 'lib64')];
  const hasTorch = (dir) => ['libtorch.so', 'libtorch.dylib'].some((f) => fs.existsSync(path.join(dir, f)));
  return candidates.find(hasTorch) ?? path.join(prefix, 'lib');
}

/** libtorch's version: the official zips' `build-version`, else TorchConfigVersion.cmake. */
function versionOf(prefix, configDir) {
  const buildVersion = readTextOrNull(path.join(prefix, 'build-version'));
  if (buildVersion) return buildVersion.trim();
  const config = readTextOrNull(path.join(configDir, 'TorchConfigVersion.cmake')) ?? '';
  return /set\(PACKAGE_VERSION "([^"]+)"\)/.exec(config)?.[1] ?? 'unknown';
}

/**
 * Describes the libtorch whose TorchConfig.cmake is in `configDir`.
 * @returns {{root: string, configDir: string, libDir: string, includeDirs: string[],
 *            version: string, system: boolean}}
 */
export function describeTree(configDir) {
  const root = prefixOfConfigDir(configDir);
  const libDir = libraryDirOf(root, configDir);
  return {
    root,
    configDir,
    libDir,
    includeDirs: [path.join(root, 'include'), path.join(root, 'include/torch/csrc/api/include')],
    version: versionOf(root, configDir),
    system: isSystemLibDir(libDir),
  };
}

// ---------------------------------------------------------------------------------------------
// Steps 1 and 2: a libtorch given or findable, no side effects

function fromLibtorchEnv(root) {
  const resolved = path.resolve(root);
  if (!fs.existsSync(resolved)) {
    throw new InstallError(`LIBTORCH=${root} does not exist. ${HOW_TO_CHOOSE}`);
  }
  const [configDir] = torchConfigDirs(resolved);
  if (!configDir) {
    throw new InstallError(
      `LIBTORCH=${root} is not a libtorch root: it has no share/cmake/Torch/TorchConfig.cmake ` +
        `nor lib/cmake/Torch/TorchConfig.cmake. ${HOW_TO_CHOOSE}`,
    );
  }
  const lib = { ...describeTree(configDir), how: `from LIBTORCH=${resolved}` };
  if (isOlder(lib.version, MIN_VERSION)) {
    warn(`LIBTORCH has libtorch ${lib.version}; torch-crossencoder needs ${MIN_VERSION} or newer`);
  }
  return lib;
}

/** The places CMake would look, in its order, each as [label, TorchConfig directories]. */
function cmakeSearchPlaces(env) {
  const places = [];
  if (env.Torch_DIR) {
    const dir = path.resolve(env.Torch_DIR);
    const isConfigDir = fs.existsSync(path.join(dir, 'TorchConfig.cmake'));
    places.push([`Torch_DIR=${dir}`, isConfigDir ? [dir] : torchConfigDirs(dir)]);
  }
  for (const prefix of (env.CMAKE_PREFIX_PATH ?? '').split(path.delimiter).filter(Boolean)) {
    places.push([`CMAKE_PREFIX_PATH entry ${prefix}`, torchConfigDirs(prefix)]);
  }
  for (const prefix of SYSTEM_PREFIXES) places.push([`system prefix ${prefix}`, torchConfigDirs(prefix)]);
  return places;
}

function fromCMakeSearch(env, tried) {
  for (const [label, configDirs] of cmakeSearchPlaces(env)) {
    for (const configDir of configDirs) {
      const lib = describeTree(configDir);
      if (isOlder(lib.version, MIN_VERSION)) {
        tried.push(`${label}: libtorch ${lib.version} in ${lib.root} is older than ${MIN_VERSION}, skipped`);
        continue;
      }
      return { ...lib, how: `found by CMake (${label}) in ${lib.root}` };
    }
  }
  tried.push(`CMake's search (Torch_DIR, CMAKE_PREFIX_PATH, ${SYSTEM_PREFIXES.join(', ')}): no usable TorchConfig.cmake`);
  return null;
}

/**
 * The libtorch to use without installing anything: `$LIBTORCH`, else one CMake finds, else an
 * earlier download in the cache. Throws InstallError for a bad `$LIBTORCH`.
 * @param {{env?: NodeJS.ProcessEnv, tried?: string[]}} [options] `tried` collects what did not fit.
 */
export function findLibtorch({ env = process.env, tried = [] } = {}) {
  if (env.LIBTORCH) return fromLibtorchEnv(env.LIBTORCH);
  tried.push('$LIBTORCH: not set');
  return fromCMakeSearch(env, tried) ?? fromCache(env, tried);
}

// ---------------------------------------------------------------------------------------------
// Step 3: Debian's package

/** True where apt-get can install system packages for us. */
export function isDebianRoot() {
  return (
    process.platform === 'linux' &&
    process.getuid?.() === 0 &&
    fs.existsSync('/etc/debian_version') &&
    which('apt-get') !== null
  );
}

function aptCandidate(pkg) {
  const result = spawnSync('apt-cache', ['policy', pkg], { encoding: 'utf8' });
  const candidate = /Candidate:\s*(\S+)/.exec(result.stdout ?? '')?.[1];
  return candidate && candidate !== '(none)' ? candidate : null;
}

/** Upstream part of a Debian version: "1:1.13.1+dfsg-4" → "1.13.1". */
function upstreamVersion(debianVersion) {
  return debianVersion.replace(/^\d+:/, '').split(/[-+~]/)[0];
}

/** Runs a command quietly; on failure throws with the tail of its output. */
function runQuietly(command, args, extraEnv = {}) {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    env: { ...process.env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (result.status !== 0) {
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error?.message ?? ''}`;
    const tail = output.trim().split('\n').slice(-15).join('\n');
    throw new InstallError(`\`${command} ${args.join(' ')}\` failed:\n${tail}`);
  }
}

let aptListsUpdated = false;

/** apt-get update, at most once per run. */
function aptUpdate() {
  if (aptListsUpdated) return;
  runQuietly('apt-get', ['update', '-qq']);
  aptListsUpdated = true;
}

/**
 * apt-get install, refreshing the package lists first when one of `pkgs` is unknown to apt, or
 * when installing fails on lists old enough to name files the mirror no longer has.
 */
export function aptInstall(pkgs) {
  const install = () =>
    runQuietly('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], {
      DEBIAN_FRONTEND: 'noninteractive',
    });
  if (pkgs.some((pkg) => aptCandidate(pkg) === null)) aptUpdate();
  try {
    install();
  } catch (error) {
    if (aptListsUpdated) throw error;
    aptUpdate();
    install();
  }
}

function fromApt(env, tried) {
  if (!isDebianRoot()) {
    tried.push('apt-get: not Debian/Ubuntu as root');
    return null;
  }
  let candidate;
  try {
    candidate = aptCandidate('libtorch-dev') ?? (aptUpdate(), aptCandidate('libtorch-dev'));
  } catch (error) {
    tried.push(`apt-get: ${error.message}`);
    return null;
  }
  if (candidate === null) {
    tried.push('apt-get: no libtorch-dev package in the configured sources');
    return null;
  }
  if (isOlder(upstreamVersion(candidate), MIN_VERSION)) {
    tried.push(`apt-get: libtorch-dev ${candidate} is older than ${MIN_VERSION}, skipped`);
    return null;
  }
  log(`installing libtorch-dev ${candidate}, libopenblas0-pthread and libgloo-dev with apt-get (a few hundred MB)`);
  try {
    aptInstall(['libtorch-dev', 'libopenblas0-pthread', GLOO_PACKAGE]);
  } catch (error) {
    tried.push(`apt-get: ${error.message}`);
    return null;
  }
  const lib = fromCMakeSearch(env, []);
  if (lib) return { ...lib, how: `installed with apt-get (libtorch-dev) in ${lib.root}` };
  tried.push('apt-get: installed libtorch-dev, but CMake still finds no TorchConfig.cmake');
  return null;
}

// ---------------------------------------------------------------------------------------------
// Step 4: the official zip, cached

/** The official build for this platform; TORCH_CROSSENCODER_LIBTORCH_URL names a mirror of it. */
function officialBuild(env) {
  const platform = `${process.platform}-${process.arch}`;
  const build = OFFICIAL_BUILDS[platform];
  if (!build) return null;
  const url = env.TORCH_CROSSENCODER_LIBTORCH_URL || build.url;
  return { ...build, url, platform, name: `libtorch-${OFFICIAL_VERSION}-cpu-${platform}` };
}

/** `$XDG_CACHE_HOME/torch-crossencoder`, else `~/.cache/torch-crossencoder`. */
export function cacheDir(env = process.env) {
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), TAG);
}

/** The checksum the download must have: `$LIBTORCH_SHA256`, else the pinned one. */
function expectedSha256(build, env) {
  const pinned = env.LIBTORCH_SHA256?.trim().toLowerCase();
  if (!pinned) return build.sha256;
  if (!/^[0-9a-f]{64}$/.test(pinned)) {
    throw new InstallError(`LIBTORCH_SHA256 must be 64 hexadecimal digits, got "${env.LIBTORCH_SHA256}"`);
  }
  return pinned;
}

/**
 * A cache entry is `<cache>/<name>/libtorch` plus `<cache>/<name>/.sha256`, the checksum of the
 * zip it was extracted from. It is used only when that checksum is the expected one.
 */
function cachedTree(entry, sha256) {
  const stamp = readTextOrNull(path.join(entry, SHA_STAMP))?.trim();
  if (stamp !== sha256) return null;
  const [configDir] = torchConfigDirs(path.join(entry, 'libtorch'));
  return configDir ? describeTree(configDir) : null;
}

function fromCache(env, tried) {
  const build = officialBuild(env);
  if (!build) return null;
  const entry = path.join(cacheDir(env), build.name);
  const lib = cachedTree(entry, expectedSha256(build, env));
  if (lib) return { ...lib, how: `downloaded earlier into ${entry}` };
  tried.push(`cache: no verified download in ${entry}`);
  return null;
}

/** Streams `url` into `file`, returning the sha256 of what was written. */
async function downloadTo(url, file) {
  const controller = new AbortController();
  let timer;
  // fetch has no body timeout: abort when no byte arrives for a while instead of hanging.
  const rearm = () => {
    clearTimeout(timer);
    timer = setTimeout(
      () => controller.abort(new Error(`no data received for ${DOWNLOAD_IDLE_MS / 1000} s`)),
      DOWNLOAD_IDLE_MS,
    );
  };
  rearm();
  try {
    const response = await fetch(url, { signal: controller.signal });
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status} ${response.statusText}`);
    const hash = createHash('sha256');
    const hashing = new Transform({
      transform(chunk, _encoding, callback) {
        rearm();
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    await pipeline(Readable.fromWeb(response.body), hashing, fs.createWriteStream(file));
    return hash.digest('hex');
  } finally {
    clearTimeout(timer);
  }
}

/** Extracts with `unzip`, else Python's zipfile module (Debian's python3 first). */
function extractZip(zip, destination) {
  const extractors = [
    ['unzip', ['-q', zip, '-d', destination]],
    ['/usr/bin/python3', ['-m', 'zipfile', '-e', zip, destination]],
    ['python3', ['-m', 'zipfile', '-e', zip, destination]],
  ];
  const available = extractors.find(([command]) => which(command) !== null);
  if (!available) throw new InstallError('cannot extract the libtorch zip: neither unzip nor python3 is installed');
  runQuietly(...available);
}

async function fromDownload(env, tried) {
  const build = officialBuild(env);
  if (!build) {
    tried.push(`download: no official CPU libtorch for ${process.platform}-${process.arch}`);
    return null;
  }
  const sha256 = expectedSha256(build, env);
  const cache = cacheDir(env);
  const entry = path.join(cache, build.name);
  // Temporary names are per process, so concurrent installs never see each other's half-files.
  const partialZip = path.join(cache, `${build.name}.zip.${process.pid}.part`);
  const staging = path.join(cache, `${build.name}.${process.pid}.tmp`);
  try {
    fs.mkdirSync(cache, { recursive: true });
    log(`downloading libtorch ${OFFICIAL_VERSION} (CPU, about 200 MB) from ${build.url}`);
    const actual = await downloadTo(build.url, partialZip);
    if (actual !== sha256) {
      throw new InstallError(
        `checksum mismatch: expected sha256 ${sha256}, got ${actual}. ` +
          `If you trust this file, set LIBTORCH_SHA256=${actual}.`,
      );
    }
    fs.mkdirSync(staging);
    extractZip(partialZip, staging);
    if (torchConfigDirs(path.join(staging, 'libtorch')).length === 0) {
      throw new InstallError(`${build.url} has no libtorch/share/cmake/Torch in it`);
    }
    fs.writeFileSync(path.join(staging, SHA_STAMP), `${actual}\n`);
    fs.rmSync(entry, { recursive: true, force: true }); // a stale entry (other checksum)
    fs.renameSync(staging, entry);
  } catch (error) {
    // fetch's own message is just "fetch failed"; the reason is in its cause.
    const reason = error.cause ? `${error.message} (${error.cause.message ?? error.cause})` : error.message;
    tried.push(`download of libtorch ${OFFICIAL_VERSION} from ${build.url}: ${reason}`);
    return null;
  } finally {
    fs.rmSync(partialZip, { force: true });
    fs.rmSync(staging, { recursive: true, force: true });
  }
  const lib = cachedTree(entry, sha256);
  return lib && { ...lib, how: `downloaded into ${entry}` };
}

// ---------------------------------------------------------------------------------------------
// All steps

const HOW_TO_CHOOSE =
  'Choose a libtorch with `LIBTORCH=/path/to/libtorch npm install` (the directory holding ' +
  'include/, lib/ and share/cmake/Torch, e.g. an unzipped official libtorch), or skip the ' +
  'native build with TORCH_CROSSENCODER_SKIP_BUILD=1.';

/**
 * Makes a libtorch available, installing it (apt-get or download) when none is found.
 * @returns {Promise<ReturnType<typeof describeTree> & {how: string}>} `how` says where it came from.
 * @throws {InstallError} saying what was tried.
 */
export async function ensureLibtorch({ env = process.env } = {}) {
  const tried = [];
  const lib = findLibtorch({ env, tried }) ?? fromApt(env, tried) ?? (await fromDownload(env, tried));
  if (lib) return lib;
  throw new InstallError(
    `could not find or install libtorch. Tried:\n${tried.map((t) => `  - ${t}`).join('\n')}\n${HOW_TO_CHOOSE}`,
  );
}

// ---------------------------------------------------------------------------------------------
// BLAS: Debian's libtorch computes matrix products through the libblas.so.3 alternative

/** The libblas.so.3 a Debian system libtorch loads, or null where libtorch brings its own BLAS. */
export function blasLinkOf(lib) {
  if (process.platform !== 'linux' || !lib.system || !fs.existsSync('/etc/debian_version')) return null;
  return path.join(lib.libDir, 'libblas.so.3');
}

/** "missing", "reference" (Netlib's, ~50× slower) or "optimized" (OpenBLAS, BLIS, MKL, ATLAS). */
export function blasKind(blasLink) {
  let target;
  try {
    target = fs.realpathSync(blasLink);
  } catch {
    return { kind: 'missing', target: null };
  }
  // Debian's reference BLAS (package libblas3) lives in <libdir>/blas/.
  const kind = path.basename(path.dirname(target)) === 'blas' ? 'reference' : 'optimized';
  return { kind, target };
}

/**
 * Warns when libtorch would run on the reference BLAS, installing OpenBLAS first where it can.
 * @param {{libDir: string, system: boolean}} lib
 * @param {{blasLink?: string | null, canInstall?: boolean}} [options] overridable for tests.
 * @returns {string} the resulting kind ("none" when libtorch brings its own BLAS).
 */
export function ensureFastBlas(lib, { blasLink = blasLinkOf(lib), canInstall = isDebianRoot() } = {}) {
  if (!blasLink) return 'none';
  let blas = blasKind(blasLink);
  if (blas.kind !== 'optimized' && canInstall) {
    log('libtorch has no optimized BLAS: installing libopenblas0-pthread with apt-get');
    try {
      aptInstall(['libopenblas0-pthread']);
    } catch (error) {
      warn(error.message);
    }
    blas = blasKind(blasLink);
  }
  if (blas.kind === 'reference') {
    warn(
      `libtorch will use the slow reference BLAS (${blasLink} -> ${blas.target}): matrix products ` +
        'run ~50x slower. Install OpenBLAS (apt-get install libopenblas0-pthread) or select it ' +
        `with update-alternatives --config ${path.basename(blasLink)}-${path.basename(lib.libDir)}.`,
    );
  } else if (blas.kind === 'missing') {
    warn(`${blasLink} does not exist: libtorch will not load. Install libopenblas0-pthread.`);
  }
  return blas.kind;
}

// ---------------------------------------------------------------------------------------------
// gloo: native/distributed compiles against c10d's ProcessGroupGloo, whose header includes gloo's

const GLOO_PACKAGE = 'libgloo-dev';

/** The directory holding gloo/config.h for `lib` (its include/ first, then the system's), or null. */
export function glooIncludeDir(lib, { systemDirs = ['/usr/include', '/usr/local/include'] } = {}) {
  return [...lib.includeDirs, ...systemDirs].find((dir) => fs.existsSync(path.join(dir, 'gloo', 'config.h'))) ?? null;
}

/** libgloo's shared library (Debian's libgloo-dev puts it in /usr/lib), linked when present; else null. */
export function glooLibrary(lib) {
  const name = process.platform === 'darwin' ? 'libgloo.dylib' : 'libgloo.so';
  const file = [lib.libDir, '/usr/lib', '/usr/local/lib'].map((dir) => path.join(dir, name)).find((f) => fs.existsSync(f));
  return file ?? null;
}

/**
 * Makes the gloo headers available, installing Debian's libgloo-dev where we can (Debian's
 * libtorch-dev does not depend on it).
 * @param {{includeDirs: string[]}} lib
 * @param {{canInstall?: boolean, find?: () => string | null}} [options] overridable for tests.
 * @returns {string} the include directory holding gloo/.
 * @throws {InstallError} saying how to get them.
 */
export function ensureGlooHeaders(lib, { canInstall = isDebianRoot(), find = () => glooIncludeDir(lib) } = {}) {
  let dir = find();
  if (dir) return dir;
  if (canInstall) {
    log(`the gloo headers (for data-parallel training) are missing: installing ${GLOO_PACKAGE} with apt-get`);
    aptInstall([GLOO_PACKAGE]);
    dir = find();
    if (dir) return dir;
  }
  throw new InstallError(
    'the gloo headers (gloo/config.h) were not found: the native addon\'s data-parallel training ' +
      "compiles against libtorch's c10d gloo backend, which needs them. On Debian/Ubuntu run " +
      `\`apt-get install ${GLOO_PACKAGE}\` (npm install does it when run as root) and run npm install again; ` +
      'elsewhere use a libtorch whose include/ has gloo/ (LIBTORCH=/path/to/libtorch).',
  );
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** The absolute path of an executable (a bare name is looked up on PATH), or null. */
export function which(command) {
  const isExecutable = (file) => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  };
  if (command.includes('/')) return isExecutable(command) ? command : null;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const file = path.join(dir, command);
    if (isExecutable(file)) return file;
  }
  return null;
}

/** Compares dotted versions numerically: isOlder("1.8.1", "1.13") is true. */
function isOlder(version, minimum) {
  const parts = (v) => v.split('.').map((n) => Number.parseInt(n, 10));
  const [a, b] = [parts(version), parts(minimum)];
  if (a.some(Number.isNaN)) return false; // unknown version: let the compiler decide
  for (let i = 0; i < b.length; i++) {
    if ((a[i] ?? 0) !== b[i]) return (a[i] ?? 0) < b[i];
  }
  return false;
}

function readTextOrNull(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function readdirOrEmpty(dir) {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------------------------------------
// CLI, for binding.gyp's command expansions (which run from the package root)

const CLI_OUTPUTS = {
  // /usr/include is already on the compiler's path; -I on it only reorders system headers.
  '--gyp-include': (lib) =>
    [...new Set([...lib.includeDirs, glooIncludeDir(lib)])].filter((dir) => dir && dir !== '/usr/include').join(' '),
  '--gyp-libs': (lib) =>
    [
      `-L${lib.libDir}`,
      ...(lib.system ? [] : [`-Wl,-rpath,${lib.libDir}`]),
      '-ltorch',
      '-ltorch_cpu',
      '-lc10',
      ...(glooLibrary(lib) ? [glooLibrary(lib)] : []),
    ].join(' '),
  '--json': (lib) => JSON.stringify(lib, null, 2),
};

function cli(args) {
  const output = CLI_OUTPUTS[args[0]];
  if (!output || args.length !== 1) {
    console.error(`usage: node scripts/libtorch.mjs ${Object.keys(CLI_OUTPUTS).join('|')}`);
    return 2;
  }
  const tried = [];
  try {
    const lib = findLibtorch({ tried });
    if (!lib) {
      throw new InstallError(
        `no libtorch found. Tried:\n${tried.map((t) => `  - ${t}`).join('\n')}\n` +
          'Run `npm install` first (it installs or downloads one), or set LIBTORCH=/path/to/libtorch.',
      );
    }
    console.log(output(lib));
    return 0;
  } catch (error) {
    if (!(error instanceof InstallError)) throw error;
    console.error(`${TAG}: ${error.message}`);
    return 1;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = cli(process.argv.slice(2));
}
