/**
 * Runs the Python reference from tests: `/usr/bin/python3 script ...args`, a JSON value on
 * stdin, one JSON value back on stdout.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Debian's interpreter, which has torch; the `python3` first on PATH may not. */
export const PYTHON = '/usr/bin/python3';

/** `test/reference/`, where the reference scripts live. */
export const REFERENCE_DIR = fileURLToPath(new URL('../reference/', import.meta.url));

/** Options of {@link runPythonJson}. */
export interface RunPythonOptions {
  /** Extra environment variables for the child (added to the test process's environment). */
  env?: NodeJS.ProcessEnv;
  /** Working directory of the child. Default: the test process's. */
  cwd?: string;
}

/**
 * Runs `PYTHON script ...args` with `JSON.stringify(input)` on stdin and resolves with its stdout
 * parsed as JSON. Rejects with the script's stderr when it exits non-zero or is killed, and with
 * the start of stdout when that is not JSON.
 *
 * @param script A path; relative ones are taken from {@link REFERENCE_DIR}.
 */
export function runPythonJson<T = unknown>(
  script: string,
  args: readonly string[],
  input: unknown,
  options: RunPythonOptions = {},
): Promise<T> {
  const scriptPath = path.resolve(REFERENCE_DIR, script);
  const command = [path.basename(scriptPath), ...args].join(' ');
  return new Promise<T>((resolve, reject) => {
    const child = spawn(PYTHON, [scriptPath, ...args], {
      cwd: options.cwd,
      // libgomp's spin-waiting makes torch 2-3x slower on small machines; results do not depend on it.
      env: { OMP_WAIT_POLICY: 'PASSIVE', ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (error) => reject(new Error(`cannot run ${PYTHON} ${command}: ${error.message}`, { cause: error })));
    child.on('close', (code, signal) => {
      const err = Buffer.concat(stderr).toString('utf8').trim();
      if (code !== 0) {
        const status = signal ? `was killed by ${signal}` : `exited with status ${code}`;
        reject(new Error(`${PYTHON} ${command} ${status}${err ? `:\n${err}` : ' (no stderr)'}`));
        return;
      }
      const out = Buffer.concat(stdout).toString('utf8');
      try {
        resolve(JSON.parse(out) as T);
      } catch (error) {
        reject(new Error(`${PYTHON} ${command} printed no JSON: ${JSON.stringify(out.slice(0, 200))}${err ? `\nstderr: ${err}` : ''}`, { cause: error }));
      }
    });
    // The child may exit before reading stdin (bad arguments); its exit status tells why, not EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(JSON.stringify(input));
  });
}
