/**
 * What every moor command shares: --storage-path, --debug, --json, a Moor core service built lazily,
 * stderr progress, and the one place where errors are printed (catch) with their documented exit codes.
 */
import { Command, Errors, Flags, type Interfaces } from '@oclif/core';
import type { Logger } from './core/log.js';
import { cliLogger } from './cli/logger.js';
import type { EverydayContext } from './cli/everyday.js';
import type { Moor } from './core/moor.js';
import type { UsageError } from './core/errors.js';
import { checkedFlags, fromParseError } from './cli/usage.js';

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<
  (typeof BaseCommand)['baseFlags'] & T['flags']
>;
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    'storage-path': Flags.string({
      char: 's',
      description: "Folder of moor's machine store (default ~/.moor)",
      env: 'MOOR_STORAGE_PATH',
      helpGroup: 'GLOBAL',
    }),
    debug: Flags.boolean({
      char: 'D',
      description: 'Show debug output and stack traces',
      env: 'MOOR_DEBUG',
      helpGroup: 'GLOBAL',
    }),
  };

  protected flags!: BaseFlags<T>;
  protected args!: BaseArgs<T>;
  /** Every positional argument, for commands that take several machine names (strict = false). */
  protected positionals: string[] = [];
  private moorService: Moor | undefined;

  override async init(): Promise<void> {
    await super.init();
    const failures: UsageError[] = [];
    const commandFlags = { ...this.ctor.flags, ...(await this.moreFlags()) };
    const allFlags = { ...(super.ctor as typeof BaseCommand).baseFlags, ...commandFlags };
    let parsed;
    try {
      parsed = await this.parse({
        flags: checkedFlags(commandFlags, failures),
        baseFlags: checkedFlags((super.ctor as typeof BaseCommand).baseFlags, failures),
        enableJsonFlag: this.ctor.enableJsonFlag,
        args: withoutStdin(this.ctor.args),
        strict: this.ctor.strict,
      });
    } catch (error) {
      throw failures[0] ?? fromParseError(error, this.id ?? '', allFlags, this.usage()) ?? error;
    }
    const { args, flags, argv } = parsed;
    this.flags = flags as BaseFlags<T>;
    this.args = args as BaseArgs<T>;
    this.positionals = argv as string[];
  }

  /** Flags known only from the command line (create: those of a driver installed beside moor). */
  protected async moreFlags(): Promise<Interfaces.FlagInput> {
    return {};
  }

  /** How the command is called, for messages: "moor ssh NAME". */
  private usage(): string {
    const args = Object.entries(this.ctor.args ?? {}).map(([name, arg]) => {
      const word = name === 'name' || name === 'names' ? 'NAME' : name.toUpperCase();
      return arg.required ? word : `[${word}]`;
    });
    return [this.config.bin, this.id, ...args].filter(Boolean).join(' ');
  }

  /** The core service for this command's store (imported on first use, so --help never loads it). */
  protected async moor(): Promise<Moor> {
    if (!this.moorService) {
      const { Moor } = await import('./core/moor.js');
      this.moorService = new Moor({ storagePath: this.flags['storage-path'], log: this.logger() });
    }
    return this.moorService;
  }

  /** Progress and warnings: stderr only, so that stdout holds just the result. */
  protected logger(): Logger {
    return cliLogger(this.flags?.debug ?? false);
  }

  /** Names given on the command line, or "default" when none was given and it exists (as docker-machine). */
  protected async machineNames(given: string[]): Promise<string[]> {
    const { namesOrDefault } = await import('./cli/everyday.js');
    return namesOrDefault(await this.moor(), given, this.id ?? '');
  }

  /** What the shared command functions of src/cli/everyday.ts need (they also serve the fast path). */
  protected everyday(): EverydayContext {
    return {
      moor: () => this.moor(),
      logger: this.logger(),
      print: (text) => {
        if (!this.jsonEnabled()) process.stdout.write(text);
      },
      id: this.id ?? '',
      argv: this.argv,
      bin: this.config.bin,
      env: process.env,
      json: this.jsonEnabled(),
    };
  }

  /** Prints one line per machine for what succeeded, then fails with every error if any machine failed. */
  protected async eachMachine<R>(
    run: (moor: Moor) => Promise<{ name: string; result: R }[]>,
    line: (name: string, result: R) => string | undefined,
  ): Promise<{ name: string; result: R }[]> {
    const moor = await this.moor();
    const { MultiError } = await import('./core/errors.js');
    try {
      const results = await run(moor);
      for (const { name, result } of results) this.printLine(line(name, result));
      return results;
    } catch (error) {
      if (error instanceof MultiError) {
        for (const item of error.results as { name: string; result: R }[]) this.printLine(line(item.name, item.result));
      }
      throw error;
    }
  }

  private printLine(text: string | undefined): void {
    if (text !== undefined) this.log(text);
  }

  /** Prints an error as catch() does and returns its exit code (for a second Ctrl-C, which exits at once). */
  protected async reporter(): Promise<(error: Error) => number> {
    const { reportError, debugRequested, jsonRequested } = await import('./cli/report.js');
    return (error) =>
      reportError(error, {
        // A command without --json (ssh, docker, scp) still answers `--json` with one JSON error document.
        json: this.jsonEnabled() || (!this.ctor.enableJsonFlag && jsonRequested(this.argv)),
        debug: debugRequested(this.argv),
        id: this.id,
        printJson: (document) => this.logJson(document),
      });
  }

  override async catch(error: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<void> {
    if (error instanceof Errors.ExitError) throw error;
    if (this.moorService) {
      const { storeErrorUnder } = await import('./core/store.js'); // a file system error in the store's files
      error = (await storeErrorUnder(error, this.moorService.store.root)) as typeof error;
    }
    process.exitCode = (await this.reporter())(error);
  }
}

/**
 * oclif reads a missing argument from piped standard input (`echo lab | moor rm -y` removed "lab"). A
 * machine name only ever comes from the command line: a missing one means "default".
 */
function withoutStdin<A extends Interfaces.ArgInput>(args: A | undefined): A {
  const copy: Record<string, unknown> = {};
  for (const [name, arg] of Object.entries(args ?? {})) copy[name] = { ...arg, ignoreStdin: true };
  return copy as A;
}
