/** The package's own version, as its package.json states it. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { CrossEncoderError } from './errors.js';

/** The version in the package.json above this file (lib/ in source, dist/lib/ when built). */
export function packageVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const json = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (json.name === 'torch-crossencoder' && json.version) return json.version;
    } catch {
      // no package.json here: look one level up
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new CrossEncoderError('cannot find the package.json of torch-crossencoder');
    dir = parent;
  }
}

