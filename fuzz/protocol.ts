/**
 * What the fuzzer's parent and worker say to each other over IPC, and the outcome classes.
 */
import type { FuzzCase } from './cases.js';

/**
 * - `ok`: loaded and scored, every score finite (many mutations are harmless).
 * - `clean`: refused with a `CrossEncoderError` (or, for the service, a 4xx JSON error body).
 * - `untyped`: an error that is not a `CrossEncoderError` (TypeError, RangeError…): a bug.
 * - `garbage`: loaded and scored, but a score is NaN or infinite.
 * - `http-5xx`, `bad-response`: the service answered 5xx, or a body that is not the JSON it promises.
 * - `crash`: the worker died (signal, non-zero exit) during the case.
 * - `hang`: the case ran past the time limit (the worker is killed).
 * - `huge-allocation`: the worker's RSS passed the cap, or an allocation of more failed.
 */
export const OUTCOME_CLASSES = ['ok', 'clean', 'untyped', 'garbage', 'http-5xx', 'bad-response', 'crash', 'hang', 'huge-allocation'] as const;
export type OutcomeClass = (typeof OUTCOME_CLASSES)[number];

/** The classes that are findings; every one fails the test slice. */
export const FINDING_CLASSES: readonly OutcomeClass[] = ['untyped', 'garbage', 'http-5xx', 'bad-response', 'crash', 'hang', 'huge-allocation'];

export interface Outcome {
  class: OutcomeClass;
  /** Where it happened: load, predict, dispose, request, or worker (crash, hang, cap). */
  phase: string;
  errorName?: string;
  code?: string;
  message?: string;
  /** The first lines of the stack of an untyped error; a crashed worker's last stderr. */
  detail?: string;
  status?: number;
  ms: number;
  /** The worker's peak RSS after the case, MB. */
  maxRssMb?: number;
}

export type ToWorker = { type: 'case'; fuzzCase: FuzzCase };
export type FromWorker = { type: 'ready'; rssMb: number } | { type: 'result'; index: number; outcome: Outcome; rssMb: number };

/** Messages of errors that mean an allocation of too much memory was attempted. */
export const ALLOCATION_FAILURE = /can't allocate memory|bad_alloc|Cannot allocate memory|out of memory|Array buffer allocation failed|Invalid array length|Invalid typed array length/i;
