/**
 * A small entry for the project's own benchmarks and tools (bench/): what they need beyond the
 * public API (index.ts). Not part of the package's API; it may change in any release.
 * @internal
 */
export { nativeInfo, type NativeBatchObserver, type NativeInfo, observeNativeBatches } from './native.js';
export { epochBatches } from './training/sampler.js';
