/**
 * savePretrained (lib/model/save-pretrained.ts): the saved directory reloads with identical scores,
 * holds the Hugging Face and Sentence Transformers files with the right fields, is read by the
 * Python reference (safetensors header, and logits within 1e-5 of ours), and replaces `dir`
 * only once complete.
 */
import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { FileSystemError } from '../lib/errors.js';
import { type Activation, ACTIVATION_CLASS_PATHS, activationFromClassPath } from '../lib/model/activation.js';
import { readConfigJson, resolveActivation } from '../lib/model/config.js';
import { CrossEncoder, type Pair } from '../lib/model/cross-encoder.js';
import { LOSS_PLOT_FILE } from '../lib/model/loss-plot.js';
import { SENTENCE_TRANSFORMERS_VERSION, TRANSFORMERS_VERSION } from '../lib/model/save-pretrained.js';
import { NativeModel } from '../lib/native.js';

import { referencePredict, testModel, type TestModelName } from './helpers/models.js';
import { PYTHON, REFERENCE_DIR } from './helpers/python.js';

// Lets one test make a chosen rename fail, to check that a failed swap restores the old directory.
const renameFault = vi.hoisted(() => ({ when: undefined as ((from: string, to: string) => boolean) | undefined }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...actual,
    rename: async (from: string, to: string) => {
      if (renameFault.when?.(String(from), String(to))) throw Object.assign(new Error('EXDEV: simulated rename failure'), { code: 'EXDEV' });
      return actual.rename(from, to);
    },
  };
});

const PAIRS: Pair[] = [
  ['How many people live in Berlin?', 'Berlin has a population of 3,520,031 registered inhabitants.'],
  ['How many people live in Berlin?', 'Berlin is well known for its museums.'],
  ['a', 'b'],
  ['Café crème brûlée?', 'Ünïcödé façade, naïve résumé 北京'],
];
const LOGIT_TOLERANCE = 1e-5;
const MODEL_FILES = [
  'README.md',
  'config.json',
  'config_sentence_transformers.json',
  'model.safetensors',
  'modules.json',
  'sentence_bert_config.json',
  'special_tokens_map.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'vocab.txt',
];

function flat(result: Float32Array | Float32Array[]): number[] {
  return result instanceof Float32Array ? Array.from(result) : result.flatMap((row) => Array.from(row));
}

async function readJson(file: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
}

let work: string;
beforeEach(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'tce-save-'));
});
afterEach(async () => {
  renameFault.when = undefined;
  vi.restoreAllMocks();
  await rm(work, { recursive: true, force: true });
});

