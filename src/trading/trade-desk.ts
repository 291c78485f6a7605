import type { EntityManager } from '@mikro-orm/postgresql';
import { positiveAmount } from '../ledger/amounts.ts';
import { settleTakes, type Take, type TakeRequest, type TradeView } from './trade.service.ts';

/** How the desk groups takes: at most `batchMax` takes a transaction, at most `batchesInFlight` transactions at once. */
export interface TradeDeskOptions {
  batchMax: number;
  batchesInFlight: number;
}

interface Waiting {
  take: Take;
  resolve: (trade: TradeView) => void;
  reject: (error: Error) => void;
}

/**
 * Where the instance's takes queue to be settled together: up to `batchMax` of them in one
 * transaction (`settleTakes`: one statement locks every row they write, one flush writes them),
 * `batchesInFlight` transactions at a time. A take waits for the batch in flight (or the next
 * turn of the event loop) and joins the next batch with every take that arrived meanwhile, so a
 * quiet desk settles each take at once and a busy one in batches as large as the load: the round
 * trips and the ORM's work of a transaction are shared by its takes. Each take gets its own
 * outcome: a refused take fails alone; a transaction that fails for good (see `settleTakes`: a
 * lost connection is tried once more) fails the takes of its batch, none of which was written.
 */
export class TradeDesk {
  readonly #em: EntityManager;
  readonly #options: TradeDeskOptions;
  #waiting: Waiting[] = [];
  #inFlight = 0;
  #scheduled = false;
  #idle: Array<() => void> = [];

  constructor(em: EntityManager, options: TradeDeskOptions) {
    this.#em = em;
    this.#options = options;
  }

  /** Takes `request.energyKwh` of an offer for `buyerUserId`: the trade, or a rejection saying why not. */
  take(buyerUserId: string, request: TakeRequest): Promise<TradeView> {
    // a malformed amount is the caller's alone: refused before it joins a batch
    positiveAmount(request.energyKwh, 'energyKwh');
    return new Promise<TradeView>((resolve, reject) => {
      this.#waiting.push({ take: { buyerUserId, request }, resolve, reject });
      this.#schedule();
    });
  }

  /** Resolves once every take handed to the desk so far is settled. */
  async drained(): Promise<void> {
    if (this.#inFlight === 0 && this.#waiting.length === 0) return;
    await new Promise<void>(resolve => this.#idle.push(resolve));
  }

  // Dispatches on the next turn of the event loop, so that the takes whose requests arrived in this one join the batch.
  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#options.batchesInFlight) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#dispatch();
    });
  }

  #dispatch(): void {
    while (this.#inFlight < this.#options.batchesInFlight && this.#waiting.length > 0) {
      const batch = this.#waiting.splice(0, this.#options.batchMax);
      this.#inFlight++;
      settleTakes(this.#em, batch.map(waiting => waiting.take))
        .then(
          outcomes => outcomes.forEach((outcome, index) => (outcome instanceof Error ? batch[index].reject(outcome) : batch[index].resolve(outcome))),
          (error: Error) => batch.forEach(waiting => waiting.reject(error)),
        )
        .finally(() => {
          this.#inFlight--;
          this.#dispatch();
          if (this.#inFlight === 0 && this.#waiting.length === 0) this.#idle.splice(0).forEach(resolve => resolve());
        });
    }
  }
}
