/**
 * Writing files and directories so that a crash never leaves a half-written one: everything is
 * written under a temporary sibling name, then renamed over the target (atomic on POSIX file
 * systems, since the sibling is on the same file system). The one place the project does this.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants, statfsSync, statSync } from 'node:fs';
import { lstat, mkdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { CrossEncoderError, FileSystemError } from './errors.js';

/** A unique sibling name for `target`, for temporary files. */
export function temporaryPath(target: string): string {
  return `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
}

// Kernel pseudo-filesystems (statfs f_type): nothing the package writes belongs there, and Node's
// recursive mkdir spins forever under /proc (each mkdir fails with ENOENT and is retried).
const PSEUDO_FILESYSTEMS = new Map([
  [0x9fa0, 'procfs'],
  [0x62656572, 'sysfs'],
  [0x64626720, 'debugfs'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
]);

/** The nearest existing directory at or above `dir`, and the components below it that are missing. */
function nearestExisting(dir: string, what: string): { existing: string; missing: string[] } {
  const missing: string[] = [];
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    let stats;
    try {
      stats = statSync(current);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // ENOTDIR: a component above is a file, which the walk up then reports.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new FileSystemError(`${what} ${dir} cannot be created: ${(error as Error).message}`, { cause: error });
    }
    if (stats) {
      if (!stats.isDirectory()) throw new FileSystemError(`${what} ${dir} cannot be created: ${current} exists and is not a directory (ENOTDIR)`);
      return { existing: current, missing: missing.reverse() };
    }
    missing.push(current);
    if (path.dirname(current) === current) return { existing: current, missing: missing.reverse() };
  }
}

/**
 * Checks, without creating anything, that directory `dir` exists or can be created and written:
 * its nearest existing ancestor is a writable directory on a real file system. Synchronous (a
 * few stat calls) so constructors can refuse a bad path before any work starts; `what` names the
 * directory in the message (`the output directory`).
 * @throws FileSystemError saying which path is in the way.
 */
export function checkDirectoryCreatable(dir: string, what: string): void {
  const { existing } = nearestExisting(dir, what);
  const pseudo = PSEUDO_FILESYSTEMS.get(Number(statfsSync(existing).type));
  if (pseudo) throw new FileSystemError(`${what} ${dir} cannot be created: ${existing} is on the kernel's ${pseudo}, not a file system for files`);
  try {
    accessSync(existing, constants.W_OK);
  } catch (error) {
    throw new FileSystemError(`${what} ${dir} cannot be created: ${existing} is not writable (${(error as NodeJS.ErrnoException).code})`, { cause: error });
  }
}

/**
 * `mkdir -p` that cannot spin: the missing directories are created one by one from the nearest
 * existing ancestor, and the first that cannot be made is the error.
 * @throws FileSystemError naming `what` and the directory that could not be created.
 */
export async function makeDirectory(dir: string, what = 'the directory'): Promise<void> {
  checkDirectoryCreatable(dir, what);
  for (const missing of nearestExisting(dir, what).missing) {
    try {
      await mkdir(missing);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST' && (await stat(missing)).isDirectory()) continue;
      throw new FileSystemError(`${what} ${dir} cannot be created: mkdir ${missing}: ${(error as Error).message}`, { cause: error });
    }
  }
}

/** Writes `contents` to `file` through a temporary file and a rename; creates the parent dir. */
export async function writeFileAtomic(file: string, contents: string | Uint8Array): Promise<void> {
  const temp = temporaryPath(file);
  try {
    await makeDirectory(path.dirname(file));
    await writeFile(temp, contents);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => {}); // it may never have been created (ENOTDIR)
    throw new FileSystemError(`cannot write ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/** {@link writeFileAtomic} of pretty-printed JSON with a final newline. */
export function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  return writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Creates the directory `target` whole: `fill` writes its files into a fresh hidden sibling,
 * which then replaces `target` (an existing directory is moved aside first, removed once the new
 * one is in place, and put back if the rename fails). A symlink at `target` is followed, so the
 * directory lands where it points. `what` names the content in errors ("the model").
 * @throws FileSystemError naming the path that could not be created or written; errors of `fill`
 * that are already the package's pass through.
 */
export async function writeDirectoryAtomic(target: string, fill: (staging: string) => Promise<void>, what: string): Promise<void> {
  const destination = await followSymlink(path.resolve(target));
  const staging = await createStagingDirectory(destination, what);
  try {
    await fill(staging);
    await replaceDirectory(staging, destination, what);
  } catch (error) {
    await rm(staging, { recursive: true, force: true }).catch(() => {}); // the original error matters more
    throw error instanceof CrossEncoderError
      ? error
      : new FileSystemError(`Cannot save ${what} to ${destination}: ${(error as Error).message}`, { cause: error });
  }
}

async function followSymlink(target: string): Promise<string> {
  const stats = await lstat(target).catch(() => undefined);
  return stats?.isSymbolicLink() ? realpath(target).catch(() => target) : target;
}

/** A fresh hidden directory next to the target. */
async function createStagingDirectory(target: string, what: string): Promise<string> {
  const parent = path.dirname(target);
  try {
    await makeDirectory(parent);
    // Not mkdtemp: its 0700 mode would become the saved directory's; mkdir applies the umask.
    const staging = path.join(parent, `.${path.basename(target)}.saving-${randomBytes(6).toString('hex')}`);
    await mkdir(staging);
    return staging;
  } catch (error) {
    throw new FileSystemError(`Cannot save ${what} to ${target}: cannot create a directory in ${parent}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** Moves `staging` to `target`, replacing an existing directory there. */
async function replaceDirectory(staging: string, target: string, what: string): Promise<void> {
  const existing = await lstat(target).catch(() => undefined);
  if (existing === undefined) {
    await renameOrThrow(staging, target, `Cannot move ${what} into ${target}`);
    return;
  }
  if (!existing.isDirectory()) {
    throw new FileSystemError(`Cannot save ${what} to ${target}: it exists and is not a directory`);
  }
  const aside = `${staging}.previous`;
  await renameOrThrow(target, aside, `Cannot replace ${target}: cannot move the existing directory aside`);
  try {
    await rename(staging, target);
  } catch (error) {
    const restored = await rename(aside, target).then(
      () => true,
      () => false,
    );
    throw new FileSystemError(
      `Cannot move ${what} into ${target}: ${(error as Error).message}` +
        (restored ? '; the previous directory was restored' : `; the previous directory is at ${aside}`),
      { cause: error },
    );
  }
  // The new directory is in place; failing to delete the old copy is not worth failing the save.
  await rm(aside, { recursive: true, force: true }).catch((error: Error) =>
    process.emitWarning(`Could not remove the previous directory ${aside}: ${error.message}`, 'CrossEncoderWarning'),
  );
}

async function renameOrThrow(from: string, to: string, message: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (error) {
    throw new FileSystemError(`${message}: ${(error as Error).message}`, { cause: error });
  }
}
