/**
 * The fast path: the everyday read-only commands (env, url, inspect, ls, active) answered without loading
 * the CLI framework, which costs more than the commands themselves. bin/run.cjs tries it first for those
 * command names; it answers only a command line it reads completely (the command first, then its own flags
 * in their plain forms and at most the arguments the command takes), runs the same function as the oclif
 * command (src/cli/everyday.ts), and prints only when that succeeded. Anything else (help, --json, --debug,
 * an unknown or repeated flag, a bad value, an error of any kind) returns false and the full CLI runs the
 * command from the start, so that every message, usage error and exit code comes from one place.
 * MOOR_NO_FAST_PATH=1 turns it off (the tests compare both ways byte for byte).
 *
 * One command that writes is answered too: a plain `create -d none --url URL NAME` (the driver that only
 * records an engine), through the same function as the oclif command (src/cli/create.ts). A create cannot
 * be run twice, so once its line is read it prints as it goes and reports its own errors through the
 * function the oclif command's catch() uses (src/cli/report.ts).
 */
import { fstatSync, writeSync } from 'node:fs';
import { normalizeArgv } from './cli/argv.js';
import { cliLogger } from './cli/logger.js';
import type { EverydayContext } from './cli/everyday.js';
import type { Moor } from './core/moor.js';

type FlagKind = 'string' | 'boolean' | 'integer' | 'multiple';
interface FlagSpec {
  name: string;
  kind: FlagKind;
  char?: string;
  env?: string;
  /** The value when neither the line nor the environment gives one (the oclif flag's default). */
  default?: number;
}
interface CommandSpec {
  flags: FlagSpec[];
  /** How many positional arguments the command takes (a machine name). */
  maxArgs: number;
  /** How many it needs (oclif reports a missing one). */
  minArgs?: number;
  /** The environment variables of the command's other flags: when one is set, oclif runs the command. */
  otherEnv?: string[];
  /** Whether the fast path answers the command with these flags (create: only with the none driver). */
  answers?: (flags: Values) => boolean;
}

const GLOBAL: FlagSpec[] = [{ name: 'storage-path', kind: 'string', char: 's', env: 'MOOR_STORAGE_PATH' }];
const TIMEOUT: FlagSpec = { name: 'timeout', kind: 'integer', char: 't', default: 10 };

export const FAST_COMMANDS: Record<string, CommandSpec> = {
  env: {
    flags: [
      { name: 'shell', kind: 'string' },
      { name: 'unset', kind: 'boolean', char: 'u' },
      { name: 'no-proxy', kind: 'boolean' },
    ],
    maxArgs: 1,
  },
  url: { flags: [], maxArgs: 1 },
  inspect: { flags: [{ name: 'format', kind: 'string', char: 'f' }], maxArgs: 1 },
  active: { flags: [TIMEOUT], maxArgs: 0 },
  ls: {
    flags: [
      { name: 'filter', kind: 'multiple' },
      { name: 'quiet', kind: 'boolean', char: 'q' },
      { ...TIMEOUT, env: 'MOOR_LS_TIMEOUT' },
      { name: 'format', kind: 'string', char: 'f', env: 'MOOR_LS_FORMAT' },
    ],
    maxArgs: 0,
  },
  create: {
    flags: [
      { name: 'driver', kind: 'string', char: 'd', env: 'MOOR_DRIVER' },
      { name: 'url', kind: 'string' }, // the none driver's flag (its MOOR_NONE_URL is read by the core)
      { name: 'tls-san', kind: 'multiple' },
      { name: 'ssh-timeout', kind: 'integer', env: 'MOOR_SSH_TIMEOUT', default: 300 },
    ],
    maxArgs: 1,
    minArgs: 1,
    otherEnv: [
      'MOOR_ENGINE_INSTALL_URL',
      'MOOR_ENGINE_INSTALL_METHOD',
      'MOOR_ENGINE_TRANSPORT',
      'MOOR_ENGINE_SOCKET',
      'MOOR_ENGINE_VERSION',
      'MOOR_TLS_CA_CERT',
      'MOOR_TLS_CA_KEY',
      'MOOR_TLS_CLIENT_CERT',
      'MOOR_TLS_CLIENT_KEY',
      'MOOR_SWARM_MANAGER',
      'MOOR_SWARM_JOIN',
      'MOOR_SWARM_ROLE',
    ],
    answers: (flags) => flags['driver'] === 'none',
  },
};

type Values = Record<string, string | boolean | number | string[] | undefined>;
interface Parsed {
  id: string;
  rest: string[];
  flags: Values;
  args: string[];
}

