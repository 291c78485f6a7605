/** A page of a newest-first list; `nextCursor` is the `before` of the next page, null on the last. */
export interface KeysetPage<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * The page of `rows`, read with `order by id desc limit <limit + 1>`: the extra row only tells
 * whether there is a next page, whose cursor is the id of this page's last item.
 */
export function keysetPage<R, T extends { id: string }>(rows: R[], limit: number, toItem: (row: R) => T): KeysetPage<T> {
  const items = rows.slice(0, limit).map(toItem);
  return { items, nextCursor: rows.length > limit ? items.at(-1)!.id : null };
}
