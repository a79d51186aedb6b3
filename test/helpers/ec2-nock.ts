/**
 * nock for the EC2 Query API: a test declares the exact sequence of calls (Action and reply) it expects;
 * every request is recorded with its parsed parameters, and an unexpected call gets an error reply (so the
 * test fails on it, and on the recorded sequence).
 */
import assert from 'node:assert/strict';
import nock from 'nock';
import { ec2ErrorReply, ec2Reply, parseQuery, type QueryParams, type XmlValue } from './ec2-query.js';

export const EC2_ENDPOINT = 'https://ec2.us-east-1.amazonaws.com';

export interface Step {
  action: string;
  /** Fields of the reply (default: none), or an error reply. */
  reply?: Record<string, XmlValue> | { error: string; message?: string; status?: number };
  /**
   * Answers one or more calls of its action in a row (a poll whose count depends on timing). The next step
   * must be another action.
   */
  repeat?: boolean;
  /** The request is accepted and never answered (an endpoint that stalls). */
  stall?: boolean;
}

export interface Ec2Script {
  calls: QueryParams[];
  actions(): string[];
  /** The parameters of the n-th call (0-based) of this action. */
  call(action: string, n?: number): QueryParams;
  /** Asserts that exactly the declared calls were made, in order. */
  assertDone(): void;
}

export function ec2Script(steps: Step[], endpoint = EC2_ENDPOINT): Ec2Script {
  const calls: QueryParams[] = [];
  /** The step each call matched (-1: none). */
  const matched: number[] = [];
  let next = 0;
  nock(endpoint)
    .persist()
    .post('/')
    .reply((_uri, body) => {
      const params = parseQuery(typeof body === 'string' ? body : new URLSearchParams(body as never).toString());
      calls.push(params);
      const previous = steps[next - 1];
      let index = -1;
      if (steps[next]?.action === params.Action) index = next++;
      else if (previous?.repeat && previous.action === params.Action && matched.at(-1) === next - 1) index = next - 1;
      matched.push(index);
      const step = steps[index];
      if (!step) {
        return [
          400,
          ec2ErrorReply(
            'UnexpectedCall',
            `test: unexpected ${params.Action} (expected ${steps[next]?.action ?? 'no call'})`,
          ),
        ];
      }
      if (step.stall) return new Promise<never>(() => undefined);
      const reply = step.reply ?? {};
      if ('error' in reply && typeof reply.error === 'string') {
        return [
          (reply.status as number | undefined) ?? 400,
          ec2ErrorReply(reply.error, String(reply.message ?? reply.error)),
        ];
      }
      return [200, ec2Reply(step.action, reply as Record<string, XmlValue>), { 'content-type': 'text/xml' }];
    });
  return {
    calls,
    actions: () => calls.map((params) => String(params.Action)),
    call(action, n = 0) {
      const found = calls.filter((params) => params.Action === action)[n];
      assert.ok(found, `no call ${n} of ${action}; calls: ${calls.map((params) => params.Action).join(', ')}`);
      return found;
    },
    assertDone() {
      // The calls a repeated step answered count once.
      assert.deepEqual(
        calls.filter((_, n) => matched[n] === -1 || matched[n] !== matched[n - 1]).map((params) => params.Action),
        steps.map((step) => step.action),
      );
    },
  };
}

export function resetNock(): void {
  nock.cleanAll();
}

/** Fake credentials and no instance-metadata probing: the SDK never leaves the process's nock. */
export function fakeAwsEnv(): void {
  process.env['AWS_ACCESS_KEY_ID'] = 'AKIDTESTTESTTESTTEST';
  process.env['AWS_SECRET_ACCESS_KEY'] = 'test-secret-key-from-env';
  process.env['AWS_EC2_METADATA_DISABLED'] = 'true';
  delete process.env['AWS_PROFILE'];
  delete process.env['AWS_SESSION_TOKEN'];
  process.env['AWS_CONFIG_FILE'] = '/nonexistent/aws-config';
  process.env['AWS_SHARED_CREDENTIALS_FILE'] = '/nonexistent/aws-credentials';
}
