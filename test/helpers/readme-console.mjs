// Preloaded (node --import) into each README block the README test runs: records what every
// console.log call prints, as JSON with the types the claims in the README's comments name, one
// line per call, into the file $README_LOG. The output still goes to stdout as usual.
import { appendFileSync } from 'node:fs';

function describe(value) {
  if (value instanceof Float32Array) return { t: 'f32', v: Array.from(value) };
  if (Array.isArray(value)) return { t: 'array', v: value.map(describe) };
  if (value === null) return { t: 'null' };
  if (typeof value === 'object') return { t: 'object', v: Object.fromEntries(Object.entries(value).map(([k, v]) => [k, describe(v)])) };
  if (['number', 'string', 'boolean', 'undefined'].includes(typeof value)) return { t: typeof value, v: value };
  return { t: 'other', v: String(value) };
}

const file = process.env.README_LOG;
const log = console.log.bind(console);
console.log = (...args) => {
  if (file) appendFileSync(file, `${JSON.stringify(args.map(describe))}\n`);
  log(...args);
};
