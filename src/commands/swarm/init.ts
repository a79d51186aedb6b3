import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../base-command.js';

export default class SwarmInit extends BaseCommand<typeof SwarmInit> {
  static override summary = 'Start a Swarm mode cluster on a machine (its first manager).';
  static override description =
    'The machine becomes the first manager of a new swarm, named after it (the name stays after the machine is gone). Other machines join with "moor swarm join". Machines of one swarm must reach each other on 2377/tcp, 7946/tcp+udp and 4789/udp.';
  static override examples = [
    '<%= config.bin %> swarm init manager1',
    '<%= config.bin %> swarm init --advertise-addr 10.0.0.5 manager1',
  ];
  static override args = { name: Args.string({ description: 'Machine name', required: true }) };
  static override flags = {
    'advertise-addr': Flags.string({
      description: "The address other machines reach this one on (default: the machine's IP)",
    }),
  };

  async run() {
    const moor = await this.moor();
    const advertise = this.flags['advertise-addr'];
    const member = await moor.swarms.init(this.args.name, advertise ? { advertiseAddr: advertise } : {});
    this.log(`Swarm "${member.swarm}" started on "${member.machine}" (manager, ${member.address}).`);
    this.logToStderr(`To add machines: ${this.config.bin} swarm join --manager ${member.machine} NAME...`);
    return member;
  }
}
