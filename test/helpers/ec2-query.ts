/**
 * The EC2 Query protocol, for tests: form bodies parsed into nested objects (`Filter.1.Value.1=x` becomes
 * `{ Filter: [{ Value: ['x'] }] }`), and XML replies built from plain objects (arrays become
 * `<name><item>...</item></name>`, as the EC2 API reference shows them).
 */
export type QueryValue = string | QueryValue[] | { [key: string]: QueryValue };
export type QueryParams = { Action?: string } & Record<string, QueryValue>;

export function parseQuery(body: string): QueryParams {
  const root: Record<string, QueryValue> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const parts = key.split('.');
    let node: Record<string, QueryValue> | QueryValue[] = root;
    for (let index = 0; index < parts.length; index++) {
      const part = parts[index]!;
      const last = index === parts.length - 1;
      const nextIsIndex = !last && /^\d+$/.test(parts[index + 1]!);
      const slot: string | number = Array.isArray(node) ? Number(part) - 1 : part;
      const container = node as Record<string | number, QueryValue>;
      if (last) {
        container[slot] = value;
      } else {
        container[slot] ??= nextIsIndex ? [] : {};
        node = container[slot] as Record<string, QueryValue> | QueryValue[];
      }
    }
  }
  return root as QueryParams;
}

/** The Filter parameter as name -> values. */
export function filtersOf(params: QueryParams): Map<string, string[]> {
  const filters = new Map<string, string[]>();
  for (const filter of (params['Filter'] as { Name: string; Value: string[] }[] | undefined) ?? []) {
    filters.set(filter.Name, filter.Value ?? []);
  }
  return filters;
}

/** `X.1`, `X.2`, ... as a list of strings. */
export function listOf(params: QueryParams, name: string): string[] {
  const value = params[name];
  return Array.isArray(value) ? value.map(String) : [];
}

export type XmlValue = string | number | boolean | undefined | XmlValue[] | { [key: string]: XmlValue };

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function element(name: string, value: XmlValue): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return `<${name}>${value.map((item) => element('item', item)).join('')}</${name}>`;
  if (typeof value === 'object') {
    return `<${name}>${Object.entries(value)
      .map(([key, child]) => element(key, child))
      .join('')}</${name}>`;
  }
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** `<{Action}Response xmlns=...><requestId>..</requestId>...fields</{Action}Response>` */
export function ec2Reply(action: string, fields: Record<string, XmlValue> = {}): string {
  const body = Object.entries(fields)
    .map(([key, value]) => element(key, value))
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req-${action}</requestId>${body}</${action}Response>`;
}

export function ec2ErrorReply(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error></Errors><RequestID>req-error</RequestID></Response>`;
}

/** The XML of one instance, as DescribeInstances and RunInstances show it. */
export function instanceXml(instance: {
  id: string;
  state: string;
  publicIp?: string;
  privateIp?: string;
  groups?: string[];
  spotRequestId?: string;
  keyName?: string;
  imageId?: string;
}): XmlValue {
  const codes: Record<string, number> = {
    pending: 0,
    running: 16,
    'shutting-down': 32,
    terminated: 48,
    stopping: 64,
    stopped: 80,
  };
  return {
    instanceId: instance.id,
    imageId: instance.imageId ?? 'ami-0123456789abcdef0',
    instanceState: { code: codes[instance.state] ?? 0, name: instance.state },
    keyName: instance.keyName,
    privateIpAddress: instance.privateIp,
    ipAddress: instance.publicIp,
    spotInstanceRequestId: instance.spotRequestId,
    groupSet: (instance.groups ?? []).map((groupId) => ({ groupId })),
  };
}
