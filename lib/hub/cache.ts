/**
 * The Hugging Face hub cache, laid out exactly as `huggingface_hub` does so that a model Python
 * already downloaded is found here and vice versa:
 *
 * ```text
 * {cache}/models--{org}--{name}/
 *   blobs/{etag}                         file contents (etag = git sha1, or sha256 for LFS files)
 *   refs/{revision}                      commit hash the revision (branch, tag) pointed to
 *   snapshots/{commit}/{file}            relative symlink to ../../blobs/{etag}
 *   .no_exist/{commit}/{file}            empty marker: the file does not exist at that commit
 * ```
 */
import { copyFile, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';

import { temporaryPath, writeFileAtomic } from '../atomic-file.js';
import { CrossEncoderError, FileSystemError, ModelNotFoundError } from '../errors.js';
import { MODEL_FILE, moduleFolders, SENTENCE_TRANSFORMERS_FILES, TOKENIZER_FILES, VOCABULARY_FILES, WEIGHT_FILES } from '../model-files.js';

import { errorCode, readIfExists, statIfExists } from './fs-helpers.js';
import { COMMIT_HASH, type Hub } from './repo.js';

/** Commit hashes and etags from the server become path segments: never let them escape the cache. */
export const SAFE_SEGMENT = /^(?!\.\.?$)[\w.-]+$/;

const MODEL_FILES = [MODEL_FILE.config, ...WEIGHT_FILES, ...TOKENIZER_FILES, ...SENTENCE_TRANSFORMERS_FILES];

interface CachedSnapshot {
  commit: string;
  dir: string;
  /** Model files present in the snapshot. */
  present: Set<string>;
  /** Model files recorded in `.no_exist` for this commit. */
  absent: Set<string>;
  /** The sub-folders of the modules its modules.json lists (modular Sentence Transformers models). */
  moduleFolders: string[];
}

export function snapshotDir(hub: Hub, commit: string): string {
  return join(hub.repoDir, 'snapshots', commit);
}

export function noExistPath(hub: Hub, commit: string, file: string): string {
  return join(hub.repoDir, '.no_exist', commit, file);
}

function refPath(hub: Hub): string {
  return join(hub.repoDir, 'refs', hub.revision);
}

/** The commit the revision maps to in the cache: itself when it is a commit hash, else `refs/{revision}`. */
async function cachedCommit(hub: Hub): Promise<string | undefined> {
  if (COMMIT_HASH.test(hub.revision)) return hub.revision;
  const commit = (await readIfExists(refPath(hub)))?.trim();
  return commit && SAFE_SEGMENT.test(commit) ? commit : undefined;
}

export async function readCachedSnapshot(hub: Hub): Promise<CachedSnapshot | undefined> {
  const commit = await cachedCommit(hub);
  if (commit === undefined) return undefined;
  const dir = snapshotDir(hub, commit);
  const present = new Set<string>();
  const absent = new Set<string>();
  const check = async (file: string) => {
    if ((await statIfExists(join(dir, file)))?.isFile()) present.add(file);
    else if (await statIfExists(noExistPath(hub, commit, file))) absent.add(file);
  };
  for (const file of MODEL_FILES) await check(file);
  const modules = present.has(MODEL_FILE.modules) ? await readIfExists(join(dir, MODEL_FILE.modules)) : undefined;
  const folders = modules === undefined ? [] : moduleFolders(modules);
  for (const folder of folders) for (const file of [MODEL_FILE.config, ...WEIGHT_FILES]) await check(`${folder}/${file}`);
  return { commit, dir, present, absent, moduleFolders: folders };
}

/** Descriptions of the required files a snapshot lacks (empty when it is usable). */
export function missingRequired(snapshot: Pick<CachedSnapshot, 'present'>): string[] {
  const has = (file: string) => snapshot.present.has(file);
  const missing: string[] = [];
  if (!has(MODEL_FILE.config)) missing.push(MODEL_FILE.config);
  if (!WEIGHT_FILES.some(has)) missing.push(WEIGHT_FILES.join(' or '));
  if (!VOCABULARY_FILES.some(has)) missing.push(VOCABULARY_FILES.join(' or '));
  return missing;
}

/** Usable, and every optional tokenizer file is either cached or known not to exist. */
export function isComplete(snapshot: CachedSnapshot): boolean {
  const known = (file: string) => snapshot.present.has(file) || snapshot.absent.has(file);
  // A module's weights are settled once one format is there, or both are known absent.
  const moduleKnown = (folder: string) =>
    known(`${folder}/${MODEL_FILE.config}`) &&
    (WEIGHT_FILES.some((file) => snapshot.present.has(`${folder}/${file}`)) || WEIGHT_FILES.every((file) => known(`${folder}/${file}`)));
  return (
    missingRequired(snapshot).length === 0 &&
    [...TOKENIZER_FILES, ...SENTENCE_TRANSFORMERS_FILES].every(known) &&
    snapshot.moduleFolders.every(moduleKnown)
  );
}

export function requireCachedSnapshot(hub: Hub, snapshot: CachedSnapshot | undefined): string {
  const advice = 'Download it once with network access (or copy a cache that has it), or pass a local model directory.';
  if (snapshot === undefined) {
    throw new ModelNotFoundError(
      `${hub.repoId} (revision "${hub.revision}") is not in the Hugging Face cache: ${refPath(hub)} does not exist, ` +
        `and ${hub.offlineReason}. ${advice}`,
    );
  }
  const missing = missingRequired(snapshot);
  if (missing.length > 0) {
    throw new ModelNotFoundError(
      `${hub.repoId} (revision "${hub.revision}") is incomplete in the Hugging Face cache: ${snapshot.dir} lacks ` +
        `${missing.join(', ')}, and ${hub.offlineReason}. ${advice}`,
    );
  }
  return snapshot.dir;
}

export async function writeRef(hub: Hub, commit: string): Promise<void> {
  if (hub.revision === commit || (await readIfExists(refPath(hub))) === commit) return;
  await writeFileAtomic(refPath(hub), commit);
}

export async function recordAbsent(hub: Hub, commit: string, file: string): Promise<void> {
  try {
    await mkdir(dirname(noExistPath(hub, commit, file)), { recursive: true });
    await writeFile(noExistPath(hub, commit, file), '');
  } catch {
    // Only a hint that saves a request next time (huggingface_hub ignores this failure too).
  }
}

/**
 * Points `snapshots/{commit}/{file}` at the blob with a relative symlink, swapped in by rename so
 * a reader never sees a half-made pointer. Where symlinks are not allowed (Windows without
 * developer mode) the blob is copied instead, as huggingface_hub does.
 */
export async function linkPointer(blob: string, pointer: string): Promise<void> {
  await mkdir(dirname(pointer), { recursive: true });
  const temp = temporaryPath(pointer);
  try {
    try {
      await symlink(relative(dirname(pointer), blob), temp, 'file');
    } catch (error) {
      if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP'].includes(errorCode(error) ?? '')) throw error;
      await copyFile(blob, temp);
    }
    await rename(temp, pointer);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Turns raw file-system errors (unwritable cache, full disk) into a FileSystemError naming the cache. */
export async function withCacheErrors<T>(hub: Hub, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    // Only system errors (they carry the failed syscall); anything else is already typed or a bug.
    if (error instanceof CrossEncoderError || typeof (error as { syscall?: unknown })?.syscall !== 'string')
      throw error;
    throw new FileSystemError(`Hugging Face cache ${hub.cacheDir}: ${(error as Error).message}`, { cause: error });
  }
}
