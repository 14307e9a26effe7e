/**
 * Dynamic batching: the tokenized pairs of every concurrent request wait in one queue, and a
 * single loop runs them through the model in forward passes bounded by a padded-token budget,
 * length-sorted (pack-forward.ts), resolving each request when its last pair is scored. One
 * forward runs at a time: libtorch does all tensor work on one compute thread anyway, and the
 * event loop stays free meanwhile (the forward is asynchronous native work).
 *
 * Each request is scored entirely by the model it was tokenized for: `swapModel` switches the
 * model new requests get, while the queued pairs of earlier ones still run on theirs; a forward
 * never mixes two models.
 */
import { CancelledError, InvalidArgumentError } from '../errors.js';
import { CrossEncoder } from '../model/cross-encoder.js';
import type { PairEncoding } from '../tokenizer/tokenizer.js';

import { HttpError } from './errors.js';
import type { ServingMetrics } from './metrics.js';
import { packForward } from './pack-forward.js';

/** What a request's scoring took. */
export interface ScoredBatch {
  /** Logits, row-major `[encodings.length, numLabels]`, in the order submitted. */
  logits: Float32Array;
  /** Seconds from submission to the start of the request's first forward. */
  queueSeconds: number;
  /** Seconds from its first forward's start to its last one's end. */
  inferenceSeconds: number;
}

/** One submitted request's pairs. */
interface Job {
  readonly model: CrossEncoder;
  readonly logits: Float32Array;
  remaining: number;
  readonly submittedAt: number;
  firstForwardAt?: number;
  done: boolean;
  readonly resolve: (batch: ScoredBatch) => void;
  readonly reject: (error: unknown) => void;
}

/** One waiting pair. */
interface Waiting {
  readonly job: Job;
  /** Its row in the job's logits. */
  readonly row: number;
  readonly encoding: PairEncoding;
}

/** Options of a {@link DynamicBatcher}. */
export interface BatcherOptions {
  /** Padded tokens per forward. */
  maxBatchTokens: number;
  /** Pairs per forward at most. */
  batchSize: number;
  metrics?: ServingMetrics;
}

// A forward is packed from the oldest waiting pairs of one model, about two forwards' worth of
// tokens (and at most four forwards' worth of pairs): enough to sort a request's pairs by length
// and to put small requests together, few enough that requests are answered nearly in arrival
// order (mixing more of them delays all of them: each would finish only when the last one does).
const WINDOW_FORWARDS = 2;

export class DynamicBatcher {
  readonly #options: BatcherOptions;
  #model: CrossEncoder | undefined;
  /** Requests using each model (in `use`), so a swap knows when the old model is idle. */
  readonly #users = new Map<CrossEncoder, number>();
  readonly #idleWaiters = new Map<CrossEncoder, (() => void)[]>();
  #queue: Waiting[] = [];
  #running = false;
  #closed = false;
  /** The current forward's promise, so `close` can wait for it. */
  #forward: Promise<void> | undefined;

  constructor(model: CrossEncoder | undefined, options: BatcherOptions) {
    this.#model = model;
    this.#options = options;
  }

  /** The model new requests are scored with (undefined while the first one loads). */
  get model(): CrossEncoder | undefined {
    return this.#model;
  }

  /** Pairs waiting for a forward. */
  get queueSize(): number {
    return this.#queue.length;
  }

