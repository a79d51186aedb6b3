/**
 * How moor prints an error: one "Error: ..." message with its suggestions on stderr (the stack only with
 * --debug), or, under --json, one document `{"error": {code, message, exitCode, suggestions}}` on stdout.
 * BaseCommand.catch() prints every error of a command through it; the command line's own errors (an
 * unknown command, before any command runs) go through it too.
 */
import { MoorError, MultiError } from '../core/errors.js';

export interface ReportOptions {
  json: boolean;
  debug: boolean;
  /** The command, for the "See moor COMMAND --help" hint of an oclif usage error. */
  id?: string | undefined;
  /** Prints the JSON document (the command's own logJson); plain JSON.stringify by default. */
  printJson?: (document: unknown) => void;
  /** Where the message goes (default: process.stderr). */
  write?: (text: string) => void;
}

/** Prints `error` and returns its exit code. */
export function reportError(
  error: Error & { exitCode?: number; oclif?: { exit?: number } },
  options: ReportOptions,
): number {
  const moorError = error instanceof MoorError ? error : undefined;
  const exitCode =
    moorError?.exitCode ?? error.oclif?.exit ?? (typeof error.exitCode === 'number' ? error.exitCode : 1);
  if (options.json) {
    const body: Record<string, unknown> = {
      code: moorError?.code ?? (exitCode === 2 ? 'USAGE' : 'ERROR'),
      message: error.message,
      exitCode,
      suggestions: moorError?.suggestions ?? [],
    };
    if (error instanceof MultiError) {
      body['errors'] = error.errors.map(({ name, error: inner }) => ({
        name,
        message: inner.message,
        code: inner instanceof MoorError ? inner.code : 'ERROR',
      }));
      body['results'] = error.results;
    }
    const print = options.printJson ?? ((document) => process.stdout.write(`${JSON.stringify(document, null, 2)}\n`));
    print({ error: body });
    return exitCode;
  }
  const lines = [`Error: ${error.message}`];
  for (const suggestion of moorError?.suggestions ?? []) lines.push(`  ${suggestion}`);
  if (!moorError && exitCode === 2 && !error.message.includes('--help'))
    lines.push(`  See "moor ${options.id ?? ''} --help".`);
  if (options.debug && error.stack) lines.push(error.stack);
  const text = `${lines.join('\n')}\n`;
  if (options.write) options.write(text);
  else process.stderr.write(text);
  return exitCode;
}

/** --json before any "--" (after it, the word belongs to docker or ssh). */
export function jsonRequested(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/** --debug or -D before any "--", or MOOR_DEBUG=1/true. */
export function debugRequested(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): boolean {
  const end = argv.indexOf('--');
  const before = end === -1 ? argv : argv.slice(0, end);
  return before.includes('--debug') || before.includes('-D') || /^(1|true)$/i.test(env['MOOR_DEBUG'] ?? '');
}
