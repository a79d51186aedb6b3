import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../base-command.js';

export default class SwarmJoinToken extends BaseCommand<typeof SwarmJoinToken> {
  static override summary = "Print a swarm's join token (a secret).";
  static override description =
    "Reads the token from a manager of the machine's swarm; moor never stores it. Anyone with it can join machines to the swarm.";
  static override examples = [
    '<%= config.bin %> swarm join-token manager1',
    '<%= config.bin %> swarm join-token --role manager manager1',
  ];
  static override args = { name: Args.string({ description: 'A member machine', required: true }) };
  static override flags = {
    role: Flags.string({ description: 'Whose token', options: ['worker', 'manager'], default: 'worker' }),
  };

  async run() {
    const { roleOf } = await import('../../core/swarm.js');
    const role = roleOf(this.flags.role);
    const token = await (await this.moor()).swarms.joinToken(this.args.name, role);
    this.log(token);
    return { role, token };
  }
}
