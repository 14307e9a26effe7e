/** "Did you mean …?": the closest known name to a misspelt one (options, flags, commands). */

/** Levenshtein distance. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/**
 * Case and word separators dropped, so that Python's snake_case (`top_k`), kebab-case flags
 * (`top-k`) and camelCase (`topK`) spellings of one name compare equal.
 */
function normalise(name: string): string {
  return name.replace(/[-_]/g, '').toLowerCase();
}

/** The closest of `candidates` to `input`, if close enough to be a plausible typo or spelling. */
export function suggest(input: string, candidates: readonly string[]): string | undefined {
  const normalised = normalise(input);
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(normalised.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(normalised, normalise(candidate));
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}
