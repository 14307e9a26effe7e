/**
 * README.md documents what a user meets: every environment variable the code reads, every value
 * the package exports, the Node.js versions in `engines`, `require()`, `--version` and `modelId`.
 * (That its code blocks run is test/readme.test.ts.)
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import * as api from '../lib/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** README's section under `## title`, up to the next `## ` heading. */
function section(title: string): string {
  const start = README.indexOf(`\n## ${title}\n`);
  expect(start, `README has a "## ${title}" section`).toBeGreaterThanOrEqual(0);
  const end = README.indexOf('\n## ', start + 4);
  return README.slice(start, end < 0 ? undefined : end);
}

function sources(dir: string, pattern: RegExp): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => pattern.test(file))
    .map((file) => readFileSync(path.join(ROOT, dir, file), 'utf8'));
}

/** Every environment variable name read in lib/ and scripts/: process.env.X, env('X'), env.X. */
function environmentVariables(): string[] {
  const names = new Set<string>();
  const patterns = [/process\.env\.([A-Z][A-Za-z0-9_]*)/g, /process\.env\[['"]([A-Z][A-Za-z0-9_]*)['"]\]/g, /\benv\(['"]([A-Z][A-Za-z0-9_]*)['"]\)/g, /\benv\.([A-Z][A-Za-z0-9_]*)/g];
  for (const text of [...sources('lib', /\.ts$/), ...sources('scripts', /\.(mjs|sh)$/)]) {
    for (const pattern of patterns) for (const match of text.matchAll(pattern)) names.add(match[1]);
  }
  names.delete('PATH'); // the executable search, read to find cmake and compilers
  return [...names].sort();
}

describe('README.md', () => {
  it('documents every environment variable the code reads', () => {
    const variables = environmentVariables();
    expect(variables).toContain('HF_HUB_OFFLINE'); // the scan finds them
    expect(variables).toContain('TORCH_CROSSENCODER_FORWARD_TOKENS');
    const table = section('Environment variables');
    expect(variables.filter((name) => !table.includes(`\`${name}\``))).toEqual([]);
  });

  it('names every value the package exports', () => {
    const exported = Object.keys(api).sort();
    expect(exported).toContain('CrossEncoder');
    expect(exported.filter((name) => !README.includes(`\`${name}\``) && !README.includes(`\`${name}(`) && !README.includes(`${name}(`))).toEqual([]);
  });

  it('states the Node.js versions of `engines`, and how to require() the package', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string }; version: string };
    expect(section('Install')).toContain(`\`engines\`: \`${pkg.engines.node}\``);
    expect(section('Install')).toContain("require('torch-crossencoder')");
  });

  it('documents --version and modelId', () => {
    expect(section('CLI')).toContain('`crossencoder --version`');
    expect(section('API')).toMatch(/`model\.savePretrained\(dir, \{ modelId \}\)` \| .*`modelId` is the hub id/);
  });
});
