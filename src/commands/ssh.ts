import { Args } from '@oclif/core';
import { BaseCommand } from '../base-command.js';

export default class Ssh extends BaseCommand<typeof Ssh> {
  static override summary = 'Log into a machine with SSH, or run a command on it.';
  static override description =
    "Without a command, opens an interactive shell. With one (after --), runs it like ssh does (the words are joined with spaces and read by the remote shell) and exits with its exit status. Uses moor's own SSH client and the machine's pinned host key.";
  static override examples = [
    '<%= config.bin %> ssh web',
    '<%= config.bin %> ssh web -- docker ps',
    "<%= config.bin %> ssh web -- 'journalctl -u docker | tail -n 20'",
    'tar c src | <%= config.bin %> ssh web -- tar x -C /srv',
  ];
  static override strict = false;
  static override enableJsonFlag = false;
  static override args = { name: Args.string({ description: 'Machine name', required: true }) };

  async run(): Promise<void> {
    const [name, ...command] = this.positionals;
    const moor = await this.moor();
    const { connect } = await import('../core/ssh/index.js');
    // Quiet: the remote command's output is all that should appear.
    const log = { ...this.logger(), step: () => undefined };
    const target = await moor.sshTarget(name!);
    const session = await connect(target, { timeoutMs: 30_000, log });
    try {
      if (!target.hostKey) await moor.pinHostKeyOnFirstUse(name!, session.hostKey);
      if (command.length === 0) {
        process.exitCode = await interactive(session);
        return;
      }
      const stdin = await pipedStdin();
      const result = await session.exec(command.join(' '), {
        ...(stdin ? { stdin } : {}),
        onStdout: (chunk) => process.stdout.write(chunk),
        onStderr: (chunk) => process.stderr.write(chunk),
      });
      process.exitCode = result.code;
    } finally {
      await session.close();
    }
  }
}

async function interactive(session: import('../core/ssh/types.js').SSHSession): Promise<number> {
  const raw = process.stdin.isTTY === true;
  if (raw) process.stdin.setRawMode(true);
  try {
    return await session.shell({
      stdin: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
      ...(process.stdout.columns ? { cols: process.stdout.columns, rows: process.stdout.rows } : {}),
    });
  } finally {
    if (raw) process.stdin.setRawMode(false);
    process.stdin.pause();
  }
}

/** Standard input when it is a pipe or a file (never a terminal, and never /dev/null, which has nothing). */
async function pipedStdin(): Promise<Buffer | undefined> {
  if (process.stdin.isTTY) return undefined;
  const { fstatSync } = await import('node:fs');
  let stat;
  try {
    stat = fstatSync(0);
  } catch {
    return undefined;
  }
  if (!stat.isFIFO() && !stat.isFile() && !stat.isSocket()) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