describe.each<TestModelName>(['tiny', 'tiny-3labels'])('savePretrained(%s)', (name) => {
  it('reloads with identical scores, labels, activation and maximum length', async () => {
    const model = await CrossEncoder.fromPretrained(testModel(name));
    const dir = path.join(work, 'saved');
    await model.savePretrained(dir);

    expect((await readdir(dir)).sort()).toEqual(MODEL_FILES);
    // Nothing but the model is left next to it (no staging or old directories).
    expect(await readdir(work)).toEqual(['saved']);

    const reloaded = await CrossEncoder.fromPretrained(dir);
    expect(flat(await reloaded.predict(PAIRS))).toEqual(flat(await model.predict(PAIRS)));
    expect(flat(await reloaded.predict(PAIRS, { activation: 'identity' }))).toEqual(flat(await model.predict(PAIRS, { activation: 'identity' })));
    expect(reloaded.numLabels).toBe(model.numLabels);
    expect(reloaded.activation).toBe(model.activation);
    expect(reloaded.maxLength).toBe(model.maxLength);
  });

  it('writes config.json for transformers and every Sentence Transformers version', async () => {
    const model = await CrossEncoder.fromPretrained(testModel(name));
    const dir = path.join(work, 'saved');
    await model.savePretrained(dir);
    const original = await readJson(path.join(testModel(name), 'config.json'));
    const config = await readJson(path.join(dir, 'config.json'));
    const activationFn = ACTIVATION_CLASS_PATHS[model.activation];

    expect(config).toMatchObject({
      architectures: ['BertForSequenceClassification'],
      model_type: 'bert',
      id2label: original.id2label,
      torch_dtype: 'float32',
      transformers_version: TRANSFORMERS_VERSION,
      sentence_transformers: { activation_fn: activationFn, version: SENTENCE_TRANSFORMERS_VERSION },
      sbert_ce_default_activation_function: activationFn,
    });
    const id2label = config.id2label as Record<string, string>;
    expect(config.label2id).toEqual(Object.fromEntries(Object.entries(id2label).map(([id, label]) => [label, Number(id)])));
    expect(config).not.toHaveProperty('num_labels');
    // Every other field is kept as it was.
    for (const [key, value] of Object.entries(original)) {
      if (!['transformers_version', 'label2id', 'id2label'].includes(key)) expect(config[key], key).toEqual(value);
    }
    // Keys sorted and a final newline, as transformers writes it.
    const text = await readFile(path.join(dir, 'config.json'), 'utf8');
    expect(Object.keys(config)).toEqual(Object.keys(config).sort());
    expect(text.endsWith('}\n')).toBe(true);
  });

  it('writes the modular Sentence Transformers files (5.4+)', async () => {
    const model = await CrossEncoder.fromPretrained(testModel(name));
    const dir = path.join(work, 'saved');
    await model.savePretrained(dir);

    expect(await readJson(path.join(dir, 'config_sentence_transformers.json'))).toEqual({
      model_type: 'CrossEncoder',
      __version__: { sentence_transformers: SENTENCE_TRANSFORMERS_VERSION, transformers: TRANSFORMERS_VERSION, pytorch: expect.stringMatching(/^\d+\.\d+/) },
      prompts: {},
      default_prompt_name: null,
      activation_fn: ACTIVATION_CLASS_PATHS[model.activation],
    });
    expect(JSON.parse(await readFile(path.join(dir, 'modules.json'), 'utf8'))).toEqual([
      { idx: 0, name: '0', path: '', type: 'sentence_transformers.base.modules.transformer.Transformer' },
    ]);
    expect(await readJson(path.join(dir, 'sentence_bert_config.json'))).toEqual({
      transformer_task: 'sequence-classification',
      modality_config: { text: { method: 'forward', method_output_name: 'logits' } },
      module_output_name: 'scores',
    });
  });

  it('is scored by the Python reference model within 1e-5 of ours (parity check c)', async () => {
    const model = await CrossEncoder.fromPretrained(testModel(name));
    const dir = path.join(work, 'saved');
    await model.savePretrained(dir);
    const ours = flat(await (await CrossEncoder.fromPretrained(dir)).predict(PAIRS, { activation: 'identity' }));
    const reference = (await referencePredict(dir, { pairs: PAIRS })).logits.flat();
    expect(reference).toHaveLength(ours.length);
    const maxDiff = Math.max(...ours.map((value, i) => Math.abs(value - reference[i])));
    expect(maxDiff).toBeLessThan(LOGIT_TOLERANCE);
  }, 120_000);
});

describe('model.safetensors', () => {
  it('is read by the Python reference: F32 tensors under the model’s own names, the original values, format pt', async () => {
    const model = await CrossEncoder.fromPretrained(testModel('tiny'));
    const dir = path.join(work, 'saved');
    await model.savePretrained(dir);
    const code = `
import json, sys
from safetensors_io import read_safetensors, read_safetensors_metadata
from bert_model import BertForSequenceClassification, load_config
saved, source, model_dir = sys.argv[1], sys.argv[2], sys.argv[3]
tensors = read_safetensors(saved)
original = read_safetensors(source)
expected = set(BertForSequenceClassification(load_config(model_dir)).state_dict())
print(json.dumps({
  'dtypes': sorted({str(t.dtype) for t in tensors.values()}),
  'names_match': set(tensors) == expected,
  'missing': sorted(expected - set(tensors)), 'extra': sorted(set(tensors) - expected),
  'values_equal': all(name in tensors and bool((tensors[name] == t.float()).all()) for name, t in original.items() if name in expected),
  'metadata': read_safetensors_metadata(saved),
}))
`;
    const run = spawnSync(PYTHON, ['-c', code, path.join(dir, 'model.safetensors'), path.join(testModel('tiny'), 'model.safetensors'), dir], {
      cwd: REFERENCE_DIR,
      encoding: 'utf8',
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ dtypes: ['torch.float32'], names_match: true, missing: [], extra: [], values_equal: true, metadata: { format: 'pt' } });
  }, 120_000);
});

describe('the activation written', () => {
  it.each<Activation>(['sigmoid', 'identity', 'softmax'])('round-trips %s through every field Sentence Transformers reads', async (activation) => {
    const model = await CrossEncoder.fromPretrained(testModel('tiny-3labels'));
    model.activation = activation;
    const dir = path.join(work, 'saved');
    await model.savePretrained(dir);

    const config = await readConfigJson(dir);
    expect(resolveActivation(config, model.numLabels, 'config.json')).toBe(activation);
    expect(activationFromClassPath(config.sbert_ce_default_activation_function as string, 'legacy key')).toBe(activation);
    const stConfig = await readJson(path.join(dir, 'config_sentence_transformers.json'));
    expect(activationFromClassPath(stConfig.activation_fn as string, 'config_sentence_transformers.json')).toBe(activation);

    const reloaded = await CrossEncoder.fromPretrained(dir);
    expect(reloaded.activation).toBe(activation);
    expect(flat(await reloaded.predict(PAIRS))).toEqual(flat(await model.predict(PAIRS)));
  });
});

