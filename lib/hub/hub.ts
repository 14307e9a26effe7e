/**
 * Model resolution through the Hugging Face hub cache, laid out exactly as `huggingface_hub` does
 * so that a model Python already downloaded is found here and vice versa:
 *
 * ```text
 * {cache}/models--{org}--{name}/
 *   blobs/{etag}                         file contents (etag = git sha1, or sha256 for LFS files)
 *   refs/{revision}                      commit hash the revision (branch, tag) pointed to
 *   snapshots/{commit}/{file}            relative symlink to ../../blobs/{etag}
 *   .no_exist/{commit}/{file}            empty marker: the file does not exist at that commit
 * ```
 */
import { createHash } from 'node:crypto';
import { constants as fsConstants, createReadStream, type Stats } from 'node:fs';
import { copyFile, mkdir, open, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import {
  CrossEncoderError,
  FileSystemError,
  InvalidArgumentError,
  ModelFormatError,
  ModelNotFoundError,
} from '../errors.js';
import { temporaryPath, writeFileAtomic } from '../atomic-file.js';
import { createProgress } from '../progress.js';
import { MODEL_FILE, TOKENIZER_FILES, VOCABULARY_FILES, WEIGHT_FILES } from '../model/model-files.js';

/** Options shared by {@link resolveModelDirectory} and {@link downloadModel}. */
export interface HubOptions {
  /** Branch, tag or 40-hex commit hash. Default `'main'`. */
  revision?: string;
  /**
   * Cache root. Default: `HF_HUB_CACHE`, else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`,
   * else `~/.cache/huggingface/hub` (see {@link hubCacheDir}).
   */
  cacheDir?: string;
  /** Never touch the network; only the cache is used. Also forced on by `HF_HUB_OFFLINE=1`. */
  localFilesOnly?: boolean;
  /** Access token for private or gated repos. Default: `HF_TOKEN`, else the token file `$HF_HOME/token`. */
  token?: string;
  /** Hub URL. Default: `HF_ENDPOINT`, else `https://huggingface.co`. */
  endpoint?: string;
  /** Show download progress on stderr. Default: true unless `HF_HUB_DISABLE_PROGRESS_BARS` is set. */
  showProgress?: boolean;
}

const DEFAULT_ENDPOINT = 'https://huggingface.co';
const DEFAULT_REVISION = 'main';
const COMMIT_HASH = /^[0-9a-f]{40}$/;
/** LFS files have the sha256 of their content as etag, which lets us verify a (resumed) download. */
const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Commit hashes and etags from the server become path segments: never let them escape the cache. */
const SAFE_SEGMENT = /^(?!\.\.?$)[\w.-]+$/;
const TRUE_VALUES = new Set(['1', 'ON', 'YES', 'TRUE']);
const MAX_RELATIVE_REDIRECTS = 5;

const MODEL_FILES = [MODEL_FILE.config, ...WEIGHT_FILES, ...TOKENIZER_FILES];

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
      const fallback = recoverable.has(error as Error) ? await readCachedSnapshot(hub) : undefined;
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

/**
 * The hub cache root, resolved like `huggingface_hub`: the `cacheDir` option, else `HF_HUB_CACHE`
 * (or the legacy `HUGGINGFACE_HUB_CACHE`), else `$HF_HOME/hub`, else
 * `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`. Always absolute.
 */
export function hubCacheDir(options: Pick<HubOptions, 'cacheDir'> = {}): string {
  const configured = options.cacheDir ?? env('HF_HUB_CACHE') ?? env('HUGGINGFACE_HUB_CACHE');
  return resolve(configured !== undefined ? expandPath(configured) : join(hfHome(), 'hub'));
}

// ---------------------------------------------------------------------------------------------
// Names, options and environment

interface Hub {
  repoId: string;
  revision: string;
  cacheDir: string;
  /** `{cacheDir}/models--{org}--{name}` */
  repoDir: string;
  endpoint: string;
  token?: string;
  /** Set when the network must not be used, saying why (for error messages). */
  offlineReason?: string;
  showProgress: boolean;
}

const REPO_ID_RULES =
  '("org/name" or "name": letters, digits, "-", "_" and "."; no "--" or ".."; each part starts and ends ' +
  'with a letter or digit; at most 96 characters)';

/** Same rules as `huggingface_hub.utils.validate_repo_id`. */
function isRepoId(value: string): boolean {
  return (
    value.length <= 96 &&
    /^[\w.-]+(\/[\w.-]+)?$/.test(value) &&
    !value.includes('--') &&
    !value.includes('..') &&
    value.split('/').every((part) => /^\w/.test(part) && /\w$/.test(part))
  );
}

/** Strings that can only be meant as file-system paths, never as repo ids. */
function looksLikePath(value: string): boolean {
  return /^[./~]/.test(value) || value.includes('\\') || /^[A-Za-z]:/.test(value);
}

async function localModelDirectory(nameOrPath: string): Promise<string | undefined> {
  if (typeof nameOrPath !== 'string' || nameOrPath.trim() === '') {
    throw new InvalidArgumentError(
      `The model must be a directory or a Hugging Face repo id, got ${JSON.stringify(nameOrPath)}`,
    );
  }
  const path = resolve(expandHome(nameOrPath));
  const info = await statIfExists(path);
  if (info?.isDirectory()) return path;
  if (looksLikePath(nameOrPath)) {
    throw new ModelNotFoundError(
      info
        ? `Model path ${path} is not a directory: a model is a directory holding config.json, ` +
            'the weights and the tokenizer files'
        : `No such directory: ${path} (model path ${JSON.stringify(nameOrPath)})`,
    );
  }
  if (!isRepoId(nameOrPath)) {
    throw new InvalidArgumentError(
      `${JSON.stringify(nameOrPath)} is neither an existing directory nor a valid Hugging Face repo id ${REPO_ID_RULES}`,
    );
  }
  return undefined;
}

function hubFor(repoId: string, options: HubOptions): Hub {
  for (const key of ['revision', 'cacheDir', 'token', 'endpoint'] as const) {
    const value = options[key];
    if (value !== undefined && (typeof value !== 'string' || value === '')) {
      throw new InvalidArgumentError(`Option "${key}" must be a non-empty string, got ${JSON.stringify(value)}`);
    }
  }
  const revision = options.revision ?? DEFAULT_REVISION;
  if (
    revision.includes('\\') ||
    revision.includes('\0') ||
    revision.split('/').some((part) => part === '' || part === '.' || part === '..')
  ) {
    throw new InvalidArgumentError(
      `Invalid revision ${JSON.stringify(revision)}: expected a branch, tag or commit hash`,
    );
  }
  const cacheDir = hubCacheDir(options);
  const offlineReason =
    options.localFilesOnly === true
      ? 'localFilesOnly is set'
      : isTrue(env('HF_HUB_OFFLINE') ?? env('TRANSFORMERS_OFFLINE'))
        ? 'offline mode is on (HF_HUB_OFFLINE)'
        : undefined;
  return {
    repoId,
    revision,
    cacheDir,
    repoDir: join(cacheDir, `models--${repoId.split('/').join('--')}`),
    endpoint: parseEndpoint(options.endpoint ?? env('HF_ENDPOINT') ?? DEFAULT_ENDPOINT),
    token: options.token,
    offlineReason,
    showProgress: options.showProgress ?? !isTrue(env('HF_HUB_DISABLE_PROGRESS_BARS')),
  };
}

function parseEndpoint(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(`Invalid hub endpoint ${JSON.stringify(value)}: expected an http(s) URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError(`Invalid hub endpoint ${JSON.stringify(value)}: expected an http(s) URL`);
  }
  return value.replace(/\/+$/, '');
}

/** An environment variable, treating an empty value as unset. */
function env(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

function isTrue(value: string | undefined): boolean {
  return value !== undefined && TRUE_VALUES.has(value.toUpperCase());
}

/** `$VAR` / `${VAR}` and `~` expansion, as Python's `expandvars(expanduser(...))` does for these settings. */
function expandPath(path: string): string {
  return expandHome(
    path.replace(/\$(\w+)|\$\{(\w+)\}/g, (whole, a?: string, b?: string) => process.env[(a ?? b)!] ?? whole),
  );
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

function hfHome(): string {
  return expandPath(env('HF_HOME') ?? join(env('XDG_CACHE_HOME') ?? join(homedir(), '.cache'), 'huggingface'));
}

/** Token from `HF_TOKEN` (or the legacy `HUGGING_FACE_HUB_TOKEN`), else the file `huggingface-cli login` writes. */
async function findToken(): Promise<string | undefined> {
  const fromEnv = env('HF_TOKEN') ?? env('HUGGING_FACE_HUB_TOKEN');
  if (fromEnv !== undefined) return fromEnv.trim();
  const file = expandPath(env('HF_TOKEN_PATH') ?? join(hfHome(), 'token'));
  const text = await readIfExists(file);
  return text?.trim() || undefined;
}

// ---------------------------------------------------------------------------------------------
// The cache

interface CachedSnapshot {
  commit: string;
  dir: string;
  /** Model files present in the snapshot. */
  present: Set<string>;
  /** Model files recorded in `.no_exist` for this commit. */
  absent: Set<string>;
}

function snapshotDir(hub: Hub, commit: string): string {
  return join(hub.repoDir, 'snapshots', commit);
}

function noExistPath(hub: Hub, commit: string, file: string): string {
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

async function readCachedSnapshot(hub: Hub): Promise<CachedSnapshot | undefined> {
  const commit = await cachedCommit(hub);
  if (commit === undefined) return undefined;
  const dir = snapshotDir(hub, commit);
  const present = new Set<string>();
  const absent = new Set<string>();
  for (const file of MODEL_FILES) {
    if ((await statIfExists(join(dir, file)))?.isFile()) present.add(file);
    else if (await statIfExists(noExistPath(hub, commit, file))) absent.add(file);
  }
  return { commit, dir, present, absent };
}

/** Descriptions of the required files a snapshot lacks (empty when it is usable). */
function missingRequired(snapshot: Pick<CachedSnapshot, 'present'>): string[] {
  const has = (file: string) => snapshot.present.has(file);
  const missing: string[] = [];
  if (!has(MODEL_FILE.config)) missing.push(MODEL_FILE.config);
  if (!WEIGHT_FILES.some(has)) missing.push(WEIGHT_FILES.join(' or '));
  if (!VOCABULARY_FILES.some(has)) missing.push(VOCABULARY_FILES.join(' or '));
  return missing;
}

/** Usable, and every optional tokenizer file is either cached or known not to exist. */
function isComplete(snapshot: CachedSnapshot): boolean {
  return (
    missingRequired(snapshot).length === 0 &&
    TOKENIZER_FILES.every((file) => snapshot.present.has(file) || snapshot.absent.has(file))
  );
}

function requireCachedSnapshot(hub: Hub, snapshot: CachedSnapshot | undefined): string {
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

async function writeRef(hub: Hub, commit: string): Promise<void> {
  if (hub.revision === commit || (await readIfExists(refPath(hub))) === commit) return;
  await writeFileAtomic(refPath(hub), commit);
}

async function recordAbsent(hub: Hub, commit: string, file: string): Promise<void> {
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
async function linkPointer(blob: string, pointer: string): Promise<void> {
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

// ---------------------------------------------------------------------------------------------
// Downloading

interface Session {
  hub: Hub;
  /** Headers for the hub itself (with the token, if any). */
  headers: Record<string, string>;
  /** Headers for other hosts (CDN links are pre-signed: the token must not leak there). */
  anonymousHeaders: Record<string, string>;
  metadataTimeoutMs: number;
}

/** What a HEAD on `/resolve/` said about a file. */
type FileMetadata =
  | { found: true; url: string; commit: string; etag: string; size?: number; location: string }
  | { found: false; url: string; commit?: string };

/** Errors after which a cached snapshot may be used instead: hub unreachable, down, or refusing access. */
const recoverable = new WeakSet<Error>();

function markRecoverable<T extends Error>(error: T): T {
  recoverable.add(error);
  return error;
}

async function fetchSnapshot(hub: Hub): Promise<string> {
  const session = await openSession(hub);
  const { commit, config } = await pinCommit(session);
  const fetchFile = (file: string, metadata?: FileMetadata) => ensureFile(session, commit, file, metadata);

  if (!(await fetchFile(MODEL_FILE.config, config))) throw missingFiles(hub, commit, MODEL_FILE.config);
  let weights = false;
  for (const file of WEIGHT_FILES) if (!weights) weights = await fetchFile(file);
  if (!weights) throw missingFiles(hub, commit, WEIGHT_FILES.join(' or '));
  const tokenizer: string[] = [];
  for (const file of TOKENIZER_FILES) if (await fetchFile(file)) tokenizer.push(file);
  if (!VOCABULARY_FILES.some((file) => tokenizer.includes(file)))
    throw missingFiles(hub, commit, VOCABULARY_FILES.join(' or '));
  return snapshotDir(hub, commit);
}

async function openSession(hub: Hub): Promise<Session> {
  const anonymousHeaders = {
    'User-Agent': `torch-crossencoder (node ${process.version})`,
    // The sizes we check are those of the raw file; a compressed transfer would not match them.
    'Accept-Encoding': 'identity',
  };
  const token = hub.token ?? (await findToken());
  return {
    hub,
    anonymousHeaders,
    headers: token ? { ...anonymousHeaders, Authorization: `Bearer ${token}` } : anonymousHeaders,
    metadataTimeoutMs: (Number(env('HF_HUB_ETAG_TIMEOUT')) || 10) * 1000,
  };
}

/**
 * The commit every file is then fetched at, so that all files come from one commit even if the
 * branch moves meanwhile. A branch or tag is resolved with the HEAD of config.json (whose answer is
 * reused), and recorded in `refs/`.
 */
async function pinCommit(session: Session): Promise<{ commit: string; config?: FileMetadata }> {
  const { hub } = session;
  if (COMMIT_HASH.test(hub.revision)) return { commit: hub.revision };
  const config = await fetchMetadata(session, hub.revision, MODEL_FILE.config);
  if (config.commit === undefined) throw missingFiles(hub, undefined, MODEL_FILE.config, config.url);
  await writeRef(hub, config.commit);
  return { commit: config.commit, config };
}

/**
 * Makes `file` present in the snapshot of `commit`, downloading it if needed. Returns false when
 * the file does not exist in the repo at that commit (recorded in `.no_exist`).
 */
async function ensureFile(session: Session, commit: string, file: string, known?: FileMetadata): Promise<boolean> {
  const { hub } = session;
  const pointer = join(snapshotDir(hub, commit), file);
  if ((await statIfExists(pointer))?.isFile()) return true;
  if (await statIfExists(noExistPath(hub, commit, file))) return false;
  const metadata = known ?? (await fetchMetadata(session, commit, file));
  if (!metadata.found) {
    await recordAbsent(hub, metadata.commit ?? commit, file);
    return false;
  }
  const blob = join(hub.repoDir, 'blobs', metadata.etag);
  if (!(await hasBlob(blob, metadata.size))) await downloadBlob(session, metadata, blob, file);
  await linkPointer(blob, pointer);
  return true;
}

function fileUrl(hub: Hub, revision: string, file: string): string {
  return `${hub.endpoint}/${hub.repoId}/resolve/${encodeURIComponent(revision)}/${encodeURIComponent(file)}`;
}

/**
 * HEAD `{endpoint}/{repo}/resolve/{revision}/{file}` without following redirects to another host:
 * an LFS file answers with a redirect to its CDN URL, and the metadata (X-Linked-Etag,
 * X-Linked-Size) is on that redirect. Same-host redirects (a renamed repo) are followed.
 */
async function fetchMetadata(session: Session, revision: string, file: string): Promise<FileMetadata> {
  const { hub } = session;
  let url = fileUrl(hub, revision, file);
  for (let redirects = 0; ; redirects += 1) {
    const response = await send(session, url, file, {
      method: 'HEAD',
      redirect: 'manual',
      headers: session.headers,
      signal: AbortSignal.timeout(session.metadataTimeoutMs),
    });
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location !== null) {
      const target = new URL(location, url);
      if (target.origin !== new URL(url).origin) return foundMetadata(hub, url, response, target.href);
      if (redirects === MAX_RELATIVE_REDIRECTS) throw httpError(hub, file, url, response, 'too many redirects');
      url = target.href;
      continue;
    }
    if (response.ok) return foundMetadata(hub, url, response, url);
    if (response.status === 404 && !['RepoNotFound', 'RevisionNotFound'].includes(errorCodeHeader(response))) {
      const commit = response.headers.get('x-repo-commit') ?? undefined;
      return { found: false, url, commit: commit && SAFE_SEGMENT.test(commit) ? commit : undefined };
    }
    throw httpError(hub, file, url, response);
  }
}

function foundMetadata(hub: Hub, url: string, response: Response, location: string): FileMetadata {
  const header = (name: string) => response.headers.get(name) ?? undefined;
  const commit = header('x-repo-commit');
  // huggingface_hub's _normalize_etag: drop a weak-validator prefix and the quotes.
  const etag = (header('x-linked-etag') ?? header('etag'))?.replace(/^W\//, '').replace(/^"|"$/g, '');
  if (!commit || !etag || !SAFE_SEGMENT.test(commit) || !SAFE_SEGMENT.test(etag)) {
    throw markRecoverable(
      new ModelNotFoundError(
        `${url} answered without usable X-Repo-Commit and ETag headers (got ${JSON.stringify(commit)} and ` +
          `${JSON.stringify(etag)}): ${hub.endpoint} does not behave like a Hugging Face hub. ` +
          'Check HF_ENDPOINT and any proxy in between.',
      ),
    );
  }
  const size = Number.parseInt(header('x-linked-size') ?? header('content-length') ?? '', 10);
  return { found: true, url, commit, etag, size: Number.isSafeInteger(size) && size >= 0 ? size : undefined, location };
}

/**
 * Downloads a blob into `blobs/{etag}.incomplete`, resuming from what a previous attempt left,
 * checks its size (and its sha256 for LFS files), then renames it into place.
 *
 * Bytes are written at their offset rather than appended: two processes fetching the same blob
 * then write identical bytes at identical places instead of interleaving them.
 */
async function downloadBlob(
  session: Session,
  metadata: FileMetadata & { found: true },
  blob: string,
  file: string,
): Promise<void> {
  const partial = `${blob}.incomplete`;
  await mkdir(dirname(blob), { recursive: true });
  const handle = await open(partial, fsConstants.O_WRONLY | fsConstants.O_CREAT);
  let end: number;
  try {
    const kept = (await handle.stat()).size;
    end = metadata.size !== undefined && kept > metadata.size ? 0 : kept;
    if (metadata.size === undefined || end < metadata.size) end = await fetchBody(session, metadata, handle, end, file);
    // A restarted download may be shorter than a stale partial file was.
    await handle.truncate(end);
  } finally {
    await handle.close();
  }
  if (metadata.size !== undefined && end !== metadata.size) {
    throw markRecoverable(
      new ModelNotFoundError(
        `Downloading ${file} of ${session.hub.repoId} from ${displayUrl(metadata.location)} ended after ` +
          `${end} of ${metadata.size} bytes; ` +
          `the partial file ${partial} is kept and the next attempt resumes from it.`,
      ),
    );
  }
  try {
    await verifyChecksum(partial, metadata.etag, `${file} of ${session.hub.repoId}`);
    await rename(partial, blob);
  } catch (error) {
    // Another download of the same blob (a parallel call or process) finished and renamed it first.
    if (isMissing(error) && (await hasBlob(blob, metadata.size))) return;
    throw error;
  }
}

/** LFS etags are the sha256 of the content: check it, as a resumed download could mix two versions. */
async function verifyChecksum(path: string, etag: string, what: string): Promise<void> {
  if (!SHA256_HEX.test(etag)) return;
  const actual = await sha256File(path);
  if (actual === etag) return;
  await rm(path, { force: true });
  throw new ModelFormatError(
    `The downloaded ${what} does not match its checksum (sha256 ${actual}, expected ${etag}); ` +
      'the corrupt file was removed, try again.',
  );
}

async function hasBlob(blob: string, size: number | undefined): Promise<boolean> {
  const info = await statIfExists(blob);
  return info !== undefined && info.isFile() && (size === undefined || info.size === size);
}

/** GETs the file from `offset` on and writes it into `handle`; returns the end offset. */
async function fetchBody(
  session: Session,
  metadata: FileMetadata & { found: true },
  handle: FileHandle,
  offset: number,
  file: string,
): Promise<number> {
  const { hub } = session;
  const sameHost = new URL(metadata.location).origin === new URL(hub.endpoint).origin;
  const headers = { ...(sameHost ? session.headers : session.anonymousHeaders) };
  if (offset > 0) headers['Range'] = `bytes=${offset}-`;
  const response = await send(session, metadata.location, file, { headers });
  let start = offset;
  if (response.status === 206) {
    const rangeStart = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '')?.[1];
    if (Number(rangeStart) !== offset) {
      await response.body?.cancel();
      if (offset === 0) throw httpError(hub, file, metadata.location, response, 'a partial reply to a full request');
      return fetchBody(session, metadata, handle, 0, file);
    }
  } else if (response.status === 416 && offset > 0) {
    // The server says the range is past the end: our partial file cannot be trusted, start over.
    await response.body?.cancel();
    return fetchBody(session, metadata, handle, 0, file);
  } else if (response.ok) {
    start = 0; // A 200 reply to a Range request carries the whole file.
  } else {
    throw httpError(hub, file, metadata.location, response);
  }

  const progress = createProgress({
    total: metadata.size ?? 0,
    label: file,
    unit: 'bytes',
    enabled: hub.showProgress,
    initial: start,
  });
  let position = start;
  let writing = false;
  try {
    for await (const chunk of response.body ?? []) {
      writing = true;
      await handle.write(chunk, 0, chunk.length, position);
      writing = false;
      position += chunk.length;
      progress.update(position);
    }
  } catch (error) {
    if (writing) throw error; // A disk error (full disk...), reported as such by withCacheErrors.
    throw markRecoverable(
      new ModelNotFoundError(
        `Downloading ${file} of ${hub.repoId} from ${displayUrl(metadata.location)} was interrupted after ` +
          `${position} bytes ` +
          `(${describeNetworkError(error)}); the partial file is kept and the next attempt resumes from it.`,
        { cause: error },
      ),
    );
  } finally {
    progress.finish();
  }
  return position;
}

/** `fetch` with network failures turned into a clear, typed error. */
async function send(session: Session, url: string, file: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    const { hub } = session;
    throw markRecoverable(
      new ModelNotFoundError(
        `Could not reach the Hugging Face hub at ${new URL(url).origin} to fetch ${file} of ${hub.repoId} ` +
          `(${describeNetworkError(error)}). Without network access, pass a local model directory, or pre-populate ` +
          `the cache at ${hub.cacheDir} (e.g. run this once online, or \`huggingface-cli download ${hub.repoId}\`) ` +
          'and set HF_HUB_OFFLINE=1.',
        { cause: error },
      ),
    );
  }
}

