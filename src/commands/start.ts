import { machinesCommand } from '../cli/machines-command.js';

export default class Start extends machinesCommand({
  summary: 'Start one or more machines.',
  examples: ['<%= config.bin %> start web', '<%= config.bin %> start web db cache'],
  run: (moor, names) => moor.changeState(names, 'start'),
  key: 'state',
}) {}