describe('config.json of a base encoder', () => {
  it('becomes a one-label classifier: LABEL_0, no stale num_labels or dtype, unknown fields kept', async () => {
    const source = path.join(work, 'base');
    await cp(testModel('tiny'), source, { recursive: true });
    const config = await readJson(path.join(source, 'config.json'));
    await writeFile(
      path.join(source, 'config.json'),
      JSON.stringify({
        ...config,
        architectures: ['BertModel'],
        id2label: { 0: 'NEGATIVE', 1: 'POSITIVE' },
        label2id: { NEGATIVE: 0, POSITIVE: 1 },
        num_labels: 2,
        dtype: 'bfloat16',
        custom_field: { kept: [1, 2] },
        sentence_transformers: { activation_fn: 'torch.nn.modules.linear.Identity', version: '4.0.1', extra: 'kept' },
      }),
    );
    const model = await CrossEncoder.fromPretrained(source);
    expect(model.numLabels).toBe(1);
    const dir = path.join(work, 'saved');
    await model.savePretrained(dir);

    const saved = await readJson(path.join(dir, 'config.json'));
    expect(saved).toMatchObject({
      architectures: ['BertForSequenceClassification'],
      id2label: { 0: 'LABEL_0' },
      label2id: { LABEL_0: 0 },
      custom_field: { kept: [1, 2] },
      sentence_transformers: { activation_fn: 'torch.nn.modules.linear.Identity', version: SENTENCE_TRANSFORMERS_VERSION, extra: 'kept' },
    });
    expect(saved).not.toHaveProperty('num_labels');
    expect(saved).not.toHaveProperty('dtype');
    const reloaded = await CrossEncoder.fromPretrained(dir);
    expect(reloaded.numLabels).toBe(1);
    expect(reloaded.activation).toBe('identity');
    expect(flat(await reloaded.predict(PAIRS))).toEqual(flat(await model.predict(PAIRS)));
  });
});

describe('the tokenizer files', () => {
  it('record a maximum length given at load time, so the reloaded model keeps it', async () => {
    const model = await CrossEncoder.fromPretrained(testModel('tiny'), { maxLength: 16 });
    const dir = path.join(work, 'saved');
    await model.savePretrained(dir);
    expect((await readJson(path.join(dir, 'tokenizer_config.json'))).model_max_length).toBe(16);
    const reloaded = await CrossEncoder.fromPretrained(dir);
    expect(reloaded.maxLength).toBe(16);
    const long: Pair[] = [['a long query '.repeat(20), 'a long document '.repeat(30)]];
    expect(flat(await reloaded.predict(long))).toEqual(flat(await model.predict(long)));
  });
});

describe('the model card and loss plot', () => {
  it('are written from modelCardData, the card linking the plot', async () => {
    const model = await CrossEncoder.fromPretrained(testModel('tiny'));
    model.modelCardData = {
      baseModel: 'cross-encoder/ms-marco-MiniLM-L6-v2',
      lossName: 'BinaryCrossEntropyLoss',
      logHistory: [
        { loss: 0.7, step: 5, epoch: 0.5 },
        { loss: 0.4, step: 10, epoch: 1 },
      ],
      lossPlot: 'some-other-name.svg',
    };
    const dir = path.join(work, 'saved');
    await model.savePretrained(dir, { modelId: 'me/tiny-reranker' });
    expect((await readdir(dir)).sort()).toEqual([...MODEL_FILES, LOSS_PLOT_FILE].sort());
    expect(await readFile(path.join(dir, LOSS_PLOT_FILE), 'utf8')).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    const card = await readFile(path.join(dir, 'README.md'), 'utf8');
    expect(card).toContain(`](${LOSS_PLOT_FILE})`);
    expect(card).not.toContain('some-other-name.svg');
    expect(card).toContain('base_model: cross-encoder/ms-marco-MiniLM-L6-v2');
    expect(card).toContain('model = CrossEncoder("me/tiny-reranker")');
  });

  it('give an untrained model a short card, no plot and no link', async () => {
    const model = await CrossEncoder.fromPretrained(testModel('tiny'));
    model.modelCardData = { lossPlot: LOSS_PLOT_FILE };
    const dir = path.join(work, 'saved');
    await model.savePretrained(dir);
    expect((await readdir(dir)).sort()).toEqual(MODEL_FILES);
    const card = await readFile(path.join(dir, 'README.md'), 'utf8');
    expect(card).not.toContain(LOSS_PLOT_FILE);
    // Usage snippets name a hub id, never the local directory it was saved to.
    expect(card).toContain('model = CrossEncoder("cross_encoder_model_id")');
    expect(card).not.toContain(work);
  });
});

