/**
 * Shell completion scripts for bash, zsh and fish, generated from the command and flag definitions (the
 * oclif manifest: every command, its flags with their one-letter forms and fixed values, the drivers'
 * create flags included) and the driver names. Machine names complete at completion time from
 * `moor ls -q` (the fast path: about the cost of starting Node) in MOOR_STORAGE_PATH's store (bash also
 * follows a -s/--storage-path typed on the line). No oclif here: the command builds the spec.
 */

export const COMPLETION_SHELLS = ['bash', 'zsh', 'fish'] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

export interface CompletionFlag {
  name: string;
  char?: string | undefined;
  description: string;
  /** The flag takes a value (`--timeout 5`); booleans do not. */
  takesValue: boolean;
  /** The values it accepts, when fixed (`--engine-transport tls|ssh`). */
  options?: string[] | undefined;
}

export interface CompletionCommand {
  id: string;
  summary: string;
  flags: CompletionFlag[];
  /** Its arguments are existing machines' names (one or several). */
  machines: boolean;
}

export interface CompletionSpec {
  commands: CompletionCommand[];
  drivers: string[];
}

/** The values a flag completes to: its fixed options, the drivers for --driver. */
function valuesOf(flag: CompletionFlag, spec: CompletionSpec): string[] | undefined {
  if (flag.name === 'driver') return spec.drivers;
  if (flag.name === 'shell') return ['bash', 'zsh', 'sh', 'fish', 'powershell', 'cmd', 'tcsh', 'emacs'];
  return flag.options;
}

function flagWords(flag: CompletionFlag): string[] {
  return [`--${flag.name}`, ...(flag.char ? [`-${flag.char}`] : [])];
}

const NAME_WORD = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Every word that goes into a script unquoted must be a plain word (ids, flags, drivers, options). */
function assertPlain(spec: CompletionSpec): void {
  const words = [
    ...spec.drivers,
    ...spec.commands.flatMap((command) => [
      ...command.id.split(':'),
      ...command.flags.flatMap((flag) => [flag.name, flag.char ?? 'x', ...(flag.options ?? [])]),
    ]),
  ];
  const odd = words.find((word) => !NAME_WORD.test(word));
  if (odd !== undefined) throw new Error(`completion: "${odd}" is not a plain word`);
}

/** Topics (`swarm` of `swarm:init`): the first word of commands typed as two words. */
function topicsOf(spec: CompletionSpec): Map<string, CompletionCommand[]> {
  const topics = new Map<string, CompletionCommand[]>();
  for (const command of spec.commands) {
    const [topic, sub] = command.id.split(':');
    if (sub !== undefined) topics.set(topic!, [...(topics.get(topic!) ?? []), command]);
  }
  return topics;
}

/** The words typed first: every command outside a topic, and each topic once. */
function firstWords(spec: CompletionSpec): string[] {
  return [...new Set(spec.commands.map((command) => command.id.split(':')[0]!))];
}

export function completionScript(shell: CompletionShell, spec: CompletionSpec): string {
  assertPlain(spec);
  switch (shell) {
    case 'bash':
      return bashScript(spec);
    case 'zsh':
      return zshScript(spec);
    default:
      return fishScript(spec);
  }
}

/** Global flags that take a value: the word after them is not the command. */
function globalValueFlags(spec: CompletionSpec): string[] {
  const ls = spec.commands.find((command) => command.id === 'ls') ?? spec.commands[0];
  return (ls?.flags ?? []).filter((flag) => flag.name === 'storage-path').flatMap(flagWords);
}

