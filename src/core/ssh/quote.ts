/**
 * Quoting for remote shell commands. Kept free of ssh2 so that templates and commands can use it without
 * loading the SSH client.
 */

/** Characters that never need quoting in a POSIX shell word ("=" is left out: `A=b` first on a line is an assignment). */
const SAFE_WORD = /^[A-Za-z0-9_@%+:,./-]+$/;

/**
 * Quotes `value` as one POSIX shell word: single quotes, each embedded quote written as '\''. Nothing
 * inside single quotes is special ($, `, \, newlines), so the shell passes the value through unchanged.
 * Plain words (letters, digits and a few safe punctuation marks) are returned as they are; the empty
 * string becomes ''.
 */
export function shellQuote(value: string): string {
  if (SAFE_WORD.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** sudo as moor runs it: -n fails at once where sudo would ask for a password, which moor never types. */
export const SUDO = 'sudo -n';

/** What to put before a command that needs root: nothing for root itself, `sudo -n ` for others. */
export function sudoPrefix(user: string): string {
  return user === 'root' ? '' : `${SUDO} `;
}
