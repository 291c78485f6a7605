/** Runs one SQL statement with `?` placeholders and returns its rows. */
export type QueryRunner = (sql: string, params?: unknown[]) => Promise<Array<Record<string, any>>>;

/** Whether `table` (an unquoted name in the current search path) exists. */
export async function tableExists(query: QueryRunner, table: string): Promise<boolean> {
  const [row] = await query(`select to_regclass(quote_ident(?)) is not null as present`, [table]);
  return row.present;
}
