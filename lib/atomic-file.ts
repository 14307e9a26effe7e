/**
 * Writing files and directories so that a crash never leaves a half-written one: everything is
 * written under a temporary sibling name, then renamed over the target (atomic on POSIX file
 * systems, since the sibling is on the same file system). The one place the project does this.
 *
 * Every temporary name carries the writer's pid, so that a later process can tell what a dead
 * writer (`kill -9`, power loss) left behind from a save still running: the next directory save
 * beside it, and every `train()` in its output directory, put back or delete what the dead left.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants, statfsSync, statSync } from 'node:fs';
import { lstat, mkdir, readdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
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
 * Creates the directory `target` whole: `fill` writes its files into a fresh hidden sibling
 * `.<name>.saving-<pid>-<hex>`, which then replaces `target` (an existing directory is moved
 * aside to `<sibling>.previous` first, removed once the new one is in place, and put back if the
 * rename fails). A symlink at `target` is followed, so the directory lands where it points.
 * `what` names the content in errors ("the model").
 *
 * It first recovers what an interrupted save of the same target left ({@link recoverInterruptedSave}),
 * so that `target` is always the old directory or the new one, whenever the writer was killed.
 * @throws FileSystemError naming the path that could not be created or written; errors of `fill`
 * that are already the package's pass through.
 */
export async function writeDirectoryAtomic(target: string, fill: (staging: string) => Promise<void>, what: string): Promise<void> {
  const destination = await followSymlink(path.resolve(target));
  await recoverInterruptedSave(destination);
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
    const staging = path.join(parent, `.${path.basename(target)}.saving-${process.pid}-${randomBytes(6).toString('hex')}`);
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

// `.<name>.saving-<pid>-<12 hex>` (a staging directory) and `….previous` (the old directory moved
// aside). Greedy `.+`: a checkpoint's model is saved into the checkpoint's own staging directory,
// so nested names (`..checkpoint-4.saving-1-….saving-1-…`) name that staging directory.
const STAGING_NAME = /^\.(.+)\.saving-(\d+)-[0-9a-f]{12}(\.previous)?$/;
// writeFileAtomic's `<name>.<pid>.<8 hex>.tmp`.
const TEMPORARY_FILE_NAME = /^(.+)\.(\d+)\.[0-9a-f]{8}\.tmp$/;

interface Leftover {
  name: string;
  target: string;
  pid: number;
  previous: boolean;
}

function parseStagingName(name: string): Leftover | undefined {
  const match = STAGING_NAME.exec(name);
  return match ? { name, target: match[1], pid: Number(match[2]), previous: match[3] !== undefined } : undefined;
}

/**
 * Whether process `pid` runs: signal 0 checks without sending anything. EPERM means it runs under
 * another user. A pid reused since is taken as alive, which only leaves the leftovers in place.
 */
function isProcessAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Directory entries, or none when `dir` cannot be listed (missing, not a directory, no access). */
async function entriesOf(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

/**
 * Recovers what interrupted saves of directory `target` left beside it, when their writer is
 * dead (its pid no longer runs): if `target` is missing and a `.previous` copy exists, the writer
 * died between moving the old directory aside and moving the new one in, and the old one is put
 * back (the newest such copy, if several); every other dead staging or `.previous` directory is
 * deleted (a staging directory may be incomplete; a `.previous` beside an existing `target` is
 * the replaced version). Live writers' directories are never touched. Best effort: what cannot
 * be put back or deleted is reported with a `CrossEncoderWarning`, and the caller goes on.
 */
export async function recoverInterruptedSave(target: string): Promise<void> {
  const resolved = path.resolve(target);
  const base = path.basename(resolved);
  const leftovers = (await entriesOf(path.dirname(resolved)))
    .map(parseStagingName)
    .filter((leftover): leftover is Leftover => leftover?.target === base);
  await recoverLeftovers(resolved, leftovers);
}

/**
 * {@link recoverInterruptedSave} for every directory in `dir` (`train()` runs it on its output
 * directory, for the checkpoints), and deletes the temporary files dead writers of
 * {@link writeFileAtomic} left there (`trainer_state.json.<pid>.<hex>.tmp`).
 */
export async function recoverInterruptedSaves(dir: string): Promise<void> {
  const parent = path.resolve(dir);
  const byTarget = new Map<string, Leftover[]>();
  for (const name of await entriesOf(parent)) {
    const leftover = parseStagingName(name);
    if (leftover) {
      byTarget.set(leftover.target, [...(byTarget.get(leftover.target) ?? []), leftover]);
      continue;
    }
    const temporary = TEMPORARY_FILE_NAME.exec(name);
    if (temporary && !isProcessAlive(Number(temporary[2]))) await removeLeftover(path.join(parent, name));
  }
  for (const [target, leftovers] of byTarget) await recoverLeftovers(path.join(parent, target), leftovers);
}

async function recoverLeftovers(target: string, leftovers: Leftover[]): Promise<void> {
  const dead = leftovers.filter((leftover) => !isProcessAlive(leftover.pid));
  if (dead.length === 0) return;
  const parent = path.dirname(target);
  // A target that is itself a staging name is a checkpoint's staging directory: nothing to restore.
  const restorable = !STAGING_NAME.test(path.basename(target)) && (await lstat(target).catch(() => undefined)) === undefined;
  const previous = restorable ? await newest(parent, dead.filter((leftover) => leftover.previous)) : undefined;
  if (previous !== undefined) {
    try {
      await rename(path.join(parent, previous.name), target);
    } catch (error) {
      // ENOENT: another process recovered it first. Anything else (a target that appeared
      // meanwhile) leaves the copy where it is, to be looked at, rather than deleting it.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        process.emitWarning(`Could not restore ${target} from ${previous.name}: ${(error as Error).message}`, 'CrossEncoderWarning');
      }
    }
  }
  for (const leftover of dead) {
    if (leftover !== previous) await removeLeftover(path.join(parent, leftover.name));
  }
}

/** The most recently modified of `leftovers` (a later interrupted save moved a newer version aside). */
async function newest(parent: string, leftovers: Leftover[]): Promise<Leftover | undefined> {
  let best: { leftover: Leftover; mtime: number } | undefined;
  for (const leftover of leftovers) {
    const stats = await lstat(path.join(parent, leftover.name)).catch(() => undefined);
    if (stats?.isDirectory() && (best === undefined || stats.mtimeMs > best.mtime)) best = { leftover, mtime: stats.mtimeMs };
  }
  return best?.leftover;
}

async function removeLeftover(file: string): Promise<void> {
  await rm(file, { recursive: true, force: true }).catch((error: Error) =>
    process.emitWarning(`Could not remove ${file}, left by an interrupted save: ${error.message}`, 'CrossEncoderWarning'),
  );
}
