/**
 * What a training run shows on stderr while it runs, as transformers' ProgressCallback: a
 * progress bar of the optimiser steps (epoch, elapsed time, the last loss and learning rate) and
 * each log entry as a JSON line with rounded numbers. During an evaluation or a checkpoint save
 * the bar says so (`evaluating…`, `saving checkpoint-500…`) rather than vanishing. The trainer
 * adds it unless `disableTqdm` is set or a `logger` is given.
 */
import { createProgress, type Progress, type ProgressStream } from '../progress.js';

import type { CallbackEvent, StepOutput, TrainerCallback, TrainerState } from './callbacks.js';
import { roundedLogs } from './rounded-logs.js';

export class ProgressCallback implements TrainerCallback {
  private progress: Progress | undefined;
  /** What the line says the trainer is doing between steps, if anything. */
  private status: string | undefined;

  /** `stream` defaults to process.stderr (tests pass a fake one). */
  constructor(private readonly stream: ProgressStream = process.stderr) {}

  onTrainBegin({ args, state }: CallbackEvent): void {
    this.progress = createProgress({ total: state.maxSteps, label: 'Training', initial: state.globalStep, showElapsed: true, stream: this.stream });
    this.progress.update(state.globalStep, { epoch: epochField(state) });
    if (args.evalOnStart && state.globalStep === 0) this.progress.setStatus('evaluating…');
  }

  onStepEnd({ state, control, step }: CallbackEvent & { step: StepOutput }): void {
    const lr = step.learningRate === 0 ? '0' : step.learningRate.toExponential(2);
    this.progress?.update(state.globalStep, { epoch: epochField(state), loss: step.loss.toFixed(4), lr });
    this.showPending(state, control);
  }

  onEpochEnd({ state, control }: CallbackEvent): void {
    this.showPending(state, control);
  }

  onLog({ logs }: CallbackEvent & { logs: Record<string, number> }): void {
    // On a terminal, clear the bar's line first, then draw the bar again below the entry.
    this.stream.write(`${this.stream.isTTY ? '\r\x1b[K' : ''}${JSON.stringify(roundedLogs(logs))}\n`);
    if (this.stream.isTTY) this.progress?.setStatus(this.status);
  }

  onEvaluate({ state, control }: CallbackEvent): void {
    this.setStatus(control.shouldSave ? savingStatus(state) : undefined);
  }

  onSave(): void {
    this.setStatus(undefined);
  }

  onTrainEnd(): void {
    this.progress?.finish();
    this.progress = undefined;
  }

  /** What the trainer does next, before the next step: `control` says it. */
  private showPending(state: TrainerState, control: CallbackEvent['control']): void {
    if (control.shouldEvaluate) this.setStatus('evaluating…');
    else if (control.shouldSave) this.setStatus(savingStatus(state));
    else if (this.status !== undefined) this.setStatus(undefined);
  }

  private setStatus(status: string | undefined): void {
    if (status === undefined && this.status === undefined) return;
    this.status = status;
    this.progress?.setStatus(status);
  }
}

function savingStatus(state: TrainerState): string {
  return `saving checkpoint-${state.globalStep}…`;
}

/** `1.25/3`: the fractional epoch of the total. */
function epochField(state: TrainerState): string {
  return `${state.epoch.toFixed(2)}/${state.numTrainEpochs}`;
}
