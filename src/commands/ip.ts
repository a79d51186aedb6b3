import { machinesCommand } from '../cli/machines-command.js';

export default class Ip extends machinesCommand({
  summary: 'Print the IP address of one or more machines.',
  examples: ['<%= config.bin %> ip web', '<%= config.bin %> ip web db'],
  run: (moor, names) => moor.ip(names),
  line: (ip) => ip,
  key: 'ip',
}) {}
