/**
 * Every ```ts and ```js block of README.md runs as written, and prints what its comments claim.
 *
 * How a block runs: it is written to `block.mts` in a fresh working directory under test/.tmp
 * (files it writes land there; packages resolve from the package's node_modules), with `from 'torch-crossencoder'` pointed at lib/index.ts, and run by Node with tsx,
 * offline (`HF_HUB_OFFLINE=1`) and with `HF_HUB_CACHE` set to a Hugging Face cache built here:
 * the hub ids the README uses resolve, through the cache layout (`models--org--name/snapshots/
 * <commit>/` and `refs/main`), to a generated stand-in model. The stand-in is the tiny test model
 * fine-tuned on the README's examples (so it ranks their relevant documents first) and saved with
 * an Identity activation, as the MS MARCO models are. The block must exit with status 0.
 *
 * Claims: a `console.log(x); // claim` line claims what x is. The claim is read as a value in
 * the notation Node prints (`Float32Array(2) [ 8.607, -4.32 ]`, `[ { corpusId: 0, text: 'Berlin…' }, … ]`,
 * `'AbortError'`), and anything after the value (`: the model card's logits`) is commentary.
 * Checked exactly: types, lengths, object keys, integers, strings (a string ending in `…` is a
 * prefix), booleans. Not checked: numbers with a fraction, which are the hub model's and which
 * the stand-in cannot reproduce (any finite number passes), and `…`, which stands for any value
 * (as an array's last element: any number of further elements). Each console.log must run once.
 *
 * Markers, an HTML comment on the line before the fence:
 * - `<!-- not run: reason -->`: the block cannot run here (it needs a server, a network, …). It
 *   is listed as a skipped test with its reason; an unmarked block that cannot run fails.
 * - `<!-- readme-test: setup=NAME -->`: SETUPS[NAME] prepares the working directory (and may
 *   add environment variables) before the block runs, e.g. the files it reads. A block that
 *   needs a running service (the Serve examples) can get one the same way: add a setup that
 *   starts it and puts its URL in the environment.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CrossEncoder, CrossEncoderTrainer, createRerankServer, DEFAULT_MODEL, type RerankServer } from '../lib/index.js';

import { testModel } from './helpers/models.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const README = path.join(ROOT, 'README.md');
const PRELOAD = pathToFileURL(path.join(ROOT, 'test/helpers/readme-console.mjs')).href;
// The blocks run outside the package, so tsx is named by its location.
const TSX = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const LIBRARY = pathToFileURL(path.join(ROOT, 'lib/index.ts')).href;
const COMMIT = '5a6fb2f1a3a6b7c8d9e0f11223344556677889aa';

// The README's examples: the stand-in learns that these documents answer these queries.
const BERLIN = 'How many people live in Berlin?';
const PASSWORD = 'How do I reset a user password?';
const EXAMPLES = [
  { query: BERLIN, document: 'Berlin had a population of 3,520,031 registered inhabitants in an area of 891.82 square kilometers.', label: 1 },
  { query: BERLIN, document: 'Berlin is well known for its museums.', label: 0 },
  { query: BERLIN, document: 'In 2013 around 600,000 Berliners were registered in one of the more than 2,300 sport and fitness clubs.', label: 0 },
  { query: PASSWORD, document: 'Open Settings > Users and click "Send reset link".', label: 1 },
  { query: PASSWORD, document: 'The release dashboard lists every deployment.', label: 0 },
];

/** Servers the setups started, closed after the suite. */
const servers: RerankServer[] = [];

/** What a marker's setup may do to the block's working directory and environment. */
type Setup = (cwd: string, standIn: string) => Promise<NodeJS.ProcessEnv | void>;
const SETUPS: Record<string, Setup> = {
  /** A model saved with savePretrained in ./my-reranker (the Docker example's). */
  'local-model': async (cwd, standIn) => {
    await cp(standIn, path.join(cwd, 'my-reranker'), { recursive: true });
  },
  /** A rerank server (createRerankServer) on 127.0.0.1 and a free port, serving the stand-in, at RERANKER_URL. */
  'rerank-server': async (_cwd, standIn) => {
    const server = createRerankServer({ modelPath: standIn, collectDefaultMetrics: false });
    servers.push(server);
    const url = await server.listen({ host: '127.0.0.1', port: 0 });
    await server.modelReady();
    return { RERANKER_URL: url };
  },
  /** pairs.jsonl with the README's example pairs, relevant ones first. */
  'pairs-file': async (cwd) => {
    const lines = EXAMPLES.slice(0, 3).map(({ query, document }) => JSON.stringify({ query, document }));
    await writeFile(path.join(cwd, 'pairs.jsonl'), `${lines.join('\n')}\n`);
  },
};

