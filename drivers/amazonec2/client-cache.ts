/**
 * EC2 clients, one per region/endpoint/profile/credentials in a process, and DescribeInstances coalescing:
 * the getState calls of one tick (moor ls queries every machine at once) become one DescribeInstances per
 * client. The SDK loads with the first client (ec2-api.js is imported here lazily).
 */
import type { Ec2Api, Ec2ClientOptions, Ec2Instance } from './ec2-api.js';
import { ec2Timing } from './timing.js';

export interface ClientEntry {
  api: Promise<Ec2Api>;
  loader: InstanceLoader;
}

const clients = new Map<string, ClientEntry>();

export function clientFor(options: Ec2ClientOptions): ClientEntry {
  const key = JSON.stringify([
    options.region,
    options.endpoint,
    options.profile,
    options.credentials?.accessKeyId,
    options.http,
  ]);
  let entry = clients.get(key);
  if (!entry) {
    const api = import('./ec2-api.js').then(({ createEc2Api }) =>
      createEc2Api({ ...options, ...(ec2Timing.retryDelayMs ? { retryDelayMs: ec2Timing.retryDelayMs } : {}) }),
    );
    // A failed client creation is not cached.
    api.catch(() => clients.delete(key));
    entry = { api, loader: new InstanceLoader(api) };
    clients.set(key, entry);
  }
  return entry;
}

/** Forgets the clients made so far (tests change endpoints and timing between cases). */
export function resetEc2Clients(): void {
  clients.clear();
}

const DESCRIBE_BATCH = 200;

/** Collects the instance ids asked for in one tick and describes them together, DESCRIBE_BATCH per call. */
export class InstanceLoader {
  private queue = new Map<
    string,
    { resolve: (value: Ec2Instance | undefined) => void; reject: (error: unknown) => void }[]
  >();
  private scheduled = false;

  constructor(private readonly api: Promise<Ec2Api>) {}

  load(id: string): Promise<Ec2Instance | undefined> {
    return new Promise((resolve, reject) => {
      const waiting = this.queue.get(id) ?? [];
      waiting.push({ resolve, reject });
      this.queue.set(id, waiting);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    let api: Ec2Api | undefined;
    let failure: unknown;
    try {
      api = await this.api;
    } catch (error) {
      failure = error;
    }
    const batch = this.queue;
    this.queue = new Map();
    this.scheduled = false;
    const ids = [...batch.keys()];
    for (let start = 0; start < ids.length; start += DESCRIBE_BATCH) {
      const chunk = ids.slice(start, start + DESCRIBE_BATCH);
      try {
        if (!api) throw failure;
        const found = new Map((await api.describeInstances(chunk)).map((instance) => [instance.id, instance]));
        for (const id of chunk) for (const waiter of batch.get(id) ?? []) waiter.resolve(found.get(id));
      } catch (error) {
        for (const id of chunk) for (const waiter of batch.get(id) ?? []) waiter.reject(error);
      }
    }
  }
}
