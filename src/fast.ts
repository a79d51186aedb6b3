/**
 * The fast path: the everyday read-only commands (env, url, inspect, ls, active) answered without loading
 * the CLI framework, which costs more than the commands themselves. bin/run.cjs tries it first for those
 * command names; it answers only a command line it reads completely (the command first, then its own flags
 * in their plain forms and at most the arguments the command takes), runs the same function as the oclif
 * command (src/cli/everyday.ts), and prints only when that succeeded. Anything else (help, --json, --debug,
 * an unknown or repeated flag, a bad value, an error of any kind) returns false and the full CLI runs the
 * command from the start, so that every message, usage error and exit code comes from one place.
 * MOOR_NO_FAST_PATH=1 turns it off (the tests compare both ways byte for byte).
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
  const writes: [1 | 2, string][] = [];
  const stderr = { isTTY: isTerminal(2), write: (text: string) => writes.push([2, text]) };
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
    print: (text) => writes.push([1, text]),
    id: parsed.id,
    argv: parsed.rest,
    bin: 'moor',
    env,
  };
  try {
    const everyday = await import('./cli/everyday.js');
    const { flags, args } = parsed;
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
  } catch {
    return false;
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
