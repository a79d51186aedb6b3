/**
 * The commands that do one thing to each named machine and print one line per machine (start, stop, kill,
 * restart, status, ip): one class built here, so that each command file only says what differs. oclif
 * still finds a class of its own in each file, with its summary, examples and arguments as statics.
 */
import { BaseCommand } from '../base-command.js';
import type { Moor } from '../core/moor.js';
import { NAMES_ARG } from './names.js';

export interface MachinesCommandSpec<K extends string, R> {
  summary: string;
  examples: string[];
  /** The core call for all the names at once. */
  run(moor: Moor, names: string[]): Promise<{ name: string; result: R }[]>;
  /** The line printed for a machine, if any. */
  line?(result: R): string | undefined;
  /** The key of the result in each --json item ({ name, [key]: result }). */
  key: K;
}

export function machinesCommand<K extends string, R>(spec: MachinesCommandSpec<K, R>) {
  return class MachinesCommand extends BaseCommand<typeof MachinesCommand> {
    static override summary = spec.summary;
    static override examples = spec.examples;
    static override strict = false;
    static override args = NAMES_ARG;

    async run(): Promise<({ name: string } & Record<K, R>)[]> {
      const names = await this.machineNames(this.positionals);
      const results = await this.eachMachine(
        (moor) => spec.run(moor, names),
        (_name, result) => spec.line?.(result),
      );
      return results.map(({ name, result }) => ({ name, [spec.key]: result }) as { name: string } & Record<K, R>);
    }
  };
}
