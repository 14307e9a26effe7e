/**
 * The model card (lib/model/model-card.ts) and the training-loss picture (lib/model/loss-plot.ts): pure
 * renderers, checked on a trained-like card, an empty one, and SVGs parsed as XML by Python.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { FileSystemError } from '../lib/errors.js';
import { LOSS_PLOT_FILE, renderLossPlot, writeLossPlot } from '../lib/model/loss-plot.js';
import { labelNames, type ModelCardData, type ModelCardModel, renderModelCard } from '../lib/model/model-card.js';

import { PYTHON } from './helpers/python.js';

const oneLabel: ModelCardModel = { numLabels: 1, maxLength: 512, activation: 'sigmoid', config: { id2label: { 0: 'LABEL_0' } } };
const threeLabels: ModelCardModel = {
  numLabels: 3,
  maxLength: 256,
  activation: 'identity',
  config: { id2label: { 0: 'contradiction', 1: 'entailment', 2: 'neutral' } },
};

/** A log history as the trainer records it: training logs, evaluations with timings, the final summary. */
function logHistory(): Record<string, number>[] {
  const history: Record<string, number>[] = [];
  for (let step = 10; step <= 60; step += 10) {
    history.push({ loss: 1 / step + 0.1, grad_norm: 1.5, learning_rate: 2e-5, epoch: step / 60, step });
    if (step % 30 === 0) {
      history.push({
        eval_loss: 0.5 - step / 1000,
        'eval_dev_ndcg@10': 0.5 + step / 200,
        eval_dev_map: 0.4 + step / 300,
        eval_runtime: 1.25,
        eval_samples_per_second: 80,
        eval_steps_per_second: 10,
        epoch: step / 60,
        step,
      });
    }
  }
  history.push({ train_runtime: 12.5, train_samples_per_second: 40, train_steps_per_second: 5, train_loss: 0.2, epoch: 1, step: 60 });
  return history;
}

const trained: ModelCardData = {
  baseModel: 'cross-encoder/ms-marco-MiniLM-L6-v2',
  lossName: 'BinaryCrossEntropyLoss',
  lossParameters: { activation_fn: 'torch.nn.modules.linear.Identity', pos_weight: null },
  trainingArguments: { numTrainEpochs: 1, learningRate: 2e-5, lrSchedulerType: 'cosine', warmupRatio: 0.1 },
  trainingMetrics: { trainRuntime: 12.5, trainLoss: 0.23114, epoch: 1 },
  evalMetrics: { eval_loss: 0.44, 'eval_dev_ndcg@10': 0.80123, eval_dev_map: 0.6, eval_runtime: 1.25, eval_samples_per_second: 80, epoch: 1, step: 60 },
  trainDatasetSize: 480,
  logHistory: logHistory(),
  lossPlot: LOSS_PLOT_FILE,
};

/** The YAML front matter of a card as [key, value or list] pairs (the subset the cards use). */
function frontMatter(card: string): Record<string, string | string[]> {
  const match = /^---\n([\s\S]*?)\n---\n/.exec(card);
  expect(match, 'front matter').not.toBeNull();
  const result: Record<string, string | string[]> = {};
  let listKey = '';
  for (const line of match![1].split('\n')) {
    if (line.startsWith('- ')) (result[listKey] as string[]).push(line.slice(2));
    else {
      const [key, ...rest] = line.split(': ');
      if (line.endsWith(':')) {
        listKey = line.slice(0, -1);
        result[listKey] = [];
      } else result[key] = rest.join(': ');
    }
  }
  return result;
}

function section(card: string, heading: string): string {
  const start = card.indexOf(`\n${heading}\n`);
  expect(start, heading).toBeGreaterThanOrEqual(0);
  const level = heading.split(' ')[0];
  const rest = card.slice(start + heading.length + 2);
  const end = rest.search(new RegExp(`\\n${level} `));
  return end === -1 ? rest : rest.slice(0, end);
}

