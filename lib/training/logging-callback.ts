/**
 * A training run reported through the host's logger instead of stderr (the trainer's `logger`
 * option): the start, every log entry (rounded as the log lines are), each checkpoint and the
 * end, each as a logger call with structured fields.
 */
import type { Logger } from '../logger.js';

import type { CallbackEvent, TrainerCallback } from './callbacks.js';
import { roundedLogs } from './rounded-logs.js';

export class LoggingCallback implements TrainerCallback {
  constructor(private readonly logger: Logger) {}

  onTrainBegin({ args, state }: CallbackEvent): void {
    this.logger.info(
      { step: state.globalStep, maxSteps: state.maxSteps, numTrainEpochs: state.numTrainEpochs, outputDir: args.outputDir },
      state.globalStep > 0 ? 'training resumed' : 'training started',
    );
  }

  onLog({ logs }: CallbackEvent & { logs: Record<string, number> }): void {
    const isEvaluation = Object.keys(logs).some((key) => key.startsWith('eval_'));
    this.logger.info(roundedLogs(logs), isEvaluation ? 'evaluation' : 'training log');
  }

  onSave({ state, checkpointDir }: CallbackEvent & { checkpointDir: string }): void {
    this.logger.info({ step: state.globalStep, checkpoint: checkpointDir }, 'checkpoint saved');
  }

  onTrainEnd({ state }: CallbackEvent): void {
    const summary = state.logHistory[state.logHistory.length - 1] ?? {};
    this.logger.info(roundedLogs(summary), 'training finished');
  }
}