/** The command line read the way oclif reads it, or undefined for anything the fast path leaves to oclif. */
export function parseFast(argv: string[], env: NodeJS.ProcessEnv): Parsed | undefined {
  if (env['MOOR_DEBUG'] !== undefined || env['DEBUG'] !== undefined) return undefined;
  const line = normalizeArgv(argv);
  const id = line[0];
  if (id === undefined || !Object.hasOwn(FAST_COMMANDS, id)) return undefined;
  const spec = FAST_COMMANDS[id]!;
  const known = [...GLOBAL, ...spec.flags];
  const flags: Values = {};
  const args: string[] = [];
  const rest = line.slice(1);
  for (let index = 0; index < rest.length; index++) {
    const word = rest[index]!;
    if (!word.startsWith('-')) {
      if (word === '' || args.length >= spec.maxArgs) return undefined;
      args.push(word);
      continue;
    }
    const equals = word.startsWith('--') ? word.indexOf('=') : -1;
    const key = equals === -1 ? word : word.slice(0, equals);
    const flag = known.find((f) => key === `--${f.name}` || (f.char !== undefined && key === `-${f.char}`));
    if (!flag) return undefined; // --help, --json, --debug, -- and everything unknown
    if (flag.kind === 'boolean') {
      if (equals !== -1 || flags[flag.name] !== undefined) return undefined;
      flags[flag.name] = true;
      continue;
    }
    let value: string | undefined;
    if (equals !== -1) value = word.slice(equals + 1);
    else value = rest[++index];
    if (value === undefined || value === '' || value.startsWith('-')) return undefined;
    if (flag.kind === 'multiple') {
      flags[flag.name] = [...((flags[flag.name] as string[] | undefined) ?? []), value];
      continue;
    }
    if (flags[flag.name] !== undefined) return undefined;
    const typed = typedValue(flag, value);
    if (typed === undefined) return undefined;
    flags[flag.name] = typed;
  }
  for (const flag of known) {
    if (flags[flag.name] !== undefined || flag.env === undefined || env[flag.env] === undefined) continue;
    const typed = typedValue(flag, env[flag.env]!);
    if (typed === undefined) return undefined;
    flags[flag.name] = typed;
  }
  for (const flag of known) {
    if (flag.kind === 'boolean') flags[flag.name] ??= false;
    if (flag.default !== undefined) flags[flag.name] ??= flag.default;
  }
  if (args.length < (spec.minArgs ?? 0) || spec.otherEnv?.some((name) => env[name] !== undefined)) return undefined;
  if (spec.answers && !spec.answers(flags)) return undefined;
  return { id, rest, flags, args };
}

function typedValue(flag: FlagSpec, value: string): string | number | undefined {
  if (value === '') return undefined;
  if (flag.kind !== 'integer') return value;
  if (!/^\d+$/.test(value)) return undefined;
  const number = Number(value);
  return Number.isSafeInteger(number) && number >= 1 ? number : undefined;
}

/**
 * Runs the command if the fast path can answer it. Returns true when it did (its output written and
 * process.exitCode left 0), false when the full CLI must run it (nothing was written).
 */
export async function runFast(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  output: (fd: 1 | 2, text: string) => void = write,
  /** A real import() (the loader's), for npm driver packages: this bundle's import() calls are require(). */
  importModule?: (url: string) => Promise<unknown>,
): Promise<boolean> {
  const parsed = parseFast(argv, env);
  if (!parsed) return false;
  if (importModule) (await import('../drivers/registry.js')).useModuleImporter(importModule);
  // The read-only commands print only once they succeeded (else the full CLI runs them); create as it goes.
  const live = parsed.id === 'create';
  const writes: [1 | 2, string][] = [];
  const emit = (fd: 1 | 2, text: string) => (live ? output(fd, text) : writes.push([fd, text]));
  const stderr = { isTTY: isTerminal(2), write: (text: string) => emit(2, text) };
  let service: Moor | undefined;
  const context: EverydayContext = {
    moor: async () => {
      if (!service) {
        const { Moor } = await import('./core/moor.js');
        service = new Moor({
          storagePath: parsed.flags['storage-path'] as string | undefined,
          log: context.logger,
          env,
        });
      }
      return service;
    },
    logger: cliLogger(false, stderr),
    print: (text) => emit(1, text),
    id: parsed.id,
    argv: parsed.rest,
    bin: 'moor',
    env,
  };
  const { reportError } = live ? await import('./cli/report.js') : { reportError: undefined };
  const report = (error: Error) =>
    reportError!(error, { json: false, debug: false, id: parsed.id, write: (text) => emit(2, text) });
  try {
    const { flags, args } = parsed;
    if (live) {
      const { createCommand } = await import('./cli/create.js');
      await createCommand({ ...context, printErr: (text) => emit(2, text), report }, flags as never, args[0]!);
      return true;
    }
    const everyday = await import('./cli/everyday.js');
    switch (parsed.id) {
      case 'env':
        await everyday.envCommand(context, flags as never, args[0]);
        break;
      case 'url':
        await everyday.urlCommand(context, args[0]);
        break;
      case 'inspect':
        await everyday.inspectCommand(context, flags as never, args[0]);
        break;
      case 'active':
        await everyday.activeCommand(context, flags as never);
        break;
      default:
        await everyday.lsCommand(context, flags as never);
    }
  } catch (error) {
    if (!live) return false;
    // As the oclif command's catch(): a file system error in the store's files as a StoreError.
    const { storeErrorUnder } = await import('./core/store.js');
    process.exitCode = report((service ? await storeErrorUnder(error, service.store.root) : error) as Error);
    return true;
  }
  for (const [fd, text] of writes) output(fd, text);
  return true;
}

/**
 * Whether the descriptor is a terminal, without node:tty (which loads node:net and node:stream): a character
 * device. /dev/null is one too, and what is written there is seen by no one.
 */
function isTerminal(fd: number): boolean {
  try {
    return fstatSync(fd).isCharacterDevice();
  } catch {
    return false;
  }
}

/**
 * Writes straight to the file descriptor: process.stdout and process.stderr are built on first use, and
 * building them (node:stream and its kin) costs more than the rest of a fast command. A descriptor that
 * would block (a non-blocking pipe) gets the stream instead.
 */
function write(fd: 1 | 2, text: string): void {
  let data = Buffer.from(text);
  try {
    while (data.length > 0) data = data.subarray(writeSync(fd, data));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
    (fd === 1 ? process.stdout : process.stderr).write(data);
  }
}