function bashScript(spec: CompletionSpec): string {
  const ids = firstWords(spec).join(' ');
  const topics = topicsOf(spec);
  const topicCases = [...topics]
    .map(
      ([topic, commands]) => `    ${topic}) subs="${commands.map((command) => command.id.split(':')[1]).join(' ')}" ;;`,
    )
    .join('\n');
  const globals = globalValueFlags(spec).join('|');
  const cases = spec.commands
    .map((command) => {
      const flags = command.flags.flatMap(flagWords).join(' ');
      const valued = command.flags.filter((flag) => flag.takesValue).flatMap(flagWords);
      const values = command.flags
        .map((flag) => [flag, valuesOf(flag, spec)] as const)
        .filter(([flag, values]) => flag.takesValue && values && values.length > 0)
        .map(
          ([flag, values]) =>
            `        ${flagWords(flag).join('|')}) COMPREPLY=($(compgen -W "${values!.join(' ')}" -- "$cur")); return ;;`,
        );
      return [
        `    ${command.id})`,
        `      flags="${flags}"`,
        `      machines=${command.machines ? 1 : 0}`,
        `      case "$prev" in`,
        ...values,
        ...(valued.length > 0 ? [`        ${valued.join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;`] : []),
        `      esac`,
        `      ;;`,
      ].join('\n');
    })
    .join('\n');
  return `# moor completion for bash. Load it in this shell:  source <(moor completion bash)
# or for every shell:  moor completion bash > ~/.local/share/bash-completion/completions/moor
_moor() {
  local cur prev cmd="" sub="" store="" flags="" machines=0 i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      ${globals}) store="\${COMP_WORDS[i+1]}"; ((i++)) ;;
      -*) ;;
      *) if [ -z "$cmd" ]; then cmd="\${COMP_WORDS[i]}"; elif [ -z "$sub" ]; then sub="\${COMP_WORDS[i]}"; fi ;;
    esac
  done
  if [ -z "$cmd" ]; then
    COMPREPLY=($(compgen -W "${ids}" -- "$cur"))
    return
  fi
  local subs=""
  case "$cmd" in
${topicCases}
  esac
  if [ -n "$subs" ]; then
    if [ -z "$sub" ]; then
      COMPREPLY=($(compgen -W "$subs" -- "$cur"))
      return
    fi
    cmd="$cmd:$sub"
  fi
  case "$cmd" in
${cases}
    *) return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif [ "$machines" = 1 ]; then
    COMPREPLY=($(compgen -W "$(MOOR_STORAGE_PATH="\${store:-$MOOR_STORAGE_PATH}" moor ls -q 2>/dev/null)" -- "$cur"))
  fi
}
complete -F _moor moor
`;
}

/** Text inside a zsh _arguments spec or _describe item: quote-safe for '...' and free of spec syntax. */
function zshText(text: string): string {
  return text.replace(/([[\]:\\])/g, '\\$1').replace(/'/g, "'\\''");
}

function zshScript(spec: CompletionSpec): string {
  const topics = topicsOf(spec);
  const summaryOf = (word: string) =>
    topics.has(word)
      ? `${word} commands: ${topics
          .get(word)!
          .map((command) => command.id.split(':')[1])
          .join(', ')}`
      : (spec.commands.find((command) => command.id === word)?.summary ?? '');
  const commands = firstWords(spec)
    .map((word) => `    '${word}:${zshText(summaryOf(word))}'`)
    .join('\n');
  /** `_arguments` for one command, indented for its place in the case. */
  const argumentsOf = (command: CompletionCommand, indent: string) => {
    const specs = command.flags.map((flag) => {
      const values = valuesOf(flag, spec);
      const action = !flag.takesValue
        ? ''
        : values?.length
          ? `:${flag.name}:(${values.join(' ')})`
          : `:${flag.name}:_files`;
      const text = `[${zshText(flag.description)}]`;
      if (!flag.char) return `'--${flag.name}${text}${action}'`;
      return `'(-${flag.char} --${flag.name})'{-${flag.char},--${flag.name}}'${text}${action}'`;
    });
    if (command.machines) specs.push("'*:machine:_moor_machines'");
    return [`${indent}_arguments -s`, ...specs].join(` \\\n${indent}  `);
  };
  const plain = spec.commands
    .filter((command) => !command.id.includes(':'))
    .map((command) => `        ${command.id})\n${argumentsOf(command, '          ')}\n          ;;`);
  const nested = [...topics].map(([topic, subcommands]) =>
    [
      `        ${topic})`,
      `          if (( CURRENT == 2 )); then`,
      `            _values 'subcommand' ${subcommands.map((command) => command.id.split(':')[1]).join(' ')}`,
      `          else`,
      `            shift words; (( CURRENT-- ))`,
      `            case $words[1] in`,
      ...subcommands.map(
        (command) =>
          `              ${command.id.split(':')[1]})\n${argumentsOf(command, '                ')}\n                ;;`,
      ),
      `            esac`,
      `          fi`,
      `          ;;`,
    ].join('\n'),
  );
  const cases = [...plain, ...nested].join('\n');
  return `#compdef moor
# moor completion for zsh. Load it in this shell:  source <(moor completion zsh)
# or for every shell: moor completion zsh > "\${fpath[1]}/_moor" (a folder of your $fpath), then restart zsh.
_moor_machines() {
  local -a machines
  machines=(\${(f)"$(moor ls -q 2>/dev/null)"})
  _describe 'machine' machines
}

_moor() {
  local -a commands
  commands=(
${commands}
  )
  local state
  _arguments -C '1:command:->command' '*::argument:->argument'
  case $state in
    command) _describe 'command' commands ;;
    argument)
      case $words[1] in
${cases}
      esac
      ;;
  esac
}

if [ "$funcstack[1]" = "_moor" ]; then
  _moor "$@"
else
  compdef _moor moor
fi
`;
}

/** Text inside a fish single-quoted string. */
function fishText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
}

