/**
 * The package's types as a user's TypeScript sees them: every type a public signature uses is
 * exported from the package, the emitted declaration files leave out `@internal` members and
 * compile in a strict consumer project, and `predict`'s result type follows the model's labels
 * so callers need no casts.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LIB = path.join(ROOT, 'lib');
const INDEX = path.join(LIB, 'index.ts');
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');
const run = promisify(execFile);

function compilerOptions(): ts.CompilerOptions {
  const config = ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), ts.sys.readFile);
  return ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT).options;
}

function isInternal(node: ts.Node): boolean {
  return ts.getJSDocTags(node).some((tag) => tag.tagName.text === 'internal');
}

function isHidden(member: ts.Node): boolean {
  const modifiers = ts.canHaveModifiers(member) ? (ts.getModifiers(member) ?? []) : [];
  const name = (member as { name?: ts.Node }).name;
  return (
    isInternal(member) ||
    modifiers.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword) ||
    (name !== undefined && ts.isPrivateIdentifier(name))
  );
}

/**
 * The types declared in lib/ that the public signatures of `index.ts`'s exports refer to, by
 * the export that refers to them: written type references, and the inferred return types of
 * functions and methods that have none written.
 */
function referencedLibTypes(program: ts.Program): { exported: Set<ts.Symbol>; used: Map<ts.Symbol, string> } {
  const checker = program.getTypeChecker();
  const resolve = (symbol: ts.Symbol) => (symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol);
  const fromLib = (symbol: ts.Symbol) =>
    (symbol.declarations ?? []).some((d) => d.getSourceFile().fileName.startsWith(LIB) && !d.getSourceFile().isDeclarationFile);
  const isType = (symbol: ts.Symbol) =>
    (symbol.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias | ts.SymbolFlags.Class | ts.SymbolFlags.Enum)) !== 0;

  const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(INDEX)!)!;
  const exports = checker.getExportsOfModule(moduleSymbol).map(resolve);
  const exported = new Set(exports);
  const used = new Map<ts.Symbol, string>();
  const note = (symbol: ts.Symbol | undefined, by: string) => {
    if (!symbol) return;
    const target = resolve(symbol);
    if (isType(target) && fromLib(target) && !used.has(target)) used.set(target, by);
  };
  const visit = (node: ts.Node, by: string): void => {
    if (isHidden(node) && !ts.isSourceFile(node)) return;
    if (ts.isTypeReferenceNode(node) || ts.isExpressionWithTypeArguments(node)) {
      note(checker.getSymbolAtLocation(ts.isTypeReferenceNode(node) ? node.typeName : node.expression), by);
    }
    if ((ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isGetAccessorDeclaration(node)) && !node.type) {
      const signature = checker.getSignatureFromDeclaration(node);
      if (signature) {
        const returned = checker.getReturnTypeOfSignature(signature);
        note(returned.aliasSymbol ?? returned.getSymbol(), by);
        for (const argument of checker.getTypeArguments(returned as ts.TypeReference) ?? []) note(argument.aliasSymbol ?? argument.getSymbol(), by);
      }
    }
    // Bodies are implementation, not signature.
    if (ts.isBlock(node)) return;
    ts.forEachChild(node, (child) => visit(child, by));
  };
  for (const symbol of exports) {
    for (const declaration of symbol.declarations ?? []) {
      if (declaration.getSourceFile().fileName.startsWith(LIB)) visit(declaration, symbol.getName());
    }
  }
  return { exported, used };
}

describe('the public API', () => {
  it('exports every type its public signatures use', () => {
    const program = ts.createProgram([INDEX], { ...compilerOptions(), noEmit: true });
    const { exported, used } = referencedLibTypes(program);
    const missing = [...used].filter(([symbol]) => !exported.has(symbol)).map(([symbol, by]) => `${symbol.getName()} (used by ${by})`);
    expect(missing).toEqual([]);
    // The check sees the types it should: these are used by public signatures and exported.
    const names = new Set([...used.keys()].map((symbol) => symbol.getName()));
    for (const name of ['ConfigJson', 'HubOptions', 'Scores', 'PredictStreamOptions', 'ModelCardData', 'Logger']) expect(names).toContain(name);
  });
});

describe('the emitted declarations', () => {
  let out: string;
  beforeAll(async () => {
    // Inside the package, so the declarations resolve its node_modules and "type": "module".
    await mkdir(path.join(ROOT, 'test/.tmp'), { recursive: true });
    out = await mkdtemp(path.join(ROOT, 'test/.tmp/dts-'));
    // The project's own build settings (tsconfig.json), declarations only.
    await run(process.execPath, [TSC, '-p', path.join(ROOT, 'tsconfig.json'), '--emitDeclarationOnly', '--outDir', out, '--sourceMap', 'false', '--declarationMap', 'false']);
  }, 120_000);
  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('leave out @internal members', async () => {
    const crossEncoder = await readFile(path.join(out, 'lib/model/cross-encoder.d.ts'), 'utf8');
    expect(crossEncoder).toContain('predict<N extends number>(this: CrossEncoder<N>, pairs: readonly Pair[]');
    expect(crossEncoder).not.toContain('nativeModelOf');
    expect(crossEncoder).not.toMatch(/\bforward\(/);
  });

  it('type predict by the number of labels, and compile in a strict project that checks them', async () => {
    const consumer = path.join(out, 'consumer.ts');
    await writeFile(
      consumer,
      `import { CrossEncoder, predict, type ConfigJson, type Scores } from './lib/index.js';
export async function use(): Promise<void> {
  const pairs: Array<[string, string]> = [['q', 'd']];
  const reranker = await CrossEncoder.fromPretrained('cross-encoder/ms-marco-MiniLM-L6-v2', { numLabels: 1 });
  const scores: Float32Array = await reranker.predict(pairs);
  const classifier = await CrossEncoder.fromPretrained('some/nli-model', { numLabels: 3 });
  const rows: Float32Array[] = await classifier.predict(pairs);
  const unknown = await CrossEncoder.fromPretrained('some/model');
  // @ts-expect-error the labels are not known: the result may be either shape
  const notNarrowed: Float32Array = await unknown.predict(pairs);
  if (unknown.hasOneLabel()) {
    const narrowed: Float32Array = await unknown.predict(pairs);
    for await (const score of unknown.predictStream(pairs)) {
      const one: number = score;
      void one;
    }
    void narrowed;
  }
  const viaFunction: Float32Array = await predict(reranker, pairs);
  const config: ConfigJson = reranker.config;
  const either: Scores<number> = await unknown.predict(pairs);
  // @ts-expect-error internal members are not part of the declarations
  reranker.forward([]);
  void scores, rows, notNarrowed, viaFunction, config, either;
}
`,
    );
    const result = await run(process.execPath, [
      TSC,
      '--noEmit',
      '--strict',
      '--skipLibCheck',
      'false',
      '--target',
      'ES2022',
      '--module',
      'NodeNext',
      '--moduleResolution',
      'NodeNext',
      '--types',
      'node',
      '--typeRoots',
      path.join(ROOT, 'node_modules/@types'),
      consumer,
    ]).catch((error: { stdout?: string; stderr?: string }) => ({ stdout: error.stdout ?? '', stderr: error.stderr ?? '' }));
    expect(`${result.stdout}${result.stderr}`).toBe('');
  }, 120_000);
});
