/**
 * Errors of the command line itself, in moor's words: an unknown command or flag (with a suggestion), a
 * missing or unexpected argument, a bad flag value (naming the environment variable when the value came
 * from one). oclif's parser errors are translated here; nothing of this module is loaded unless one occurs.
 */
import { stripVTControlCharacters } from 'node:util';
import { UsageError } from '../core/errors.js';

/** The documented codes of these errors (README, "Exit codes"); all exit with 2. */
export const UsageCode = {
  unknownCommand: 'UNKNOWN_COMMAND',
  unknownFlag: 'UNKNOWN_FLAG',
  missingArgument: 'MISSING_ARGUMENT',
  unexpectedArgument: 'UNEXPECTED_ARGUMENT',
  invalidFlagValue: 'INVALID_FLAG_VALUE',
  jsonNotSupported: 'JSON_NOT_SUPPORTED',
  usage: 'USAGE',
} as const;

/** Edit distance (insertions, deletions, substitutions, adjacent swaps), for "did you mean". */
function distance(a: string, b: string): number {
  const rows = a.length + 1;
  const columns = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: columns }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < columns; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest of `candidates` to `given`: a small typo, or a prefix of at least 3 characters. */
export function closest(given: string, candidates: Iterable<string>): string | undefined {
  const word = given.toLowerCase();
  const limit = word.length <= 3 ? 1 : 2;
  let best: { candidate: string; score: number } | undefined;
  for (const candidate of candidates) {
    const score = word.length >= 3 && candidate.startsWith(word) ? 0.5 : distance(word, candidate);
    if (score <= limit && (!best || score < best.score)) best = { candidate, score };
  }
  return best?.candidate;
}

export function unknownCommand(given: string, commandIds: string[]): UsageError {
  const match = closest(given, commandIds);
  return new UsageError(
    `Unknown command "${given}".`,
    match ? [`Did you mean "${match}"?`] : ['"moor --help" lists the commands.'],
    UsageCode.unknownCommand,
  );
}

/** A flag written before any command (global flags are -s/--storage-path, -D/--debug and --json). */
export function unknownLeadingFlag(flag: string): UsageError {
  return new UsageError(
    `Unknown flag ${flag}: flags other than -s, -D, --json, --help and --version go after the command.`,
    ['"moor --help" lists the commands; "moor COMMAND --help" their flags.'],
    UsageCode.unknownFlag,
  );
}

interface FlagLike {
  char?: string;
  env?: string;
  hidden?: boolean;
  options?: readonly string[];
}

interface ParseErrorLike extends Error {
  flags?: string[];
  args?: { name?: string }[];
}

