/**
 * docker-machine accepted its global flags before the command (`docker-machine -s PATH ls`); oclif reads
 * flags only after it. Global flags written first are moved behind the command, so both orders work.
 */
const WITH_VALUE = new Set(['-s', '--storage-path']);
const BOOLEAN = new Set(['-D', '--debug']);

export function normalizeArgv(argv: string[]): string[] {
  const leading: string[] = [];
  let index = 0;
  while (index < argv.length) {
    const arg = argv[index]!;
    if (WITH_VALUE.has(arg) && index + 1 < argv.length) {
      leading.push(arg, argv[index + 1]!);
      index += 2;
    } else if (BOOLEAN.has(arg) || arg.startsWith('--storage-path=')) {
      leading.push(arg);
      index += 1;
    } else {
      break;
    }
  }
  const rest = argv.slice(index);
  if (leading.length === 0 || rest.length === 0 || rest[0]!.startsWith('-')) return argv;
  return [rest[0]!, ...leading, ...rest.slice(1)];
}
