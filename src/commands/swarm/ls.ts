import { Args } from '@oclif/core';
import { BaseCommand } from '../../base-command.js';

export default class SwarmLs extends BaseCommand<typeof SwarmLs> {
  static override summary = 'List the nodes of swarms and the machine each node is.';
  static override description =
    'Without a name, every swarm the store\'s machines are in. NOTE says when a node\'s machine is gone ("moor swarm repair" removes such nodes once they are Down) or not running.';
  static override examples = ['<%= config.bin %> swarm ls', '<%= config.bin %> swarm ls manager1'];
  static override args = { name: Args.string({ description: "A member machine: list its swarm's nodes" }) };

  async run() {
    const moor = await this.moor();
    const views = await moor.swarms.list(this.args.name);
    if (!this.jsonEnabled()) {
      const { renderTable } = await import('../../core/format/index.js');
      const rows = [['SWARM', 'MACHINE', 'HOSTNAME', 'ROLE', 'AVAILABILITY', 'STATE', 'ENGINE', 'NODE ID', 'NOTE']];
      for (const view of views) {
        if (view.error) this.logger().warn(view.error);
        for (const node of view.nodes) {
          rows.push([
            view.name,
            node.machine || '-',
            node.hostname,
            node.leader ? 'manager (leader)' : node.role,
            node.availability,
            node.state,
            node.engineVersion,
            node.id,
            node.machineProblem === 'gone'
              ? 'no such machine'
              : node.machineProblem === 'stopped'
                ? 'machine not running'
                : '',
          ]);
        }
      }
      process.stdout.write(renderTable(rows));
    }
    return views;
  }
}
