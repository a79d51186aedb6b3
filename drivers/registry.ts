/**
 * The explicit list of drivers moor knows, and the core's only way to reach a driver. Adding a built-in
 * driver means adding one line here. Beyond those, findDriver() finds drivers installed beside moor:
 * npm packages `moor-driver-NAME` (in `<store>/plugins/node_modules`, then in the global prefix beside
 * moor) and Docker Machine plugin binaries `docker-machine-driver-NAME` (in `<store>/plugins/`, then on
 * PATH). The contract's types come along, so that code outside drivers/ needs no other import.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type DriverDefinition, isExecutableFile, MoorError, type NpmDriverDefinition, UsageError } from './api.js';
import { amazonec2Driver } from './amazonec2/definition.js';
import { genericDriver } from './generic/definition.js';
import { noneDriver } from './none/definition.js';
import { PLUGIN_BINARY_PREFIX, pluginDefinition } from './plugin/definition.js';
import { qemuDriver } from './qemu/definition.js';
import { virtualboxDriver } from './virtualbox/definition.js';

export const DRIVERS: ReadonlyMap<string, DriverDefinition> = new Map([
  [noneDriver.name, noneDriver],
  [genericDriver.name, genericDriver],
  [amazonec2Driver.name, amazonec2Driver],
  [virtualboxDriver.name, virtualboxDriver],
  [qemuDriver.name, qemuDriver],
]);

/** The name of driver NAME's npm package. */
export const NPM_DRIVER_PREFIX = 'moor-driver-';
export { PLUGIN_BINARY_PREFIX };
/** The driver of a create that names none (no --driver, no MOOR_DRIVER): a local QEMU VM. */
export const DEFAULT_DRIVER = qemuDriver.name;

export function driverNames(): string[] {
  return [...DRIVERS.keys()];
}

/** A built-in (or registered) driver; throws UNKNOWN_DRIVER for any other name. */
export function getDriverDefinition(name: string): DriverDefinition {
  const definition = DRIVERS.get(name);
  if (!definition) throw unknownDriver(name);
  return definition;
}

function unknownDriver(name: string, lookup?: DriverLookup): UsageError {
  const installed = lookup ? discoverDrivers(lookup).map((found) => found.name) : [];
  return new UsageError(
    `Driver "${name}" not found. Available drivers: ${[...driverNames(), ...installed].join(', ')}.`,
    [
      'Run "moor create --help" to see every driver and its flags.',
      ...(lookup
        ? [
            `A Docker Machine plugin is found as ${PLUGIN_BINARY_PREFIX}${name} on PATH or in ${pluginsDir(lookup.storePath)}; an npm driver as the package ${NPM_DRIVER_PREFIX}${name}.`,
          ]
        : []),
    ],
    'UNKNOWN_DRIVER',
  );
}

/**
 * Adds a driver at run time: for programs that embed moor's core, and for tests that need a driver with
 * controlled behaviour. The CLI's own drivers are the list above.
 */
export function registerDriver(definition: DriverDefinition): void {
  (DRIVERS as Map<string, DriverDefinition>).set(definition.name, definition);
}

/** Where drivers that are not built in are looked for: the store (its plugins folder) and the environment (PATH). */
export interface DriverLookup {
  storePath: string;
  env: NodeJS.ProcessEnv;
}

/** A driver found on disk, without starting or importing it. */
export interface FoundDriver {
  name: string;
  kind: 'npm' | 'plugin';
  /** The package folder or the binary. */
  path: string;
}

/** `<store>/plugins`: plugin binaries, and npm driver packages under its node_modules. */
export function pluginsDir(storePath: string): string {
  return join(resolve(storePath), 'plugins');
}

const DRIVER_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/i;
const found = new Map<string, DriverDefinition>();

/**
 * The driver `name`: built in, else an npm driver package, else a Docker Machine plugin binary. With
 * `withFlags`, a driver whose flags only its program knows is asked for them (a plugin binary is started).
 */
export async function findDriver(
  name: string,
  lookup: DriverLookup,
  options: { withFlags?: boolean } = {},
): Promise<DriverDefinition> {
  const builtIn = DRIVERS.get(name);
  if (builtIn) return builtIn;
  if (!DRIVER_NAME.test(name)) throw unknownDriver(name);
  const key = `${resolve(lookup.storePath)}\0${name}`;
  let definition = found.get(key);
  if (!definition) {
    const location = locateDriver(name, lookup);
    if (!location) throw unknownDriver(name, lookup);
    definition =
      location.kind === 'npm'
        ? await loadNpmDriver(name, location.path)
        : pluginDefinition({ name, binary: location.path });
    found.set(key, definition);
  }
  if (options.withFlags && definition.loadFlags && definition.flags.length === 0)
    await definition.loadFlags(lookup.env);
  return definition;
}

/** Where driver `name` is installed, in lookup order (the first one wins). */
function locateDriver(name: string, lookup: DriverLookup): FoundDriver | undefined {
  for (const dir of npmDirs(lookup)) {
    const path = join(dir, `${NPM_DRIVER_PREFIX}${name}`);
    if (existsSync(join(path, 'package.json'))) return { name, kind: 'npm', path };
  }
  for (const dir of binaryDirs(lookup)) {
    const path = join(dir, `${PLUGIN_BINARY_PREFIX}${name}`);
    if (isExecutableFile(path)) return { name, kind: 'plugin', path };
  }
  return undefined;
}

