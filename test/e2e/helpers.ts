/**
 * End-to-end helpers: run the BUILT moor CLI (bin/run.cjs -> dist/) the way a user or a CI job does, as a
 * separate process with a non-TTY stdin, a clean environment (no DOCKER_*, MOOR_* or proxy variables) and a
 * temporary store of its own. Build first: `npm run build`.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(ROOT, 'bin', 'run.cjs');

if (!existsSync(join(ROOT, 'dist', 'cli.cjs')) || !existsSync(join(ROOT, 'oclif.manifest.json'))) {
  throw new Error('The e2e tests run the built CLI: run "npm run build" first.');
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Added to the cleaned environment; undefined removes a variable. */
  env?: Record<string, string | undefined>;
  /** Written to a piped (non-TTY) stdin, which is then closed; without it stdin is 'ignore'. */
  input?: string;
  cwd?: string;
  timeoutMs?: number;
}

/** Variables that would change moor's behaviour and must not leak from the developer's shell. */
const SCRUBBED = /^(DOCKER_|MOOR_|COMPOSE_)|^(no_proxy|NO_PROXY|http_proxy|HTTP_PROXY|https_proxy|HTTPS_PROXY)$/;

export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !SCRUBBED.test(key)) env[key] = value;
  }
  env['SHELL'] = '/bin/bash';
  // ls gives each machine 10 s by default; a loaded CI machine can take longer just to load a driver's SDK.
  // Tests assert states, not speed: a test of the time-out itself passes --timeout or its own value.
  env['MOOR_LS_TIMEOUT'] = '90';
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Runs any program; resolves with its exit code and output (never rejects on a non-zero exit). */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: cleanEnv(options.env),
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${options.timeoutMs ?? 120_000} ms`));
    }, options.timeoutMs ?? 120_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    if (options.input !== undefined && child.stdin) {
      child.stdin.on('error', () => undefined); // the CLI may exit without reading it
      child.stdin.end(options.input);
    }
  });
}

/** `moor ARGS...`: node bin/run.js with a clean environment and a non-TTY stdin. */
export function moor(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return run(process.execPath, [BIN, ...args], options);
}

/** A moor process still running: its pid, its stderr so far, and its result once it ends. */
export interface RunningMoor {
  child: ChildProcess;
  stderr(): string;
  /** Resolves when stderr matches `pattern`; rejects when the process ends first. */
  stderrMatches(pattern: RegExp): Promise<void>;
  result: Promise<RunResult>;
}

/**
 * `moor ARGS...` started, not awaited: for tests that signal or kill it at a step they can see (a line on
 * its stderr, a call reaching an emulator, a file in the store). The result is bounded like run()'s.
 */
export function spawnMoor(args: string[], options: RunOptions = {}): RunningMoor {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: cleanEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: () => void; reject: (error: Error) => void }[] = [];
  const check = () => {
    for (const waiter of [...waiters]) {
      if (waiter.pattern.test(stderr)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    check();
  });
  const result = new Promise<RunResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`moor ${args.join(' ')} did not finish within ${options.timeoutMs ?? 120_000} ms`));
    }, options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      for (const waiter of waiters.splice(0)) {
        waiter.reject(
          new Error(`moor ended (${code ?? signal}) before its stderr matched ${waiter.pattern}:\n${stderr}`),
        );
      }
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    stderr: () => stderr,
    stderrMatches: (pattern) =>
      new Promise<void>((resolve, reject) => {
        if (pattern.test(stderr)) return resolve();
        if (child.exitCode !== null || child.signalCode !== null) {
          return reject(new Error(`moor ended before its stderr matched ${pattern}:\n${stderr}`));
        }
        waiters.push({ pattern, resolve, reject });
      }),
    result,
  };
}

/** A temporary store, passed to every command through MOOR_STORAGE_PATH. */
export class TempStore {
  private constructor(readonly root: string) {}

  static async create(): Promise<TempStore> {
    return new TempStore(await mkdtemp(join(tmpdir(), 'moor-e2e-')));
  }

  moor(args: string[], options: RunOptions = {}): Promise<RunResult> {
    return moor(args, { ...options, env: { MOOR_STORAGE_PATH: this.root, ...options.env } });
  }

  /** spawnMoor with this store. */
  spawn(args: string[], options: RunOptions = {}): RunningMoor {
    return spawnMoor(args, { ...options, env: { MOOR_STORAGE_PATH: this.root, ...options.env } });
  }

  /** `create NAME -d none --url URL [extra]`, asserting success. */
  async createNone(name: string, url: string, extra: string[] = []): Promise<RunResult> {
    const result = await this.moor(['create', name, '-d', 'none', '--url', url, ...extra]);
    assertExit(result, 0, `create ${name}`);
    return result;
  }

  path(...parts: string[]): string {
    return join(this.root, ...parts);
  }

  machineDir(name: string): string {
    return join(this.root, 'machines', name);
  }

  async cleanup(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}

/** Asserts the exit code, showing the output when it differs. */
export function assertExit(result: RunResult, expected: number, what = 'command'): void {
  assert.equal(
    result.code,
    expected,
    `${what}: expected exit ${expected}, got ${result.code} (signal ${result.signal})\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`,
  );
}

/** A user-facing failure: the exit code, an "Error: " message on stderr containing every `parts`, no stack. */
export function assertCleanError(result: RunResult, exitCode: number, ...parts: string[]): void {
  assertExit(result, exitCode);
  assert.match(result.stderr, /^Error: /m, `stderr has no "Error: " line:\n${result.stderr}`);
  for (const part of parts)
    assert.ok(result.stderr.includes(part), `stderr lacks ${JSON.stringify(part)}:\n${result.stderr}`);
  assertNoStackTrace(result.stderr);
}

export function assertNoStackTrace(text: string): void {
  assert.doesNotMatch(text, /^ {4}at /m, `unexpected stack trace:\n${text}`);
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Every file and folder below `dir`, as paths relative to it. */
export async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map(String).sort();
}

export async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

/**
 * What Go's text/tabwriter.NewWriter(w, 5, 1, 3, ' ', 0) prints for rows that all have the same number of
 * cells (docker-machine ls): every column but the last is padded to max(5, widest cell + 3).
 */
export function tabwrite(rows: string[][]): string {
  const columns = Math.max(...rows.map((row) => row.length));
  const widths: number[] = [];
  for (let column = 0; column < columns - 1; column++) {
    widths.push(Math.max(5, ...rows.map((row) => [...(row[column] ?? '')].length + 3)));
  }
  return rows
    .map((row) => row.map((cell, column) => (column < columns - 1 ? cell.padEnd(widths[column]!) : cell)).join(''))
    .map((line) => `${line}\n`)
    .join('');
}

/** Parses stdout that must be exactly one JSON document. */
export function parseJson<T = unknown>(result: RunResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch (error) {
    assert.fail(`stdout is not one JSON document (${(error as Error).message}):\n${result.stdout}`);
  }
}

/**
 * Polls `check` once a second until it gives a value (an error counts as not yet), at most `attempts`
 * times; then fails naming `what` and the last error. A bound for a loaded machine, never a speed asserted.
 */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, attempts: number): Promise<T> {
  let last: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  assert.fail(`${what} did not happen${last ? `: ${String(last)}` : ''}`);
}