/** moor's error for an oclif parse error of command `id`, or undefined when `error` is not one. */
export function fromParseError(
  error: unknown,
  id: string,
  flags: Record<string, FlagLike>,
  usage: string,
): UsageError | undefined {
  if (!(error instanceof Error) || !('oclif' in error) || error instanceof UsageError) return undefined;
  const parseError = error as ParseErrorLike;
  const help = `See "moor ${id} --help".`;
  const kind = error.constructor.name;
  if (kind === 'NonExistentFlagsError' && parseError.flags?.includes('--json')) {
    // A command whose output is another program's (ssh, docker, scp): the error itself is JSON (catch()).
    return new UsageError(
      `"moor ${id}" has no JSON output: what it prints is the output of the program it runs.`,
      ['Leave out --json.', help],
      UsageCode.jsonNotSupported,
    );
  }
  if (kind === 'NonExistentFlagsError' && parseError.flags?.length) {
    const names = Object.entries(flags)
      .filter(([, flag]) => !flag.hidden)
      .map(([name]) => `--${name}`);
    const [first] = parseError.flags;
    const match = closest(first!.replace(/=.*$/, ''), names);
    const list = parseError.flags.join(', ');
    return new UsageError(
      `Unknown flag${parseError.flags.length === 1 ? '' : 's'} ${list} for "moor ${id}".`,
      match ? [`Did you mean ${match}?`, help] : [help],
      UsageCode.unknownFlag,
    );
  }
  if (kind === 'RequiredArgsError') {
    const names = (parseError.args ?? []).map((arg) => arg.name ?? 'argument');
    const what = names.every((name) => name === 'name')
      ? 'the machine name'
      : names.map((n) => n.toUpperCase()).join(', ');
    return new UsageError(`Missing ${what}: "${usage}".`, [help], UsageCode.missingArgument);
  }
  if (kind === 'UnexpectedArgsError') {
    const extra = (parseError.args ?? []).map((arg) => `"${String(arg)}"`).join(', ');
    return new UsageError(
      `Unexpected argument${(parseError.args ?? []).length === 1 ? '' : 's'} ${extra}: "${usage}".`,
      [help],
      UsageCode.unexpectedArgument,
    );
  }
  // What remains of oclif's wording: "The following error occurred:\n  <reason>", "Flag --x expects a
  // value", "Expected --x=v to be one of: a, b", each followed by "See more help with --help".
  const message = stripVTControlCharacters(error.message)
    .replace(/\nSee more help with --help$/, '')
    .replace(/^The following errors? occurred:\s*/, '')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .join('; ');
  const missingValue = /^Flag --(\S+) expects (a value|one of these values: .*)$/.exec(message);
  if (missingValue) {
    return new UsageError(`--${missingValue[1]} needs a value.`, [help], UsageCode.invalidFlagValue);
  }
  const option = /^Expected --([^=\s]+)=(.*) to be one of: (.*)$/.exec(message);
  if (option)
    return new UsageError(
      invalidValue(option[1]!, option[2]!, `to be one of: ${option[3]}`),
      [help],
      UsageCode.invalidFlagValue,
    );
  return new UsageError(`${message.replace(/[.]$/, '')}.`, [help], UsageCode.usage);
}

function invalidValue(flag: string, value: string, expected: string, env?: string): string {
  return env
    ? `Invalid ${env} "${value}" (the environment variable of --${flag}): expected ${expected}.`
    : `Invalid --${flag} "${value}": expected ${expected}.`;
}

interface ParseContext {
  token?: { input?: string } | undefined;
}

type ParseFunction = (input: string, context: ParseContext, options: unknown) => Promise<unknown>;

/**
 * The flags given to oclif's parser, with each value check wrapped so that a bad value is reported as
 * moor's error, naming the environment variable when the value came from one (oclif says "Parsing
 * --ssh-timeout" either way). oclif rewrites the message of what a parse function throws, so the error
 * is recorded in `failures` and the caller throws that one.
 */
export function checkedFlags<F extends Record<string, unknown>>(flags: F, failures: UsageError[]): F {
  const checked: Record<string, unknown> = {};
  for (const [name, definition] of Object.entries(flags)) {
    const flag = definition as FlagLike & { type?: string; parse?: ParseFunction };
    if (flag.type !== 'option' || (!flag.parse && !flag.options)) {
      checked[name] = definition;
      continue;
    }
    const { options, parse } = flag;
    const copy: Record<string, unknown> = { ...flag };
    delete copy['options'];
    copy['parse'] = async (input: string, context: ParseContext, opts: unknown) => {
      const env = context?.token ? undefined : flag.env;
      const fail = (expected: string) => {
        const error = new UsageError(invalidValue(name, input, expected, env), [], UsageCode.invalidFlagValue);
        failures.push(error);
        return new Error(error.message); // the one oclif rewrites
      };
      if (options && !options.includes(input)) throw fail(`to be one of: ${options.join(', ')}`);
      if (!parse) return input;
      try {
        return await parse(input, context, opts);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        const expected = /^Expected (.*) but received: /.exec(reason);
        throw fail(expected ? expected[1]! : reason.replace(/[.]$/, ''));
      }
    };
    checked[name] = copy;
  }
  return checked as F;
}
