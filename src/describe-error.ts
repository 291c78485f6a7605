/** A caller-facing description of an error: its message, with connection failures explained. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const text = [error.message, (error.cause as Error | undefined)?.message].join(' ');
  if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN/.test(text) || (error as { code?: string }).code === 'ECONNREFUSED') {
    const hint = 'is PostgreSQL running and DATABASE_URL right?';
    // startup errors already say what they were doing
    if (error.name === 'StartupError') return `${error.message}; ${hint}`;
    return `cannot reach the database (${error.message.split('\n')[0]}); ${hint}`;
  }
  return error.message;
}
