/**
 * moor installed like any npm CLI: `npm pack` (of the built tree), then `npm install -g ./moor-VERSION.tgz`
 * into a temporary prefix, as root and as an unprivileged user, with only production dependencies; the
 * installed `moor` runs the quick start and every command's help exactly as the checkout does. npm takes
 * the packages from its cache (filled by `npm ci`), going to the registry only for what is missing. A driver
 * package installed beside it that imports `moor/driver-api` at run time works, and the package's types
 * type-check a TypeScript driver.
 * run-tests: default Node only (installing is npm's work; the other Nodes run the same files)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { canRun } from '../helpers/prerequisites.js';
import { assertExit, moor, ROOT, run, type RunResult } from './helpers.js';

const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const NOBODY = 65534;
const TYPED_FIXTURE = join(ROOT, 'test', 'fixtures', 'npm', 'moor-driver-typed');
/** A driver in TypeScript, typed by the installed package's `moor/driver-api` (type-checked by the test). */
const CONSUMER_TS = `import { BaseDriver, MachineState, UsageError } from 'moor/driver-api';
import type { DriverContext, NpmDriverDefinition } from 'moor/driver-api';

class ConsumerDriver extends BaseDriver {
  driverName = 'consumer';
  provisions = false;
  constructor(context: DriverContext, private readonly url: string) {
    super(context);
  }
  override async preCreateCheck(): Promise<void> {
    if (!this.url) throw new UsageError('--consumer-url is required', ['Give --consumer-url.']);
  }
  override async create(): Promise<void> {}
  override async getState() {
    return MachineState.Running;
  }
  override async getIP() {
    return '127.0.0.1';
  }
  override async getURL() {
    return this.url;
  }
  toJSON() {
    return { URL: this.url };
  }
}

const definition: NpmDriverDefinition = {
  name: 'consumer',
  description: 'A TypeScript driver',
  flags: [{ name: 'consumer-url', type: 'string', description: 'URL', required: true }],
  transports: ['tls'],
  async load() {
    return {
      fromFlags: (context, flags) => new ConsumerDriver(context, String(flags['consumer-url'])),
      fromRecord: (context, state) => new ConsumerDriver(context, String(state['URL'])),
    };
  },
};
export default definition;
`;
const INSTALL_MS = 10 * 60_000;

function npmCache(): string {
  return spawnSync('npm', ['config', 'get', 'cache'], { encoding: 'utf8' }).stdout.trim();
}

const missing =
  spawnSync('npm', ['--version'], { stdio: 'ignore' }).status !== 0
    ? 'npm is not on PATH'
    : process.getuid?.() !== 0
      ? 'the unprivileged install needs root to switch users (setpriv)'
      : undefined;

