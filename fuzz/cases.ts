/**
 * A fuzz case: which target, the mutated file (or HTTP request), the pairs to score, and how it
 * was made. `makeCase(seeds, seed, index)` is a pure function of the campaign seed and the case
 * index, so `--seed S --case N` rebuilds case N exactly.
 */
import type { SeedContents, SeedName } from './corpus.js';
import {
  BIN_MUTATORS,
  byteMutation,
  CONFIG_MUTATORS,
  interestingJson,
  type Mutator,
  SAFETENSORS_MUTATORS,
  TOKENIZER_CONFIG_MUTATORS,
  TOKENIZER_MUTATORS,
  VOCAB_MUTATORS,
} from './mutators.js';
import { caseRandom, type Random } from './prng.js';

export const TARGETS = ['safetensors', 'bin', 'config', 'tokenizer', 'tokenizer-config', 'vocab', 'service'] as const;
export type Target = (typeof TARGETS)[number];

/** A model-directory case: the seed layout and the one file replaced by its mutation. */
export interface FileCase {
  kind: 'files';
  seedName: SeedName;
  file: string;
  /** Base64 of the mutated file (IPC and case.json carry it as text). */
  content: string;
}

/** A request to the in-process service. */
export interface ServiceCase {
  kind: 'service';
  method: 'POST' | 'GET';
  url: string;
  contentType: string | undefined;
  body: string;
}

export interface FuzzCase {
  seed: number;
  index: number;
  target: Target;
  mutations: string[];
  input: FileCase | ServiceCase;
  /** Pairs scored after a model loads (file cases). */
  pairs: [string, string][];
}

const TARGET_WEIGHTS: ReadonlyArray<readonly [number, Target]> = [
  [4, 'safetensors'], [4, 'bin'], [3, 'config'], [3, 'tokenizer'], [1, 'tokenizer-config'], [2, 'vocab'], [3, 'service'],
];

const FILE_TARGETS: Record<Exclude<Target, 'service'>, { seedName: SeedName; files: readonly string[]; mutators: ReadonlyArray<readonly [number, Mutator]> }> = {
  safetensors: { seedName: 'safetensors', files: ['model.safetensors'], mutators: SAFETENSORS_MUTATORS },
  bin: { seedName: 'bin', files: ['pytorch_model.bin'], mutators: BIN_MUTATORS },
  config: { seedName: 'safetensors', files: ['config.json'], mutators: CONFIG_MUTATORS },
  tokenizer: { seedName: 'safetensors', files: ['tokenizer.json'], mutators: TOKENIZER_MUTATORS },
  'tokenizer-config': { seedName: 'safetensors', files: ['tokenizer_config.json', 'special_tokens_map.json'], mutators: TOKENIZER_CONFIG_MUTATORS },
  vocab: { seedName: 'vocab', files: ['vocab.txt'], mutators: VOCAB_MUTATORS },
};

/** Texts that stress tokenisers: long runs for regexes, odd Unicode, control characters. */
export function randomText(rng: Random): string {
  switch (rng.int(9)) {
    case 0: return '';
    case 1: return `${'a'.repeat(rng.pick([30, 1000, 20000]))}${rng.pick(['', '!', 'b', ' '])}`;
    case 2: return Array.from({ length: rng.range(1, 40) }, () => String.fromCodePoint(rng.pick([0x0, 0x7, 0x1f, 0x7f, 0xa0, 0x301, 0x200b, 0x2028, 0x3000, 0x4e2d, 0xfeff, 0xfffd, 0x1f600, 0x10ffff, rng.int(0x10ffff)]))).join('');
    case 3: return '\ud800x\udfff';
    case 4: return ' '.repeat(rng.pick([1, 100, 10000]));
    case 5: return '!?'.repeat(rng.pick([10, 5000]));
    case 6: return `${'berlin '.repeat(rng.pick([1, 50, 2000]))}`;
    case 7: return Array.from({ length: rng.range(1, 30) }, () => String.fromCharCode(rng.range(32, 126))).join('');
    default: return 'how many people live in berlin?';
  }
}

function pairsFor(rng: Random): [string, string][] {
  return [
    ['how many people live in berlin?', 'berlin is the capital of germany.'],
    [randomText(rng), randomText(rng)],
  ];
}

function pickMutator(mutators: ReadonlyArray<readonly [number, Mutator]>, rng: Random): Mutator {
  return rng.weighted(mutators);
}

function fileCase(target: Exclude<Target, 'service'>, seeds: SeedContents, rng: Random, mutations: string[]): FileCase {
  const spec = FILE_TARGETS[target];
  const file = rng.pick(spec.files);
  let bytes = seeds[spec.seedName][file];
  const rounds = rng.weighted([[6, 1], [3, 2], [1, 3]] as const);
  for (let i = 0; i < rounds; i++) {
    const mutator = pickMutator(spec.mutators, rng);
    let mutation;
    try {
      mutation = mutator(bytes, rng);
    } catch {
      // A structure-aware mutator met input an earlier round broke: mutate bytes instead.
      mutation = byteMutation(bytes, rng);
    }
    const { bytes: next, description } = mutation;
    bytes = next;
    mutations.push(spec.files.length > 1 ? `${file}: ${description}` : description);
  }
  return { kind: 'files', seedName: spec.seedName, file, content: bytes.toString('base64') };
}