/** Every driver installed beside moor (not the built-in ones), found without starting or importing any. */
export function discoverDrivers(lookup: DriverLookup): FoundDriver[] {
  const result = new Map<string, FoundDriver>();
  const add = (entry: FoundDriver) => {
    if (!DRIVERS.has(entry.name) && DRIVER_NAME.test(entry.name) && !result.has(entry.name))
      result.set(entry.name, entry);
  };
  for (const dir of npmDirs(lookup)) {
    for (const entry of listDir(dir)) {
      if (entry.startsWith(NPM_DRIVER_PREFIX) && existsSync(join(dir, entry, 'package.json'))) {
        add({ name: entry.slice(NPM_DRIVER_PREFIX.length), kind: 'npm', path: join(dir, entry) });
      }
    }
  }
  for (const dir of binaryDirs(lookup)) {
    for (const entry of listDir(dir)) {
      if (entry.startsWith(PLUGIN_BINARY_PREFIX) && isExecutableFile(join(dir, entry))) {
        add({ name: entry.slice(PLUGIN_BINARY_PREFIX.length), kind: 'plugin', path: join(dir, entry) });
      }
    }
  }
  return [...result.values()];
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function binaryDirs(lookup: DriverLookup): string[] {
  const path = (lookup.env['PATH'] ?? '').split(delimiter).filter((dir) => dir !== '' && dir.startsWith('/'));
  return [...new Set([pluginsDir(lookup.storePath), ...path])];
}

/**
 * Folders holding npm driver packages: `<store>/plugins/node_modules`, the global node_modules moor is
 * installed in (`npm install -g moor-driver-x` puts it beside moor), and `$NPM_CONFIG_PREFIX/lib/node_modules`.
 */
function npmDirs(lookup: DriverLookup): string[] {
  const dirs = [join(pluginsDir(lookup.storePath), 'node_modules')];
  const besideMoor = moorPackageRoot();
  if (besideMoor && dirname(besideMoor).endsWith('node_modules')) dirs.push(dirname(besideMoor));
  const prefix = lookup.env['NPM_CONFIG_PREFIX'] || lookup.env['npm_config_prefix'];
  if (prefix) dirs.push(join(prefix, 'lib', 'node_modules'));
  return [...new Set(dirs)];
}

let packageRoot: string | undefined | null = null;

/** The folder of moor's own package.json (this file runs from the sources or from dist/). */
function moorPackageRoot(): string | undefined {
  if (packageRoot !== null) return packageRoot;
  packageRoot = undefined;
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (manifest.name === 'moor') {
        packageRoot = dir;
        break;
      }
    } catch {
      // not here: go up
    }
  }
  return packageRoot;
}

/**
 * How an npm driver package (an ES module, found at run time) is imported. The fast path (src/fast.ts) is
 * bundled as CommonJS, where a bundler turns import() into require(), which cannot load an ES module on
 * Node 20: it passes the import() of its loader instead.
 */
let importModule: (url: string) => Promise<unknown> = (url) => import(url);

export function useModuleImporter(importer: (url: string) => Promise<unknown>): void {
  importModule = importer;
}

/** Imports an npm driver package and checks that its default export is a DriverDefinition for `name`. */
async function loadNpmDriver(name: string, dir: string): Promise<DriverDefinition> {
  const bad = (problem: string, cause?: unknown) =>
    new MoorError(`The driver package ${dir} ${problem}.`, {
      code: 'BAD_DRIVER_PACKAGE',
      suggestions: ['See "Writing a driver" in moor\'s README for what a driver package exports.'],
      ...(cause === undefined ? {} : { cause }),
    });
  let entry: string;
  try {
    entry = packageEntry(dir);
  } catch (error) {
    throw bad(`has no usable package.json (${(error as Error).message})`, error);
  }
  let module: { default?: unknown };
  try {
    module = (await importModule(pathToFileURL(entry).href)) as { default?: unknown };
  } catch (error) {
    throw bad(`could not be loaded: ${(error as Error).message}`, error);
  }
  const definition = module.default as Partial<DriverDefinition> | undefined;
  if (
    !definition ||
    typeof definition !== 'object' ||
    typeof definition.load !== 'function' ||
    !Array.isArray(definition.flags) ||
    typeof definition.description !== 'string'
  ) {
    throw bad('does not export a driver definition as its default export (name, description, flags, load)');
  }
  if (definition.name !== name) throw bad(`exports the driver "${String(definition.name)}", not "${name}"`);
  const npm = definition as NpmDriverDefinition;
  return {
    ...npm,
    source: { kind: 'npm', path: dir },
    load: async () => {
      const factory = await npm.load(await import('./api.js'));
      if (typeof factory?.fromFlags !== 'function' || typeof factory.fromRecord !== 'function') {
        throw bad('returned no driver factory (fromFlags, fromRecord) from load()');
      }
      return factory;
    },
  };
}

/** The file `import(packageName)` would load: exports["."] (import or default), else main, else index.js. */
function packageEntry(dir: string): string {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    exports?: unknown;
    main?: unknown;
  };
  let target: unknown = manifest.exports;
  if (target && typeof target === 'object' && '.' in target) target = (target as Record<string, unknown>)['.'];
  while (target && typeof target === 'object') {
    const conditions = target as Record<string, unknown>;
    target = conditions['import'] ?? conditions['node'] ?? conditions['default'];
  }
  const file = typeof target === 'string' ? target : typeof manifest.main === 'string' ? manifest.main : 'index.js';
  const path = resolve(dir, file);
  if (!path.startsWith(`${resolve(dir)}/`)) throw new Error(`its entry ${file} is outside the package`);
  return path;
}

export type { Driver, DriverContext, DriverDefinition, DriverFlag, DriverFlagValues } from './api.js';
