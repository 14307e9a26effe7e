import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, readlink, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join, relative } from 'node:path';

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

import { FileSystemError, InvalidArgumentError, ModelFormatError, ModelNotFoundError } from '../lib/errors.js';
import { downloadModel, hubCacheDir, resolveModelDirectory } from '../lib/hub/index.js';

// ---------------------------------------------------------------------------------------------
// A fake Hugging Face hub: `/resolve/` answers like huggingface.co (X-Repo-Commit, ETag = git
// blob sha1, X-Error-Code on errors), LFS files redirect to a second server on another port (so
// another origin, like the real CDN) that serves them by sha256 with Range support.

interface FakeRepo {
  files: Record<string, Buffer>;
  /** Files stored with LFS: served through the CDN redirect. */
  lfs?: string[];
  /** The repo is gated: this bearer token is required. */
  token?: string;
  /** The repo was renamed: answer with a relative redirect to the new id. */
  renamedTo?: string;
}

interface RecordedRequest {
  server: 'hub' | 'cdn';
  method: string;
  path: string;
  range?: string;
  authorization?: string;
}

const sha1 = (data: Buffer | string) => createHash('sha1').update(data).digest('hex');
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const gitBlobId = (data: Buffer) => sha1(Buffer.concat([Buffer.from(`blob ${data.length}\0`), data]));
const commitOf = (repoId: string) => sha1(`commit of ${repoId}`);