// ---- service requests ----

const ROUTES = ['/v2/rerank', '/v1/rerank', '/rerank', '/predict'] as const;

function validBody(route: (typeof ROUTES)[number], rng: Random): Record<string, unknown> {
  const documents = Array.from({ length: rng.range(1, 4) }, () => randomText(rng));
  switch (route) {
    case '/v2/rerank':
    case '/v1/rerank':
      return { model: 'any', query: randomText(rng), documents: rng.chance(0.3) ? documents.map((text) => ({ text })) : documents, top_n: rng.range(1, 5), return_documents: rng.chance(0.5), ...(rng.chance(0.3) ? { max_tokens_per_doc: rng.pick([1, 8, 64, 4096]) } : {}) };
    case '/rerank':
      return rng.chance(0.2)
        ? { query: randomText(rng), documents }
        : { query: randomText(rng), texts: documents, raw_scores: rng.chance(0.5), return_text: rng.chance(0.5), truncate: rng.pick([true, false, null]), truncation_direction: rng.pick(['right', 'Right']) };
    default:
      return rng.chance(0.4) ? { inputs: [randomText(rng), randomText(rng)], raw_scores: rng.chance(0.5) } : { inputs: documents.map((d) => [randomText(rng), d]), truncate: rng.pick([true, false]) };
  }
}

const SERVICE_KEYS = ['query', 'documents', 'texts', 'inputs', 'top_n', 'max_tokens_per_doc', 'return_documents', 'raw_scores', 'truncate', 'truncation_direction', 'model', '__proto__', 'constructor'];
const SERVICE_VALUES: unknown[] = [
  [], [''], [[]], [['a']], [['a', 'b', 'c']], [{}], [{ text: 1 }], [{ text: 'a', extra: 1 }], Array.from({ length: 2000 }, () => 'doc'), [null], 'a', 1, 0, -1, 1.5, 2 ** 31, 2 ** 53, 1e308,
  true, null, {}, 'left', 'LEFT', 'Right', [['a', 'b']], ['a', 'b'], 'x'.repeat(200000),
];

function serviceCase(rng: Random, mutations: string[]): ServiceCase {
  const route = rng.pick(ROUTES);
  const body = validBody(route, rng);
  let text: string;
  const edits = rng.range(0, 3);
  for (let i = 0; i < edits; i++) {
    const choice = rng.int(4);
    const key = rng.chance(0.7) ? rng.pick(SERVICE_KEYS) : rng.pick(Object.keys(body));
    if (choice === 0) {
      delete body[key];
      mutations.push(`delete ${key}`);
    } else if (choice === 1) {
      body[key] = rng.chance(0.5) ? rng.pick(SERVICE_VALUES) : interestingJson(rng);
      mutations.push(`${key} = ${JSON.stringify(body[key])?.slice(0, 60)}`);
    } else if (choice === 2) {
      let nested: unknown = 'x';
      for (let d = 0; d < rng.pick([10, 1000, 5000]); d++) nested = [nested];
      body[key] = nested;
      mutations.push(`${key} nested deeply`);
    } else {
      body[key] = Array.from({ length: rng.pick([1, 100, 1001]) }, () => randomText(rng));
      mutations.push(`${key} = ${(body[key] as unknown[]).length} random texts`);
    }
  }
  text = JSON.stringify(body);
  if (rng.chance(0.15)) {
    const { bytes, description } = byteMutation(Buffer.from(text), rng);
    text = bytes.toString('utf8');
    mutations.push(`body bytes: ${description}`);
  }
  if (rng.chance(0.05)) {
    text = rng.pick(['', 'null', '[]', '"x"', '1', '{', '{"query": "a", "query": 1, "documents": ["a"]}', '{"__proto__": {"top_n": 1}, "query": "a", "documents": ["a"]}']);
    mutations.push(`body = ${text}`);
  }
  const contentType = rng.weighted<string | undefined>([[20, 'application/json'], [1, 'text/plain'], [1, undefined], [1, 'application/json; charset=latin1'], [1, 'application/x-www-form-urlencoded']]);
  if (contentType !== 'application/json') mutations.push(`content-type ${String(contentType)}`);
  if (mutations.length === 0) mutations.push('valid request');
  return { kind: 'service', method: 'POST', url: route, contentType, body: text };
}

/** Case `index` of the campaign `seed`; `targets` restricts the targets drawn. */
export function makeCase(seeds: SeedContents, seed: number, index: number, targets: readonly Target[] = TARGETS): FuzzCase {
  const rng = caseRandom(seed, index);
  const weights = TARGET_WEIGHTS.filter(([, t]) => targets.includes(t));
  const target = rng.weighted(weights);
  const mutations: string[] = [];
  const input = target === 'service' ? serviceCase(rng, mutations) : fileCase(target, seeds, rng, mutations);
  return { seed, index, target, mutations, input, pairs: pairsFor(rng) };
}
