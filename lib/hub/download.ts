/**
 * Downloading a snapshot from the hub: the revision is pinned to one commit, then each model file
 * is looked up with a HEAD on `/resolve/` and its blob fetched (resumed from a partial file,
 * checked against its size and sha256) into the cache. Failures become typed errors that say what
 * to do, and those after which a cached snapshot may still be used are marked recoverable.
 */
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { ModelFormatError, ModelNotFoundError } from '../errors.js';
import { MODEL_FILE, moduleFolders, SENTENCE_TRANSFORMERS_FILES, TOKENIZER_FILES, VOCABULARY_FILES, WEIGHT_FILES } from '../model-files.js';
import { createProgress } from '../progress.js';

import { SAFE_SEGMENT, linkPointer, noExistPath, recordAbsent, snapshotDir, writeRef } from './cache.js';
import { errorCode, hashFile, isMissing, lstatIfExists, readIfExists, statIfExists } from './fs-helpers.js';
import { COMMIT_HASH, env, findToken, type Hub } from './repo.js';

/** LFS files have the sha256 of their content as etag, which lets us verify a (resumed) download. */
const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Regular (non-LFS) files have the git blob id of their content as etag: sha1 of `blob {size}\0` + content. */
const GIT_SHA1_HEX = /^[0-9a-f]{40}$/;
const MAX_RELATIVE_REDIRECTS = 5;

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

/** Whether a cached snapshot may be used instead of failing with `error`. */
export function isRecoverable(error: unknown): boolean {
  return recoverable.has(error as Error);
}

