// When a built addon matches: the stamp `install.mjs` writes next to
// build/Release/torch_crossencoder.node once a build has been moved into place. A build matches
// when all of these are as they were when it was built:
//   - the addon file itself (its SHA-256: a node-gyp build or a copy from elsewhere does not match),
//   - the native sources (every file under native/, CMakeLists.txt) and node-addon-api's version,
//   - the Node-API version it targets (package.json `binary.napi_versions`), platform and CPU,
//   - the libtorch this install would choose now (its TorchConfig.cmake directory and version).
// Node-API is ABI-stable, so another Node.js version (of the same Node-API level) needs no rebuild.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export const ADDON_RELATIVE_PATH = path.join('build', 'Release', 'torch_crossencoder.node');
const STAMP_SUFFIX = '.stamp.json';
const STAMP_FORMAT = 1;

function sha256(data) {
  return createHash('sha256').update(data).digest('hex');
}

function filesUnder(dir) {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath ?? entry.path, entry.name));
}

/** One digest over the sources the addon is compiled from, independent of file timestamps. */
export function sourceDigest(packageRoot) {
  const files = [...filesUnder(path.join(packageRoot, 'native')), path.join(packageRoot, 'CMakeLists.txt')]
    .map((file) => path.relative(packageRoot, file).split(path.sep).join('/'))
    .sort();
  const hash = createHash('sha256');
  for (const file of files) hash.update(`${file}\0${sha256(fs.readFileSync(path.join(packageRoot, file)))}\n`);
  const require = createRequire(path.join(packageRoot, 'package.json'));
  hash.update(`node-addon-api@${require('node-addon-api/package.json').version}\n`);
  return hash.digest('hex');
}

function napiVersion(packageRoot) {
  const json = JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8'));
  return json.binary?.napi_versions?.join(',') ?? 'unknown';
}

/** What the stamp of a build of `packageRoot` against `lib` (from scripts/libtorch.mjs) says, without the addon's hash. */
export function expectedStamp(packageRoot, lib) {
  return {
    format: STAMP_FORMAT,
    sources: sourceDigest(packageRoot),
    napiVersion: napiVersion(packageRoot),
    platform: process.platform,
    arch: process.arch,
    libtorch: { configDir: lib.configDir, version: lib.version },
  };
}

export function stampPath(addon) {
  return `${addon}${STAMP_SUFFIX}`;
}

/** The stamp of the addon now in place: the expected fields plus the addon's SHA-256. */
export function stampFor(packageRoot, lib, addon) {
  return { ...expectedStamp(packageRoot, lib), addon: sha256(fs.readFileSync(addon)) };
}

/**
 * Why the addon at `addon` does not match a build of `packageRoot` against `lib`, or null when
 * it does (then nothing needs building).
 */
export function mismatch(packageRoot, lib, addon) {
  let stamp;
  try {
    stamp = JSON.parse(fs.readFileSync(stampPath(addon), 'utf8'));
  } catch {
    return fs.existsSync(addon) ? 'it has no build stamp' : 'there is no addon yet';
  }
  let addonHash;
  try {
    addonHash = sha256(fs.readFileSync(addon));
  } catch {
    return 'there is no addon yet';
  }
  if (stamp.addon !== addonHash) return 'the addon is not the one its stamp describes';
  const expected = expectedStamp(packageRoot, lib);
  if (stamp.format !== expected.format) return 'its stamp is from another version of the install script';
  if (stamp.sources !== expected.sources) return 'the native sources changed';
  if (stamp.napiVersion !== expected.napiVersion || stamp.platform !== expected.platform || stamp.arch !== expected.arch) {
    return 'it was built for another Node-API version, platform or CPU';
  }
  if (stamp.libtorch?.configDir !== expected.libtorch.configDir || stamp.libtorch?.version !== expected.libtorch.version) {
    return `it was built against another libtorch (${stamp.libtorch?.version} in ${stamp.libtorch?.configDir})`;
  }
  return null;
}
