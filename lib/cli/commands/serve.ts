/** `crossencoder serve`: the reranking HTTP service (Cohere and text-embeddings-inference APIs). */
import { once } from 'node:events';

import { createRerankServer } from '../../serving/index.js';
import { DEFAULT_LIMITS } from '../../serving/options.js';
import { defineCommand } from '../command.js';
import { DTYPE_OPTION, MODEL_OPTIONS } from '../model-options.js';
import type { ModelDtype } from '../../model/cross-encoder.js';
import { writeOut } from '../output.js';
import { PROGRAM, UsageError } from '../usage-error.js';

const LIMITS_GROUP = 'Limits';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

export const serveCommand = defineCommand('serve', {
  summary: 'Serve a model over HTTP (Cohere and text-embeddings-inference APIs)',
  usage: '--model <path|id> [--host 127.0.0.1] [--port 8080] [options]',
  description:
    'Serves POST /v2/rerank and /v1/rerank (Cohere, Jina), /rerank and /predict\n' +
    '(text-embeddings-inference), GET /health, /info and /metrics (Prometheus). Prints the URL on\n' +
    'stdout once the model is loaded. SIGTERM or SIGINT stops it after answering the requests in\n' +
    'flight (exit status 0); a second one stops at once. The API key can also be given as\n' +
    'CROSSENCODER_API_KEY, which keeps it out of the process list.',
  options: {
    host: { kind: 'string', value: '<address>', help: 'Address to listen on (0.0.0.0: every interface)', default: '127.0.0.1' },
    port: { kind: 'integer', min: 0, value: '<port>', help: 'Port to listen on (0: any free port)', default: 8080 },
    'api-key': { kind: 'string', value: '<key>', help: 'Require Authorization: Bearer <key> on every route but /health' },
    'admin-reload': { kind: 'boolean', help: 'Enable POST /admin/reload (needs an API key)' },
    'log-level': { kind: 'string', value: `<${LOG_LEVELS.join('|')}>`, choices: LOG_LEVELS, help: 'Log level (JSON lines on stderr)', default: 'warn' },
    'max-batch-tokens': { kind: 'integer', min: 1, value: '<n>', help: 'Padded tokens per forward pass', default: DEFAULT_LIMITS.maxBatchTokens, group: LIMITS_GROUP },
    'batch-size': { kind: 'integer', min: 1, value: '<n>', help: 'Pairs per forward pass at most', default: DEFAULT_LIMITS.batchSize, group: LIMITS_GROUP },
    'max-client-batch-size': {
      kind: 'integer',
      min: 1,
      value: '<n>',
      help: 'Documents (or pairs) per request; more is a 413',
      default: DEFAULT_LIMITS.maxClientBatchSize,
      group: LIMITS_GROUP,
    },
    'max-concurrent-requests': {
      kind: 'integer',
      min: 1,
      value: '<n>',
      help: 'Requests scored at once; more is a 429',
      default: DEFAULT_LIMITS.maxConcurrentRequests,
      group: LIMITS_GROUP,
    },
    'max-input-length': { kind: 'integer', min: 3, value: '<n>', help: "Tokens per pair; default: the model's maximum", group: LIMITS_GROUP },
    'payload-limit': { kind: 'integer', min: 1, value: '<bytes>', help: 'Largest request body; larger is a 413', default: DEFAULT_LIMITS.payloadLimit, group: LIMITS_GROUP },
    ...MODEL_OPTIONS,
    dtype: DTYPE_OPTION,
  },
  async run(values) {
    if (values.port > 65535) throw new UsageError(`--port must be at most 65535, got ${values.port}`, 'serve');
    const apiKey = values['api-key'] ?? (process.env.CROSSENCODER_API_KEY || undefined);
    if (values['admin-reload'] === true && apiKey === undefined) throw new UsageError('--admin-reload needs --api-key (or CROSSENCODER_API_KEY)', 'serve');
    const level = values['log-level'];
    const stop = stopSignal();
    const server = createRerankServer({
      modelPath: values.model,
      modelOptions: { revision: values.revision, cacheDir: values['cache-dir'], localFilesOnly: values['local-files-only'] === true ? true : undefined, dtype: values.dtype as ModelDtype | undefined },
      apiKey,
      adminReload: values['admin-reload'] === true,
      maxBatchTokens: values['max-batch-tokens'],
      batchSize: values['batch-size'],
      maxClientBatchSize: values['max-client-batch-size'],
      maxConcurrentRequests: values['max-concurrent-requests'],
      maxInputLength: values['max-input-length'],
      payloadLimit: values['payload-limit'],
      logger: level === 'silent' ? false : { level, stream: process.stderr },
    });
    try {
      // Listening while the model loads: /health answers 503 until it is ready.
      const url = await server.listen({ host: values.host, port: values.port });
      const loaded = await Promise.race([server.modelReady(), stop.signalled]);
      if (loaded !== undefined && typeof loaded !== 'string') {
        process.stderr.write(`${PROGRAM}: serving ${values.model} at ${url} (SIGTERM or Ctrl-C stops it)\n`);
        await writeOut(`${url}\n`);
        const signal = await stop.signalled;
        process.stderr.write(`${PROGRAM}: ${signal}: answering the requests in flight, then stopping\n`);
      }
    } finally {
      await server.close();
      stop.dispose();
    }
  },
});

/** The first SIGTERM or SIGINT; a second one exits at once. */
function stopSignal(): { signalled: Promise<string>; dispose(): void } {
  let count = 0;
  const controller = new AbortController();
  const onSignal = () => {
    if (++count > 1) {
      process.stderr.write(`${PROGRAM}: stopping now, without waiting for the requests in flight\n`);
      process.exit(1);
    }
  };
  for (const name of STOP_SIGNALS) process.on(name, onSignal);
  const signalled = Promise.race(STOP_SIGNALS.map(async (name) => (await once(process, name, { signal: controller.signal }), name)));
  signalled.catch(() => undefined);
  return {
    signalled,
    dispose() {
      controller.abort();
      for (const name of STOP_SIGNALS) process.off(name, onSignal);
    },
  };
}
