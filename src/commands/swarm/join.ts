import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../base-command.js';

export default class SwarmJoin extends BaseCommand<typeof SwarmJoin> {
  static override summary = "Make machines join a manager's swarm (in parallel).";
  static override description =
    'Each machine joins the swarm of the manager as a worker (or a manager with --role manager). The join token is read from the manager and never stored or printed.';
  static override examples = [
    '<%= config.bin %> swarm join --manager manager1 worker1 worker2',
    '<%= config.bin %> swarm join --manager manager1 --role manager manager2',
  ];
  static override strict = false;
  static override args = { names: Args.string({ description: 'Machines that join' }) };
  static override flags = {
    manager: Flags.string({ char: 'm', description: 'A manager of the swarm to join', required: true }),
    role: Flags.string({
      description: 'Role of the joining machines',
      options: ['worker', 'manager'],
      default: 'worker',
    }),
  };

  async run() {
    const names = this.positionals;
    if (names.length === 0) {
      const { UsageError } = await import('../../core/errors.js');
      throw new UsageError('Name the machines that join.', [
        `Example: ${this.config.bin} swarm join --manager ${this.flags.manager} worker1 worker2`,
      ]);
    }
    const { roleOf } = await import('../../core/swarm.js');
    const role = roleOf(this.flags.role);
    const results = await this.eachMachine(
      (moor) => moor.swarms.join(this.flags.manager, names, { role }),
      (name, member) => `"${name}" joined swarm "${member.swarm}" as a ${member.role}.`,
    );
    return results.map(({ result }) => result);
  }
}
