/** How many of the latest reads are kept: enough for a p99, little enough to copy. */
const KEPT = 1024;

/**
 * The latencies of the latest cached reads (each a Redis round trip as the reader waited for
 * it, this process's event loop included), for a background job to pace itself by what readers
 * see. Recording is a store into a ring; nothing is allocated per read.
 */
export class ReaderLatency {
  readonly #ring = new Float64Array(KEPT);
  #total = 0;

  /** Reads recorded so far. */
  get total(): number {
    return this.#total;
  }

  record(ms: number): void {
    this.#ring[this.#total % KEPT] = ms;
    this.#total++;
  }

  /** The latencies (ms) of the reads recorded after the first `since` (the latest 1024 at most). */
  since(since: number): Float64Array {
    const wanted = Math.min(KEPT, Math.max(0, this.#total - since));
    const result = new Float64Array(wanted);
    for (let n = 0; n < wanted; n++) result[n] = this.#ring[(this.#total - wanted + n) % KEPT];
    return result;
  }

  /** The `q` quantile (0..1) of the latest reads' latencies, undefined before `atLeast` reads. */
  quantile(q: number, atLeast = 100): number | undefined {
    if (this.#total < atLeast) return undefined;
    const latest = this.since(0).sort();
    return latest[Math.min(latest.length - 1, Math.floor(q * latest.length))];
  }
}
