/**
 * src/cli/interrupts.ts: the first SIGINT or SIGTERM aborts the signal handed to the operation (with an
 * InterruptedError naming the signal) and says so on stderr; a second one reports the "at once" error and
 * exits with its code; the handlers are gone once the operation ends. Signals are emitted to the process's
 * listeners (process.emit), process.exit is replaced for the test.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it, mock } from 'node:test';
import { interruptible } from '../../src/cli/interrupts.js';
import { ExitCode, InterruptedError, MoorError } from '../../src/core/errors.js';

function stderr(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { stream, text: () => text };
}

const atOnce = (signal: NodeJS.Signals) =>
  new MoorError(`Stopped at once (${signal}).`, { code: 'INTERRUPTED', exitCode: ExitCode.interrupted });

describe('interruptible', () => {
  for (const name of ['SIGINT', 'SIGTERM'] as const) {
    it(`the first ${name} aborts the operation's signal with an InterruptedError`, async () => {
      const out = stderr();
      const before = process.listenerCount(name);
      const reported: Error[] = [];
      const result = interruptible(
        { atOnce, report: (error) => (reported.push(error), 130), stderr: out.stream },
        (signal) =>
          new Promise<string>((_resolve, reject) => {
            signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
            process.emit(name, name);
          }),
      );
      await assert.rejects(result, (error: unknown) => {
        assert.ok(error instanceof InterruptedError);
        assert.equal(error.signal, name);
        assert.equal(error.exitCode, 130);
        return true;
      });
      assert.match(out.text(), /stopping at the next safe point/);
      assert.deepEqual(reported, []);
      assert.equal(process.listenerCount(name), before, 'the handler is removed');
    });
  }

  it('a second signal reports the "at once" error and exits with its code', async () => {
    const out = stderr();
    const exit = mock.method(process, 'exit', () => undefined as never);
    const reported: Error[] = [];
    try {
      await interruptible(
        { atOnce, report: (error) => (reported.push(error), 130), stderr: out.stream },
        async (signal) => {
          process.emit('SIGINT', 'SIGINT');
          assert.ok(signal.aborted);
          process.emit('SIGINT', 'SIGINT');
        },
      );
    } finally {
      exit.mock.restore();
    }
    assert.equal(reported.length, 1);
    assert.equal(reported[0]!.message, 'Stopped at once (SIGINT).');
    assert.deepEqual(
      exit.mock.calls.map((call) => call.arguments),
      [[130]],
    );
  });
});
