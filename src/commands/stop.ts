import { machinesCommand } from '../cli/machines-command.js';

export default class Stop extends machinesCommand({
  summary: 'Stop one or more machines.',
  examples: ['<%= config.bin %> stop web', '<%= config.bin %> stop web db cache'],
  run: (moor, names) => moor.changeState(names, 'stop'),
  key: 'state',
}) {}
