import { UsageError } from '../api.js';

/** How long and how often the amazonec2 driver waits and retries; tests shorten it. */
export const ec2Timing: {
  /** The first pause between two looks at an instance; each next one doubles up to pollMaxMs. */
  pollInitialMs: number;
  pollMaxMs: number;
  /** The budget of one wait for an instance (to run, to be terminated); each look in it is one bounded call. */
  waitTimeoutMs: number;
  /** Delay before retry n of a failed API call; the SDK's backoff when undefined. */
  retryDelayMs: ((attempt: number) => number) | undefined;
  /** One HTTP request: its TCP (and TLS) connection must be up within this. */
  connectTimeoutMs: number;
  /** One HTTP request, from sending it to the end of the answer. */
  requestTimeoutMs: number;
  /** One EC2 API call, every attempt and the pauses between them included. */
  callTimeoutMs: number;
} = {
  pollInitialMs: 1_000,
  pollMaxMs: 10_000,
  waitTimeoutMs: 600_000,
  retryDelayMs: undefined,
  connectTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  callTimeoutMs: 60_000,
};

/** The environment variable that sets the request time-out (ms); the call budget is twice that. */
export const HTTP_TIMEOUT_ENV = 'MOOR_AMAZONEC2_HTTP_TIMEOUT_MS';

/** The HTTP bounds of an EC2 client: ec2Timing's, or those MOOR_AMAZONEC2_HTTP_TIMEOUT_MS asks for. */
export function httpTiming(env: Record<string, string | undefined>): {
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  callTimeoutMs: number;
} {
  const raw = env[HTTP_TIMEOUT_ENV]?.trim();
  if (raw) {
    const ms = Number(raw);
    if (!/^\d+$/.test(raw) || ms < 1) {
      throw new UsageError(`${HTTP_TIMEOUT_ENV} must be a number of milliseconds (like 30000); got "${raw}".`);
    }
    return { connectTimeoutMs: Math.min(ms, ec2Timing.connectTimeoutMs), requestTimeoutMs: ms, callTimeoutMs: 2 * ms };
  }
  return {
    connectTimeoutMs: ec2Timing.connectTimeoutMs,
    requestTimeoutMs: ec2Timing.requestTimeoutMs,
    callTimeoutMs: ec2Timing.callTimeoutMs,
  };
}
