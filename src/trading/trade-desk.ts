import type { EntityManager } from '@mikro-orm/postgresql';
import pLimit from 'p-limit';
import { TradingBusyError, withProblemDetails } from '../errors.ts';
import { positiveAmount } from '../ledger/amounts.ts';
import { RowsHeldError, settleTakes, type Take, type TakeRequest, type TradeView } from './trade.service.ts';

/** Most takes settled alone (see TradeDesk) at once: each holds a pooled connection while it waits for a lock. */
const ALONE_AT_ONCE = 4;

/**
 * How the desk groups takes: at most `batchMax` takes a transaction, at most `batchesInFlight`
 * transactions at once; a take waits at most `queueTimeoutMs` for a batch to take it.
 */
export interface TradeDeskOptions {
  batchMax: number;
  batchesInFlight: number;
  queueTimeoutMs: number;
}

interface Waiting {
  take: Take;
  /** Whether a batch already skipped it once, because another transaction held one of its rows. */
  requeued: boolean;
  /** Refuses the take once it waited `queueTimeoutMs` for a batch; cleared when a batch takes it. */
  deadline?: NodeJS.Timeout;
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
 *
 * A batch waits for no row lock (`skipLocked`): a take whose offer or wallet another transaction
 * holds (another instance's batch, an offer being published, an operator's session) is left out
 * of it and joins the next batch; left out again, it is settled alone, waiting for the lock as a
 * single take would (at most ALONE_AT_ONCE at a time, beside the batches). So one held row delays
 * the takes that need it, not the instance's trading. A take that waits longer than
 * `queueTimeoutMs` for a batch to take it (the one in flight is stuck) is refused (503
 * TRADING_BUSY), as a request that waits that long for a pooled connection fails.
 */
export class TradeDesk {
  readonly #em: EntityManager;
  readonly #options: TradeDeskOptions;
  #waiting: Waiting[] = [];
  #inFlight = 0;
  #scheduled = false;
  #idle: Array<() => void> = [];
  readonly #alone = pLimit(ALONE_AT_ONCE);
  #aloneCount = 0;

  constructor(em: EntityManager, options: TradeDeskOptions) {
    this.#em = em;
    this.#options = options;
  }

  /** Takes `request.energyKwh` of an offer for `buyerUserId`: the trade, or a rejection saying why not. */
  take(buyerUserId: string, request: TakeRequest): Promise<TradeView> {
    // a malformed amount is the caller's alone: refused before it joins a batch
    positiveAmount(request.energyKwh, 'energyKwh');
    return new Promise<TradeView>((resolve, reject) => {
      const waiting: Waiting = { take: { buyerUserId, request }, requeued: false, resolve, reject };
      waiting.deadline = setTimeout(() => this.#giveUp(waiting), this.#options.queueTimeoutMs).unref();
      this.#waiting.push(waiting);
      this.#schedule();
    });
  }

  /** Resolves once every take handed to the desk so far is settled. */
  async drained(): Promise<void> {
    if (this.#isIdle()) return;
    await new Promise<void>(resolve => this.#idle.push(resolve));
  }

  // A take that waited too long for a batch (the one in flight is stuck: PostgreSQL slow or unreachable): refused, nothing taken.
  #giveUp(waiting: Waiting): void {
    const index = this.#waiting.indexOf(waiting);
    if (index < 0) return;
    this.#waiting.splice(index, 1);
    const message = `The trades before yours were still being settled after ${this.#options.queueTimeoutMs} ms: nothing was taken; try again`;
    waiting.reject(withProblemDetails(new TradingBusyError(message), {}, { expose: true }));
    this.#settled();
  }

  #isIdle(): boolean {
    return this.#inFlight === 0 && this.#waiting.length === 0 && this.#aloneCount === 0;
  }

  #settled(): void {
    if (this.#isIdle()) this.#idle.splice(0).forEach(resolve => resolve());
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
      for (const waiting of batch) clearTimeout(waiting.deadline);
      this.#inFlight++;
      settleTakes(this.#em, batch.map(waiting => waiting.take), { skipLocked: true })
        .then(
          outcomes => {
            const heldAgain: Waiting[] = [];
            outcomes.forEach((outcome, index) => {
              const waiting = batch[index];
              if (!(outcome instanceof RowsHeldError)) return outcome instanceof Error ? waiting.reject(outcome) : waiting.resolve(outcome);
              if (waiting.requeued) return this.#settleAlone(waiting);
              waiting.requeued = true;
              heldAgain.push(waiting);
            });
            this.#waiting.unshift(...heldAgain); // first in the next batch
          },
          (error: Error) => batch.forEach(waiting => waiting.reject(error)),
        )
        .finally(() => {
          this.#inFlight--;
          this.#dispatch();
          this.#settled();
        });
    }
  }

  // A take a batch left out twice: in a transaction of its own that waits for the rows it needs.
  #settleAlone(waiting: Waiting): void {
    this.#aloneCount++;
    void this.#alone(() => settleTakes(this.#em, [waiting.take]))
      .then(([outcome]) => (outcome instanceof Error ? waiting.reject(outcome) : waiting.resolve(outcome)), waiting.reject)
      .finally(() => {
        this.#aloneCount--;
        this.#settled();
      });
  }
}
