/**
 * Go programs for the gob and RPC tests (test/fixtures/go: standard library only): built once per
 * source version with `go build` into a cache folder under the temp dir, keyed by a hash of the sources and
 * the Go version, offline (GOPROXY=off, no cgo). Needs Debian's golang-go; without it the tests that use
 * these skip, except under CI=true, where .ci/run installs it and a missing `go` is a failure.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SOURCE_DIR = join(import.meta.dirname, '..', 'fixtures', 'go');
const PROGRAMS = ['gobdump', 'rpcplugin', 'sshplugin'] as const;
const START_TIMEOUT_MS = 10_000;

export type GoPrograms = Record<(typeof PROGRAMS)[number], string>;

/** `go version`, or undefined when Go is not installed. */
function goVersion(): string | undefined {
  const result = spawnSync('go', ['version'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/** Why the Go-backed tests cannot run here, or undefined when they can. */
export function goMissingReason(): string | undefined {
  return goVersion() ? undefined : 'Go not installed: apt-get install -y golang-go';
}

/** The `skip` option of Go-backed tests: skipped on a developer machine without Go, never under CI. */
export const goSkip: string | false = (() => {
  const missing = goMissingReason();
  return missing !== undefined && !process.env['CI'] ? missing : false;
})();

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) => (entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : [join(dir, entry.name)])),
  );
  return nested.flat().sort();
}

let built: Promise<GoPrograms> | undefined;

/** Builds the fixture programs (or reuses the cached build) and returns their paths. */
export function goPrograms(): Promise<GoPrograms> {
  built ??= build();
  return built;
}

async function build(): Promise<GoPrograms> {
  const version = goVersion();
  if (!version) throw new Error(`${goMissingReason()} (CI installs it through .ci/run)`);
  const hash = createHash('sha256').update(version);
  for (const file of await sourceFiles(SOURCE_DIR)) {
    hash
      .update(relative(SOURCE_DIR, file))
      .update('\0')
      .update(await readFile(file))
      .update('\0');
  }
  const cache = join(tmpdir(), 'moor-go-fixtures');
  const dir = join(cache, hash.digest('hex').slice(0, 16));
  const programs = Object.fromEntries(PROGRAMS.map((name) => [name, join(dir, name)])) as GoPrograms;
  if (Object.values(programs).every((path) => existsSync(path))) return programs;

  // Build aside and rename into place, so parallel test files never see half a build.
  const staging = `${dir}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await mkdir(staging, { recursive: true });
  const env = {
    ...process.env,
    GOCACHE: join(cache, 'gocache'),
    GOPATH: join(cache, 'gopath'),
    GOPROXY: 'off',
    GOFLAGS: '',
    GO111MODULE: 'on',
    CGO_ENABLED: '0',
  };
  try {
    await run('go', ['build', '-o', staging, ...PROGRAMS.map((name) => `./${name}`)], {
      cwd: SOURCE_DIR,
      env,
      timeout: 300_000,
    });
    await rename(staging, dir).catch(async (error: NodeJS.ErrnoException) => {
      if (!existsSync(programs.rpcplugin)) throw error; // another test file won the race: fine
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return programs;
}

/** Runs gobdump: `encode CASE` returns Go's stream; `check CASE` feeds it `input` and returns its verdict. */
export function gobdump(
  programs: GoPrograms,
  mode: 'encode' | 'check',
  name: string,
  input?: Uint8Array,
): Promise<{ stdout: Buffer; stderr: string; status: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(programs.gobdump, [mode, name], { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ stdout: Buffer.concat(stdout), stderr, status }));
    // A failed write (gobdump exited early) shows in its status and stderr.
    child.stdin?.on('error', () => {}).end(input);
  });
}

export interface PluginHandle {
  readonly child: ChildProcess;
  /** The first line the plugin printed: "127.0.0.1:PORT". */
  readonly address: string;
  /** Kills the plugin (SIGKILL) and waits until it has exited. */
  kill(): Promise<void>;
}

/** Starts the fixture plugin as Docker Machine does and reads its address from its first stdout line. */
export async function startPlugin(programs: GoPrograms): Promise<PluginHandle> {
  const child = spawn(programs.rpcplugin, [], {
    env: { ...process.env, MACHINE_PLUGIN_TOKEN: '42', MACHINE_PLUGIN_DRIVER_NAME: 'fake' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  const lines = createInterface({ input: child.stdout! });
  try {
    const first = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the plugin printed no address')), START_TIMEOUT_MS);
      lines.once('line', (line) => (clearTimeout(timer), resolve(line)));
      child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`the plugin exited with ${code}`))));
    });
    return { child, address: first, kill };
  } catch (error) {
    await kill();
    throw error;
  }
}
