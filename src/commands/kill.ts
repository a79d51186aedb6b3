import { machinesCommand } from '../cli/machines-command.js';

export default class Kill extends machinesCommand({
  summary: 'Kill (force stop) one or more machines.',
  examples: ['<%= config.bin %> kill web', '<%= config.bin %> kill web db cache'],
  run: (moor, names) => moor.changeState(names, 'kill'),
  key: 'state',
}) {}
