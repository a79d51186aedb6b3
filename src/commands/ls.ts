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
  Tunnel: 'TUNNEL',
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
      description:
        'Filter: driver=, state=, name= (regex), label=k=v, swarm=NAME; the same key ORs, different keys AND',
      multiple: true,
      multipleNonGreedy: true,
    }),
    quiet: Flags.boolean({ char: 'q', description: 'Print machine names only' }),
    timeout: Flags.integer({
      char: 't',
      description: "Seconds to wait for each machine's state",
      default: 10,
      min: 1,
      env: 'MOOR_LS_TIMEOUT',
    }),
    format: Flags.string({
      char: 'f',
      description: 'Go template, e.g. "table {{.Name}}\\t{{.State}}"',
      env: 'MOOR_LS_FORMAT',
    }),
  };

  async run() {
    const { flags } = this;
    // The template loads and compiles while the machines are queried.
    const [compiled, items] = await Promise.all([
      flags.quiet ? undefined : compileFormat(flags.format),
      this.moor().then((moor) =>
        moor.list({
          filters: flags.filter ?? [],
          timeoutMs: flags.timeout * 1000,
          queryDockerVersion: !flags.quiet && showsDockerVersion(flags.format),
          dockerHost: process.env['DOCKER_HOST'],
        }),
      ),
    ]);
    // The default table grows a TUNNEL column while some machine has a background tunnel.
    const format =
      compiled && flags.format === undefined && items.some((item) => item.Tunnel !== '')
        ? await compileFormat(`table ${DEFAULT_COLUMNS}\t{{.Tunnel}}`)
        : compiled;
    if (!this.jsonEnabled()) {
      if (!format) {
        for (const item of items) this.log(item.Name);
      } else if (format.table) {
        const lines = [format.template.render(HEADERS), ...items.map((item) => format.template.render(item))];
        process.stdout.write(format.tabularize(lines.map((line) => `${line}\n`).join('')));
      } else {
        for (const item of items) this.log(format.template.render(item));
      }
    }
    return items;
  }
}

/** Whether the output has the DOCKER column (the default table, `table` alone, or a format naming it). */
function showsDockerVersion(format: string | undefined): boolean {
  return format === undefined || /^\s*table\s*$/.test(format) || format.includes('DockerVersion');
}

/** The --format template (docker-machine's default table when none is given); `table` alone means the default columns. */
async function compileFormat(source: string | undefined) {
  const { compileTemplate, splitTableFormat, tabularize } = await import('../core/format/index.js');
  const split = splitTableFormat(source ?? `table ${DEFAULT_COLUMNS}`);
  const body = split.table && split.body === '' ? DEFAULT_COLUMNS : split.body;
  return { table: split.table, template: compileTemplate(body), tabularize };
}
