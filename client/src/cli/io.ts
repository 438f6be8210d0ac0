/** Where a command writes and what it reads from its surroundings; tests pass their own. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Whether stderr is a terminal: progress bars are drawn there, and only then. */
  isTTY: boolean;
  /** Whether stdout is a terminal: `watch` redraws its view in place there, and prints plain lines otherwise. */
  stdoutIsTTY?: boolean | undefined;
  /** Width of that terminal, when known. */
  columns?: number | undefined;
  env: Record<string, string | undefined>;
  /**
   * Calls `handler` on Ctrl-C (SIGINT) until the returned function is called; a second Ctrl-C
   * ends the process as usual. Absent in tests that do not interrupt.
   */
  onInterrupt?: (handler: () => void) => () => void;
}

export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    isTTY: process.stderr.isTTY === true,
    stdoutIsTTY: process.stdout.isTTY === true,
    columns: process.stderr.columns,
    env: process.env,
    onInterrupt(handler) {
      const onSigint = () => {
        process.off('SIGINT', onSigint); // the next Ctrl-C gets Node's default: exit at once
        handler();
      };
      process.on('SIGINT', onSigint);
      return () => process.off('SIGINT', onSigint);
    },
  };
}

/** A wrong command line: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The CLI's exit codes, also listed in every --help and in the README. */
export const EXIT = {
  ok: 0,
  /** The server refused the request, or could not be reached within the retry budget. */
  failed: 1,
  /** A wrong command line. */
  usage: 2,
  /** The command ran to its end, but the server rejected some readings. */
  partial: 3,
  /** Stopped by Ctrl-C (128 + SIGINT), after draining what was in flight. */
  interrupted: 130,
} as const;

export const exitCodesHelp = `
Exit codes:
  0    success
  1    failed: the server refused the request, or could not be reached within the retry budget
  2    usage: a wrong command line
  3    partly failed: the run ended, but the server rejected some readings
  130  interrupted by Ctrl-C (simulate stops, waits for requests in flight, prints its summary)
`;
