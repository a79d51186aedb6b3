import { Args } from '@oclif/core';
import { BaseCommand } from '../../base-command.js';

export default class SwarmRepair extends BaseCommand<typeof SwarmRepair> {
  static override summary = "Repair a machine's swarm after machines went away or came back.";
  static override description =
    'Removes Down nodes whose machines no longer exist, and makes member machines that run again but are no longer in the swarm as recorded (a cloud instance back with a new IP) join it again.';
  static override examples = ['<%= config.bin %> swarm repair manager1'];
  static override args = { name: Args.string({ description: 'A member machine', required: true }) };

  async run() {
    const result = await (await this.moor()).swarms.repair(this.args.name);
    for (const node of result.removed) this.log(`Removed node ${node.id} (${node.hostname}): its machine is gone.`);
    for (const name of result.rejoined) this.log(`"${name}" joined swarm "${result.swarm}" again.`);
    for (const name of result.stopped) this.logToStderr(`"${name}" is not running: start it, then repair again.`);
    if (result.removed.length === 0 && result.rejoined.length === 0)
      this.log(`Swarm "${result.swarm}": nothing to repair.`);
    return result;
  }
}
