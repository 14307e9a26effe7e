/**
 * The service's Prometheus metrics (prom-client), under text-embeddings-inference's names where
 * TEI has one (`te_queue_size`, `te_batch_next_size`, `te_batch_next_tokens`,
 * `te_request_*_duration`, `te_request_input_length`), so existing TEI dashboards read them.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

// TEI's duration buckets: a geometric sequence from 15 µs, ×1.5, 35 buckets (up to ~21 min).
const DURATION_BUCKETS = Array.from({ length: 35 }, (_, i) => 1e-5 * 1.5 ** (i + 1));
const powersOfTwo = (count: number) => Array.from({ length: count }, (_, i) => 2 ** i);

/** Every metric of one server, in one registry. */
export class ServingMetrics {
  readonly registry: Registry;
  /** Requests answered, by route and status (499: the client went away first). */
  readonly requests: Counter<'method' | 'route' | 'status'>;
  /** Scoring requests being handled now. */
  readonly inFlight: Gauge;
  /** Pairs waiting for a forward pass. */
  readonly queueSize: Gauge;
  /** Pairs per forward pass. */
  readonly batchSize: Histogram;
  /** Padded tokens (pairs × longest pair) per forward pass. */
  readonly batchTokens: Histogram;
  readonly requestDuration: Histogram;
  readonly tokenizationDuration: Histogram;
  readonly queueDuration: Histogram;
  readonly inferenceDuration: Histogram;
  /** Tokens of each scored pair (or window). */
  readonly inputLength: Histogram;
  /** Models switched in by `swapModel` or `/admin/reload`. */
  readonly modelSwaps: Counter;

  constructor(options: { registry?: Registry; collectDefaultMetrics: boolean }) {
    const registers = [(this.registry = options.registry ?? new Registry())];
    if (options.collectDefaultMetrics) collectDefaultMetrics({ register: this.registry });
    const duration = (name: string, help: string) => new Histogram({ name, help, buckets: DURATION_BUCKETS, registers });
    this.requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route and status (499: the client closed the connection first)',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.inFlight = new Gauge({ name: 'crossencoder_requests_in_flight', help: 'Scoring requests being handled', registers });
    this.queueSize = new Gauge({ name: 'te_queue_size', help: 'Pairs waiting for a forward pass', registers });
    this.batchSize = new Histogram({ name: 'te_batch_next_size', help: 'Pairs per forward pass', buckets: powersOfTwo(13), registers });
    this.batchTokens = new Histogram({
      name: 'te_batch_next_tokens',
      help: 'Padded tokens (pairs x longest pair) per forward pass',
      buckets: powersOfTwo(21),
      registers,
    });
    this.requestDuration = duration('te_request_duration', 'Seconds from a scoring request to its answer');
    this.tokenizationDuration = duration('te_request_tokenization_duration', "Seconds spent tokenizing a request's pairs");
    this.queueDuration = duration('te_request_queue_duration', "Seconds a request's pairs waited before their first forward pass");
    this.inferenceDuration = duration('te_request_inference_duration', "Seconds from a request's first forward pass to its last one's end");
    this.inputLength = new Histogram({ name: 'te_request_input_length', help: 'Tokens per scored pair', buckets: powersOfTwo(14), registers });
    this.modelSwaps = new Counter({ name: 'crossencoder_model_swaps_total', help: 'Models switched in while serving', registers });
  }
}
