/** How the core reports progress. The CLI prints it on stderr; a library user can pass its own. */
export interface Logger {
  /** A step of a long operation starts ("Creating the CA certificate"). */
  step(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
  /**
   * A long transfer moved on (bytes done of total). Optional: where it is missing, callers report plain
   * lines (progressLines); the CLI draws a bar on a TTY.
   */
  progress?(done: number, total: number | undefined): void;
}

/** Progress as plain info lines, one at each 10 %: for loggers that draw nothing (logs, CI). */
export function progressLines(log: Logger): (done: number, total: number | undefined) => void {
  if (log.progress) return (done, total) => log.progress!(done, total);
  let lastTenth = -1;
  return (done, total) => {
    if (!total) return;
    const tenth = Math.floor((done / total) * 10);
    if (tenth !== lastTenth) {
      lastTenth = tenth;
      log.info(`Downloaded ${tenth * 10}% (${megabytes(done)} of ${megabytes(total)})`);
    }
  };
}

export function megabytes(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MB`;
}

export const silentLogger: Logger = {
  step() {},
  info() {},
  warn() {},
  debug() {},
};
