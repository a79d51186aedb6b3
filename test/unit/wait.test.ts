/**
 * waitFor, the one polling helper: what it returns, what it retries, how it ends (time-out, fallback,
 * abort). Delays come from `delayFor` and budgets are tiny, so no test depends on timing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MoorError, TimeoutError } from '../../src/core/errors.js';
import { backoffDelay, formatDuration, notYet, sleep, waitFor } from '../../src/core/wait.js';

describe('waitFor', () => {
  it("returns the check's value, calling it once when it is ready", async () => {
    let calls = 0;
    const value = await waitFor(
      () => {
        calls += 1;
        return 'ready';
      },
      { what: 'x', timeoutMs: 1_000 },
    );
    assert.equal(value, 'ready');
    assert.equal(calls, 1);
  });

  it('calls the check again after a NotYet, passing the reason to onRetry', async () => {
    const reasons: unknown[] = [];
    const attempts: number[] = [];
    const value = await waitFor((attempt) => (attempt < 3 ? notYet(`state ${attempt}`) : attempt), {
      what: 'x',
      timeoutMs: 10_000,
      delayFor: () => 0,
      onRetry: (info) => {
        reasons.push(info.reason);
        attempts.push(info.attempt);
      },
    });
    assert.equal(value, 3);
    assert.deepEqual(reasons, ['state 1', 'state 2']);
    assert.deepEqual(attempts, [1, 2]);
  });

  it('retries errors that retryIf accepts and throws the others at once', async () => {
    const value = await waitFor(
      (attempt) => {
        if (attempt === 1) throw new Error('refused');
        return 'up';
      },
      { what: 'x', timeoutMs: 10_000, delayFor: () => 0, retryIf: (error) => (error as Error).message === 'refused' },
    );
    assert.equal(value, 'up');

    let calls = 0;
    await assert.rejects(
      waitFor(
        () => {
          calls += 1;
          throw new Error('denied');
        },
        { what: 'x', timeoutMs: 10_000, delayFor: () => 0, retryIf: (error) => (error as Error).message === 'refused' },
      ),
      /denied/,
    );
    assert.equal(calls, 1);
  });

  it('without retryIf, a thrown error ends the wait', async () => {
    await assert.rejects(
      waitFor(
        () => {
          throw new Error('boom');
        },
        { what: 'x', timeoutMs: 10_000, delayFor: () => 0 },
      ),
      /boom/,
    );
  });

  it('ends with the onTimeout value once the budget is spent', async () => {
    const value = await waitFor(() => notYet('still booting'), {
      what: 'x',
      timeoutMs: 0,
      onTimeout: (last) => `fallback after ${last.attempt}: ${String(last.reason)}`,
    });
    assert.equal(value, 'fallback after 1: still booting');
  });

  it('throws what onTimeout throws', async () => {
    await assert.rejects(
      waitFor(() => notYet(), {
        what: 'x',
        timeoutMs: 0,
        onTimeout: () => {
          throw new MoorError('custom', { code: 'CUSTOM' });
        },
      }),
      (error: unknown) => error instanceof MoorError && error.code === 'CUSTOM',
    );
  });

  it('by default throws a TimeoutError naming what it waited for and the last reason', async () => {
    await assert.rejects(
      waitFor(() => notYet(new Error('connection refused.')), { what: 'SSH on 10.0.0.2:22', timeoutMs: 0 }),
      (error: unknown) =>
        error instanceof TimeoutError &&
        error.message === 'Timed out after 0 s waiting for SSH on 10.0.0.2:22: connection refused.',
    );
    await assert.rejects(
      waitFor(() => notYet(), { what: 'the lock', timeoutMs: 0 }),
      (error: unknown) =>
        error instanceof TimeoutError && error.message === 'Timed out after 0 s waiting for the lock.',
    );
  });

  it('a value that isDone rejects counts as not yet', async () => {
    const value = await waitFor((attempt) => attempt, {
      what: 'x',
      timeoutMs: 10_000,
      delayFor: () => 0,
      isDone: (attempt) => attempt >= 2,
    });
    assert.equal(value, 2);
  });

  it('throws the abort error when the signal aborts during a pause', async () => {
    const controller = new AbortController();
    const waiting = waitFor(() => notYet(), {
      what: 'x',
      timeoutMs: 60_000,
      delayFor: () => 60_000,
      signal: controller.signal,
      onRetry: () => queueMicrotask(() => controller.abort()),
      abortError: () => new MoorError('Cancelled while waiting for x.', { code: 'ABORTED' }),
    });
    await assert.rejects(waiting, /Cancelled while waiting for x\./);
  });

  it('does not call the check once the signal has aborted', async () => {
    let calls = 0;
    await assert.rejects(
      waitFor(
        () => {
          calls += 1;
          return 1;
        },
        { what: 'x', timeoutMs: 1_000, signal: AbortSignal.abort() },
      ),
      (error: unknown) => error instanceof MoorError && error.code === 'ABORTED',
    );
    assert.equal(calls, 0);
  });

  it('never pauses past the deadline', async () => {
    const pauses: number[] = [];
    await waitFor(() => notYet(), {
      what: 'x',
      timeoutMs: 50,
      delayFor: () => 3_600_000,
      onRetry: (info) => pauses.push(info.delayMs),
      onTimeout: () => undefined,
    });
    assert.ok(pauses.length >= 1);
    for (const pause of pauses) assert.ok(pause <= 50, `paused ${pause} ms with a 50 ms budget`);
  });
});

describe('backoffDelay', () => {
  it('doubles from the first pause up to the longest, without jitter when asked', () => {
    const steps = [1, 2, 3, 4, 5].map((attempt) =>
      backoffDelay(attempt, { initialDelayMs: 100, maxDelayMs: 500, jitter: false }),
    );
    assert.deepEqual(steps, [100, 200, 400, 500, 500]);
  });

  it('with jitter, pauses between half the step and the step', () => {
    for (let i = 0; i < 50; i++) {
      const delay = backoffDelay(3, { initialDelayMs: 100 });
      assert.ok(delay >= 200 && delay <= 400, `${delay}`);
    }
  });
});

describe('sleep', () => {
  it('rejects with the abort error when aborted', async () => {
    const controller = new AbortController();
    const pause = sleep(60_000, controller.signal, () => new Error('stopped'));
    controller.abort();
    await assert.rejects(pause, /stopped/);
  });
});

describe('formatDuration', () => {
  it('words whole and fractional seconds', () => {
    assert.equal(formatDuration(5_000), '5 s');
    assert.equal(formatDuration(2_500), '2.5 s');
  });
});