const WEIGHTS = randomBytes(200_000);
const LEGACY_WEIGHTS = randomBytes(50_000);
const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const CONFIG = json({ architectures: ['BertForSequenceClassification'], hidden_size: 4 });
const TOKENIZER = json({ version: '1.0', model: { type: 'WordPiece' } });
const TOKENIZER_CONFIG = json({ do_lower_case: true });
const VOCAB = Buffer.from('[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n');
const DENSE_WEIGHTS = randomBytes(3_000);
const MODULES = json([
  { idx: 0, name: '0', path: '', type: 'sentence_transformers.base.modules.transformer.Transformer' },
  { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.sentence_transformer.modules.pooling.Pooling' },
  { idx: 2, name: '2', path: '2_Dense', type: 'sentence_transformers.base.modules.dense.Dense' },
  { idx: 3, name: '3', path: '3_Legacy', type: 'sentence_transformers.sentence_transformer.modules.layer_norm.LayerNorm' },
  { idx: 4, name: '4', path: '../escape', type: 'sentence_transformers.base.modules.dense.Dense' },
]);

const REPOS: Record<string, FakeRepo> = {
  'org/tiny': {
    files: {
      'config.json': CONFIG,
      'model.safetensors': WEIGHTS,
      'tokenizer.json': TOKENIZER,
      'tokenizer_config.json': TOKENIZER_CONFIG,
      'vocab.txt': VOCAB,
    },
    lfs: ['model.safetensors'],
  },
  'org/legacy': {
    files: { 'config.json': CONFIG, 'pytorch_model.bin': LEGACY_WEIGHTS, 'vocab.txt': VOCAB },
    lfs: ['pytorch_model.bin'],
  },
  'org/gated': {
    files: { 'config.json': CONFIG, 'model.safetensors': WEIGHTS, 'vocab.txt': VOCAB },
    lfs: ['model.safetensors'],
    token: 'hf_secret',
  },
  // Sentence Transformers' modular layout: modules keep their config and weights in sub-folders.
  'org/modular': {
    files: {
      'config.json': CONFIG,
      'model.safetensors': WEIGHTS,
      'tokenizer.json': TOKENIZER,
      'modules.json': MODULES,
      'config_sentence_transformers.json': json({ activation_fn: 'torch.nn.modules.linear.Identity' }),
      'sentence_bert_config.json': json({ transformer_task: 'feature-extraction' }),
      '1_Pooling/config.json': json({ embedding_dimension: 4, pooling_mode: 'cls' }),
      '2_Dense/config.json': json({ in_features: 4, out_features: 1 }),
      '2_Dense/model.safetensors': DENSE_WEIGHTS,
      '3_Legacy/config.json': json({ dimension: 4 }),
      '3_Legacy/pytorch_model.bin': LEGACY_WEIGHTS,
    },
    lfs: ['model.safetensors', '2_Dense/model.safetensors'],
  },
  'old-org/tiny': { files: {}, renamedTo: 'org/tiny' },
  'org/no-weights': { files: { 'config.json': CONFIG, 'vocab.txt': VOCAB } },
  'org/no-tokenizer': { files: { 'config.json': CONFIG, 'model.safetensors': WEIGHTS }, lfs: ['model.safetensors'] },
};

class FakeHub {
  readonly requests: RecordedRequest[] = [];
  /** CDN behaviour, reset before each test. */
  cdn: { ignoreRange: boolean; cutAfter?: number; extraBytes?: number } = { ignoreRange: false };
  /** Regular-file behaviour, reset before each test: no length header anywhere, and the body cut after this many bytes. */
  plain: { unsized?: { cutAfter: number } } = {};
  endpoint = '';
  private cdnOrigin = '';
  private readonly servers = [
    http.createServer((request, response) => this.serveHub(request, response)),
    http.createServer((request, response) => this.serveCdn(request, response)),
  ];

  async start(): Promise<void> {
    const [hubPort, cdnPort] = await Promise.all(this.servers.map(listen));
    this.endpoint = `http://127.0.0.1:${hubPort}`;
    this.cdnOrigin = `http://127.0.0.1:${cdnPort}`;
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((server) => new Promise((done) => server.close(done))));
  }

  hubRequests(): RecordedRequest[] {
    return this.requests.filter((request) => request.server === 'hub');
  }

  cdnRequests(): RecordedRequest[] {
    return this.requests.filter((request) => request.server === 'cdn');
  }

  private record(server: 'hub' | 'cdn', request: http.IncomingMessage): void {
    this.requests.push({
      server,
      method: request.method!,
      path: decodeURIComponent(new URL(request.url!, 'http://x').pathname),
      range: request.headers.range,
      authorization: request.headers.authorization,
    });
  }

  private serveHub(request: http.IncomingMessage, response: http.ServerResponse): void {
    this.record('hub', request);
    const match = /^\/(.+)\/resolve\/([^/]+)\/(.+)$/.exec(new URL(request.url!, 'http://x').pathname);
    const fail = (status: number, headers: Record<string, string> = {}): void =>
      void response.writeHead(status, headers).end();
    if (!match) return fail(404);
    const [, repoId, rawRevision, rawFile] = match as unknown as [string, string, string, string];
    const repo = REPOS[repoId];
    if (!repo) return fail(404, { 'X-Error-Code': 'RepoNotFound', 'X-Error-Message': 'Repository not found' });
    if (repo.renamedTo) return fail(307, { Location: `/${repo.renamedTo}/resolve/${rawRevision}/${rawFile}` });
    if (repo.token && request.headers.authorization !== `Bearer ${repo.token}`) {
      return fail(401, { 'X-Error-Code': 'GatedRepo', 'X-Error-Message': `Access to model ${repoId} is restricted.` });
    }
    const commit = commitOf(repoId);
    const revision = decodeURIComponent(rawRevision);
    if (revision !== 'main' && revision !== commit) return fail(404, { 'X-Error-Code': 'RevisionNotFound' });
    const file = decodeURIComponent(rawFile);
    const content = repo.files[file];
    if (!content) return fail(404, { 'X-Error-Code': 'EntryNotFound', 'X-Repo-Commit': commit });
    if (repo.lfs?.includes(file)) {
      return fail(302, {
        Location: `${this.cdnOrigin}/blobs/${sha256(content)}`,
        'X-Repo-Commit': commit,
        'X-Linked-Etag': `"${sha256(content)}"`,
        'X-Linked-Size': String(content.length),
        ETag: `"${sha1('an LFS pointer file')}"`,
      });
    }
    if (this.plain.unsized) {
      // HTTP/1.0 style: no length, the end of the body is the end of the connection, so a cut
      // connection looks like a complete file.
      const head = `HTTP/1.1 200 OK\r\nX-Repo-Commit: ${commit}\r\nETag: "${gitBlobId(content)}"\r\nConnection: close\r\n\r\n`;
      const body = request.method === 'HEAD' ? Buffer.alloc(0) : content.subarray(0, this.plain.unsized.cutAfter);
      request.socket.end(Buffer.concat([Buffer.from(head), body]));
      return;
    }
    response.writeHead(200, {
      'X-Repo-Commit': commit,
      ETag: `"${gitBlobId(content)}"`,
      'Content-Length': content.length,
    });
    response.end(request.method === 'HEAD' ? undefined : content);
  }

  private serveCdn(request: http.IncomingMessage, response: http.ServerResponse): void {
    this.record('cdn', request);
    const hash = /^\/blobs\/([0-9a-f]{64})$/.exec(request.url!)?.[1];
    const content = Object.values(REPOS)
      .flatMap((repo) => Object.values(repo.files))
      .find((data) => sha256(data) === hash);
    if (!content) return void response.writeHead(404).end();
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
    let start = 0;
    if (range && !this.cdn.ignoreRange) {
      start = Number(range[1]);
      if (start >= content.length)
        return void response.writeHead(416, { 'Content-Range': `bytes */${content.length}` }).end();
      response.writeHead(206, {
        'Content-Range': `bytes ${start}-${content.length - 1}/${content.length}`,
        'Content-Length': content.length - start,
      });
    } else if (this.cdn.extraBytes !== undefined) {
      // No length on the reply (chunked), and more bytes than X-Linked-Size declared.
      response.writeHead(200);
      return void response.end(Buffer.concat([content, Buffer.alloc(this.cdn.extraBytes, 1)]));
    } else {
      response.writeHead(200, { 'Content-Length': content.length });
    }
    const body = content.subarray(start);
    const cutAfter = this.cdn.cutAfter;
    if (cutAfter === undefined) return void response.end(body);
    // Simulate a dropped connection once: send part of the body, then kill the socket.
    this.cdn.cutAfter = undefined;
    response.write(body.subarray(0, cutAfter), () => response.socket?.destroy());
  }
}

