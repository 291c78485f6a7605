import { describeError } from '../describe-error.ts';

/**
 * Ends a failing command with a readable message and exit code 1 instead of a stack trace
 * and the command's help text. `ENERLINK_DEBUG=1` prints the stack too, for bug reports.
 */
export async function exitOnFailure<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    process.stderr.write(`enerlink: ${describeError(error)}\n`);
    if (process.env.ENERLINK_DEBUG) process.stderr.write(`${(error as Error)?.stack ?? ''}\n`);
    process.exit(1);
  }
}
