/**
 * Shared by the generic-driver end-to-end tests (test/e2e/generic*.test.ts): real Debian 12 test hosts
 * (test/helpers/testhost.ts), the BUILT moor CLI (./helpers.ts) and the local docker CLI pointed at a machine
 * with what `moor env` prints.
 */
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { canRun } from '../helpers/prerequisites.js';
import type { TestHost } from '../helpers/testhost.js';
import { testHostsAvailable } from '../helpers/testhost.js';
import { assertExit, run, type RunResult, type TempStore } from './helpers.js';

/**
 * Whether this file can run its host tests. When it cannot, registers one test in their place: skipped with
 * the reason on a developer's machine, failed under CI (test/helpers/prerequisites.ts).
 */
export function hostsOrPlaceholder(title: string): boolean {
  const availability = testHostsAvailable();
  return canRun(title, availability.ok ? undefined : (availability.reason ?? 'test hosts unavailable'));
}

export interface GenericOptions {
  user?: string;
  port?: number;
  key?: string;
  ip?: string;
  extra?: string[];
  timeoutMs?: number;
}

/** `moor create -d generic ... NAME` against a test host (root, port 22 and the run's key by default). */
export function createGeneric(
  store: TempStore,
  name: string,
  host: Pick<TestHost, 'ip' | 'keyPath'> & Partial<Pick<TestHost, 'sshPort'>>,
  options: GenericOptions = {},
): Promise<RunResult> {
  const args = [
    'create',
    '-d',
    'generic',
    '--generic-ip-address',
    options.ip ?? host.ip,
    '--generic-ssh-key',
    options.key ?? host.keyPath,
  ];
  if (options.user) args.push('--generic-ssh-user', options.user);
  const port = options.port ?? host.sshPort;
  if (port !== undefined && port !== 22) args.push('--generic-ssh-port', String(port));
  args.push(...(options.extra ?? []), name);
  return store.moor(args, { timeoutMs: options.timeoutMs ?? 240_000 });
}

/** The variables of `moor env NAME`, parsed from its `export KEY="VALUE"` lines (as `eval` would set them). */
export async function machineEnv(store: TempStore, name: string): Promise<Record<string, string>> {
  const result = await store.moor(['env', name]);
  assertExit(result, 0, `env ${name}`);
  const vars: Record<string, string> = {};
  for (const line of result.stdout.split('\n')) {
    const match = /^export ([A-Z_][A-Z0-9_]*)="(.*)"$/.exec(line);
    if (match) vars[match[1]!] = match[2]!.replace(/\\(["\\$`])/g, '$1');
  }
  assert.ok(vars['DOCKER_HOST'], `env ${name} printed no DOCKER_HOST:\n${result.stdout}`);
  return vars;
}

/** The local docker CLI with `env` (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH...) and nothing else of ours. */
export function docker(args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<RunResult> {
  return run('docker', args, { env, timeoutMs });
}

/** Runs a command in the host as root (no ssh) and returns its trimmed stdout, asserting exit 0. */
export async function hostOut(host: TestHost, cmd: string): Promise<string> {
  const result = await host.exec(cmd);
  assert.equal(result.code, 0, `${host.name}: ${cmd} exited ${result.code}\n${result.stderr}${result.stdout}`);
  return result.stdout.trim();
}

/** dockerd's PID on the host, from systemd (0 when the service is not running). */
export async function dockerdPid(host: TestHost): Promise<number> {
  return Number(await hostOut(host, 'systemctl show -p MainPID --value docker.service'));
}

/** The engine's version as the host itself sees it (docker CLI on the host, over the local socket). */
export function hostEngineVersion(host: TestHost): Promise<string> {
  return hostOut(host, "docker version --format '{{.Server.Version}}'");
}

/** The host's ed25519 host key: "ssh-ed25519 AAAA..." without the comment. */
export async function hostEd25519Key(host: TestHost): Promise<string> {
  const line = await hostOut(host, 'cat /etc/ssh/ssh_host_ed25519_key.pub');
  return line.split(/\s+/).slice(0, 2).join(' ');
}

/**
 * The cells of `moor ls` (default table) for machine `name`, by column title. The columns are cut at the
 * header's title positions (tabwriter pads every cell to its column's width), so empty cells stay empty.
 */
export function lsRow(stdout: string, name: string): Record<string, string> {
  const [header, ...rows] = stdout.split('\n').filter((line) => line !== '');
  if (!header?.startsWith('NAME')) assert.fail(`ls printed no header:\n${stdout}`);
  const titles = [...header.matchAll(/\S+/g)].map((m) => ({ title: m[0], start: m.index }));
  const row = rows.find((line) => line.split(/\s+/)[0] === name);
  assert.ok(row, `ls has no row for ${name}:\n${stdout}`);
  const cells: Record<string, string> = {};
  titles.forEach(({ title, start }, index) => {
    const end = index + 1 < titles.length ? titles[index + 1]!.start : undefined;
    cells[title] = row.slice(start, end).trim();
  });
  return cells;
}

/** A string of the output for assertion messages. */
export function show(result: RunResult): string {
  return `exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

/**
 * GET `path` on the engine's TLS port with node's https client: `tls` holds the CA (always) and, optionally,
 * the client certificate and key. Resolves with the status and body, or rejects with the TLS/socket error.
 */
export function engineGet(
  url: string,
  path: string,
  tls: { ca: Buffer; cert?: Buffer; key?: Buffer },
  timeoutMs = 10_000,
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url.replace(/^tcp:/, 'https:'));
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { hostname, port, path, method: 'GET', ...tls, timeout: timeoutMs, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
