/**
 * One error hierarchy for moor. Every failure a user can cause or meet is a MoorError with a stable
 * `code`, a documented `exitCode` and suggestions that say what to run next. The CLI's base command is
 * the only place that prints them.
 */

/** Exit codes are a contract: they are documented in the README and asserted in end-to-end tests. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  preCreateCheck: 3,
  badConfig: 4,
  alreadyExists: 5,
  notSupported: 6,
  timeout: 7,
  /** Stopped by SIGINT or SIGTERM (128 + 2, as shells report Ctrl-C). */
  interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export interface MoorErrorOptions {
  code: string;
  exitCode?: ExitCodeValue;
  suggestions?: string[];
  cause?: unknown;
}

/**
 * Marks every MoorError, whichever copy of this module made it: an npm driver package that imports
 * `moor/driver-api` at run time gets that file's own copy of these classes, and its errors must still be
 * moor's errors (their code, exit code and suggestions), not unknown ones.
 */
const MOOR_ERROR = Symbol.for('moor.MoorError');

export class MoorError extends Error {
  readonly code: string;
  readonly exitCode: ExitCodeValue;
  readonly suggestions: string[];

  /** `x instanceof MoorError` holds for a MoorError of any copy; subclasses keep the ordinary test. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== MoorError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as { [MOOR_ERROR]?: unknown })[MOOR_ERROR] === true;
  }

  constructor(message: string, options: MoorErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MoorError';
    this.code = options.code;
    this.exitCode = options.exitCode ?? ExitCode.failure;
    this.suggestions = options.suggestions ?? [];
  }
}
Object.defineProperty(MoorError.prototype, MOOR_ERROR, { value: true });

export class UsageError extends MoorError {
  constructor(message: string, suggestions: string[] = [], code = 'USAGE') {
    super(message, { code, exitCode: ExitCode.usage, suggestions });
  }
}

export class InvalidNameError extends UsageError {
  /** `problem` says what is wrong ("it must start with a letter or digit"); the default is the whole rule. */
  constructor(name: string, problem = 'use letters, digits, "." and "-", starting with a letter or digit') {
    const shown = name.length > 80 ? `${name.slice(0, 40)}...${name.slice(-20)}` : name;
    super(`Invalid machine name "${shown}": ${problem}.`, [], 'INVALID_NAME');
  }
}

export class MachineNotFoundError extends MoorError {
  constructor(name: string) {
    super(`Machine "${name}" does not exist. Run "moor ls" to list machines.`, {
      code: 'MACHINE_NOT_FOUND',
      exitCode: ExitCode.failure,
    });
  }
}

export class MachineExistsError extends MoorError {
  constructor(name: string) {
    super(`Machine "${name}" already exists.`, {
      code: 'MACHINE_EXISTS',
      exitCode: ExitCode.alreadyExists,
      suggestions: [`Pick another name, or remove it first with "moor rm ${name}".`],
    });
  }
}

export class BadConfigError extends MoorError {
  constructor(name: string, problem: string, file: string) {
    super(`The configuration of machine "${name}" cannot be read: ${problem} (${file}).`, {
      code: 'BAD_CONFIG',
      exitCode: ExitCode.badConfig,
      suggestions: [`Fix or restore ${file}, or remove the record with "moor rm -f ${name}".`],
    });
  }
}

export class NotSupportedError extends MoorError {
  constructor(operation: string, driverName: string) {
    super(`"${operation}" is not supported by the ${driverName} driver.`, {
      code: 'NOT_SUPPORTED',
      exitCode: ExitCode.notSupported,
    });
  }
}

export class PreCreateCheckError extends MoorError {
  constructor(message: string, suggestions: string[] = [], cause?: unknown) {
    super(`Pre-create check failed: ${message}`, {
      code: 'PRE_CREATE_CHECK',
      exitCode: ExitCode.preCreateCheck,
      suggestions,
      cause,
    });
  }
}

export class TimeoutError extends MoorError {
  constructor(message: string, suggestions: string[] = []) {
    super(message, { code: 'TIMEOUT', exitCode: ExitCode.timeout, suggestions });
  }
}

/**
 * The user interrupted the operation (Ctrl-C, SIGTERM): the reason of the AbortSignal the CLI hands the
 * core, thrown at the next safe point. Exit 130 whichever signal it was, as Ctrl-C in a shell.
 */
export class InterruptedError extends MoorError {
  readonly signal: string;
  constructor(signal: string) {
    super(`Interrupted (${signal}).`, { code: 'INTERRUPTED', exitCode: ExitCode.interrupted });
    this.signal = signal;
  }
}

export function isInterrupt(error: unknown): error is MoorError {
  return error instanceof MoorError && error.code === 'INTERRUPTED';
}

/** Several independent operations (one per machine) of which at least one failed. */
export class MultiError extends MoorError {
  readonly errors: { name: string; error: Error }[];
  /** What succeeded, so that a command can still report it. */
  readonly results: unknown[];
  constructor(errors: { name: string; error: Error }[], results: unknown[] = []) {
    const lines = errors.map(({ name, error }) => `${name}: ${error.message}`);
    super(lines.join('\n'), {
      code: 'SOME_FAILED',
      exitCode: commonExitCode(errors.map(({ error }) => exitCodeOf(error))),
    });
    this.errors = errors;
    this.results = results;
  }
}

/** The failures' exit code when they agree (all "not supported", say), else the general failure code. */
function commonExitCode(codes: ExitCodeValue[]): ExitCodeValue {
  return codes.every((code) => code === codes[0]) && codes[0] !== undefined ? codes[0] : ExitCode.failure;
}

export function exitCodeOf(error: unknown): ExitCodeValue {
  return error instanceof MoorError ? error.exitCode : ExitCode.failure;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Why the store could not be used, one code per kind of fault (see storeError in store.ts). */
export type StoreFault =
  | 'STORE_NOT_WRITABLE'
  | 'STORE_NOT_READABLE'
  | 'STORE_NOT_A_DIRECTORY'
  | 'STORE_FULL'
  | 'NAME_TOO_LONG_FOR_STORE'
  | 'STORE_IO_ERROR';

/** A file system error met in moor's store, naming the path and what to do about it. */
export class StoreError extends MoorError {
  readonly path: string;
  constructor(code: StoreFault, message: string, path: string, suggestions: string[], cause?: unknown) {
    super(message, {
      code,
      exitCode: code === 'NAME_TOO_LONG_FOR_STORE' ? ExitCode.usage : ExitCode.failure,
      suggestions,
      cause,
    });
    this.path = path;
  }
}