describe('npm pack, then npm install -g into a temporary prefix', () => {
  if (!canRun('npm pack and install', missing)) return;
  let dir: string;
  let tarball: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'moor-package-'));
    await chmod(dir, 0o755); // the unprivileged user reads the tarball from here
    // The tree is built already (the e2e tests run dist/): pack it as it is, without prepack's rebuild.
    const packed = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { timeoutMs: INSTALL_MS });
    assertExit(packed, 0, 'npm pack');
    tarball = join(dir, `${pkg.name}-${pkg.version}.tgz`);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** `npm install -g TARBALL --prefix PREFIX`, from npm's cache where it can. */
  function install(prefix: string, options: { asNobody?: { home: string; cache: string } } = {}) {
    const args = ['install', '-g', tarball, '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund'];
    if (!options.asNobody) return run('npm', args, { timeoutMs: INSTALL_MS });
    const { home, cache } = options.asNobody;
    return run(
      'setpriv',
      [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'npm', ...args, '--cache', cache],
      { env: { HOME: home }, cwd: home, timeoutMs: INSTALL_MS },
    );
  }

  it('as root: only production dependencies, the built files and every template', async () => {
    const prefix = join(dir, 'root-prefix');
    assertExit(await install(prefix), 0, 'npm install -g');
    const installed = join(prefix, 'lib', 'node_modules', pkg.name);
    const modules = new Set(await readdir(join(installed, 'node_modules')));
    for (const name of Object.keys(pkg.dependencies)) {
      assert.ok(modules.has(name.split('/')[0]!), `dependency ${name} installed`);
    }
    for (const name of Object.keys(pkg.devDependencies)) {
      if (name.startsWith('@types/')) continue; // a dependency may bring its own types
      assert.ok(!modules.has(name), `devDependency ${name} must not be installed`);
    }
    assert.deepEqual(
      (await readdir(join(installed, 'templates'), { recursive: true })).sort(),
      (await readdir(join(ROOT, 'templates'), { recursive: true })).sort(),
    );
    for (const file of [
      'bin/run.cjs',
      'dist/fast.cjs',
      'dist/cli.cjs',
      'dist/cli-loader.cjs',
      'oclif.manifest.json',
      'LICENSE',
    ]) {
      await readFile(join(installed, file)); // throws if it is missing
    }
    assert.equal(JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')).license, 'Apache-2.0');

    // The README's quick start for an existing Docker host, and every command's help, with the installed moor.
    const store = join(dir, 'root-store');
    const installedMoor = (args: string[]) =>
      run(join(prefix, 'bin', 'moor'), args, { env: { MOOR_STORAGE_PATH: store } });
    assertExit(await installedMoor(['create', '-d', 'none', '--url', 'tcp://127.0.0.1:1', 'web']), 0, 'create');
    await sameAsCheckout(installedMoor, store, ['ls', '--format', '{{.Name}} {{.DriverName}} {{.URL}}']);
    await sameAsCheckout(installedMoor, store, ['env', 'web'], (text) => text.replace(/^\S+Z /gm, ''));
    await sameAsCheckout(installedMoor, store, ['url', 'web']);
    await sameAsCheckout(installedMoor, store, ['completion', 'bash']);
    const manifest = JSON.parse(await readFile(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {
      commands: Record<string, unknown>;
    };
    for (const id of Object.keys(manifest.commands)) await sameAsCheckout(installedMoor, store, [id, '--help']);

    // A driver package installed beside moor that imports `moor/driver-api` at run time (a TypeScript package
    // compiled to JavaScript does): it resolves to this moor, and its errors are moor's errors.
    const typed = await run('npm', ['pack', TYPED_FIXTURE, '--pack-destination', dir, '--silent'], { cwd: dir });
    assertExit(typed, 0, 'npm pack moor-driver-typed');
    const typedTarball = join(dir, typed.stdout.trim().split('\n').pop()!);
    assertExit(
      await run('npm', ['install', '-g', typedTarball, '--prefix', prefix, '--offline', '--no-audit', '--no-fund'], {
        timeoutMs: INSTALL_MS,
      }),
      0,
      'npm install -g moor-driver-typed',
    );
    const drivers = await installedMoor(['drivers']);
    assertExit(drivers, 0, 'drivers');
    assert.match(
      drivers.stdout,
      new RegExp(`^typed\\s+npm\\s+${join(prefix, 'lib', 'node_modules', 'moor-driver-typed')}$`, 'm'),
    );
    const usage = await installedMoor(['create', '--json', '-d', 'typed', '--typed-url', 'nope', 'typed-1']);
    assert.equal(
      usage.code,
      2,
      `a UsageError of the package is a usage error (exit 2): ${usage.stdout}${usage.stderr}`,
    );
    assert.deepEqual(JSON.parse(usage.stdout).error.suggestions, ['Give the engine as tcp://HOST:PORT.']);
    const refused = await installedMoor([
      'create',
      '--json',
      '-d',
      'typed',
      '--typed-url',
      'tcp://127.0.0.1:1',
      'typed-1',
    ]);
    assert.equal(refused.code, 3, `a MoorError of preCreateCheck is a pre-create failure: ${refused.stdout}`);
    assert.deepEqual(JSON.parse(refused.stdout).error.suggestions, ['Use another port.']);
    assertExit(
      await installedMoor(['create', '-d', 'typed', '--typed-url', 'tcp://127.0.0.1:9', 'typed-1']),
      0,
      'create',
    );
    assert.equal(await readFile(join(store, 'machines', 'typed-1', 'typed.txt'), 'utf8'), 'made\n');
    assertExit(await installedMoor(['rm', '-y', 'typed-1']), 0, 'rm');

    // The package's types: a TypeScript driver beside the installed moor type-checks against `moor/driver-api`.
    const consumer = join(prefix, 'lib', 'consumer');
    await mkdir(consumer);
    await writeFile(join(consumer, 'package.json'), '{"name":"consumer","type":"module"}\n');
    await writeFile(join(consumer, 'index.ts'), CONSUMER_TS);
    const tsc = await run(
      process.execPath,
      [
        join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
        ...['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022'],
        ...['--typeRoots', join(ROOT, 'node_modules', '@types'), '--types', 'node', 'index.ts'],
      ],
      { cwd: consumer },
    );
    assertExit(tsc, 0, 'tsc of a driver typed by moor/driver-api');
  });

  it('as an unprivileged user (its own prefix, npm cache and store)', async () => {
    const home = join(dir, 'nobody-home');
    await mkdir(home);
    // npm's cache as filled by `npm ci`, copied for the user (root's own is not readable to it).
    const cache = join(home, 'npm-cache');
    await cp(npmCache(), cache, { recursive: true });
    spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, home]);
    const prefix = join(home, 'prefix');
    assertExit(await install(prefix, { asNobody: { home, cache } }), 0, 'npm install -g as nobody');
    const asNobody = (args: string[]) =>
      run(
        'setpriv',
        [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', join(prefix, 'bin', 'moor'), ...args],
        {
          env: { HOME: home, MOOR_STORAGE_PATH: join(home, 'store') },
          cwd: home,
        },
      );
    assertExit(await asNobody(['create', '-d', 'none', '--url', 'tcp://127.0.0.1:1', 'web']), 0, 'create as nobody');
    const ls = await asNobody(['ls', '-q']);
    assertExit(ls, 0, 'ls as nobody');
    assert.equal(ls.stdout, 'web\n');
    const version = await asNobody(['version']);
    assertExit(version, 0, 'version as nobody');
    assert.match(version.stdout, new RegExp(`^moor version ${pkg.version.replaceAll('.', '\\.')} \\(node `));
  });
});

/** The installed moor answers `args` exactly as the checkout's bin does (stdout and exit code). */
async function sameAsCheckout(
  installedMoor: (args: string[]) => Promise<RunResult>,
  store: string,
  args: string[],
  normalize: (text: string) => string = (text) => text,
): Promise<void> {
  const [installed, checkout] = await Promise.all([
    installedMoor(args),
    moor(args, { env: { MOOR_STORAGE_PATH: store } }),
  ]);
  assertExit(checkout, 0, `checkout: moor ${args.join(' ')}`);
  assert.equal(installed.code, 0, `installed: moor ${args.join(' ')}: ${installed.stderr}`);
  assert.equal(normalize(installed.stdout), normalize(checkout.stdout), `moor ${args.join(' ')}`);
}
