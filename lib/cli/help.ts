/** `--help` texts, generated from the commands' option specs. */
import { COMMANDS } from './commands/index.js';
import { flag, type OptionSpec } from './options.js';
import { TRAINING_GROUP } from './training-options.js';
import { PROGRAM } from './usage-error.js';

const MAX_LABEL_WIDTH = 40;

function optionLabel(name: string, spec: OptionSpec): string {
  const long = spec.negatable ? `--[no-]${name}` : flag(name);
  const short = spec.short ? `-${spec.short}, ` : '    ';
  return `${short}${long}${spec.value ? ` ${spec.value}` : ''}`;
}

function optionHelp(spec: OptionSpec): string {
  const extras: string[] = [];
  if (spec.choices && !spec.value?.includes('|')) extras.push(`one of ${spec.choices.join(', ')}`);
  if (spec.default !== undefined && spec.group !== TRAINING_GROUP) extras.push(`default ${spec.default}`);
  if (spec.required) extras.push('required');
  return extras.length > 0 ? `${spec.help} (${extras.join('; ')})` : spec.help;
}

/** The `--help` text of one command, generated from its option specs. */
export function commandHelp(name: string): string {
  const command = COMMANDS[name];
  const groups = new Map<string, [string, OptionSpec][]>([['Options', []]]);
  for (const entry of Object.entries(command.options)) {
    const group = entry[1].group ?? 'Options';
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group)!.push(entry);
  }
  groups.get('Options')!.push(['help', { kind: 'boolean', short: 'h', help: 'Show this help' }]);
  const labels = [...groups.values()].flat().map(([optionName, spec]) => optionLabel(optionName, spec));
  // Align on the labels that fit; a longer one puts its text on the next line.
  const width = Math.max(...labels.map((label) => label.length).filter((length) => length <= MAX_LABEL_WIDTH));
  const sections = [...groups].map(([title, entries]) => {
    const rows = entries.map(([optionName, spec]) => {
      const label = optionLabel(optionName, spec);
      const gap = label.length > width ? `\n  ${' '.repeat(width)}  ` : ' '.repeat(width - label.length + 2);
      return `  ${label}${gap}${optionHelp(spec)}`;
    });
    return `${title}:\n${rows.join('\n')}`;
  });
  return `Usage: ${PROGRAM} ${name} ${command.usage}\n\n${command.summary}.\n\n${command.description}\n\n${sections.join('\n\n')}\n`;
}

/** The overall `--help` text. */
export function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const commands = Object.entries(COMMANDS)
    .map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`)
    .join('\n');
  return (
    `Usage: ${PROGRAM} <command> [options]\n\n` +
    'Score, rank, evaluate, fine-tune and download CrossEncoder rerankers (libtorch).\n\n' +
    `Commands:\n${commands}\n\n` +
    'Options:\n' +
    '  -h, --help     Show help (also: crossencoder <command> --help, crossencoder help <command>)\n' +
    '  -v, --version  Show the version\n\n' +
    `Exit status: 0 success, 1 runtime error, 2 usage error. CROSSENCODER_DEBUG=1 prints stack traces.\n`
  );
}

export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}
