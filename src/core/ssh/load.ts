/** ssh2 is loaded on first use only: commands that never open SSH do not pay for it. */
type Ssh2 = typeof import('ssh2');

let loading: Promise<Ssh2> | undefined;

export function loadSsh2(): Promise<Ssh2> {
  loading ??= import('ssh2').then(
    (module) => (module as unknown as { default?: Ssh2 }).default ?? module,
    (error: unknown) => {
      loading = undefined;
      throw error;
    },
  );
  return loading;
}
