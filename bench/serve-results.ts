/** What the serve benchmark measures, on each side, at each number of concurrent clients. */

/** One request body: a query and its 20 documents. */
export interface ServeRequest {
  query: string;
  documents: string[];
}

/** The same requests scored in-process by `clients` concurrent `rank()` callers (bench/serve-in-process.ts). */
export interface InProcessResult {
  clients: number;
  seconds: number;
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Peak RSS of the process. */
  maxRssMiB: number;
}

/** `crossencoder serve` under `clients` autocannon connections (bench/serve.ts). */
export interface ServedResult extends InProcessResult {
  /** Connection errors, timeouts and non-2xx answers: any is a failed run. */
  errors: number;
  timeouts: number;
  non2xx: number;
  /** Mean pairs per forward pass, from the server's te_batch_next_size. */
  pairsPerForward: number;
}

export interface ServeComparison {
  clients: number;
  served: ServedResult;
  inProcess: InProcessResult;
}
