/**
 * The CLI's logger: progress and warnings on stderr only, so that stdout holds just the result. Shared by
 * the oclif commands and the fast path (src/fast.ts), which must write the same bytes.
 */
import { megabytes, type Logger } from '../core/log.js';
import { isoTime } from '../core/values.js';

/** Where the logger writes: stderr, or the fast path's buffer (written only when the command succeeded). */
export interface LogStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

export function cliLogger(debug: boolean, stream: LogStream = process.stderr): Logger {
  const tty = stream.isTTY === true;
  const stamp = () => (tty ? '' : `${isoTime(Date.now())} `);
  return {
    step: (message) => stream.write(`${stamp()}${tty ? '› ' : ''}${message}\n`),
    info: (message) => stream.write(`${stamp()}${message}\n`),
    warn: (message) => stream.write(`${stamp()}Warning: ${message}\n`),
    debug: (message) => {
      if (debug) stream.write(`${stamp()}debug: ${message}\n`);
    },
    ...(tty ? { progress: progressBar(stream) } : {}),
  };
}

/** A download's progress on a TTY: one line redrawn in place. */
function progressBar(stream: LogStream): (done: number, total: number | undefined) => void {
  return (done, total) => {
    const fraction = total ? Math.min(1, done / total) : 0;
    const bar = total
      ? `[${'#'.repeat(Math.round(fraction * 30)).padEnd(30, '.')}] ${Math.floor(fraction * 100)}%`
      : '';
    stream.write(`\r${bar} ${megabytes(done)}${total ? ` of ${megabytes(total)}` : ''}`);
    if (total && done >= total) stream.write('\n');
  };
}
