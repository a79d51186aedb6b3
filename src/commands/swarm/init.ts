import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../base-command.js';

export default class SwarmInit extends BaseCommand<typeof SwarmInit> {
  static override summary = 'Start a Swarm mode cluster on a machine (its first manager).';
  static override description =
    'The machine becomes the first manager of a new swarm, named after it (the name stays after the machine is gone). Machines named after it join the new swarm at once, in parallel (as workers, or as managers with --role manager): every machine is checked before anything changes. Other machines join later with "moor swarm join". Machines of one swarm must reach each other on 2377/tcp, 7946/tcp+udp and 4789/udp.';
  static override examples = [
    '<%= config.bin %> swarm init manager1',
    '<%= config.bin %> swarm init --advertise-addr 10.0.0.5 manager1',
    '<%= config.bin %> swarm init manager1 worker1 worker2 worker3',
  ];
  static override strict = false;
  static override args = {
    name: Args.string({ description: 'Machine name (the first manager)', required: true }),
    others: Args.string({ description: 'Machines that join the new swarm' }),
  };
  static override flags = {
    'advertise-addr': Flags.string({
      description: "The address other machines reach this one on (default: the machine's IP)",
    }),
    role: Flags.string({
      description: 'Role of the machines named after the first (default: worker)',
      options: ['worker', 'manager'],
    }),
  };

  async run() {
    const advertise = this.flags['advertise-addr'];
    const options = advertise ? { advertiseAddr: advertise } : {};
    const others = this.positionals.slice(1);
    if (others.length === 0 && this.flags.role !== undefined) {
      const { UsageError } = await import('../../core/errors.js');
      throw new UsageError('--role is the role of the machines that join the new swarm: name them after the first.', [
        `Example: ${this.config.bin} swarm init ${this.args.name} --role ${this.flags.role} manager2 manager3`,
      ]);
    }
    if (others.length === 0) {
      const moor = await this.moor();
      const member = await moor.swarms.init(this.args.name, options);
      this.log(started(member));
      this.logToStderr(`To add machines: ${this.config.bin} swarm join --manager ${member.machine} NAME...`);
      return member;
    }
    const { roleOf } = await import('../../core/swarm.js');
    const role = roleOf(this.flags.role);
    const results = await this.eachMachine(
      (moor) => moor.swarms.initWith(this.args.name, others, { ...options, role }),
      (name, member) =>
        name === this.args.name ? started(member) : `"${name}" joined swarm "${member.swarm}" as a ${member.role}.`,
    );
    return results.map(({ result }) => result);
  }
}

function started(member: { swarm: string; machine: string; address: string }): string {
  return `Swarm "${member.swarm}" started on "${member.machine}" (manager, ${member.address}).`;
}
