import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';

export default class Import extends BaseCommand<typeof Import> {
  static override summary = "Copy Docker Machine's machines into moor's store.";
  static override description =
    "Reads Docker Machine's store (--from, default $MACHINE_STORAGE_PATH or ~/.docker/machine) and copies each machine (every one when no NAME is given): its certificates and SSH key, engine options and driver state. Docker Machine's store is never changed; its CA stays with the imported machines, moor's CA is not replaced. Cloud credentials Docker Machine kept (amazonec2 keys) are not imported. Drivers moor does not have are kept as Docker Machine plugin drivers of that name.";
  static override examples = [
    '<%= config.bin %> import --dry-run',
    '<%= config.bin %> import',
    '<%= config.bin %> import --from /mnt/old-home/.docker/machine web db',
  ];
  static override strict = false;
  static override args = { names: Args.string({ description: 'Machines to import (default: all)' }) };
  static override flags = {
    from: Flags.string({ description: "Docker Machine's store", env: 'MACHINE_STORAGE_PATH' }),
    'dry-run': Flags.boolean({ description: 'Show what would be imported; change nothing' }),
  };

  async run() {
    const report = await (
      await this.moor()
    ).importMachines({
      ...(this.flags.from ? { from: this.flags.from } : {}),
      names: this.positionals,
      dryRun: this.flags['dry-run'],
    });
    const verb = { imported: 'imported', planned: 'would be imported', skipped: 'skipped', failed: 'FAILED' };
    if (report.machines.length === 0) this.log(`No machines in ${report.from}.`);
    for (const machine of report.machines) {
      const driver = machine.driver ? ` (${machine.driver} driver)` : '';
      this.log(`${machine.name}${driver}: ${verb[machine.outcome]}${machine.reason ? `: ${machine.reason}` : ''}`);
      for (const note of machine.notes) this.log(`  ${note}`);
    }
    const failed = report.machines.filter((machine) => machine.outcome === 'failed');
    if (failed.length > 0) {
      const { MoorError } = await import('../core/errors.js');
      throw new MoorError(`${failed.length} of ${report.machines.length} machines could not be imported.`, {
        code: 'IMPORT_FAILED',
      });
    }
    return report;
  }
}
