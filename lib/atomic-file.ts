/**
 * Writing files so that a crash never leaves a half-written one: write a temporary sibling,
 * then rename it over the target (atomic on POSIX file systems).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { FileSystemError } from './errors.js';

/** A unique sibling name for `target`, for temporary files and directories. */
export function temporaryPath(target: string): string {
  return `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
}

/** Writes `contents` to `file` through a temporary file and a rename; creates the parent dir. */
export async function writeFileAtomic(file: string, contents: string | Uint8Array): Promise<void> {
  const temp = temporaryPath(file);
  try {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(temp, contents);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw new FileSystemError(`cannot write ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** {@link writeFileAtomic} of pretty-printed JSON with a final newline. */
export function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  return writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}
