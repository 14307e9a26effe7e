/**
 * Model cards written after real runs: the base model and usage snippets name hub ids (a model
 * found through the Hugging Face cache knows its id; a local path never reaches a card), the
 * hyperparameters carry Python's names, re-saving a fine-tuned model keeps its card, the best
 * checkpoint is marked in the card and the plot, and a short run still gets a loss curve.
 */
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CrossEncoder, CrossEncoderTrainer, type CrossEncoderTrainerOptions } from '../lib/index.js';

import { testModel } from './helpers/models.js';

const ROWS = Array.from({ length: 8 }, (_, i) => ({ query: `query ${i}`, document: `document ${i}`, label: i % 2 }));
const REPO = 'cross-encoder-tests/tiny-reranker';
const COMMIT = 'c0ffee0000000000000000000000000000000000';

let work: string;
let cache: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'tce-card-'));
  // A hub model as huggingface_hub caches it: the snapshot of a commit, and the ref pointing to it.
  cache = path.join(work, 'hub');
  const repoDir = path.join(cache, `models--${REPO.replace('/', '--')}`);
  await cp(testModel('tiny'), path.join(repoDir, 'snapshots', COMMIT), { recursive: true });
  await mkdir(path.join(repoDir, 'refs'), { recursive: true });
  await writeFile(path.join(repoDir, 'refs', 'main'), COMMIT);
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function trainAndSave(model: CrossEncoder, name: string, options: Partial<CrossEncoderTrainerOptions> = {}) {
  const outputDir = path.join(work, name);
  const trainer = new CrossEncoderTrainer({
    model,
    trainDataset: ROWS,
    ...options,
    args: { outputDir, disableTqdm: true, maxSteps: 4, perDeviceTrainBatchSize: 2, learningRate: 1e-4, ...options.args },
  });
  await trainer.train();
  const saved = path.join(outputDir, 'final');
  await model.savePretrained(saved);
  const card = await readFile(path.join(saved, 'README.md'), 'utf8');
  const plot = await readFile(path.join(saved, 'training_loss.svg'), 'utf8');
  return { trainer, saved, card, plot };
}

describe('the base model and the usage snippets', () => {
  it('use the hub id of a model loaded through the Hugging Face cache, by id or by its snapshot path', async () => {
    const byId = await CrossEncoder.fromPretrained(REPO, { cacheDir: cache, localFilesOnly: true });
    expect(byId.modelCardData.baseModel).toBe(REPO);
    const bySnapshot = await CrossEncoder.fromPretrained(byId.modelPath);
    expect(bySnapshot.modelPath).toContain(`snapshots${path.sep}${COMMIT}`);
    expect(bySnapshot.modelCardData.baseModel).toBe(REPO);
    const { card } = await trainAndSave(byId, 'from-hub');
    expect(card).toContain(`base_model: ${REPO}`);
    expect(card).toContain(`# CrossEncoder based on ${REPO}`);
    expect(card).not.toContain(work);
  });

  it('never name a local directory: the card of a model trained from a local path has no path in it', async () => {
    const model = await CrossEncoder.fromPretrained(testModel('tiny'));
    expect(model.modelCardData.baseModel).toBeUndefined();
    const { card, saved } = await trainAndSave(model, 'from-path');
    for (const local of [work, testModel('tiny'), saved, path.resolve('test')]) expect(card).not.toContain(local);
    expect(card).not.toMatch(/^base_model:/m);
    expect(card).toContain('CrossEncoder("cross_encoder_model_id")');
    expect(card).toContain("CrossEncoder.fromPretrained('cross_encoder_model_id')");
  });
});

describe('the hyperparameters', () => {
  it("carry Python's names, and leave out the output directory", async () => {
    const model = await CrossEncoder.fromPretrained(testModel('tiny'));
    const { card } = await trainAndSave(model, 'hyperparameters', { args: { warmupRatio: 0.25, lrSchedulerType: 'cosine' } });
    const section = card.slice(card.indexOf('#### Non-Default Hyperparameters'), card.indexOf('### Training Results'));
    expect(section).toContain('- `max_steps`: 4');
    expect(section).toContain('- `per_device_train_batch_size`: 2');
    expect(section).toContain('- `learning_rate`: 0.0001');
    expect(section).toContain('- `warmup_ratio`: 0.25');
    expect(section).toContain('- `lr_scheduler_type`: cosine');
    expect(section).not.toMatch(/[a-z][A-Z]/); // no camelCase name
    expect(section).not.toContain('output_dir');
  });
});

describe('re-saving a fine-tuned model', () => {
  it('keeps its card (training section and plot) while it is not trained again, and describes a new run after one', async () => {
    const first = await trainAndSave(await CrossEncoder.fromPretrained(testModel('tiny')), 'first-run');
    expect(first.card).toContain('## Training Details');

    const reloaded = await CrossEncoder.fromPretrained(first.saved);
    const again = path.join(work, 're-saved');
    await reloaded.savePretrained(again);
    expect(await readFile(path.join(again, 'README.md'), 'utf8')).toBe(first.card);
    expect(await readFile(path.join(again, 'training_loss.svg'), 'utf8')).toBe(first.plot);

    const second = await trainAndSave(reloaded, 'second-run', { args: { maxSteps: 2 } });
    expect(second.card).not.toBe(first.card);
    expect(second.card).toContain('- `max_steps`: 2');
  });
});

describe('the best checkpoint', () => {
  it('is the bold row of the logs table and is marked in the plot', async () => {
    const model = await CrossEncoder.fromPretrained(testModel('tiny'));
    const { trainer, card, plot } = await trainAndSave(model, 'best', {
      evalDataset: ROWS,
      args: { loggingSteps: 1, evalStrategy: 'steps', evalSteps: 1, saveSteps: 1, loadBestModelAtEnd: true, metricForBestModel: 'loss' },
    });
    const best = Number(/checkpoint-(\d+)$/.exec(trainer.state.bestModelCheckpoint ?? '')?.[1]);
    expect(best).toBeGreaterThanOrEqual(1);
    const rows = card.split('\n').filter((line) => /^\| (\*\*)?[\d.]+(\*\*)? \| /.test(line));
    expect(rows).toHaveLength(4);
    const bold = rows.filter((row) => row.includes('**'));
    expect(bold).toHaveLength(1);
    expect(bold[0]).toContain(`| **${best}** |`);
    expect(card).toContain('* The bold row denotes the saved checkpoint.');
    expect(plot).toContain(`<g class="best" data-step="${best}">`);
    expect(plot).toContain(`best (step ${best})`);
  });
});

describe('a tutorial-sized run that logs every 500 steps', () => {
  it('still gets its loss curve (every step), and the card says why', async () => {
    const model = await CrossEncoder.fromPretrained(testModel('tiny'));
    const { card, plot, trainer } = await trainAndSave(model, 'tutorial');
    expect(trainer.state.logHistory.filter((entry) => 'loss' in entry)).toHaveLength(0); // the log is transformers' own
    expect(plot).toMatch(/<g class="series" data-series="loss" data-points="4">/);
    expect(plot).toContain('Training loss (every step)');
    expect(card).toContain('The run logged its loss every 500 steps, too few points for a curve: the plot shows the loss of every step.');
    // The output directory's plot, written when training ends, is the same picture.
    expect(await readFile(path.join(work, 'tutorial', 'training_loss.svg'), 'utf8')).toBe(plot);
  });
});
