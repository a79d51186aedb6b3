/**
 * What every moor command shares: --storage-path, --debug, --json, a Moor core service built lazily,
 * stderr progress, and the one place where errors are printed (catch) with their documented exit codes.
 */
import { Command, Errors, Flags, type Interfaces } from '@oclif/core';
import { megabytes, type Logger } from './core/log.js';
import type { Moor } from './core/moor.js';

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
    const { args, flags, argv } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (super.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    });
    this.flags = flags as BaseFlags<T>;
    this.args = args as BaseArgs<T>;
    this.positionals = argv as string[];
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
    const debug = this.flags?.debug ?? false;
    const tty = process.stderr.isTTY === true;
    const stamp = () => (tty ? '' : `${new Date().toISOString()} `);
    return {
      step: (message) => process.stderr.write(`${stamp()}${tty ? '› ' : ''}${message}\n`),
      info: (message) => process.stderr.write(`${stamp()}${message}\n`),
      warn: (message) => process.stderr.write(`${stamp()}Warning: ${message}\n`),
      debug: (message) => {
        if (debug) process.stderr.write(`${stamp()}debug: ${message}\n`);
      },
      ...(tty ? { progress: progressBar(process.stderr) } : {}),
    };
  }

  /** Names given on the command line, or "default" when none was given and it exists (as docker-machine). */
  protected async machineNames(given: string[]): Promise<string[]> {
    if (given.length > 0) return given;
    const moor = await this.moor();
    if (await moor.store.exists('default')) return ['default'];
    const { UsageError } = await import('./core/errors.js');
    throw new UsageError('No machine name(s) specified and no "default" machine exists.', [
      'Name a machine, e.g. "moor ' + this.id + ' NAME"; "moor ls" lists them.',
    ]);
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

  override async catch(error: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<void> {
    if (error instanceof Errors.ExitError) throw error;
    if (this.moorService) {
      const { storeErrorUnder } = await import('./core/store.js'); // a file system error in the store's files
      error = (await storeErrorUnder(error, this.moorService.store.root)) as typeof error;
    }
    const { MoorError, MultiError } = await import('./core/errors.js');
    const moorError = error instanceof MoorError ? error : undefined;
    const exitCode =
      moorError?.exitCode ?? error.oclif?.exit ?? (typeof error.exitCode === 'number' ? error.exitCode : 1);
    process.exitCode = exitCode;
    const debug =
      this.argv.includes('--debug') || this.argv.includes('-D') || /^(1|true)$/i.test(process.env['MOOR_DEBUG'] ?? '');
    if (this.jsonEnabled()) {
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
      this.logJson({ error: body });
      return;
    }
    const lines = [`Error: ${error.message}`];
    for (const suggestion of moorError?.suggestions ?? []) lines.push(`  ${suggestion}`);
    if (!moorError && exitCode === 2 && !error.message.includes('--help'))
      lines.push(`  See "moor ${this.id ?? ''} --help".`);
    if (debug && error.stack) lines.push(error.stack);
    process.stderr.write(`${lines.join('\n')}\n`);
  }
}

/** A download's progress on a TTY: one line redrawn in place. */
function progressBar(stream: NodeJS.WriteStream): (done: number, total: number | undefined) => void {
  return (done, total) => {
    const fraction = total ? Math.min(1, done / total) : 0;
    const bar = total
      ? `[${'#'.repeat(Math.round(fraction * 30)).padEnd(30, '.')}] ${Math.floor(fraction * 100)}%`
      : '';
    stream.write(`\r${bar} ${megabytes(done)}${total ? ` of ${megabytes(total)}` : ''}`);
    if (total && done >= total) stream.write('\n');
  };
}
