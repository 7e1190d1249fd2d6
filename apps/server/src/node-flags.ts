/**
 * Node.js flags the server is meant to run with: `npm start`, the Docker image and the benchmark pass them; anyone
 * starting `dist/cli.js` another way should too (docs/OPERATIONS.md), and the server says at start-up when they are
 * missing ({@link missingNodeFlags}).
 *
 * `--max-semi-space-size=32` (MB; Node 20 on 64-bit defaults to 16): a larger young generation. Applying an update
 * makes a Yjs transaction (about ten Maps and Sets, plus what the relay and the store allocate), all garbage within
 * microseconds, yet with the default size about 15 MB/s of it reached the old generation at 1,000 rooms of three
 * typing (5,000 keystrokes/s): a young collection every 40-90 ms, a full one every 8 s that held every room for
 * 60-100 ms. With 32 MB, at that load (bench capacity rooms; 6 runs of 35 s each, 3 per setting): server CPU 51-54%
 * against 70-77%, resident memory 175-182 MB against 213-215 MB, and no second with a keystroke p99 over 50 ms,
 * against 5-6 of 34. 64 MB gave about the same CPU for 60 MB more memory. The space grows only as allocation needs
 * it: an idle server does not use it.
 */
export const serverNodeFlags: readonly string[] = ['--max-semi-space-size=32']

/**
 * The flags of {@link serverNodeFlags} this process was started without, by name (whatever value it was given for
 * one counts as the operator's choice): on the command line (`execArgv`) or in NODE_OPTIONS.
 */
export function missingNodeFlags(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  const given = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].map(flagName)
  return serverNodeFlags.filter((flag) => !given.includes(flagName(flag)))
}

/** `--max-semi-space-size=32` -> `--max-semi-space-size`; V8 takes `_` and `-` alike. */
function flagName(flag: string): string {
  return flag.split('=')[0]!.replaceAll('_', '-')
}
