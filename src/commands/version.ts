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
      return { version: this.config.version, node: process.version };
    }
    const version = await (await this.moor()).engineVersion(this.args.name);
    this.log(version.Version);
    return { name: this.args.name, ...version };
  }
}