  /**
   * Runs `work` with the current model, counted as one of its users until it settles: the model
   * a request tokenizes with and submits to. A model swapped out stays usable until its last
   * user is done.
   * @throws HttpError 503 before a model is set, or after `close`.
   */
  async use<T>(work: (model: CrossEncoder) => Promise<T>): Promise<T> {
    const model = this.#model;
    if (this.#closed) throw new HttpError(503, 'Unhealthy', 'the server is shutting down');
    if (model === undefined) throw new HttpError(503, 'Unhealthy', 'the model is still loading');
    this.#users.set(model, (this.#users.get(model) ?? 0) + 1);
    try {
      return await work(model);
    } finally {
      const users = (this.#users.get(model) ?? 1) - 1;
      if (users > 0) this.#users.set(model, users);
      else {
        this.#users.delete(model);
        for (const wake of this.#idleWaiters.get(model) ?? []) wake();
        this.#idleWaiters.delete(model);
      }
    }
  }

  /**
   * Queues a request's encodings for `model` (the one `use` gave) and resolves with their logits.
   * `signal` cancels it: its waiting pairs leave the queue and the promise rejects with a
   * CancelledError (a pair already in a running forward is simply not reported).
   */
  submit(model: CrossEncoder, encodings: readonly PairEncoding[], signal?: AbortSignal): Promise<ScoredBatch> {
    if (encodings.length === 0) return Promise.resolve({ logits: new Float32Array(0), queueSeconds: 0, inferenceSeconds: 0 });
    if (this.#closed) return Promise.reject(new HttpError(503, 'Unhealthy', 'the server is shutting down'));
    return new Promise<ScoredBatch>((resolve, reject) => {
      const cancelled = () => new CancelledError('the client closed the connection');
      if (signal?.aborted) return reject(cancelled());
      const onAbort = () => this.#cancel(job, cancelled());
      const job: Job = {
        model,
        logits: new Float32Array(encodings.length * model.numLabels),
        remaining: encodings.length,
        submittedAt: performance.now(),
        done: false,
        resolve: (batch) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(batch);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      encodings.forEach((encoding, row) => this.#queue.push({ job, row, encoding }));
      this.#options.metrics?.queueSize.set(this.#queue.length);
      if (!this.#running) this.#forward = this.#run();
    });
  }

  /**
   * Switches the model new requests get to `model`, and resolves with the previous one once
   * nothing uses it any more (every request it was given is answered), so it can be disposed.
   * Requests in flight are not dropped: each finishes on the model it started with.
   */
  async swapModel(model: CrossEncoder): Promise<CrossEncoder | undefined> {
    if (!(model instanceof CrossEncoder)) throw new InvalidArgumentError('swapModel(model): model must be a CrossEncoder');
    const previous = this.#model;
    this.#model = model;
    if (previous !== undefined && previous !== model) {
      this.#options.metrics?.modelSwaps.inc();
      if (this.#users.has(previous)) {
        await new Promise<void>((wake) => this.#idleWaiters.set(previous, [...(this.#idleWaiters.get(previous) ?? []), wake]));
      }
    }
    return previous;
  }

  /** Refuses new work and waits for the running forward; queued pairs are rejected (503). */
  async close(): Promise<void> {
    this.#closed = true;
    const error = new HttpError(503, 'Unhealthy', 'the server is shutting down');
    for (const job of new Set(this.#queue.map((waiting) => waiting.job))) this.#fail(job, error);
    this.#queue = [];
    this.#options.metrics?.queueSize.set(0);
    await this.#forward;
  }

  /** The batching loop: forwards until the queue is empty. */
  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length > 0) await this.#runOneForward();
    } finally {
      this.#running = false;
    }
  }

  async #runOneForward(): Promise<void> {
    const { maxBatchTokens, batchSize, metrics } = this.#options;
    const model = this.#queue[0].job.model;
    const window: number[] = [];
    let tokens = 0;
    for (let i = 0; i < this.#queue.length && tokens < WINDOW_FORWARDS * maxBatchTokens && window.length < 2 * WINDOW_FORWARDS * batchSize; i++) {
      if (this.#queue[i].job.model !== model) continue;
      window.push(i);
      tokens += this.#queue[i].encoding.inputIds.length;
    }
    const lengths = window.map((i) => this.#queue[i].encoding.inputIds.length);
    const picked = packForward(lengths, maxBatchTokens, batchSize).map((w) => window[w]);
    const taken = new Set(picked);
    const batch = picked.map((i) => this.#queue[i]);
    this.#queue = this.#queue.filter((_, i) => !taken.has(i));
    metrics?.queueSize.set(this.#queue.length);

    try {
      await this.#forwardBatch(model, batch);
    } catch (error) {
      // The forward failed (or, were it a bug, handing out its rows did): its requests get the
      // error; the loop goes on with the rest of the queue.
      for (const job of new Set(batch.map((waiting) => waiting.job))) this.#fail(job, error);
    }
  }

  /** Runs one forward and hands each row to its request, resolving those it completes. */
  async #forwardBatch(model: CrossEncoder, batch: readonly Waiting[]): Promise<void> {
    const { metrics } = this.#options;
    const started = performance.now();
    for (const { job } of batch) job.firstForwardAt ??= started;
    const seqLength = Math.max(...batch.map((waiting) => waiting.encoding.inputIds.length));
    metrics?.batchSize.observe(batch.length);
    metrics?.batchTokens.observe(seqLength * batch.length);
    const logits = await model.forward(batch.map((waiting) => waiting.encoding));
    const ended = performance.now();
    const numLabels = model.numLabels;
    batch.forEach(({ job, row }, i) => {
      if (job.done) return;
      job.logits.set(logits.subarray(i * numLabels, (i + 1) * numLabels), row * numLabels);
      if (--job.remaining > 0) return;
      job.done = true;
      job.resolve({
        logits: job.logits,
        queueSeconds: ((job.firstForwardAt ?? started) - job.submittedAt) / 1000,
        inferenceSeconds: (ended - (job.firstForwardAt ?? started)) / 1000,
      });
    });
  }

  #cancel(job: Job, error: Error): void {
    if (job.done) return;
    this.#queue = this.#queue.filter((waiting) => waiting.job !== job);
    this.#options.metrics?.queueSize.set(this.#queue.length);
    this.#fail(job, error);
  }

  #fail(job: Job, error: unknown): void {
    if (job.done) return;
    job.done = true;
    job.reject(error);
  }
}
