import { BaseCommand } from '../base-command.js';
import { Args } from '@oclif/core';

export default class Version extends BaseCommand<typeof Version> {
  static override summary = "Print moor's version, or the Docker version of a machine.";
  static override examples = ['<%= config.bin %> version', '<%= config.bin %> version web'];
  static override args = {
    name: Args.string({ description: "Machine name; moor's own version when omitted" }),
  };

  async run() {
    if (!this.args.name) {
      const line = `${this.config.bin} version ${this.config.version} (node ${process.version}, ${process.platform}-${process.arch})`;
      this.log(line);
      const note = nodeSupportNote(process.version);
      if (note && !this.jsonEnabled()) this.logger().info(`Note: ${note}`);
      return { version: this.config.version, node: process.version, ...(note ? { nodeSupport: note } : {}) };
    }
    const version = await (await this.moor()).engineVersion(this.args.name);
    this.log(version.Version);
    return { name: this.args.name, ...version };
  }
}

/**
 * Node 20 reached its end of life in April 2026, and the AWS SDK's releases after the first week of January
 * 2027 need Node 22: moor's support for Node 20 ends with the SDK's. (bin/run.cjs keeps the SDK's own
 * eight-line warning from every amazonec2 command; this is the one place that says it.)
 */
export function nodeSupportNote(version: string): string | undefined {
  const major = Number(version.replace(/^v/, '').split('.')[0]);
  if (major >= 22) return undefined;
  return `Node ${version} is past its end of life; moor supports Node 20 until the AWS SDK it uses stops (its releases after the first week of January 2027 need Node 22). Use Node 22 or 24.`;
}
