import { machinesCommand } from '../cli/machines-command.js';

export default class Status extends machinesCommand({
  summary: 'Print the state of one or more machines.',
  examples: ['<%= config.bin %> status web', '<%= config.bin %> status web db'],
  run: (moor, names) => moor.status(names),
  line: (state) => state,
  key: 'state',
}) {}
