/**
 * What a Docker Machine plugin driver costs: `moor status` of one machine and `moor ls` of N machines with
 * the Go fixture plugin (test/fixtures/go/sshplugin) against the built-in generic driver doing the same
 * (one TCP probe of a closed loopback port per machine: state Stopped, so ls asks no engine), interleaved
 * in one run, next to the plugin binary's own start-up (spawn to address line, then exit). The target: moor
 * adds at most 50 ms per command on top of the plugin's start-up. Run `npm run build` first; needs Go.
 *   node --import tsx bench/plugin.ts [--runs N] [--machines N]
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultEngineOptions } from '../src/core/machine.js';
import { goPrograms } from '../test/helpers/go.js';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'bin/run.cjs');
const arg = (name: string, fallback: number) => {
  const index = process.argv.indexOf(name);
  return index === -1 ? fallback : Number(process.argv[index + 1]);
};
const runs = arg('--runs', 11);
const machines = arg('--machines', 10);

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function record(name: string, driverName: string, driver: Record<string, unknown>) {
  return {
    ConfigVersion: 1,
    Name: name,
    DriverName: driverName,
    CreatedAt: new Date().toISOString(),
    Phase: 'created',
    Driver: driver,
    HostOptions: {
      EngineOptions: defaultEngineOptions(),
      AuthOptions: { ServerCertSANs: [] },
    },
  };
}

function makeStore(count: number, kind: 'plugin' | 'generic', port: number): string {
  const store = mkdtempSync(join(tmpdir(), `moor-bench-${kind}-`));
  for (let index = 0; index < count; index++) {
    const name = `m${index}`;
    const dir = join(store, 'machines', name);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const driver =
      kind === 'plugin'
        ? {
            IPAddress: '127.0.0.1',
            MachineName: name,
            SSHUser: 'root',
            SSHPort: port,
            SSHKeyPath: join(dir, 'id_rsa'),
            StorePath: store,
            EnginePort: port,
          }
        : {
            MachineName: name,
            IPAddress: '127.0.0.1',
            SSHUser: 'root',
            SSHPort: port,
            SSHKeyPath: 'id_rsa',
            EnginePort: 2376,
          };
    const json = record(name, kind === 'plugin' ? 'bench' : 'generic', driver);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(json, null, 2), { mode: 0o600 });
  }
  return store;
}

function time(command: string, args: string[], env: NodeJS.ProcessEnv): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { env: { ...process.env, ...env }, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return ms;
}

/** The plugin's own start-up: spawn until its address line, then kill it. */
function pluginStart(binary: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(binary, [], {
      env: { ...process.env, MACHINE_PLUGIN_TOKEN: '42', MACHINE_PLUGIN_DRIVER_NAME: 'bench' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    child.stdout.once('data', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      child.kill('SIGKILL');
      child.once('exit', () => resolve(ms));
    });
    child.once('error', reject);
  });
}

const programs = await goPrograms();
const bin = mkdtempSync(join(tmpdir(), 'moor-bench-bin-'));
const binary = join(bin, 'docker-machine-driver-bench');
copyFileSync(programs.sshplugin, binary);
chmodSync(binary, 0o755);
const port = await closedPort();
const stores = {
  plugin1: makeStore(1, 'plugin', port),
  pluginN: makeStore(machines, 'plugin', port),
  generic1: makeStore(1, 'generic', port),
  genericN: makeStore(machines, 'generic', port),
};
const env = (store: string) => ({
  MOOR_STORAGE_PATH: store,
  PATH: `${bin}:${process.env['PATH']}`,
  MOOR_LS_TIMEOUT: '60',
});
const cases = [
  { name: 'plugin start-up (to its address line)', run: () => pluginStart(binary) },
  {
    name: 'moor status (generic)',
    run: async () => time(process.execPath, [cli, 'status', 'm0'], env(stores.generic1)),
  },
  { name: 'moor status (plugin)', run: async () => time(process.execPath, [cli, 'status', 'm0'], env(stores.plugin1)) },
  { name: `moor ls (${machines} generic)`, run: async () => time(process.execPath, [cli, 'ls'], env(stores.genericN)) },
  { name: `moor ls (${machines} plugin)`, run: async () => time(process.execPath, [cli, 'ls'], env(stores.pluginN)) },
];
const samples: number[][] = cases.map(() => []);
try {
  for (const entry of cases) await entry.run(); // warm up
  for (let round = 0; round < runs; round++) {
    for (const [index, entry] of cases.entries()) samples[index]!.push(await entry.run());
  }
} finally {
  for (const store of Object.values(stores)) rmSync(store, { recursive: true, force: true });
  rmSync(bin, { recursive: true, force: true });
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const medians = samples.map(median);
for (const [index, entry] of cases.entries()) console.log(`${entry.name.padEnd(42)} ${medians[index]!.toFixed(1)} ms`);
const [start, statusGeneric, statusPlugin, lsGeneric, lsPlugin] = medians as [number, number, number, number, number];
const statusAdded = statusPlugin - statusGeneric - start;
const lsAdded = lsPlugin - lsGeneric - start;
console.log(
  `status: the plugin adds ${(statusPlugin - statusGeneric).toFixed(1)} ms, ${statusAdded.toFixed(1)} ms beyond its own start-up`,
);
console.log(
  `ls of ${machines}: the plugins add ${(lsPlugin - lsGeneric).toFixed(1)} ms, ${lsAdded.toFixed(1)} ms beyond one start-up (they start in parallel)`,
);
const TARGET_MS = 50;
console.log(
  statusAdded <= TARGET_MS ? `status within the ${TARGET_MS} ms target` : `status OVER the ${TARGET_MS} ms target`,
);