describe('renderModelCard', () => {
  it('describes a trained model like a Sentence Transformers cross-encoder card', () => {
    const card = renderModelCard(oneLabel, trained, { modelId: 'my-org/my-reranker' });
    expect(frontMatter(card)).toEqual({
      tags: [
        'sentence-transformers',
        'cross-encoder',
        'reranker',
        'torch-crossencoder',
        'generated_from_trainer',
        'dataset_size:480',
        'loss:BinaryCrossEntropyLoss',
      ],
      base_model: 'cross-encoder/ms-marco-MiniLM-L6-v2',
      pipeline_tag: 'text-ranking',
      library_name: 'sentence-transformers',
      // Timings, epoch and step are not metrics.
      metrics: ['loss', 'dev_ndcg@10', 'dev_map'],
    });
    expect(card).toContain('# CrossEncoder based on cross-encoder/ms-marco-MiniLM-L6-v2');
    expect(card).toContain('finetuned from [cross-encoder/ms-marco-MiniLM-L6-v2](https://huggingface.co/cross-encoder/ms-marco-MiniLM-L6-v2)');
    expect(card).toContain('- **Maximum Sequence Length:** 512 tokens');
    expect(card).toContain('- **Activation Function:** `torch.nn.modules.activation.Sigmoid`');

    const training = section(card, '## Training Details');
    expect(training).toContain('* Size: 480 training samples');
    expect(training).toContain('[<code>BinaryCrossEntropyLoss</code>](https://sbert.net/docs/package_reference/cross_encoder/losses.html#binarycrossentropyloss)');
    const lossJson = /```json\n([\s\S]*?)\n\s*```/.exec(training)![1];
    expect(JSON.parse(lossJson)).toEqual(trained.lossParameters);
    expect(training).toContain('#### Non-Default Hyperparameters');
    expect(training).toContain('- `learningRate`: 0.00002\n- `lrSchedulerType`: cosine\n- `warmupRatio`: 0.1');
    expect(training).toContain('- `trainLoss`: 0.2311');
    expect(training).toContain('![Training loss and evaluation metrics](training_loss.svg)');
    // One row per logged step, evaluation columns filled at the steps that were evaluated.
    const table = training.split('\n').filter((line) => line.startsWith('|'));
    expect(table[0]).toBe('| Epoch | Step | Training Loss | Validation Loss | dev_ndcg@10 | dev_map |');
    expect(table).toHaveLength(2 + 6);
    expect(table[2]).toBe('| 0.1667 | 10 | 0.2000 | - | - | - |');
    expect(table[4]).toBe('| 0.5000 | 30 | 0.1333 | 0.4700 | 0.6500 | 0.5000 |');

    const evaluation = section(card, '## Evaluation');
    expect(evaluation).toContain('| dev_ndcg@10 | 0.8012 |');
    expect(evaluation).toContain('| loss | 0.4400 |');
    expect(evaluation).not.toMatch(/runtime|samples_per_second|\| epoch|\| step/);
  });

  it('shows how to use the model from Python and TypeScript', () => {
    const card = renderModelCard(oneLabel, trained, { modelId: 'my-org/my-reranker' });
    const python = /```python\n([\s\S]*?)```/.exec(card)![1];
    expect(python).toContain('from sentence_transformers import CrossEncoder\n\nmodel = CrossEncoder("my-org/my-reranker")\nscores = model.predict([\n');
    expect(python).toContain('    ["How many people live in Berlin?", "Berlin is well known for its museums."],\n])');
    expect(python).toContain('ranks = model.rank("How many people live in Berlin?", [');
    const typescript = /```ts\n([\s\S]*?)```/.exec(card)![1];
    expect(typescript).toContain("import { CrossEncoder } from 'torch-crossencoder';");
    expect(typescript).toContain("const model = await CrossEncoder.fromPretrained('my-org/my-reranker');");
    expect(typescript).toContain('const scores = await model.predict([');
  });

  it('gives a model that was never trained a short card', () => {
    const card = renderModelCard(oneLabel, {});
    expect(frontMatter(card)).toEqual({
      tags: ['sentence-transformers', 'cross-encoder', 'reranker', 'torch-crossencoder'],
      pipeline_tag: 'text-ranking',
      library_name: 'sentence-transformers',
    });
    expect(card).toContain('# Cross Encoder model');
    expect(card).toContain('model = CrossEncoder("cross_encoder_model_id")');
    expect(card).not.toMatch(/## Training|## Evaluation|generated_from_trainer|base_model|!\[/);
    expect(card.split('\n').length).toBeLessThan(80);
  });

  it('describes a multi-label classifier with its label names', () => {
    const card = renderModelCard(threeLabels, { baseModel: 'cross-encoder/nli-deberta-v3-base' });
    const yaml = frontMatter(card);
    expect(yaml.pipeline_tag).toBe('text-classification');
    expect(yaml.tags).not.toContain('reranker');
    expect(card).toContain('- **Number of Output Labels:** 3 labels (`contradiction`, `entailment`, `neutral`)');
    expect(card).toContain('built from [cross-encoder/nli-deberta-v3-base]');
    expect(card).toContain('label_mapping = ["contradiction", "entailment", "neutral"]');
    expect(card).toContain('# (2, 3)');
    expect(card).not.toContain('model.rank(');
  });

  it('keeps local base-model paths out of the metadata and quotes YAML that needs it', () => {
    const card = renderModelCard(oneLabel, { baseModel: '/models/my base', lossName: 'CrossEntropyLoss', evalMetrics: { 'eval_dev set: acc': 0.5, eval_yes: 1 } });
    const yaml = frontMatter(card);
    expect(yaml.base_model).toBeUndefined();
    expect(yaml.metrics).toEqual(['"dev set: acc"', '"yes"']);
    expect(card).toContain('- **Base model:** `/models/my base`');
  });
});

describe('labelNames', () => {
  it("keeps the config's names when their count matches, else names them LABEL_i", () => {
    expect(labelNames(threeLabels.config, 3)).toEqual(['contradiction', 'entailment', 'neutral']);
    expect(labelNames(threeLabels.config, 2)).toEqual(['LABEL_0', 'LABEL_1']);
    expect(labelNames({ id2label: { 0: 'a', 2: 'b' } }, 2)).toEqual(['LABEL_0', 'LABEL_1']);
    expect(labelNames({}, 1)).toEqual(['LABEL_0']);
  });
});

// ---------------------------------------------------------------------------------------------

interface ParsedSvg {
  root: string;
  width: string;
  title: string;
  /** data-series → number of points, in document order. */
  series: Array<[string, number]>;
  panels: string[];
  texts: string[];
  forbidden: string[];
}

/** Parses the SVG with Python's XML parser (which rejects anything not well-formed) and lists its parts. */
function parseSvg(svg: string): ParsedSvg {
  const code = `
import json, sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.read())
ns = '{http://www.w3.org/2000/svg}'
out = {
  'root': root.tag, 'width': root.get('width'),
  'title': root.find(ns + 'title').text,
  'series': [[g.get('data-series'), int(g.get('data-points'))] for g in root.iter(ns + 'g') if g.get('class') == 'series'],
  'panels': [g.get('data-panel') for g in root.iter(ns + 'g') if g.get('class') == 'panel'],
  'texts': [t.text for t in root.iter(ns + 'text')],
  'forbidden': [e.tag for e in root.iter() if e.tag in (ns + 'script', ns + 'foreignObject', ns + 'image')
                or any(k.endswith('href') or k.startswith('on') for k in e.attrib)],
}
print(json.dumps(out))
`;
  const run = spawnSync(PYTHON, ['-c', code], { input: svg, encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as ParsedSvg;
}

describe('renderLossPlot', () => {
  it('draws the losses in one panel and each evaluation metric in its own, as well-formed SVG', () => {
    const svg = renderLossPlot(logHistory())!;
    const parsed = parseSvg(svg);
    expect(parsed.root).toBe('{http://www.w3.org/2000/svg}svg');
    expect(parsed.width).toBe('760');
    expect(parsed.title).toBe('Training loss: 60 steps · final training loss 0.1167 · 2 evaluations');
    expect(parsed.series).toEqual([
      ['loss', 6],
      ['eval_loss', 2],
      ['eval_dev_ndcg@10', 2],
      ['eval_dev_map', 2],
    ]);
    expect(parsed.panels).toEqual(['Loss', 'dev_ndcg@10', 'dev_map']);
    expect(parsed.texts).toContain('Training loss');
    expect(parsed.texts).toContain('Step');
    // Step ticks are round numbers within the logged range.
    expect(parsed.texts).toEqual(expect.arrayContaining(['20', '40', '60']));
    expect(parsed.forbidden).toEqual([]);
    // Timings logged with each evaluation are not metrics.
    expect(svg).not.toMatch(/runtime|samples_per_second/);
  });

  it('returns undefined when there is nothing to plot', () => {
    expect(renderLossPlot([])).toBeUndefined();
    expect(renderLossPlot([{ train_runtime: 3, train_loss: 0.5, step: 10 }, { loss: 0.4 }, { loss: Number.NaN, step: 3 }])).toBeUndefined();
  });

  it('skips non-finite values, plots a single point, and escapes metric names', () => {
    const parsed = parseSvg(
      renderLossPlot([
        { loss: 0.69, step: 1 },
        { loss: Number.POSITIVE_INFINITY, step: 2 },
        { 'eval_a<b>&"c"': 0.5, step: 1 },
      ])!,
    );
    expect(parsed.series).toEqual([
      ['loss', 1],
      ['eval_a<b>&"c"', 1],
    ]);
    expect(parsed.panels).toEqual(['Loss', 'a<b>&"c"']);
    expect(parsed.title).toBe('Training loss: 1 step · final training loss 0.69 · 1 evaluation');
  });

  it('thins very long histories to evenly spaced points, keeping the last', () => {
    const history = Array.from({ length: 200_000 }, (_, i) => ({ loss: 1 / (i + 1), step: i + 1 }));
    const svg = renderLossPlot(history)!;
    const parsed = parseSvg(svg);
    expect(parsed.series).toEqual([['loss', 2001]]);
    expect(parsed.title).toBe('Training loss: 200000 steps · final training loss 5.000e-6');
    expect(svg.length).toBeLessThan(100_000);
  });

  it('plots evaluation metrics alone when no loss was logged', () => {
    const parsed = parseSvg(renderLossPlot([{ eval_accuracy: 0.5, step: 0 }, { eval_accuracy: 0.75, step: 100 }])!);
    expect(parsed.title).toMatch(/^Evaluation metrics: 100 steps/);
    expect(parsed.series).toEqual([['eval_accuracy', 2]]);
  });
});

describe('writeLossPlot', () => {
  let work: string;
  beforeEach(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'tce-plot-'));
  });
  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('writes training_loss.svg, and nothing when there is nothing to plot', async () => {
    const dir = path.join(work, 'out');
    expect(await writeLossPlot(dir, logHistory())).toBe(path.join(dir, LOSS_PLOT_FILE));
    expect(await readFile(path.join(dir, LOSS_PLOT_FILE), 'utf8')).toBe(renderLossPlot(logHistory()));
    expect(await readdir(dir)).toEqual([LOSS_PLOT_FILE]);

    const empty = path.join(work, 'empty');
    expect(await writeLossPlot(empty, [])).toBeUndefined();
    expect(existsSync(empty)).toBe(false);
  });

  it('throws FileSystemError naming the file when the directory cannot be created', async () => {
    await writeFile(path.join(work, 'file'), 'not a directory');
    const dir = path.join(work, 'file', 'out');
    const error = await writeLossPlot(dir, logHistory()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FileSystemError);
    expect((error as Error).message).toContain(path.join(dir, LOSS_PLOT_FILE));
  });
});
