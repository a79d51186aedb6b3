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
