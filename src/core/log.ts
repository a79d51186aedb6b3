/** How the core reports progress. The CLI prints it on stderr; a library user can pass its own. */
export interface Logger {
  /** A step of a long operation starts ("Creating the CA certificate"). */
  step(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
}

export const silentLogger: Logger = {
  step() {},
  info() {},
  warn() {},
  debug() {},
};
