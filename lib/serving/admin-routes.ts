/**
 * `POST /admin/reload` (only with `adminReload` and an API key): loads a model (by default the one
 * served at start, e.g. after a training run saved over it) and switches to it between forward
 * passes, without dropping a request (see DynamicBatcher.swapModel).
 */
import type { FastifyInstance } from 'fastify';

import { CrossEncoder, type CrossEncoderOptions } from '../model/cross-encoder.js';

import type { ServingContext } from './context.js';
import { HttpError } from './errors.js';

interface ReloadBody {
  /** A model directory or hub id; default: what the server was started with. */
  model?: string;
}

const reloadBody = { type: 'object', properties: { model: { type: 'string', minLength: 1 } } } as const;

export function registerAdminRoutes(
  app: FastifyInstance,
  context: ServingContext,
  reload: { defaultModel: () => string | undefined; modelOptions: CrossEncoderOptions; swapModel: (model: CrossEncoder, modelId: string) => Promise<unknown> },
): void {
  // One reload at a time: two at once would race to be the model served.
  let reloading: Promise<unknown> = Promise.resolve();
  app.post<{ Body: ReloadBody | undefined }>('/admin/reload', { schema: { body: reloadBody } }, async (request) => {
    const nameOrPath = request.body?.model ?? reload.defaultModel();
    if (nameOrPath === undefined) throw new HttpError(422, 'Validation', 'no model to reload: send { "model": "<directory or hub id>" }');
    const previous = context.modelId();
    const done = reloading.then(async () => {
      const model = await CrossEncoder.fromPretrained(nameOrPath, reload.modelOptions);
      await reload.swapModel(model, nameOrPath);
    });
    reloading = done.catch(() => undefined);
    await done;
    return { model_id: nameOrPath, previous_model_id: previous };
  });
}
