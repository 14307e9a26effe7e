/**
 * Refusing tokenizer.json regexes that can backtrack for exponential time. Normalizers
 * (`Replace`), pre-tokenizers (`Split`, `Replace`) and decoders carry Oniguruma patterns, which
 * `@huggingface/tokenizers` runs with JavaScript's backtracking engine on the event loop: a
 * pattern such as `(a+)+$` would freeze the process on a few dozen characters. The Rust crate's
 * engine has the same weakness. Tokenizers in use have flat patterns (alternations of character
 * classes with quantifiers), so the constructs that make backtracking explode are refused:
 * a quantifier over a group that itself holds a quantifier or an alternation, and back-references.
 */
import { ModelFormatError } from '../errors.js';

/**
 * Checks every `{ "Regex": "…" }` pattern anywhere in a tokenizer.json object.
 * @throws ModelFormatError naming the file, the component's path and the construct.
 */
export function checkTokenizerPatterns(json: unknown, file: string): void {
  visit(json, '', (pattern, where) => {
    const problem = backtrackingHazard(pattern);
    if (problem) {
      throw new ModelFormatError(
        `${file}: the regex ${JSON.stringify(pattern)} at ${where} is refused: ${problem}, which can take exponential time on some inputs`,
      );
    }
  });
}

function visit(value: unknown, where: string, check: (pattern: string, where: string) => void): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => visit(item, `${where}[${i}]`, check));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key === 'Regex' && typeof item === 'string') check(item, where || 'the top level');
      else visit(item, where ? `${where}.${key}` : key, check);
    }
  }
}

/** What one group holds so far. */
interface Group {
  quantified: boolean;
  alternation: boolean;
}

/**
 * The first construct of `pattern` that can make a backtracking engine take exponential time,
 * in words, or undefined. A scanner, not a parser: escapes, classes and groups are tracked just
 * far enough to see which quantifier applies to which group.
 */
export function backtrackingHazard(pattern: string): string | undefined {
  const groups: Group[] = [{ quantified: false, alternation: false }];
  /** The group that just closed: a quantifier right after it applies to it. */
  let closed: Group | undefined;
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    const top = groups[groups.length - 1];
    const quantifier = quantifierAt(pattern, i);
    if (quantifier) {
      if (quantifier.unbounded) {
        if (closed?.quantified) return 'a quantifier over a group that repeats inside (nested quantifiers)';
        if (closed?.alternation) return 'a quantifier over a group of alternatives';
        top.quantified = true;
      }
      i = quantifier.end - 1;
      closed = undefined;
      continue;
    }
    closed = undefined;
    if (char === '\\') {
      const next = pattern[i + 1] ?? '';
      if (/[1-9]/.test(next) || next === 'k' || next === 'g') return 'a back-reference';
      // \p{…}, \x{…}: skip the braces whole.
      i = pattern[i + 2] === '{' && /[pPx]/.test(next) ? closingIndex(pattern, i + 2, '}') : i + 1;
    } else if (char === '[') {
      i = classEnd(pattern, i);
    } else if (char === '(') {
      groups.push({ quantified: false, alternation: false });
    } else if (char === ')') {
      if (groups.length > 1) {
        closed = groups.pop()!;
        const parent = groups[groups.length - 1];
        parent.quantified ||= closed.quantified;
        parent.alternation ||= closed.alternation;
      }
    } else if (char === '|') {
      top.alternation = true;
    }
  }
  return undefined;
}

/** A quantifier starting at `i` (`*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`, with a lazy or possessive suffix). */
function quantifierAt(pattern: string, i: number): { unbounded: boolean; end: number } | undefined {
  const char = pattern[i];
  let end: number;
  let unbounded: boolean;
  if (char === '*' || char === '+') {
    [end, unbounded] = [i + 1, true];
  } else if (char === '?') {
    [end, unbounded] = [i + 1, false];
  } else if (char === '{') {
    const match = /^\{(\d*)(,(\d*))?\}/.exec(pattern.slice(i));
    if (!match || (match[1] === '' && match[3] === undefined)) return undefined; // a literal brace
    end = i + match[0].length;
    // {n,} repeats without bound; {n,m} with a large m backtracks like one that does.
    unbounded = match[2] !== undefined && (match[3] === '' || Number(match[3]) > 16);
  } else {
    return undefined;
  }
  if (pattern[end] === '?' || pattern[end] === '+') end += 1;
  return { unbounded, end };
}

/** The index of the `]` closing the class that opens at `start` (nested classes, escapes). */
function classEnd(pattern: string, start: number): number {
  let depth = 0;
  for (let i = start; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === '\\') i += 1;
    else if (char === '[') depth += 1;
    else if (char === ']' && i > start + 1 && --depth === 0) return i;
    else if (char === ']' && i === start + 1) continue; // `[]…]`: a literal ] first
  }
  return pattern.length;
}

function closingIndex(pattern: string, start: number, close: string): number {
  const end = pattern.indexOf(close, start);
  return end < 0 ? pattern.length : end;
}