function listen(server: http.Server): Promise<number> {
  return new Promise((done) => server.listen(0, '127.0.0.1', () => done((server.address() as AddressInfo).port)));
}

/** A URL on which nothing listens: a server is started to get a free port, then closed. */
async function deadEndpoint(): Promise<string> {
  const server = http.createServer();
  const port = await listen(server);
  await new Promise((done) => server.close(done));
  return `http://127.0.0.1:${port}`;
}

// ---------------------------------------------------------------------------------------------

const hub = new FakeHub();
let work: string;
let cacheDir: string;

beforeAll(() => hub.start());
afterAll(() => hub.close());

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'tce-hub-'));
  cacheDir = join(work, 'cache');
  hub.requests.length = 0;
  hub.cdn = { ignoreRange: false };
  hub.plain = {};
  // Isolate from the machine: no real token, cache or offline setting may leak into a test.
  for (const name of [
    'HF_HUB_OFFLINE',
    'TRANSFORMERS_OFFLINE',
    'HF_TOKEN',
    'HUGGING_FACE_HUB_TOKEN',
    'HF_TOKEN_PATH',
    'HF_ENDPOINT',
    'HF_HUB_CACHE',
    'HUGGINGFACE_HUB_CACHE',
    'XDG_CACHE_HOME',
  ]) {
    vi.stubEnv(name, '');
  }
  vi.stubEnv('HF_HOME', join(work, 'hf-home'));
});

afterEach(async () => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  await rm(work, { recursive: true, force: true });
});

const options = (extra: Record<string, unknown> = {}) => ({
  cacheDir,
  endpoint: hub.endpoint,
  showProgress: false,
  ...extra,
});
const repoDir = (repoId: string) => join(cacheDir, `models--${repoId.replace('/', '--')}`);
const blobPath = (repoId: string, content: Buffer) => join(repoDir(repoId), 'blobs', sha256(content));

async function expectRejection(
  promise: Promise<unknown>,
  type: new (...args: never[]) => Error,
  ...patterns: RegExp[]
) {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(type);
  for (const pattern of patterns) expect((error as Error).message).toMatch(pattern);
  return error as Error;
}

