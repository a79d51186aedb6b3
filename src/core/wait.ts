/**
 * The one way moor waits for something to become true: a deadline, exponential backoff with jitter, a
 * progress callback that sees the last failure, and an abort signal. Every polling loop (SSH coming up, a
 * VM reaching a state, a lock being released, an engine answering) goes through waitFor, so that each
 * gets the same bounds, the same cancellation and the same wording of its time-out.
 */
import { MoorError, TimeoutError } from './errors.js';

/** Returned by a check to say "not yet": waitFor sleeps and calls it again. */
export class NotYet {
  constructor(
    /** Why not (the last state seen, an error): passed to onRetry and to the time-out message. */
    readonly reason?: unknown,
  ) {}
}

export function notYet(reason?: unknown): NotYet {
  return new NotYet(reason);
}

export interface Backoff {
  /** The first pause (default 250 ms); each next one doubles up to maxDelayMs. */
  initialDelayMs?: number;
  /** The longest pause (default 5 s). */
  maxDelayMs?: number;
  /** Pause a random time between half the step and the step (default true), so that waiters spread out. */
  jitter?: boolean;
}

export interface RetryInfo {
  /** The attempt that just failed, from 1. */
  attempt: number;
  /** The pause before the next attempt. */
  delayMs: number;
  elapsedMs: number;
  /** The NotYet reason, or the error a retryable attempt threw. */
  reason: unknown;
}

export interface WaitOptions<T> extends Backoff {
  /** What is awaited, for the default time-out message ("SSH on 10.0.0.2:22"). */
  what: string;
  /** The whole budget. The check is always called at least once; a pause never runs past the deadline. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Errors thrown by the check that mean "not yet" rather than failure (others end the wait at once). */
  retryIf?: (error: unknown) => boolean;
  /** Called before each pause: progress output and debug logs. */
  onRetry?: (info: RetryInfo) => void;
  /**
   * When the budget is spent: throw the error to fail with, or return a value to end the wait with (a
   * fallback such as "power it off"). Default: a TimeoutError naming `what` and the last reason.
   */
  onTimeout?: (last: RetryInfo & { timeoutMs: number }) => T;
  /** The error thrown when `signal` aborts; default: a MoorError with code ABORTED. */
  abortError?: (signal: AbortSignal) => Error;
  /** Delays are taken from here (tests pass a recorder; default: backoffDelay). */
  delayFor?: (attempt: number) => number;
  /** Whether the check's value ends the wait (default: anything that is not NotYet). */
  isDone?: (value: T) => boolean;
}

/**
 * Calls `check` until it returns a value (anything but a NotYet), and returns that value. Between calls it
 * pauses with exponential backoff and jitter; past `timeoutMs` it throws the time-out error; when `signal`
 * aborts it throws at once, also during a pause.
 */
export async function waitFor<T>(
  check: (attempt: number) => Promise<T | NotYet> | T | NotYet,
  options: WaitOptions<T>,
): Promise<T> {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  const delayFor = options.delayFor ?? ((attempt: number) => backoffDelay(attempt, options));
  for (let attempt = 1; ; attempt++) {
    throwIfAborted(options);
    let reason: unknown;
    try {
      const value = await check(attempt);
      if (!(value instanceof NotYet) && (options.isDone?.(value as T) ?? true)) return value as T;
      reason = value instanceof NotYet ? value.reason : value;
    } catch (error) {
      if (!options.retryIf?.(error)) throw error;
      reason = error;
    }
    const now = Date.now();
    const left = deadline - now;
    const info: RetryInfo = {
      attempt,
      delayMs: Math.max(0, Math.min(delayFor(attempt), left)),
      elapsedMs: now - started,
      reason,
    };
    if (left <= 0) {
      if (options.onTimeout) return options.onTimeout({ ...info, timeoutMs: options.timeoutMs });
      throw new TimeoutError(
        `Timed out after ${formatDuration(options.timeoutMs)} waiting for ${options.what}` +
          (reason === undefined ? '.' : `: ${describeReason(reason)}.`),
      );
    }
    options.onRetry?.(info);
    await sleep(info.delayMs, options.signal, options.abortError);
  }
}

/** The pause after attempt n: initialDelayMs doubled per attempt up to maxDelayMs, with jitter in [step/2, step]. */
export function backoffDelay(attempt: number, backoff: Backoff = {}): number {
  const initial = backoff.initialDelayMs ?? 250;
  const step = Math.min(backoff.maxDelayMs ?? 5_000, initial * 2 ** Math.max(0, attempt - 1));
  return backoff.jitter === false ? step : Math.round(step / 2 + (Math.random() * step) / 2);
}

/** Resolves after `ms`; rejects at once with the abort error when `signal` aborts (before or during the pause). */
export function sleep(ms: number, signal?: AbortSignal, abortError?: (signal: AbortSignal) => Error): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject((abortError ?? defaultAbortError)(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject((abortError ?? defaultAbortError)(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** "5 s", "2.5 s": how moor words a duration in messages. */
export function formatDuration(ms: number): string {
  const seconds = ms / 1000;
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`;
}

function throwIfAborted<T>(options: WaitOptions<T>): void {
  if (options.signal?.aborted) throw (options.abortError ?? defaultAbortError)(options.signal);
}

function defaultAbortError(signal: AbortSignal): Error {
  // An interrupt (InterruptedError) or any other moor error the aborter gave is what the caller sees.
  if (signal.reason instanceof MoorError) return signal.reason;
  return new MoorError('Cancelled.', { code: 'ABORTED', cause: signal.reason });
}

function describeReason(reason: unknown): string {
  if (reason instanceof Error) return reason.message.replace(/\.$/, '');
  return String(reason);
}