interface Block {
  line: number;
  language: string;
  code: string;
  notRun?: string;
  setup?: string;
}

/** The ```ts / ```js blocks of the README, with their markers. */
function readmeBlocks(text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(\w*)\s*$/.exec(lines[i]);
    if (!fence) continue;
    const end = lines.findIndex((line, j) => j > i && line.startsWith('```'));
    const language = fence[1];
    if (['ts', 'js', 'typescript', 'javascript'].includes(language)) {
      const marker = lines.slice(0, i).reverse().find((line) => line.trim() !== '') ?? '';
      blocks.push({
        line: i + 1,
        language,
        code: lines.slice(i + 1, end).join('\n'),
        notRun: /^<!--\s*not run:\s*(.+?)\s*-->$/.exec(marker.trim())?.[1],
        setup: /^<!--\s*readme-test:\s*setup=([\w-]+)\s*-->$/.exec(marker.trim())?.[1],
      });
    }
    i = end;
  }
  return blocks;
}

// ---------------------------------------------------------------------------------------------
// Claims: a small reader of the value notation Node's console.log prints.

type Claim =
  | { kind: 'any' }
  | { kind: 'number'; value: number }
  | { kind: 'string'; value: string; prefix: boolean }
  | { kind: 'literal'; value: boolean | null | undefined }
  | { kind: 'float32'; length: number; items: Claim[] }
  | { kind: 'array'; items: Claim[]; more: boolean }
  | { kind: 'object'; entries: Array<[string, Claim]> };

type Described =
  | { t: 'f32'; v: number[] }
  | { t: 'array'; v: Described[] }
  | { t: 'object'; v: Record<string, Described> }
  | { t: 'number'; v: number }
  | { t: 'string'; v: string }
  | { t: 'boolean'; v: boolean }
  | { t: 'null' }
  | { t: 'undefined' }
  | { t: 'other'; v: string };

function parseClaim(text: string): Claim {
  let at = 0;
  const space = () => {
    while (/\s/.test(text[at] ?? '')) at++;
  };
  const list = (close: string): { items: Claim[]; more: boolean } => {
    const items: Claim[] = [];
    let more = false;
    space();
    while (text[at] !== close) {
      const item = value();
      space();
      if (item.kind === 'any' && text[at] === close) more = true;
      else items.push(item);
      if (text[at] === ',') at++;
      space();
    }
    at++;
    return { items, more };
  };
  const value = (): Claim => {
    space();
    const rest = text.slice(at);
    if (rest.startsWith('…')) {
      at += 1;
      return { kind: 'any' };
    }
    const float32 = /^Float32Array\((\d+)\)\s*\[/.exec(rest);
    if (float32) {
      at += float32[0].length;
      return { kind: 'float32', length: Number(float32[1]), items: list(']').items };
    }
    if (rest.startsWith('[')) {
      at++;
      return { kind: 'array', ...list(']') };
    }
    if (rest.startsWith('{')) {
      at++;
      const entries: Array<[string, Claim]> = [];
      space();
      while (text[at] !== '}') {
        const key = /^['"]?([\w@$-]+)['"]?\s*:/.exec(text.slice(at));
        if (!key) throw new Error(`claim ${JSON.stringify(text)}: expected a key at ${at}`);
        at += key[0].length;
        entries.push([key[1], value()]);
        space();
        if (text[at] === ',') at++;
        space();
      }
      at++;
      return { kind: 'object', entries };
    }
    const string = /^'((?:[^'\\]|\\.)*)'/.exec(rest);
    if (string) {
      at += string[0].length;
      const body = string[1].replace(/\\(.)/g, '$1');
      return body.endsWith('…') ? { kind: 'string', value: body.slice(0, -1), prefix: true } : { kind: 'string', value: body, prefix: false };
    }
    const number = /^-?\d+(\.\d+)?(e-?\d+)?/.exec(rest);
    if (number) {
      at += number[0].length;
      return { kind: 'number', value: Number(number[0]) };
    }
    const literal = /^(true|false|null|undefined)\b/.exec(rest);
    if (literal) {
      at += literal[0].length;
      return { kind: 'literal', value: ({ true: true, false: false, null: null, undefined } as const)[literal[1] as 'true'] };
    }
    throw new Error(`claim ${JSON.stringify(text)}: cannot read a value at ${at}`);
  };
  return value();
}

