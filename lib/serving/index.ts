/** The HTTP service: `createRerankServer` and its types (see server.ts). */
export { createRerankServer } from './server.js';
export type { RerankServer, RerankServerControls } from './server.js';
export type { RerankServerOptions } from './options.js';
export type { ServingErrorBody, ServingErrorType } from './errors.js';
