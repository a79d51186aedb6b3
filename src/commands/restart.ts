import { machinesCommand } from '../cli/machines-command.js';

export default class Restart extends machinesCommand({
  summary: 'Restart one or more machines.',
  examples: ['<%= config.bin %> restart web', '<%= config.bin %> restart web db cache'],
  run: (moor, names) => moor.changeState(names, 'restart'),
  key: 'state',
}) {}
