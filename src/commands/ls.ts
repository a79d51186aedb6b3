import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';

const DEFAULT_COLUMNS =
  '{{.Name}}\t{{.Active}}\t{{.DriverName}}\t{{.State}}\t{{.URL}}\t{{.Swarm}}\t{{.DockerVersion}}\t{{.Error}}';
const HEADERS = {
  Name: 'NAME',
  Active: 'ACTIVE',
  ActiveHost: 'ACTIVE',
  DriverName: 'DRIVER',
  State: 'STATE',
  URL: 'URL',
  Swarm: 'SWARM',
  DockerVersion: 'DOCKER',
  Error: 'ERRORS',
  ResponseTime: 'RESPONSE',
  Labels: 'LABELS',
};

export default class Ls extends BaseCommand<typeof Ls> {
  static override summary = 'List machines.';
  static override examples = [
    '<%= config.bin %> ls',
    '<%= config.bin %> ls --filter driver=none --filter state=Running',
    '<%= config.bin %> ls --format "{{.Name}}: {{.URL}}"',
    '<%= config.bin %> ls -q --filter label=env=prod',
  ];
  static override flags = {
    filter: Flags.string({
      description: 'Filter: driver=, state=, name= (regex), label=k=v; the same key ORs, different keys AND',
      multiple: true,
      multipleNonGreedy: true,
    }),
    quiet: Flags.boolean({ char: 'q', description: 'Print machine names only' }),
    timeout: Flags.integer({ char: 't', description: "Seconds to wait for each machine's state", default: 10, min: 1 }),
    format: Flags.string({
      char: 'f',
      description: 'Go template, e.g. "table {{.Name}}\\t{{.State}}"',
      env: 'MOOR_LS_FORMAT',
    }),
  };

  async run() {
    const { flags } = this;
    const [{ compileTemplate, splitTableFormat }, { tabularize }] = await Promise.all([
      import('../core/format/template.js'),
      import('../core/format/table.js'),
    ]);
    const split = splitTableFormat(flags.format ?? `table ${DEFAULT_COLUMNS}`);
    const body = split.table && split.body === '' ? DEFAULT_COLUMNS : split.body;
    const template = flags.quiet ? undefined : compileTemplate(body);
    const moor = await this.moor();
    const items = await moor.list({
      filters: flags.filter ?? [],
      timeoutMs: flags.timeout * 1000,
      queryDockerVersion: !flags.quiet && body.includes('DockerVersion'),
      dockerHost: process.env['DOCKER_HOST'],
    });
    if (!this.jsonEnabled()) {
      if (!template) {
        for (const item of items) this.log(item.Name);
      } else if (split.table) {
        const lines = [template.render(HEADERS), ...items.map((item) => template.render(item))];
        process.stdout.write(tabularize(lines.map((line) => `${line}\n`).join('')));
      } else {
        for (const item of items) this.log(template.render(item));
      }
    }
    return items;
  }
}