describe('downloadModel', () => {
  it('lays the files out like huggingface_hub: blobs, relative symlinks, refs and .no_exist', async () => {
    const dir = await downloadModel('org/tiny', options({ token: 'hf_user' }));
    const commit = commitOf('org/tiny');
    expect(dir).toBe(join(repoDir('org/tiny'), 'snapshots', commit));
    expect(await readFile(join(repoDir('org/tiny'), 'refs', 'main'), 'utf8')).toBe(commit);

    const repo = REPOS['org/tiny']!;
    for (const [file, content] of Object.entries(repo.files)) {
      const etag = repo.lfs?.includes(file) ? sha256(content) : gitBlobId(content);
      expect((await lstat(join(dir, file))).isSymbolicLink()).toBe(true);
      expect(await readlink(join(dir, file))).toBe(`../../blobs/${etag}`);
      expect((await readFile(join(dir, file))).equals(content)).toBe(true);
    }
    expect(existsSync(join(repoDir('org/tiny'), '.no_exist', commit, 'special_tokens_map.json'))).toBe(true);
    expect((await readdir(join(repoDir('org/tiny'), 'blobs'))).some((name) => name.includes('.'))).toBe(false);
    expect((await readdir(dir)).sort()).toEqual(Object.keys(repo.files).sort());

    // Only config.json is asked at the branch; the rest at the commit it resolved to.
    const heads = hub.hubRequests().filter((request) => request.method === 'HEAD');
    expect(heads[0]!.path).toBe('/org/tiny/resolve/main/config.json');
    expect(heads.slice(1).every((request) => request.path.includes(`/resolve/${commit}/`))).toBe(true);
    // safetensors exists, so pickle weights are never asked for.
    expect(hub.requests.some((request) => request.path.endsWith('pytorch_model.bin'))).toBe(false);
    // The token goes to the hub, never to the CDN's pre-signed URLs.
    expect(hub.hubRequests().every((request) => request.authorization === 'Bearer hf_user')).toBe(true);
    expect(hub.cdnRequests()).toHaveLength(1);
    expect(hub.cdnRequests()[0]!.authorization).toBeUndefined();
  });

  it('asks only which commit the branch is at when everything is cached', async () => {
    await downloadModel('org/tiny', options());
    hub.requests.length = 0;
    await downloadModel('org/tiny', options());
    expect(hub.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      'HEAD /org/tiny/resolve/main/config.json',
    ]);
  });

  it('falls back to pytorch_model.bin when the repo has no model.safetensors', async () => {
    const dir = await downloadModel('org/legacy', options());
    const commit = commitOf('org/legacy');
    expect((await readFile(join(dir, 'pytorch_model.bin'))).equals(LEGACY_WEIGHTS)).toBe(true);
    expect(existsSync(join(dir, 'model.safetensors'))).toBe(false);
    for (const file of ['model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
      expect(existsSync(join(repoDir('org/legacy'), '.no_exist', commit, file))).toBe(true);
    }
    // The recorded absences make the cache complete: no request the second time.
    hub.requests.length = 0;
    expect(await resolveModelDirectory('org/legacy', options())).toBe(dir);
    expect(hub.requests).toEqual([]);
  });

  it('follows a same-host redirect of a renamed repo and caches under the requested id', async () => {
    const dir = await downloadModel('old-org/tiny', options());
    expect(dir).toBe(join(repoDir('old-org/tiny'), 'snapshots', commitOf('org/tiny')));
    expect((await readFile(join(dir, 'model.safetensors'))).equals(WEIGHTS)).toBe(true);
  });

  it('shows per-file byte progress on stderr', async () => {
    const writes: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    await downloadModel('org/tiny', options({ showProgress: true }));
    expect(writes.some((line) => line.includes('model.safetensors') && line.includes('200.0/200.0 kB 100%'))).toBe(
      true,
    );
  });

  it('handles two concurrent downloads of the same model', async () => {
    const [a, b] = await Promise.all([downloadModel('org/tiny', options()), downloadModel('org/tiny', options())]);
    expect(a).toBe(b);
    expect((await readFile(join(a, 'model.safetensors'))).equals(WEIGHTS)).toBe(true);
    expect((await readdir(join(repoDir('org/tiny'), 'blobs'))).some((name) => name.includes('.'))).toBe(false);
  });
});