function fishScript(spec: CompletionSpec): string {
  const words = firstWords(spec).join(' ');
  const topics = topicsOf(spec);
  const topicNames = [...topics.keys()].join(' ');
  const lines = [
    '# moor completion for fish. Load it in this shell:  moor completion fish | source',
    '# or for every shell:  moor completion fish > ~/.config/fish/completions/moor.fish',
    'complete -c moor -f',
    `complete -c moor -n 'not __fish_seen_subcommand_from ${words}' -s s -l storage-path -r -F -d 'Folder of the machine store'`,
    ...firstWords(spec).map((word) => {
      const summary = topics.has(word)
        ? `${word} commands`
        : (spec.commands.find((command) => command.id === word)?.summary ?? '');
      return `complete -c moor -n 'not __fish_seen_subcommand_from ${words}' -a ${word} -d '${fishText(summary)}'`;
    }),
  ];
  for (const [topic, subcommands] of topics) {
    const subs = subcommands.map((command) => command.id.split(':')[1]).join(' ');
    lines.push(
      `complete -c moor -n '__fish_seen_subcommand_from ${topic}; and not __fish_seen_subcommand_from ${subs}' -a '${subs}'`,
    );
  }
  for (const command of spec.commands) {
    const [first, sub] = command.id.split(':');
    // A command of a topic: both words seen; a plain one: its word, outside any topic (ls, not swarm ls).
    const when = sub
      ? `-n '__fish_seen_subcommand_from ${first}; and __fish_seen_subcommand_from ${sub}'`
      : topicNames
        ? `-n '__fish_seen_subcommand_from ${first}; and not __fish_seen_subcommand_from ${topicNames}'`
        : `-n '__fish_seen_subcommand_from ${first}'`;
    for (const flag of command.flags) {
      const values = valuesOf(flag, spec);
      const forms = `${flag.char ? `-s ${flag.char} ` : ''}-l ${flag.name}`;
      const value = !flag.takesValue ? '' : values?.length ? ` -x -a '${values.join(' ')}'` : ' -r -F';
      lines.push(`complete -c moor ${when} ${forms}${value} -d '${fishText(flag.description)}'`);
    }
    if (command.machines) lines.push(`complete -c moor ${when} -a '(moor ls -q 2>/dev/null)' -d machine`);
  }
  return `${lines.join('\n')}\n`;
}
