import { setImmediate as nextTurn } from 'node:timers/promises';

/** Compilations not done yet, each one the `build` of a `compileOnFirstUse`. */
const pending = new Set<() => unknown>();

/**
 * Defers `build` (compiling a route schema into its validator or serializer, a few ms each,
 * most of the work of `ready()` for 50 routes) to the first request that needs it, or to
 * `compilePending()` after the server listens, whichever comes first: the service is ready
 * sooner and every schema is still compiled once. The returned getter compiles if need be.
 */
export function compileOnFirstUse<T>(build: () => T): () => T {
  let compiled: { value: T } | undefined;
  const get = () => {
    if (!compiled) {
      pending.delete(get);
      compiled = { value: build() };
    }
    return compiled.value;
  };
  pending.add(get);
  return get;
}

/**
 * Compiles whatever no request has needed yet, one schema per turn of the event loop so that
 * requests are served in between. Resolves with the errors (a schema Ajv or fast-json-stringify
 * refuses); the route that needs such a schema answers 500 with it.
 */
export async function compilePending(): Promise<Error[]> {
  const errors: Error[] = [];
  for (const get of pending) {
    await nextTurn();
    if (!pending.has(get)) continue;
    try {
      get();
    } catch (error) {
      pending.delete(get);
      errors.push(error as Error);
    }
  }
  return errors;
}
