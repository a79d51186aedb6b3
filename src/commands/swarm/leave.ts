import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../base-command.js';

export default class SwarmLeave extends BaseCommand<typeof SwarmLeave> {
  static override summary = 'Make machines leave their swarm.';
  static override description =
    'Each machine is demoted if it is a manager, drained (its tasks move elsewhere), leaves, and its node is removed on a manager, so the swarm keeps no Down node. The last manager of a swarm that has other nodes is refused without -f (the swarm would end).';
  static override examples = ['<%= config.bin %> swarm leave worker1', '<%= config.bin %> swarm leave -f manager1'];
  static override strict = false;
  static override args = { names: Args.string({ description: 'Machines that leave; "default" when omitted' }) };
  static override flags = {
    force: Flags.boolean({
      char: 'f',
      description: 'Leave even as the last manager, or when the swarm cannot be told',
    }),
  };

  async run() {
    const names = await this.machineNames(this.positionals);
    const moor = await this.moor();
    const { MultiError } = await import('../../core/errors.js');
    try {
      const left = await moor.swarms.leave(names, { force: this.flags.force });
      for (const name of left) this.log(`"${name}" left its swarm.`);
      return left.map((name) => ({ name, left: true }));
    } catch (error) {
      if (error instanceof MultiError)
        for (const name of error.results as string[]) this.log(`"${name}" left its swarm.`);
      throw error;
    }
  }
}
