/**
 * What a training run shows while it runs, as transformers' ProgressCallback: a progress bar of
 * the optimiser steps (with the last loss and learning rate) and each log entry as a JSON line,
 * on stderr. The trainer adds it unless `disableTqdm` is set.
 */
import { createProgress, type Progress } from '../progress.js';

import type { CallbackEvent, StepOutput, TrainerCallback } from './callbacks.js';

export class ProgressCallback implements TrainerCallback {
  private progress: Progress | undefined;

  onTrainBegin({ state }: CallbackEvent): void {
    this.progress = createProgress({ total: state.maxSteps, label: 'Training', initial: state.globalStep });
    this.progress.update(state.globalStep);
  }

  onStepEnd({ state, step }: CallbackEvent & { step: StepOutput }): void {
    const lr = step.learningRate === 0 ? '0' : step.learningRate.toExponential(2);
    this.progress?.update(state.globalStep, { loss: step.loss.toFixed(4), lr });
  }

  onLog({ logs }: CallbackEvent & { logs: Record<string, number> }): void {
    const stream = process.stderr;
    // On a terminal, clear the bar's line first; the bar redraws below on the next update.
    stream.write(`${stream.isTTY ? '\r\x1b[K' : ''}${JSON.stringify(logs)}\n`);
  }

  onTrainEnd(): void {
    this.progress?.finish();
    this.progress = undefined;
  }
}