/** A URL for messages: CDN links carry a signature in their query string, which must not be logged. */
function displayUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

function describeNetworkError(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return 'timed out';
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  const detail = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
  return String(detail);
}

function errorCodeHeader(response: Response): string {
  return response.headers.get('x-error-code') ?? '';
}

function httpError(hub: Hub, file: string, url: string, response: Response, reason?: string): ModelNotFoundError {
  const code = errorCodeHeader(response);
  const hubMessage = response.headers.get('x-error-message');
  const said = hubMessage ? ` The hub said: ${hubMessage}` : '';
  const status = `HTTP ${response.status} for ${displayUrl(url)}`;
  if (response.status === 401 || response.status === 403) {
    const gated =
      code === 'GatedRepo'
        ? ` ${hub.repoId} is gated: accept its conditions on ${hub.endpoint}/${hub.repoId} first.`
        : '';
    return markRecoverable(
      new ModelNotFoundError(
        `Access to ${hub.repoId} was denied (${status}). ` +
          `The repository may be private or gated, or may not exist.${gated} ` +
          `Provide a token of an account that has access: the "token" option, the HF_TOKEN environment variable, ` +
          `or \`huggingface-cli login\`.${said}`,
      ),
    );
  }
  if (code === 'RepoNotFound') {
    return new ModelNotFoundError(
      `Model ${hub.repoId} was not found on ${hub.endpoint} (${status}). Check the repo id.${said}`,
    );
  }
  if (code === 'RevisionNotFound') {
    return new ModelNotFoundError(
      `Revision "${hub.revision}" of ${hub.repoId} was not found on ${hub.endpoint} (${status}).${said}`,
    );
  }
  const error = new ModelNotFoundError(`Could not fetch ${file} of ${hub.repoId}: ${reason ?? status}.${said}`);
  return response.status >= 500 || response.status === 429 ? markRecoverable(error) : error;
}