describe('resuming downloads', () => {
  const partialPath = () => `${blobPath('org/tiny', WEIGHTS)}.incomplete`;
  async function writePartial(content: Buffer): Promise<void> {
    await mkdir(join(repoDir('org/tiny'), 'blobs'), { recursive: true });
    await writeFile(partialPath(), content);
  }
  const weightRequests = () => hub.cdnRequests().filter((request) => request.method === 'GET');

  it('resumes from a partial .incomplete file with a Range request', async () => {
    await writePartial(WEIGHTS.subarray(0, 70_000));
    const dir = await downloadModel('org/tiny', options());
    expect(weightRequests().map((request) => request.range)).toEqual(['bytes=70000-']);
    expect((await readFile(join(dir, 'model.safetensors'))).equals(WEIGHTS)).toBe(true);
    expect(existsSync(partialPath())).toBe(false);
  });

  it('restarts from the beginning when the server ignores the Range header', async () => {
    hub.cdn.ignoreRange = true;
    await writePartial(Buffer.alloc(150_000, 7)); // wrong bytes: must all be overwritten
    const dir = await downloadModel('org/tiny', options());
    expect(weightRequests().map((request) => request.range)).toEqual(['bytes=150000-']);
    expect((await readFile(join(dir, 'model.safetensors'))).equals(WEIGHTS)).toBe(true);
  });

  it('starts over without Range when the partial file is longer than the file', async () => {
    await writePartial(Buffer.alloc(WEIGHTS.length + 10, 7));
    const dir = await downloadModel('org/tiny', options());
    expect(weightRequests().map((request) => request.range)).toEqual([undefined]);
    expect((await readFile(join(dir, 'model.safetensors'))).equals(WEIGHTS)).toBe(true);
  });

  it('resumes after a dropped connection', async () => {
    hub.cdn.cutAfter = 100_000;
    await expectRejection(downloadModel('org/tiny', options()), ModelNotFoundError, /interrupted/, /resumes/);
    const kept = (await readFile(partialPath())).length;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(WEIGHTS.length);

    const dir = await downloadModel('org/tiny', options());
    expect(weightRequests().at(-1)!.range).toBe(`bytes=${kept}-`);
    expect((await readFile(join(dir, 'model.safetensors'))).equals(WEIGHTS)).toBe(true);
  });

  it('rejects and removes a resumed file whose sha256 does not match, then succeeds on retry', async () => {
    await writePartial(Buffer.alloc(70_000, 7));
    await expectRejection(downloadModel('org/tiny', options()), ModelFormatError, /checksum/, /model\.safetensors/);
    expect(existsSync(partialPath())).toBe(false);
    expect(existsSync(blobPath('org/tiny', WEIGHTS))).toBe(false);
    const dir = await downloadModel('org/tiny', options());
    expect((await readFile(join(dir, 'model.safetensors'))).equals(WEIGHTS)).toBe(true);
  });
});

describe('downloads that cannot be trusted', () => {
  it('does not cache a regular file cut short when no length was declared: its git blob id is checked', async () => {
    hub.plain.unsized = { cutAfter: 10 };
    await expectRejection(downloadModel('org/tiny', options()), ModelFormatError, /checksum/, /git blob id/, /config\.json/);
    const blobs = await readdir(join(repoDir('org/tiny'), 'blobs'));
    expect(blobs.filter((name) => name === gitBlobId(CONFIG) || name.endsWith('.incomplete'))).toEqual([]);

    hub.plain.unsized = { cutAfter: Number.MAX_SAFE_INTEGER }; // whole files, still without a length
    const dir = await downloadModel('org/tiny', options());
    expect((await readFile(join(dir, 'config.json'))).equals(CONFIG)).toBe(true);
  });

  it('stops a reply that sends more than the declared size, and keeps nothing of it', async () => {
    hub.cdn.extraBytes = 5_000_000;
    await expectRejection(downloadModel('org/tiny', options()), ModelFormatError, /sent more than the 200000 bytes declared/);
    expect(existsSync(blobPath('org/tiny', WEIGHTS))).toBe(false);
    expect(existsSync(`${blobPath('org/tiny', WEIGHTS)}.incomplete`)).toBe(false);
  });

  it('refuses to write through a symlink planted as the partial file', async () => {
    const victim = join(work, 'victim.txt');
    await writeFile(victim, 'keep me');
    await mkdir(join(repoDir('org/tiny'), 'blobs'), { recursive: true });
    await symlink(victim, `${blobPath('org/tiny', WEIGHTS)}.incomplete`);
    await expectRejection(downloadModel('org/tiny', options()), ModelFormatError, /is a symlink/);
    expect(await readFile(victim, 'utf8')).toBe('keep me');
  });

  it('does not take a symlink planted as a blob for the blob', async () => {
    const outside = join(work, 'outside.bin');
    await writeFile(outside, Buffer.alloc(WEIGHTS.length, 9)); // the right size, the wrong bytes
    await mkdir(join(repoDir('org/tiny'), 'blobs'), { recursive: true });
    await symlink(outside, blobPath('org/tiny', WEIGHTS));
    const dir = await downloadModel('org/tiny', options());
    expect((await lstat(blobPath('org/tiny', WEIGHTS))).isFile()).toBe(true);
    expect((await readFile(join(dir, 'model.safetensors'))).equals(WEIGHTS)).toBe(true);
    expect((await readFile(outside)).equals(Buffer.alloc(WEIGHTS.length, 9))).toBe(true);
  });
});