/** How `actual` differs from `claim` (empty when it holds), each difference with its path. */
function differences(claim: Claim, actual: Described, where = 'value'): string[] {
  const got = JSON.stringify(actual).slice(0, 120);
  switch (claim.kind) {
    case 'any':
      return [];
    case 'number':
      if (actual.t !== 'number') return [`${where}: a number was claimed, got ${got}`];
      if (Number.isInteger(claim.value)) return actual.v === claim.value ? [] : [`${where}: ${claim.value} was claimed, got ${actual.v}`];
      return Number.isFinite(actual.v) ? [] : [`${where}: a finite number was claimed, got ${actual.v}`];
    case 'string':
      if (actual.t !== 'string') return [`${where}: a string was claimed, got ${got}`];
      return (claim.prefix ? actual.v.startsWith(claim.value) : actual.v === claim.value) ? [] : [`${where}: '${claim.value}${claim.prefix ? '…' : ''}' was claimed, got '${actual.v}'`];
    case 'literal': {
      const value = actual.t === 'null' ? null : actual.t === 'undefined' ? undefined : actual.t === 'boolean' ? actual.v : Symbol('other');
      return value === claim.value ? [] : [`${where}: ${String(claim.value)} was claimed, got ${got}`];
    }
    case 'float32':
      if (actual.t !== 'f32') return [`${where}: a Float32Array was claimed, got ${got}`];
      if (actual.v.length !== claim.length) return [`${where}: Float32Array(${claim.length}) was claimed, got length ${actual.v.length}`];
      return claim.items.flatMap((item, i) => differences(item, { t: 'number', v: actual.v[i] }, `${where}[${i}]`));
    case 'array':
      if (actual.t !== 'array') return [`${where}: an array was claimed, got ${got}`];
      if (claim.more ? actual.v.length < claim.items.length : actual.v.length !== claim.items.length) {
        return [`${where}: ${claim.more ? 'at least ' : ''}${claim.items.length} elements were claimed, got ${actual.v.length}`];
      }
      return claim.items.flatMap((item, i) => differences(item, actual.v[i], `${where}[${i}]`));
    case 'object': {
      if (actual.t !== 'object') return [`${where}: an object was claimed, got ${got}`];
      const keys = claim.entries.map(([key]) => key);
      if (keys.join() !== Object.keys(actual.v).join()) return [`${where}: keys ${keys.join(', ')} were claimed, got ${Object.keys(actual.v).join(', ')}`];
      return claim.entries.flatMap(([key, item]) => differences(item, actual.v[key], `${where}.${key}`));
    }
  }
}

/** Each console.log statement of the block, in source order, with its claim if it has one. */
function consoleLogs(code: string): Array<{ line: string; claim?: string }> {
  return code
    .split('\n')
    .filter((line) => /\bconsole\.log\(/.test(line))
    .map((line) => ({ line: line.trim(), claim: /console\.log\(.*\);?\s*\/\/\s*(.+)$/.exec(line)?.[1] }));
}

// ---------------------------------------------------------------------------------------------

let work: string;
let cache: string;
let standIn: string;

beforeAll(async () => {
  // Inside the package (test/.tmp is git-ignored), so a block's imports of packages a user's app
  // would have installed (the dev dependencies, e.g. cohere-ai) resolve from its node_modules.
  await mkdir(path.join(ROOT, 'test/.tmp'), { recursive: true });
  work = await mkdtemp(path.join(ROOT, 'test/.tmp/readme-'));
  cache = path.join(work, 'hub');
  const model = await CrossEncoder.fromPretrained(testModel('tiny'));
  await new CrossEncoderTrainer({
    model,
    trainDataset: EXAMPLES,
    args: { outputDir: path.join(work, 'stand-in-run'), maxSteps: 60, perDeviceTrainBatchSize: 5, learningRate: 1e-3, saveStrategy: 'no', disableTqdm: true },
  }).train();
  model.activation = 'identity';
  const ranked = await model.rank(BERLIN, EXAMPLES.slice(0, 3).map((e) => e.document));
  expect(ranked[0].corpusId, 'the stand-in learnt the README examples').toBe(0);
  // The hub id as huggingface_hub caches it: the snapshot of a commit, and refs/main naming it.
  const repoDir = path.join(cache, `models--${DEFAULT_MODEL.split('/').join('--')}`);
  standIn = path.join(repoDir, 'snapshots', COMMIT);
  await model.savePretrained(standIn);
  await mkdir(path.join(repoDir, 'refs'), { recursive: true });
  await writeFile(path.join(repoDir, 'refs', 'main'), COMMIT);
  await model.dispose();
}, 120_000);

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  await rm(work, { recursive: true, force: true });
});

