/** How long and how often the amazonec2 driver waits and retries; tests shorten it. */
export const ec2Timing: {
  /** The first pause between two looks at an instance; each next one doubles up to pollMaxMs. */
  pollInitialMs: number;
  pollMaxMs: number;
  /** The budget of one wait for an instance (to run, to be terminated). */
  waitTimeoutMs: number;
  /** Delay before retry n of a failed API call; the SDK's backoff when undefined. */
  retryDelayMs: ((attempt: number) => number) | undefined;
} = {
  pollInitialMs: 1_000,
  pollMaxMs: 10_000,
  waitTimeoutMs: 600_000,
  retryDelayMs: undefined,
};
