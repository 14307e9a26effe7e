/**
 * Names, options and environment: which repo and revision are meant, where the cache is, which
 * endpoint and token to use, resolved from the options and the same environment variables
 * `huggingface_hub` reads.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

import { InvalidArgumentError, ModelNotFoundError } from '../errors.js';

import { readIfExists, statIfExists } from './fs-helpers.js';

/** Options shared by `resolveModelDirectory` and `downloadModel` (see `./index.ts`). */
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
export const COMMIT_HASH = /^[0-9a-f]{40}$/;
const TRUE_VALUES = new Set(['1', 'ON', 'YES', 'TRUE']);

/**
 * The hub cache root, resolved like `huggingface_hub`: the `cacheDir` option, else `HF_HUB_CACHE`
 * (or the legacy `HUGGINGFACE_HUB_CACHE`), else `$HF_HOME/hub`, else
 * `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`. Always absolute.
 */
export function hubCacheDir(options: Pick<HubOptions, 'cacheDir'> = {}): string {
  const configured = options.cacheDir ?? env('HF_HUB_CACHE') ?? env('HUGGINGFACE_HUB_CACHE');
  return resolve(configured !== undefined ? expandPath(configured) : join(hfHome(), 'hub'));
}

/** A repo request with every option and environment variable resolved: what the cache and the download work from. */
export interface Hub {
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

export const REPO_ID_RULES =
  '("org/name" or "name": letters, digits, "-", "_" and "."; no "--" or ".."; each part starts and ends ' +
  'with a letter or digit; at most 96 characters)';

/** Same rules as `huggingface_hub.utils.validate_repo_id`. */
export function isRepoId(value: string): boolean {
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

export async function localModelDirectory(nameOrPath: string): Promise<string | undefined> {
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

export function hubFor(repoId: string, options: HubOptions): Hub {
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
export function env(name: string): string | undefined {
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
export async function findToken(): Promise<string | undefined> {
  const fromEnv = env('HF_TOKEN') ?? env('HUGGING_FACE_HUB_TOKEN');
  if (fromEnv !== undefined) return fromEnv.trim();
  const file = expandPath(env('HF_TOKEN_PATH') ?? join(hfHome(), 'token'));
  const text = await readIfExists(file);
  return text?.trim() || undefined;
}