function runBlock(block: Block, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const source = block.code.replace(/from ['"]torch-crossencoder['"]/g, `from ${JSON.stringify(LIBRARY)}`);
  const file = path.join(cwd, 'block.mts');
  return writeFile(file, source).then(
    () =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, ['--import', TSX, '--import', PRELOAD, file], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        const guard = setTimeout(() => child.kill('SIGKILL'), 100_000);
        child.on('close', (code) => {
          clearTimeout(guard);
          resolve({ code, stdout, stderr });
        });
      }),
  );
}

describe('README.md code blocks', () => {
  const blocks = readmeBlocks(readFileSync(README, 'utf8'));

  it('has blocks to run, and every setup marker names a known setup', () => {
    expect(blocks.filter((block) => !block.notRun).length).toBeGreaterThanOrEqual(4);
    for (const block of blocks) if (block.setup) expect(SETUPS, `README.md:${block.line}`).toHaveProperty(block.setup);
  });

  for (const block of blocks) {
    const title = `README.md:${block.line} (${block.language}${block.setup ? `, setup ${block.setup}` : ''})`;
    const { notRun } = block;
    if (notRun) {
      // Not run, but not silently: the marker must say why, and the test list shows it.
      it(`${title} is marked not run, with a reason: ${notRun}`, () => {
        expect(notRun.trim().length, `README.md:${block.line}`).toBeGreaterThanOrEqual(10);
      });
      continue;
    }
    it(`${title} runs and prints what its comments claim`, async () => {
      const cwd = await mkdtemp(path.join(work, 'block-'));
      const log = path.join(cwd, '.console.jsonl');
      const extra = block.setup ? ((await SETUPS[block.setup](cwd, standIn)) ?? {}) : {};
      const env: NodeJS.ProcessEnv = { ...process.env, HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1', README_LOG: log, ...extra };
      delete env.HF_HOME;
      const { code, stdout, stderr } = await runBlock(block, cwd, env);
      const report = `--- block at README.md:${block.line}\n${block.code}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`;
      expect(code, report).toBe(0);

      const printed = existsSync(log)
        ? (await readFile(log, 'utf8')).trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Described[])
        : [];
      const statements = consoleLogs(block.code);
      expect(printed.length, `each console.log runs once\n${report}`).toBe(statements.length);
      statements.forEach(({ line, claim }, i) => {
        if (claim === undefined) return;
        expect(differences(parseClaim(claim), printed[i][0]), `${line}\n${report}`).toEqual([]);
      });
    }, 120_000);
  }
});

describe('the claim reader', () => {
  it('reads the notation the README uses, and a claim can fail', () => {
    const f32: Described = { t: 'f32', v: [8.6, -4.3] };
    expect(differences(parseClaim('Float32Array(2) [ 8.607, -4.32 ]: the logits'), f32)).toEqual([]);
    expect(differences(parseClaim('Float32Array(3) [ 8.607, -4.32, … ]'), f32)).toEqual(['value: Float32Array(3) was claimed, got length 2']);
    const ranked: Described = {
      t: 'array',
      v: [
        { t: 'object', v: { corpusId: { t: 'number', v: 0 }, score: { t: 'number', v: 1.5 }, text: { t: 'string', v: 'Berlin had a population of' } } },
        { t: 'object', v: { corpusId: { t: 'number', v: 2 }, score: { t: 'number', v: 0.5 }, text: { t: 'string', v: 'x' } } },
      ],
    };
    const claim = "[ { corpusId: 0, score: 8.607, text: 'Berlin had…' }, { corpusId: …, score: …, text: … } ]";
    expect(differences(parseClaim(claim), ranked)).toEqual([]);
    expect(differences(parseClaim("[ { corpusId: 1, score: 8.6, text: 'Berlin…' }, … ]"), ranked)).toEqual(['value[0].corpusId: 1 was claimed, got 0']);
    expect(differences(parseClaim("[ { corpusId: 0, score: 8.6 }, … ]"), ranked)[0]).toMatch(/keys corpusId, score were claimed/);
    expect(differences(parseClaim("'AbortError'"), { t: 'string', v: 'Error' })).toEqual(["value: 'AbortError' was claimed, got 'Error'"]);
  });
});