describe('replacing and failing', () => {
  it('replaces an existing directory whole', async () => {
    const dir = path.join(work, 'saved');
    await mkdir(dir);
    await writeFile(path.join(dir, 'stale.txt'), 'from an earlier run');
    const tiny = await CrossEncoder.fromPretrained(testModel('tiny'));
    await tiny.savePretrained(dir);
    expect((await readdir(dir)).sort()).toEqual(MODEL_FILES);

    const threeLabels = await CrossEncoder.fromPretrained(testModel('tiny-3labels'));
    await threeLabels.savePretrained(dir);
    const reloaded = await CrossEncoder.fromPretrained(dir);
    expect(reloaded.numLabels).toBe(3);
    expect(flat(await reloaded.predict(PAIRS))).toEqual(flat(await threeLabels.predict(PAIRS)));
    expect(await readdir(work)).toEqual(['saved']);
  });

  it('leaves no directory and no partial files when the weights cannot be written', async () => {
    const model = await CrossEncoder.fromPretrained(testModel('tiny'));
    vi.spyOn(NativeModel.prototype, 'saveWeights').mockRejectedValue(new Error('No space left on device'));
    const dir = path.join(work, 'saved');
    const error = await model.savePretrained(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FileSystemError);
    expect((error as Error).message).toContain(dir);
    expect((error as Error).message).toContain('No space left on device');
    expect(await readdir(work)).toEqual([]);
  });

  it('leaves an existing model untouched when the save fails after some files were written', async () => {
    const dir = path.join(work, 'saved');
    const tiny = await CrossEncoder.fromPretrained(testModel('tiny'));
    await tiny.savePretrained(dir);
    const before = await readFile(path.join(dir, 'model.safetensors'));

    const threeLabels = await CrossEncoder.fromPretrained(testModel('tiny-3labels'));
    vi.spyOn(threeLabels.tokenizer, 'save').mockRejectedValue(new FileSystemError('Cannot write tokenizer.json: simulated crash'));
    await expect(threeLabels.savePretrained(dir)).rejects.toThrow('simulated crash');

    expect(await readdir(work)).toEqual(['saved']);
    expect((await readdir(dir)).sort()).toEqual(MODEL_FILES);
    // Buffer#equals: toEqual would compare the 4 MB byte by byte, slowly.
    expect((await readFile(path.join(dir, 'model.safetensors'))).equals(before)).toBe(true);
    expect((await CrossEncoder.fromPretrained(dir)).numLabels).toBe(1);
  });

  it('restores the previous directory when moving the new one in fails', async () => {
    const dir = path.join(work, 'saved');
    const tiny = await CrossEncoder.fromPretrained(testModel('tiny'));
    await tiny.savePretrained(dir);
    const before = await readFile(path.join(dir, 'config.json'), 'utf8');

    const threeLabels = await CrossEncoder.fromPretrained(testModel('tiny-3labels'));
    renameFault.when = (from, to) => to === dir && path.basename(from).startsWith('.saved.saving-') && !from.endsWith('.previous');
    const error = await threeLabels.savePretrained(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FileSystemError);
    expect((error as Error).message).toMatch(/simulated rename failure.*previous directory was restored/);

    expect(await readdir(work)).toEqual(['saved']);
    expect(await readFile(path.join(dir, 'config.json'), 'utf8')).toBe(before);
  });

  it('throws FileSystemError naming the path when the directory cannot be created', async () => {
    const model = await CrossEncoder.fromPretrained(testModel('tiny'));
    await writeFile(path.join(work, 'file'), 'a file, not a directory');

    const under = path.join(work, 'file', 'saved');
    const error = await model.savePretrained(under).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FileSystemError);
    expect((error as Error).message).toContain(under);

    const over = path.join(work, 'file');
    await expect(model.savePretrained(over)).rejects.toThrow(new RegExp(`${over}: it exists and is not a directory`));
    expect(await readFile(over, 'utf8')).toBe('a file, not a directory');
    expect(await readdir(work)).toEqual(['file']);
  });

  it('rejects an empty path', async () => {
    const model = await CrossEncoder.fromPretrained(testModel('tiny'));
    await expect(model.savePretrained('')).rejects.toThrow(/non-empty string/);
  });
});
