/**
 * The listwise losses' data: rows `{ query, docs: string[], labels: number[] }` (a query with its
 * documents and one label each; lists may differ in length). A batch is every (query, document)
 * pair of its rows flattened in order, forwarded in chunks of `miniBatchSize` pairs (ST's default:
 * as many pairs as the batch has queries), with the documents per query; the native loss pads
 * the lists to the batch's longest as ST does (see each loss's C++ file for what the padding is).
 */
import type { ColumnDataset, PairInput } from '../../datasets.js';
import { InvalidArgumentError } from '../../errors.js';
import type { CrossEncoder } from '../../model/cross-encoder.js';
import type { NativeLossBatch } from '../../native.js';
import type { PairEncoding } from '../../tokenizer/tokenizer.js';

import { collate, columnsFor, describeValue, encode, expectNumber, expectString, type LossSamples, rowLengths } from './loss.js';

export function listwiseSamples(loss: string, model: CrossEncoder, input: PairInput | ColumnDataset, miniBatchSize: number | null): LossSamples {
  const dataset = columnsFor(loss, input, '(query, docs: string[]) and a label column (labels: number[], one per document)', 2, {
    label: 'required',
  });
  const rows = Array.from({ length: dataset.length }, (_, i) => {
    const query = expectString(dataset, i, 0);
    const docs = dataset.input(i, 1);
    const column = dataset.inputColumns[1];
    if (!Array.isArray(docs) || docs.length === 0 || docs.some((d) => typeof d !== 'string')) {
      throw new InvalidArgumentError(`${dataset.where(i)}: "${column}" must be a non-empty list of strings, got ${describeValue(docs)}`);
    }
    const labels = dataset.label(i);
    if (!Array.isArray(labels) || labels.length !== docs.length) {
      throw new InvalidArgumentError(
        `${dataset.where(i)}: "${dataset.labelColumn}" must be a list of ${docs.length} numbers (one per document), got ${describeValue(labels)}`,
      );
    }
    return { query, docs: docs as string[], labels: labels.map((l) => expectNumber(dataset, i, l, `"${dataset.labelColumn}"`)) };
  });
  const encodings = new Map<number, PairEncoding[]>();
  const pairsOf = (i: number) => {
    let e = encodings.get(i);
    if (!e) encodings.set(i, (e = rows[i].docs.map((doc) => encode(model, rows[i].query, doc))));
    return e;
  };
  return {
    length: rows.length,
    lengths: () => rowLengths(rows.length, pairsOf),
    batch(batchRows: readonly number[]): NativeLossBatch {
      const pairs = batchRows.flatMap(pairsOf);
      const size = miniBatchSize ?? batchRows.length;
      const chunks = [];
      for (let start = 0; start < pairs.length; start += size) chunks.push(collate(model, pairs.slice(start, start + size)));
      return {
        chunks,
        rows: batchRows.length,
        labels: Float32Array.from(batchRows.flatMap((i) => rows[i].labels)),
        groupSizes: Int32Array.from(batchRows, (i) => rows[i].docs.length),
      };
    },
  };
}
