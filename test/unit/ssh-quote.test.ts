/** shellQuote through a real POSIX shell: whatever the value, the shell sees exactly that one word. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { shellQuote, sudoPrefix } from '../../src/core/ssh/quote.js';

const run = promisify(execFile);

const HOSTILE = [
  '',
  'plain',
  'two words',
  "it's",
  "''",
  "'",
  '"double" quotes',
  '$(touch /tmp/moor-pwned)',
  '`touch /tmp/moor-pwned`',
  '${HOME} $HOME $0 $@ $1',
  'back\\slash \\n \\',
  'line one\nline two\n',
  'semi; colon && and || or | pipe & bg',
  '> redirect < in 2>&1',
  '* ? [a-z] ~ ~root {a,b}',
  '#not a comment',
  '-n',
  '--flag=value',
  'A=b',
  'tab\there',
  '!history !! ^caret',
  'unicode: é ü 日本 🚢',
  'mixed \'single\' "double" $(sub) `tick` \\ \n end',
];

/** What `sh` sees when the quoted value stands as one argument: printed back between markers. */
async function throughShell(value: string): Promise<string> {
  const { stdout } = await run('sh', ['-c', `printf '[%s]' ${shellQuote(value)}`]);
  return stdout;
}

describe('shellQuote', () => {
  for (const value of HOSTILE) {
    it(`passes ${JSON.stringify(value)} through sh unchanged, as one word`, async () => {
      assert.equal(await throughShell(value), `[${value}]`);
    });
  }

  it('survives two levels of quoting (a command for sh -c over ssh)', async () => {
    for (const value of HOSTILE) {
      const inner = `printf '[%s]' ${shellQuote(value)}`;
      const { stdout } = await run('sh', ['-c', `sh -c ${shellQuote(inner)}`]);
      assert.equal(stdout, `[${value}]`);
    }
  });

  it('leaves plain words alone and quotes everything else', () => {
    assert.equal(shellQuote('/etc/docker/daemon.json'), '/etc/docker/daemon.json');
    assert.equal(shellQuote('user@host:2376'), 'user@host:2376');
    assert.equal(shellQuote(''), "''");
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
    assert.equal(shellQuote('A=b'), "'A=b'");
    assert.equal(shellQuote('~'), "'~'");
  });
});

describe('sudoPrefix', () => {
  it('is empty for root and sudo -n for anyone else', () => {
    assert.equal(sudoPrefix('root'), '');
    assert.equal(sudoPrefix('ubuntu'), 'sudo -n ');
  });
});
