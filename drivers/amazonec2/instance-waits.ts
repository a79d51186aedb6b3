/**
 * Waiting for an instance: to run (the SDK's InstanceRunning waiter, through Ec2Api) and to be terminated
 * (moor's waitFor: the SDK's InstanceTerminated waiter never accepts an instance that is no longer
 * described, and gives up on a pending or stopping one). Both keep the budget of ec2Timing and one
 * time-out message.
 */
import { MoorError, notYet, TimeoutError, waitFor } from '../api.js';
import type { Ec2Api, Ec2Instance } from './ec2-api.js';
import { ec2Timing } from './timing.js';

/**
 * Waits until the instance runs with the address moor reaches it on (`addressOf`). Fails at once when it
 * is terminated (capacity, limits, spot price) and with a TimeoutError (exit 7) past the budget.
 */
export async function waitUntilReachable(
  api: Ec2Api,
  id: string,
  addressOf: (instance: Ec2Instance) => string | undefined,
  signal?: AbortSignal,
): Promise<Ec2Instance> {
  const started = Date.now();
  const wait = await api.waitUntilRunning(id, {
    timeoutMs: ec2Timing.waitTimeoutMs,
    minDelayMs: ec2Timing.pollInitialMs,
    maxDelayMs: ec2Timing.pollMaxMs,
    ...(signal ? { signal } : {}),
  });
  if (wait.outcome === 'timeout') throw stateTimeout(id, wait.instance);
  if (isGoing(wait.instance)) throw terminatedWhileStarting(id);
  if (wait.outcome === 'running' && addressOf(wait.instance)) return wait.instance;
  // Running before its address shows, or stopping (where the SDK's waiter gives up, moor waits for a stopped
  // spot instance to run again): look on, with what is left of the budget.
  const reachable = await poll(
    api,
    id,
    ec2Timing.waitTimeoutMs - (Date.now() - started),
    (instance) => {
      if (instance && isGoing(instance)) throw terminatedWhileStarting(id);
      return instance?.state === 'running' && Boolean(addressOf(instance));
    },
    signal,
  );
  return reachable!;
}

/** Waits until the instance is terminated, or gone (terminated instances disappear after a while). */
export async function waitUntilTerminated(api: Ec2Api, id: string): Promise<void> {
  await poll(api, id, ec2Timing.waitTimeoutMs, (instance) => !instance || instance.state === 'terminated');
}

/** Describes the instance until `done` says so (eventual consistency: a new instance may not show yet). */
function poll(
  api: Ec2Api,
  id: string,
  timeoutMs: number,
  done: (instance: Ec2Instance | undefined) => boolean,
  signal?: AbortSignal,
): Promise<Ec2Instance | undefined> {
  return waitFor(
    async () => {
      const [instance] = await api.describeInstances([id]);
      return done(instance) ? instance : notYet(instance);
    },
    {
      what: `instance ${id}`,
      timeoutMs: Math.max(0, timeoutMs),
      initialDelayMs: ec2Timing.pollInitialMs,
      maxDelayMs: ec2Timing.pollMaxMs,
      ...(signal ? { signal } : {}),
      onTimeout: ({ reason }) => {
        throw stateTimeout(id, reason as Ec2Instance | undefined);
      },
    },
  );
}

function isGoing(instance: Ec2Instance): boolean {
  return instance.state === 'terminated' || instance.state === 'shutting-down';
}

function terminatedWhileStarting(id: string): MoorError {
  return new MoorError(`Instance ${id} was terminated while starting (capacity, limits or spot price).`, {
    code: 'EC2_INSTANCE_TERMINATED',
  });
}

function stateTimeout(id: string, last: Ec2Instance | undefined): TimeoutError {
  return new TimeoutError(
    `Instance ${id} did not reach the expected state in ${Math.round(ec2Timing.waitTimeoutMs / 1000)} s (it is ${last?.state ?? 'not found'}).`,
  );
}
