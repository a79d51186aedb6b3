/**
 * The command line before oclif sees it. docker-machine accepted its global flags before the command
 * (`docker-machine -s PATH ls`); oclif reads flags only after it, so global flags written first are moved
 * behind the command. `-h`/`--help` and `-v`/`--version` work anywhere, and an unknown command is found
 * here, so that it is reported in moor's format. Nothing after `--` is touched: it belongs to the program
 * that `moor docker` or `moor ssh` runs.
 */
const WITH_VALUE = new Set(['-s', '--storage-path']);
const BOOLEAN = new Set(['-D', '--debug', '--json']);
const HELP = new Set(['-h', '--help']);
const VERSION = new Set(['-v', '--version']);

/** `topics`: words that take a command after them (`moor swarm init`): the flags go behind both words. */
export function normalizeArgv(argv: string[], topics: readonly string[] = []): string[] {
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
  const words = topics.includes(rest[0]!) && rest[1] !== undefined && !rest[1].startsWith('-') ? 2 : 1;
  return [...rest.slice(0, words), ...leading, ...rest.slice(words)];
}

export type ArgvPlan =
  /** Run oclif with this argv. */
  | { argv: string[] }
  /** Report a command-line error (UNKNOWN_COMMAND or UNKNOWN_FLAG) without running anything. */
  | { unknownCommand?: string; unknownFlag?: string; json: boolean };

/** What to run for `argv`, given the ids of moor's commands. */
export function planArgv(argv: string[], commandIds: readonly string[]): ArgvPlan {
  const end = argv.indexOf('--');
  const before = end === -1 ? argv : argv.slice(0, end);
  const after = end === -1 ? [] : argv.slice(end);
  const json = before.includes('--json');
  const help = before.some((arg) => HELP.has(arg));
  if (!help && before.some((arg) => VERSION.has(arg))) return { argv: ['version', ...(json ? ['--json'] : [])] };
  const topics = [...new Set(commandIds.filter((id) => id.includes(':')).map((id) => id.split(':')[0]!))];
  const normalized = normalizeArgv(
    before.filter((arg) => !HELP.has(arg)),
    topics,
  );
  const first = normalized.find((_, index) => !isGlobal(normalized, index));
  if (first === undefined) return { argv: ['--help'] };
  if (first.startsWith('-')) return { unknownFlag: first, json };
  if (!commandIds.includes(first)) {
    // A topic (`moor swarm init`): its word and a command of it; the topic alone shows the topic's help.
    const inTopic = commandIds.filter((id) => id.startsWith(`${first}:`));
    if (inTopic.length === 0) return { unknownCommand: first, json };
    const sub = normalized[normalized.indexOf(first) + 1];
    if (sub === undefined || sub.startsWith('-')) return { argv: [first, '--help'] };
    if (!inTopic.includes(`${first}:${sub}`)) return { unknownCommand: `${first} ${sub}`, json };
  }
  // `moor help COMMAND [FLAGS]` is `moor COMMAND [FLAGS] --help` (create's help depends on --driver).
  if (first === 'help' && normalized[0] === 'help') return planArgv([...normalized.slice(1), '--help'], commandIds);
  return { argv: [...normalized, ...(help ? ['--help'] : []), ...after] };
}

/** Whether argv[index] is a global flag or the value of one (for a line of only global flags). */
function isGlobal(argv: string[], index: number): boolean {
  const arg = argv[index]!;
  if (BOOLEAN.has(arg) || WITH_VALUE.has(arg) || arg.startsWith('--storage-path=')) return true;
  return index > 0 && WITH_VALUE.has(argv[index - 1]!);
}
