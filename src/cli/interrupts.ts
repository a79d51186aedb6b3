/**
 * Ctrl-C (SIGINT) and SIGTERM during a long operation such as create. The first one aborts the AbortSignal
 * the core was given: the core stops at its next safe point, rolls back what a failed operation rolls back
 * and fails with an InterruptedError-coded error (exit 130) that says what was kept. A second one stops at
 * once: `atOnce` is reported (what may be left, what to run) and the process exits 130.
 */
import { InterruptedError } from '../core/errors.js';

export interface InterruptOptions {
  /** The error to report when a second signal stops moor at once. */
  atOnce: (signal: NodeJS.Signals) => Error;
  /** Prints an error (text or JSON, as the command's catch() would) and returns its exit code. */
  report: (error: Error) => number;
  stderr?: NodeJS.WritableStream;
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

export async function interruptible<R>(options: InterruptOptions, fn: (signal: AbortSignal) => Promise<R>): Promise<R> {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!controller.signal.aborted) {
      // process.stderr is built only when a signal came: building it loads node:stream.
      (options.stderr ?? process.stderr).write(
        `\n${signal === 'SIGINT' ? 'Interrupted' : `Received ${signal}`}: stopping at the next safe point and undoing ` +
          'what a failed run undoes. Press Ctrl-C again to stop at once.\n',
      );
      controller.abort(new InterruptedError(signal));
      return;
    }
    process.exit(options.report(options.atOnce(signal)));
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  try {
    return await fn(controller.signal);
  } finally {
    for (const signal of SIGNALS) process.off(signal, onSignal);
  }
}
