/** Every command of the CLI, by name, in the order help lists them. */
import type { Command } from '../command.js';

import { downloadCommand } from './download.js';
import { evalCommand } from './eval.js';
import { launchCommand } from './launch.js';
import { predictCommand } from './predict.js';
import { rankCommand } from './rank.js';
import { serveCommand } from './serve.js';
import { trainCommand } from './train.js';

export const COMMANDS: Readonly<Record<string, Command>> = {
  predict: predictCommand,
  rank: rankCommand,
  eval: evalCommand,
  train: trainCommand,
  launch: launchCommand,
  download: downloadCommand,
  serve: serveCommand,
};
