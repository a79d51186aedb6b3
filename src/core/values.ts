/** Small helpers on plain values that several core modules need: one definition each. */

/** A JSON-style object: not null, not an array. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An ASCII digit (what the template and filter parsers accept in numbers). */
export function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= '0' && ch <= '9';
}

/** The first line of `text`, cut to `maxLength` characters with "..." when anything was left out: for messages. */
export function abbreviate(text: string, maxLength: number): string {
  const line = text.split('\n', 1)[0] ?? '';
  return line.length > maxLength || line !== text ? `${line.slice(0, maxLength - 3)}...` : line;
}

const ZONE = /^[0-9a-zA-Z-.:]+$/;

/**
 * Four decimal numbers of 0-255 without leading zeros, as node:net's IPv4 pattern. By hand: V8 compiles that
 * pattern on its first use (0.1-0.2 ms of an `env` or a create, which check one address).
 */
function isIPv4(value: string): boolean {
  const parts = value.split('.');
  if (parts.length !== 4) return false;
  for (const part of parts) {
    if (part.length === 0 || part.length > 3 || (part.length > 1 && part.charCodeAt(0) === 48)) return false;
    for (let index = 0; index < part.length; index++) {
      const code = part.charCodeAt(index);
      if (code < 48 || code > 57) return false;
    }
    if (Number(part) > 255) return false;
  }
  return true;
}

/**
 * node:net's isIP (4, 6 or 0; an IPv6 address may carry a zone, "fe80::1%eth0") without node:net, which
 * loads node:stream and some thirty modules with it, and whose IPv6 check compiles a large regular expression
 * on its first use (4-5 ms, on the path of every create): IPv6 addresses are checked by the URL parser.
 */
export function isIP(value: string): 0 | 4 | 6 {
  if (isIPv4(value)) return 4;
  if (!value.includes(':')) return 0;
  const zoneAt = value.indexOf('%');
  if (zoneAt !== -1 && !ZONE.test(value.slice(zoneAt + 1))) return 0;
  try {
    new URL(`http://[${zoneAt === -1 ? value : value.slice(0, zoneAt)}]/`);
    return 6;
  } catch {
    return 0;
  }
}

/**
 * `new Date(ms).toISOString()` for the years 0000-9999, by arithmetic: V8's first toISOString sets up its
 * date cache (ICU's time zone, 0.3-0.4 ms), which a command that prints one timestamped line need not pay.
 * Days to a civil date as in Howard Hinnant's `civil_from_days`.
 */
export function isoTime(ms: number): string {
  const days = Math.floor(ms / 86_400_000);
  let rest = ms - days * 86_400_000;
  const shifted = days + 719_468;
  const era = Math.floor(shifted / 146_097);
  const dayOfEra = shifted - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthIndex = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthIndex + 2) / 5) + 1;
  const month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  const millis = rest - seconds * 1000;
  const two = (value: number) => String(value).padStart(2, '0');
  return `${String(year).padStart(4, '0')}-${two(month)}-${two(day)}T${two(hours)}:${two(minutes)}:${two(seconds)}.${String(millis).padStart(3, '0')}Z`;
}
