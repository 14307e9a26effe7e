/**
 * The campaign's record: counts per target and class, rates, the worker's peak RSS, the
 * findings grouped by signature (target, class, phase, message with numbers blanked), and every
 * non-clean case written to `<out>/findings/<class>/<index>-<target>/` (the mutated file and a
 * case.json to replay it with `npm run fuzz -- --replay <dir>`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { type FuzzCase, TARGETS, type Target } from './cases.js';
import { FINDING_CLASSES, OUTCOME_CLASSES, type Outcome, type OutcomeClass } from './protocol.js';

export interface FindingGroup {
  signature: string;
  target: Target;
  class: OutcomeClass;
  count: number;
  /** The first case of the group: its index, mutations and message. */
  example: { index: number; mutations: string[]; message?: string; errorName?: string; dir?: string };
}

export interface Summary {
  seed: number;
  seconds: number;
  cases: number;
  casesPerSecond: number;
  counts: Record<Target, Record<OutcomeClass, number>>;
  totals: Record<OutcomeClass, number>;
  findings: number;
  groups: FindingGroup[];
  slowCases: number;
  workerStarts: number;
  peakRssMb: number;
  maxRssMb: number;
  out: string;
}

/** Cases slower than this are counted (not a finding: a hang is the time limit). */
const SLOW_MS = 2000;
/** At most this many inputs are written per class (a known-open bug may match thousands). */
const MAX_WRITTEN_PER_CLASS = 2000;

export function signature(target: Target, outcome: Outcome): string {
  const message = (outcome.message ?? '')
    .split('\n')[0]
    .replace(/\/[^\s'"`:,)]*crossencoder-fuzz-\d+\/model\//g, '<dir>/')
    .replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/gi, 'N')
    .replace(/"[^"]{40,}"/g, '"…"')
    .slice(0, 160);
  return `${target} | ${outcome.class} | ${outcome.phase} | ${outcome.errorName ?? ''} ${message}`;
}

export class Report {
  readonly counts = Object.fromEntries(TARGETS.map((t) => [t, Object.fromEntries(OUTCOME_CLASSES.map((c) => [c, 0]))])) as Record<Target, Record<OutcomeClass, number>>;
  private readonly groups = new Map<string, FindingGroup>();
  private readonly written = new Map<OutcomeClass, number>();
  cases = 0;
  slowCases = 0;
  private readonly started = performance.now();

  constructor(
    readonly seed: number,
    readonly out: string,
  ) {}

  record(fuzzCase: FuzzCase, outcome: Outcome): string | undefined {
    this.cases++;
    this.counts[fuzzCase.target][outcome.class]++;
    if (outcome.ms > SLOW_MS) this.slowCases++;
    if (!FINDING_CLASSES.includes(outcome.class)) return undefined;
    const dir = this.write(fuzzCase, outcome);
    const key = signature(fuzzCase.target, outcome);
    const group = this.groups.get(key);
    if (group) group.count++;
    else {
      this.groups.set(key, {
        signature: key,
        target: fuzzCase.target,
        class: outcome.class,
        count: 1,
        example: { index: fuzzCase.index, mutations: fuzzCase.mutations, message: outcome.message, errorName: outcome.errorName, dir },
      });
    }
    return dir;
  }

  /** Writes a finding's input and case.json; returns its folder. */
  private write(fuzzCase: FuzzCase, outcome: Outcome): string | undefined {
    const written = this.written.get(outcome.class) ?? 0;
    if (written >= MAX_WRITTEN_PER_CLASS) return undefined;
    this.written.set(outcome.class, written + 1);
    const dir = path.join(this.out, 'findings', outcome.class, `${fuzzCase.index}-${fuzzCase.target}`);
    mkdirSync(dir, { recursive: true });
    const { input } = fuzzCase;
    if (input.kind === 'files') writeFileSync(path.join(dir, input.file), Buffer.from(input.content, 'base64'));
    else writeFileSync(path.join(dir, 'request-body'), input.body);
    const stored = input.kind === 'files' ? { ...input, content: undefined } : input;
    writeFileSync(path.join(dir, 'case.json'), `${JSON.stringify({ ...fuzzCase, input: stored, outcome, replay: `npm run fuzz -- --replay ${dir}` }, null, 2)}\n`);
    return dir;
  }

  summary(extra: { workerStarts: number; peakRssMb: number; maxRssMb: number }): Summary {
    const seconds = (performance.now() - this.started) / 1000;
    const totals = Object.fromEntries(OUTCOME_CLASSES.map((c) => [c, TARGETS.reduce((sum, t) => sum + this.counts[t][c], 0)])) as Record<OutcomeClass, number>;
    const groups = [...this.groups.values()].sort((a, b) => FINDING_CLASSES.indexOf(b.class) - FINDING_CLASSES.indexOf(a.class) || b.count - a.count);
    return {
      seed: this.seed,
      seconds,
      cases: this.cases,
      casesPerSecond: this.cases / seconds,
      counts: this.counts,
      totals,
      findings: FINDING_CLASSES.reduce((sum, c) => sum + totals[c], 0),
      groups,
      slowCases: this.slowCases,
      ...extra,
      out: this.out,
    };
  }
}

/** The summary as a table and a list of finding groups, for the terminal and report.txt. */
export function formatSummary(summary: Summary): string {
  const columns = OUTCOME_CLASSES;
  const lines = [
    `seed ${summary.seed}: ${summary.cases} cases in ${summary.seconds.toFixed(1)} s (${summary.casesPerSecond.toFixed(1)} cases/s), ${summary.findings} findings, ${summary.slowCases} slow (> ${SLOW_MS} ms), ${summary.workerStarts} worker start(s), worker peak RSS ${summary.peakRssMb.toFixed(0)} MB (cap ${summary.maxRssMb} MB)`,
    '',
    ['target'.padEnd(17), ...columns.map((c) => c.padStart(Math.max(c.length, 6)))].join(' '),
  ];
  for (const target of TARGETS) lines.push([target.padEnd(17), ...columns.map((c) => String(summary.counts[target][c]).padStart(Math.max(c.length, 6)))].join(' '));
  lines.push(['total'.padEnd(17), ...columns.map((c) => String(summary.totals[c]).padStart(Math.max(c.length, 6)))].join(' '));
  if (summary.groups.length > 0) {
    lines.push('', 'findings by signature:');
    for (const group of summary.groups) {
      lines.push(`- [${group.count}x] ${group.signature}`);
      lines.push(`    e.g. case ${group.example.index}: ${group.example.mutations.join('; ').slice(0, 300)}`);
      if (group.example.message) lines.push(`    ${group.example.errorName ?? ''} ${group.example.message.split('\n')[0].slice(0, 300)}`);
      if (group.example.dir) lines.push(`    ${group.example.dir}`);
    }
  }
  lines.push('', `report and findings: ${summary.out}`);
  return lines.join('\n');
}

export function writeSummary(summary: Summary): void {
  mkdirSync(summary.out, { recursive: true });
  writeFileSync(path.join(summary.out, 'report.json'), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(path.join(summary.out, 'report.txt'), `${formatSummary(summary)}\n`);
}
