/**
 * Model resolution through the Hugging Face hub cache, shared with `huggingface_hub` (the layout
 * is described in `./cache.ts`). The parts, each importing only those after it:
 * `download.ts` (fetching from the hub), `cache.ts` (the cache on disk), `repo.ts` (names,
 * options and environment) and `fs-helpers.ts`.
 */
import { InvalidArgumentError } from '../errors.js';

import { isComplete, missingRequired, readCachedSnapshot, requireCachedSnapshot, withCacheErrors } from './cache.js';
import { fetchSnapshot, isRecoverable } from './download.js';
import { REPO_ID_RULES, hubFor, isRepoId, localModelDirectory, type HubOptions } from './repo.js';

export { hubCacheDir, type HubOptions } from './repo.js';

/**
 * Returns the directory of a model: a local directory is returned as is (absolute); otherwise a hub
 * id `org/name` is resolved in the Hugging Face cache. A cached snapshot that already holds every
 * model file is used without any network request; otherwise the missing files are downloaded,
 * unless offline (`localFilesOnly` / `HF_HUB_OFFLINE`). When the hub cannot be reached, a cached
 * snapshot that has at least the required files is used.
 * @throws {ModelNotFoundError} no such directory, repo or file, hub unreachable, offline and not cached.
 * @throws {InvalidArgumentError} `nameOrPath` is neither an existing directory nor a valid repo id.
 */
export async function resolveModelDirectory(nameOrPath: string, options: HubOptions = {}): Promise<string> {
  const local = await localModelDirectory(nameOrPath);
  if (local !== undefined) return local;
  const hub = hubFor(nameOrPath, options);
  return withCacheErrors(hub, async () => {
    const cached = await readCachedSnapshot(hub);
    if (cached && isComplete(cached)) return cached.dir;
    if (hub.offlineReason) return requireCachedSnapshot(hub, cached);
    try {
      return await fetchSnapshot(hub);
    } catch (error) {
      // Like huggingface_hub: when the hub is down or refuses us, files already cached still work.
      const fallback = isRecoverable(error) ? await readCachedSnapshot(hub) : undefined;
      if (fallback && missingRequired(fallback).length === 0) return fallback.dir;
      throw error;
    }
  });
}

/**
 * Fetches the model files of a hub repo into the Hugging Face cache and returns the snapshot
 * directory. Unlike {@link resolveModelDirectory} it always asks the hub which commit the revision
 * points to, so a branch that moved is updated; files already cached for that commit are not
 * downloaded again. Offline, it returns the cached snapshot.
 * @throws {ModelNotFoundError} unknown repo or revision, missing required file, access denied, hub unreachable.
 * @throws {InvalidArgumentError} `repoId` is not a valid repo id or an option is malformed.
 */
export async function downloadModel(repoId: string, options: HubOptions = {}): Promise<string> {
  if (typeof repoId !== 'string' || !isRepoId(repoId)) {
    throw new InvalidArgumentError(`${JSON.stringify(repoId)} is not a valid Hugging Face repo id ${REPO_ID_RULES}`);
  }
  const hub = hubFor(repoId, options);
  return withCacheErrors(hub, async () =>
    hub.offlineReason ? requireCachedSnapshot(hub, await readCachedSnapshot(hub)) : fetchSnapshot(hub),
  );
}
