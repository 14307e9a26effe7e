/**
 * savePretrained of every model family, read back by the Python reference: CrossEncoder
 * .fromPretrained(family model) → savePretrained(dir) → test/reference/family_reference.py
 * `predict` on the saved directory gives the logits it gives on the original, bit for bit (the
 * same float32 weights under the same names, a config.json that builds the same model), and the
 * saved config.json keeps the family's model_type with its sequence-classification architecture
 * (what transformers' AutoModelForSequenceClassification and Sentence Transformers read).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CrossEncoder } from '../lib/index.js';

import { type FamilyTestModelName, familyPredict, padBatch, rustEncode, testModel } from './helpers/models.js';
import { readSafetensorsF32 } from './helpers/safetensors.js';

const PAIRS: [string, string][] = [
  ['How many people live in Berlin?', 'Berlin has 3.5 million inhabitants.'],
  ['empty document', ''],
  ['Crème brûlée à la française', 'Ångström, naïve façade, Straße — İstanbul!'],
  ['what is a cross-encoder', 'A cross-encoder reads the query and the document together, token by token, and scores them.'],
];

const CASES: { name: FamilyTestModelName; modelType: string; architecture: string }[] = [
  { name: 'tiny-roberta', modelType: 'roberta', architecture: 'RobertaForSequenceClassification' },
  { name: 'tiny-xlm-roberta', modelType: 'xlm-roberta', architecture: 'XLMRobertaForSequenceClassification' },
  { name: 'tiny-electra', modelType: 'electra', architecture: 'ElectraForSequenceClassification' },
  { name: 'tiny-modernbert', modelType: 'modernbert', architecture: 'ModernBertForSequenceClassification' },
  { name: 'tiny-modernbert-mean', modelType: 'modernbert', architecture: 'ModernBertForSequenceClassification' },
];

let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'family-save-reload-'));
});
afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe.each(CASES)('$name', ({ name, modelType, architecture }) => {
  it("savePretrained's directory gives the reference the original's logits, and us our scores", async () => {
    const dir = testModel(name);
    const saved = path.join(workDir, name);
    const model = await CrossEncoder.fromPretrained(dir);
    const scores = await model.predict(PAIRS);
    await model.savePretrained(saved);
    await model.dispose();

    const config = JSON.parse(await readFile(path.join(saved, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.model_type).toBe(modelType);
    expect(config.architectures).toEqual([architecture]);
    const original = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    for (const key of ['hidden_size', 'num_hidden_layers', 'vocab_size', 'pad_token_id', 'classifier_pooling', 'local_attention', 'embedding_size', 'layer_norm_eps']) {
      expect(config[key], key).toEqual(original[key]);
    }
    const savedWeights = await readSafetensorsF32(path.join(saved, 'model.safetensors'));
    const originalWeights = await readSafetensorsF32(path.join(dir, 'model.safetensors'));
    expect([...savedWeights.keys()].sort()).toEqual([...originalWeights.keys()].sort());

    const batch = padBatch(await rustEncode(dir, PAIRS), original.pad_token_id as number);
    const [before, after] = await Promise.all([familyPredict(dir, batch), familyPredict(saved, batch)]);
    expect(after.model_type).toBe(modelType);
    expect(after.logits).toEqual(before.logits);

    const again = await CrossEncoder.fromPretrained(saved);
    expect(await again.predict(PAIRS)).toEqual(scores);
    await again.dispose();
  }, 60_000);
});