export async function fetchSnapshot(hub: Hub): Promise<string> {
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
  for (const file of SENTENCE_TRANSFORMERS_FILES) await fetchFile(file);
  // A modular model's modules keep their config and weights in sub-folders.
  const modules = await readIfExists(join(snapshotDir(hub, commit), MODEL_FILE.modules));
  for (const folder of modules === undefined ? [] : moduleFolders(modules)) {
    await fetchFile(`${folder}/${MODEL_FILE.config}`);
    let weights = false;
    for (const file of WEIGHT_FILES) if (!weights) weights = await fetchFile(`${folder}/${file}`);
  }
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
  // Sub-folder files (a module's `2_Dense/model.safetensors`) keep their slashes.
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${hub.endpoint}/${hub.repoId}/resolve/${encodeURIComponent(revision)}/${path}`;
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
  const what = `${file} of ${session.hub.repoId}`;
  await mkdir(dirname(blob), { recursive: true });
  const handle = await openPartial(partial, what);
  let body: { end: number; size?: number };
  try {
    const kept = (await handle.stat()).size;
    const start = metadata.size !== undefined && kept > metadata.size ? 0 : kept;
    body = metadata.size === undefined || start < metadata.size ? await fetchBody(session, metadata, handle, start, file) : { end: start, size: metadata.size };
    // A restarted download may be shorter than a stale partial file was.
    await handle.truncate(body.end);
  } catch (error) {
    if (error instanceof ModelFormatError) await rm(partial, { force: true });
    throw error;
  } finally {
    await handle.close();
  }
  const { end, size } = body;
  if (size !== undefined && end !== size) {
    throw markRecoverable(
      new ModelNotFoundError(
        `Downloading ${what} from ${displayUrl(metadata.location)} ended after ${end} of ${size} bytes; ` +
          `the partial file ${partial} is kept and the next attempt resumes from it.`,
      ),
    );
  }
  try {
    // With no size declared anywhere, only the etag can tell a complete file from a cut one.
    await verifyChecksum(partial, metadata.etag, what, size === undefined);
    await rename(partial, blob);
  } catch (error) {
    // Another download of the same blob (a parallel call or process) finished and renamed it first.
    if (isMissing(error) && (await hasBlob(blob, metadata.size))) return;
    throw error;
  }
}

/**
 * LFS etags are the sha256 of the content: checked always, as a resumed download could mix two
 * versions. A regular file's etag is its git blob id (sha1 of `blob {size}\0` + content), as
 * huggingface.co sends it; it is checked when `sizeUnknown`, since a reply with no length that
 * breaks off early would otherwise be taken for the whole file. (With a size, the size check is
 * kept as huggingface_hub does, so a mirror with other etags still works.)
 */
async function verifyChecksum(path: string, etag: string, what: string, sizeUnknown: boolean): Promise<void> {
  let kind: string;
  let actual: string;
  if (SHA256_HEX.test(etag)) {
    kind = 'sha256';
    actual = await hashFile('sha256', path);
  } else if (sizeUnknown && GIT_SHA1_HEX.test(etag)) {
    kind = 'git blob id';
    const { size } = (await lstatIfExists(path))!;
    actual = await hashFile('sha1', path, `blob ${size}\0`);
  } else {
    return;
  }
  if (actual === etag) return;
  await rm(path, { force: true });
  throw new ModelFormatError(
    `The downloaded ${what} does not match its checksum (${kind} ${actual}, expected ${etag}); ` +
      'the corrupt file was removed, try again.',
  );
}

/** A complete blob is a regular file of the right size; a symlink planted in the cache is not one. */
async function hasBlob(blob: string, size: number | undefined): Promise<boolean> {
  const info = await lstatIfExists(blob);
  return info !== undefined && info.isFile() && (size === undefined || info.size === size);
}

/** Opens (or creates) the partial download, refusing to follow a symlink put in its place. */
async function openPartial(partial: string, what: string): Promise<FileHandle> {
  try {
    return await open(partial, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW);
  } catch (error) {
    if (errorCode(error) !== 'ELOOP') throw error;
    throw new ModelFormatError(
      `Refusing to download ${what}: ${partial} is a symlink, which the cache never creates there; remove it and try again.`,
      { cause: error },
    );
  }
}

/**
 * GETs the file from `offset` on and writes it into `handle`; returns the end offset and the
 * file's size as declared (by the HEAD reply, else this reply's Content-Length or Content-Range).
 * A reply that sends more than it declared is cut off with an error, so it cannot fill the disk.
 */
async function fetchBody(
  session: Session,
  metadata: FileMetadata & { found: true },
  handle: FileHandle,
  offset: number,
  file: string,
): Promise<{ end: number; size?: number }> {
  const { hub } = session;
  const sameHost = new URL(metadata.location).origin === new URL(hub.endpoint).origin;
  const headers = { ...(sameHost ? session.headers : session.anonymousHeaders) };
  if (offset > 0) headers['Range'] = `bytes=${offset}-`;
  const response = await send(session, metadata.location, file, { headers });
  let start = offset;
  let declared = metadata.size;
  if (response.status === 206) {
    const [, rangeStart, rangeTotal] = /^bytes (\d+)-\d+\/(\d+)/.exec(response.headers.get('content-range') ?? '') ?? [];
    declared ??= safeSize(rangeTotal);
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
    declared ??= safeSize(response.headers.get('content-length') ?? undefined);
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
      if (declared !== undefined && position + chunk.length > declared) {
        await response.body?.cancel().catch(() => {});
        throw new ModelFormatError(
          `${displayUrl(metadata.location)} sent more than the ${declared} bytes declared for ${file} of ${hub.repoId}; ` +
            'the download was stopped and its partial file removed.',
        );
      }
      writing = true;
      await handle.write(chunk, 0, chunk.length, position);
      writing = false;
      position += chunk.length;
      progress.update(position);
    }
  } catch (error) {
    // A disk error (full disk…) is reported as such by withCacheErrors; an oversized reply as itself.
    if (writing || error instanceof ModelFormatError) throw error;
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
  return { end: position, size: declared };
}

function safeSize(text: string | undefined): number | undefined {
  const size = Number.parseInt(text ?? '', 10);
  return Number.isSafeInteger(size) && size >= 0 ? size : undefined;
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