describe('resolveModelDirectory', () => {
  it('uses a complete cached snapshot without any request', async () => {
    const first = await resolveModelDirectory('org/tiny', options());
    expect(hub.requests.length).toBeGreaterThan(0);
    hub.requests.length = 0;
    expect(await resolveModelDirectory('org/tiny', options())).toBe(first);
    expect(hub.requests).toEqual([]);
  });

  it('fetches only the files missing from the cached snapshot', async () => {
    const dir = await resolveModelDirectory('org/tiny', options());
    const commit = commitOf('org/tiny');
    const requests = () => hub.requests.map((request) => `${request.method} ${request.path}`);

    // Pointer gone, blob still there: one HEAD to learn the etag, then only a new symlink.
    await rm(join(dir, 'tokenizer_config.json'));
    hub.requests.length = 0;
    expect(await resolveModelDirectory('org/tiny', options())).toBe(dir);
    expect(requests()).toEqual([
      'HEAD /org/tiny/resolve/main/config.json',
      `HEAD /org/tiny/resolve/${commit}/tokenizer_config.json`,
    ]);
    expect((await readFile(join(dir, 'tokenizer_config.json'))).equals(TOKENIZER_CONFIG)).toBe(true);

    // Blob gone too: downloaded again.
    await rm(join(dir, 'tokenizer_config.json'));
    await rm(join(repoDir('org/tiny'), 'blobs', gitBlobId(TOKENIZER_CONFIG)));
    hub.requests.length = 0;
    expect(await resolveModelDirectory('org/tiny', options())).toBe(dir);
    expect(requests()).toEqual([
      'HEAD /org/tiny/resolve/main/config.json',
      `HEAD /org/tiny/resolve/${commit}/tokenizer_config.json`,
      `GET /org/tiny/resolve/${commit}/tokenizer_config.json`,
    ]);
    expect((await readFile(join(dir, 'tokenizer_config.json'))).equals(TOKENIZER_CONFIG)).toBe(true);
  });

  it("fetches a modular model's module folders (config and weights, safetensors before .bin) and then needs no request", async () => {
    const dir = await resolveModelDirectory('org/modular', options());
    for (const [file, content] of Object.entries(REPOS['org/modular']!.files)) {
      expect((await readFile(join(dir, file))).equals(content), file).toBe(true);
    }
    const asked = hub.hubRequests().map((request) => request.path);
    // 2_Dense has safetensors, so its .bin is never asked for; 1_Pooling has no weights: a HEAD
    // and a GET of its config, a HEAD of each weight format (then recorded in .no_exist).
    expect(asked.some((path) => path.endsWith('2_Dense/pytorch_model.bin'))).toBe(false);
    expect(asked.filter((path) => path.includes('1_Pooling/'))).toHaveLength(4);
    // A module path that leaves the repo is never requested.
    expect(asked.some((path) => path.includes('escape'))).toBe(false);
    hub.requests.length = 0;
    expect(await resolveModelDirectory('org/modular', options())).toBe(dir);
    expect(hub.requests).toEqual([]);
  });

  it('resolves a commit-hash revision straight to snapshots/{hash}', async () => {
    const commit = commitOf('org/tiny');
    const dir = await resolveModelDirectory('org/tiny', options({ revision: commit }));
    expect(dir).toBe(join(repoDir('org/tiny'), 'snapshots', commit));
    expect(existsSync(join(repoDir('org/tiny'), 'refs'))).toBe(false);
    expect(hub.hubRequests().every((request) => request.path.includes(`/resolve/${commit}/`))).toBe(true);

    hub.requests.length = 0;
    vi.stubEnv('HF_HUB_OFFLINE', '1');
    expect(await resolveModelDirectory('org/tiny', options({ revision: commit }))).toBe(dir);
    expect(hub.requests).toEqual([]);
  });

  it('names an unknown repo, revision or required file', async () => {
    await expectRejection(
      resolveModelDirectory('org/missing', options()),
      ModelNotFoundError,
      /org\/missing was not found/,
    );
    await expectRejection(
      resolveModelDirectory('org/tiny', options({ revision: 'nope' })),
      ModelNotFoundError,
      /Revision "nope" of org\/tiny was not found/,
    );
    await expectRejection(
      resolveModelDirectory('org/no-weights', options()),
      ModelNotFoundError,
      /org\/no-weights .* has no model\.safetensors or pytorch_model\.bin/,
    );
    await expectRejection(
      resolveModelDirectory('org/no-tokenizer', options()),
      ModelNotFoundError,
      /org\/no-tokenizer .* has no tokenizer\.json or vocab\.txt/,
    );
  });

  it('explains a 401 from a gated or private repo, and sends the token from each source', async () => {
    await expectRejection(
      resolveModelDirectory('org/gated', options()),
      ModelNotFoundError,
      /denied \(HTTP 401/,
      /gated/,
      /private/,
      /HF_TOKEN/,
    );

    expect(await resolveModelDirectory('org/gated', options({ token: 'hf_secret' }))).toContain('models--org--gated');

    cacheDir = join(work, 'cache-env');
    vi.stubEnv('HF_TOKEN', 'hf_secret');
    expect(await resolveModelDirectory('org/gated', options())).toContain(cacheDir);

    cacheDir = join(work, 'cache-file');
    vi.stubEnv('HF_TOKEN', '');
    await mkdir(join(work, 'hf-home'), { recursive: true });
    await writeFile(join(work, 'hf-home', 'token'), 'hf_secret\n');
    expect(await resolveModelDirectory('org/gated', options())).toContain(cacheDir);
  });

  it('says the hub is unreachable and how to work offline', async () => {
    const endpoint = await deadEndpoint();
    const error = await expectRejection(
      resolveModelDirectory('org/tiny', options({ endpoint })),
      ModelNotFoundError,
      /Could not reach the Hugging Face hub at http:\/\/127\.0\.0\.1:\d+ to fetch config\.json of org\/tiny \(ECONNREFUSED\)/,
      /local model directory/,
      /HF_HUB_OFFLINE=1/,
    );
    expect(error.message).toContain(cacheDir);
  });

  it('gives up on a hub that does not answer within HF_HUB_ETAG_TIMEOUT', async () => {
    const silent = http.createServer(() => {}); // accepts the request, never answers
    const endpoint = `http://127.0.0.1:${await listen(silent)}`;
    vi.stubEnv('HF_HUB_ETAG_TIMEOUT', '0.2');
    try {
      await expectRejection(
        resolveModelDirectory('org/tiny', options({ endpoint })),
        ModelNotFoundError,
        /Could not reach .* \(timed out\)/,
      );
    } finally {
      silent.closeAllConnections();
      await new Promise((done) => silent.close(done));
    }
  });

  it('reports a cache directory that cannot be written as a FileSystemError naming it', async () => {
    await writeFile(join(work, 'not-a-dir'), '');
    cacheDir = join(work, 'not-a-dir', 'cache');
    await expectRejection(
      resolveModelDirectory('org/tiny', options()),
      FileSystemError,
      new RegExp(escape(cacheDir)),
      /ENOTDIR/,
    );
  });

  it('falls back to a cached snapshot with the required files when the hub is unreachable', async () => {
    const dir = await resolveModelDirectory('org/tiny', options());
    await rm(join(dir, 'tokenizer_config.json'));
    const endpoint = await deadEndpoint();
    expect(await resolveModelDirectory('org/tiny', options({ endpoint }))).toBe(dir);
    // An explicit download does not pretend it checked the hub.
    await expectRejection(downloadModel('org/tiny', options({ endpoint })), ModelNotFoundError, /Could not reach/);
  });
});

describe('offline mode', () => {
  it.each(['1', 'true', 'YES'])('HF_HUB_OFFLINE=%s uses the cache and never the network', async (value) => {
    const dir = await resolveModelDirectory('org/tiny', options());
    await rm(join(dir, 'tokenizer_config.json')); // optional: not needed offline
    hub.requests.length = 0;
    vi.stubEnv('HF_HUB_OFFLINE', value);
    expect(await resolveModelDirectory('org/tiny', options())).toBe(dir);
    expect(await downloadModel('org/tiny', options())).toBe(dir);
    expect(hub.requests).toEqual([]);
  });

  it('localFilesOnly names the cache path and the missing files', async () => {
    const dir = await resolveModelDirectory('org/tiny', options());
    await rm(join(dir, 'model.safetensors'));
    await rm(join(dir, 'vocab.txt'));
    hub.requests.length = 0;
    await expectRejection(
      resolveModelDirectory('org/tiny', options({ localFilesOnly: true })),
      ModelNotFoundError,
      new RegExp(`${escape(dir)} lacks model\\.safetensors or pytorch_model\\.bin, and localFilesOnly is set`),
    );
    await rm(join(dir, 'tokenizer.json'));
    await expectRejection(
      resolveModelDirectory('org/tiny', options({ localFilesOnly: true })),
      ModelNotFoundError,
      /lacks model\.safetensors or pytorch_model\.bin, tokenizer\.json or vocab\.txt/,
    );
    expect(hub.requests).toEqual([]);
  });

  it('names the refs file looked at when the repo is not cached', async () => {
    vi.stubEnv('HF_HUB_OFFLINE', '1');
    await expectRejection(
      resolveModelDirectory('org/tiny', options()),
      ModelNotFoundError,
      new RegExp(
        `org/tiny \\(revision "main"\\) is not in the Hugging Face cache: ${escape(join(repoDir('org/tiny'), 'refs', 'main'))}`,
      ),
      /HF_HUB_OFFLINE/,
    );
    expect(hub.requests).toEqual([]);
  });
});

describe('names and paths', () => {
  it('returns an existing directory as is, absolute', async () => {
    const model = join(work, 'my-model');
    await mkdir(model);
    expect(await resolveModelDirectory(model)).toBe(model);
    expect(await resolveModelDirectory(`./${relative(process.cwd(), model)}`)).toBe(model);
    expect(hub.requests).toEqual([]);
  });

  it('rejects a path that is not a directory', async () => {
    await expectRejection(resolveModelDirectory(join(work, 'absent')), ModelNotFoundError, /No such directory/);
    await expectRejection(resolveModelDirectory('./absent-model-dir'), ModelNotFoundError, /No such directory/);
    await writeFile(join(work, 'file'), '');
    await expectRejection(resolveModelDirectory(join(work, 'file')), ModelNotFoundError, /is not a directory/);
  });

  it.each(['not a repo', 'a/b/c', 'org--x/name', 'org/na..me', '-org/name', 'org/name.', '', `org/${'x'.repeat(100)}`])(
    'rejects the invalid repo id %j',
    async (name) => {
      await expectRejection(resolveModelDirectory(name, options()), InvalidArgumentError);
      if (name !== '')
        await expectRejection(downloadModel(name, options()), InvalidArgumentError, /not a valid Hugging Face repo id/);
    },
  );

  it('rejects malformed options', async () => {
    await expectRejection(
      resolveModelDirectory('org/tiny', options({ revision: '../../etc' })),
      InvalidArgumentError,
      /revision/,
    );
    await expectRejection(
      resolveModelDirectory('org/tiny', options({ endpoint: 'ftp://example.com' })),
      InvalidArgumentError,
      /endpoint/,
    );
    await expectRejection(
      resolveModelDirectory('org/tiny', options({ cacheDir: '' })),
      InvalidArgumentError,
      /cacheDir/,
    );
  });
});

describe('hubCacheDir', () => {
  it('follows huggingface_hub: option, HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME, ~/.cache', () => {
    vi.stubEnv('HF_HOME', '');
    expect(hubCacheDir()).toBe(join(homedir(), '.cache', 'huggingface', 'hub'));
    vi.stubEnv('XDG_CACHE_HOME', '/xdg');
    expect(hubCacheDir()).toBe('/xdg/huggingface/hub');
    vi.stubEnv('HF_HOME', '/hf-home');
    expect(hubCacheDir()).toBe('/hf-home/hub');
    vi.stubEnv('HUGGINGFACE_HUB_CACHE', '/legacy-cache');
    expect(hubCacheDir()).toBe('/legacy-cache');
    vi.stubEnv('HF_HUB_CACHE', '~/hub-cache');
    expect(hubCacheDir()).toBe(join(homedir(), 'hub-cache'));
    vi.stubEnv('HF_HUB_CACHE', '$HF_HOME/other');
    expect(hubCacheDir()).toBe('/hf-home/other');
    expect(hubCacheDir({ cacheDir: '/explicit' })).toBe('/explicit');
  });

  it('is where downloads go when no cacheDir is given', async () => {
    vi.stubEnv('HF_HUB_CACHE', join(work, 'env-cache'));
    const dir = await resolveModelDirectory('org/tiny', { endpoint: hub.endpoint, showProgress: false });
    expect(dir).toBe(join(work, 'env-cache', 'models--org--tiny', 'snapshots', commitOf('org/tiny')));

    vi.stubEnv('HF_HUB_CACHE', '');
    vi.stubEnv('HF_ENDPOINT', hub.endpoint);
    const viaHome = await resolveModelDirectory('org/tiny', { showProgress: false });
    expect(viaHome).toBe(join(work, 'hf-home', 'hub', 'models--org--tiny', 'snapshots', commitOf('org/tiny')));
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
