import { BaseCommand } from '../base-command.js';

export default class Drivers extends BaseCommand<typeof Drivers> {
  static override summary =
    'List the drivers: built in, npm packages and Docker Machine plugins, with where each was found.';
  static override description =
    'npm driver packages (moor-driver-NAME) are found in <store>/plugins/node_modules and beside moor in the global prefix; Docker Machine plugins (docker-machine-driver-NAME) in <store>/plugins/ and on PATH. None is started.';
  static override examples = ['<%= config.bin %> drivers', '<%= config.bin %> drivers --json'];

  async run() {
    const drivers = (await this.moor()).drivers();
    const { renderTable } = await import('../core/format/table.js');
    this.log(
      renderTable([
        ['NAME', 'KIND', 'WHERE'],
        ...drivers.map((driver) => [driver.name, driver.kind, driver.path]),
      ]).trimEnd(),
    );
    return drivers;
  }
}