function missingFiles(hub: Hub, commit: string | undefined, what: string, url?: string): ModelNotFoundError {
  const at = commit ? `revision "${hub.revision}", commit ${commit}` : `revision "${hub.revision}"`;
  return new ModelNotFoundError(
    `Model ${hub.repoId} (${at}) has no ${what} on ${hub.endpoint}${url ? ` (HTTP 404 for ${url})` : ''}. ` +
      'A CrossEncoder model needs config.json, model.safetensors or pytorch_model.bin, and tokenizer.json or vocab.txt.',
  );
}

// ---------------------------------------------------------------------------------------------
// File-system helpers

/** Turns raw file-system errors (unwritable cache, full disk) into a FileSystemError naming the cache. */
async function withCacheErrors<T>(hub: Hub, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    // Only system errors (they carry the failed syscall); anything else is already typed or a bug.
    if (error instanceof CrossEncoderError || typeof (error as { syscall?: unknown })?.syscall !== 'string')
      throw error;
    throw new FileSystemError(`Hugging Face cache ${hub.cacheDir}: ${(error as Error).message}`, { cause: error });
  }
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function isMissing(error: unknown): boolean {
  return ['ENOENT', 'ENOTDIR'].includes(errorCode(error) ?? '');
}

async function statIfExists(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isMissing(error) || errorCode(error) === 'EISDIR') return undefined;
    throw error;
  }
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
