import type { TUnsafe } from 'typebox';
import { Type } from '../http/schema-builder.ts';
import { Decimal as BaseDecimal } from 'decimal.js';
import { BalanceLimitError, InvalidAmountError } from '../errors.ts';

// Money and energy are exact decimals end to end: the JSON body keeps each number's text and
// an amount sent as a number reaches the route as that text (src/http/exact-json.ts), the
// schema checks it against the column's scale, arithmetic is decimal.js, and PostgreSQL
// stores numeric. No amount ever becomes a JavaScript number.

/** Exact decimal arithmetic; precision covers the widest product (20 x 20 digits). */
export const Decimal = BaseDecimal.clone({ precision: 64, rounding: BaseDecimal.ROUND_HALF_UP });
export type Decimal = BaseDecimal;

/** A quantity column: its scale (digits after the point) and its unit for messages. */
export interface Quantity {
  readonly name: string;
  readonly unit: string;
  readonly scale: number;
  /** Largest value its numeric(precision, scale) column holds. */
  readonly max: Decimal;
  /** JSON schema of an amount of it in a request: a decimal string, or a number read as its text (so a string either way). */
  readonly schema: TUnsafe<string>;
}

// A request amount also becomes a transaction_log.amount, numeric(20,8): below 10^12.
const LOGGABLE_INTEGER_DIGITS = 12;

function quantity(name: string, unit: string, precision: number, scale: number): Quantity {
  const integerDigits = precision - scale;
  const requestDigits = Math.min(integerDigits, LOGGABLE_INTEGER_DIGITS);
  return Object.freeze({
    name,
    unit,
    scale,
    max: new Decimal(10).pow(integerDigits).minus(new Decimal(10).pow(-scale)),
    schema: Type.Unsafe<string>({
      type: ['string', 'number'],
      pattern: `^(0|[1-9][0-9]{0,${requestDigits - 1}})(\\.[0-9]{1,${scale}})?$`,
      exactDecimal: true,
      description: `${unit}: a decimal below 10^${requestDigits} with at most ${scale} digits after the point, as a JSON string or number`,
    }),
  });
}

/** Energy in kWh: numeric(20,6). */
export const ENERGY = quantity('energy', 'kWh', 20, 6);
/** IDRS (and IDR) money: numeric(20,2). */
export const IDRS = quantity('IDRS', 'IDRS', 20, 2);
/** A meter's capacity in kW: numeric(10,3). */
export const CAPACITY = quantity('capacity', 'kW', 10, 3);
/** A transaction_log amount: numeric(20,8). */
export const LOG_AMOUNT = quantity('logged', 'kWh or IDRS', 20, 8);

/** The request amount `text` (already matching `quantity.schema`) as a decimal; zero is refused. */
export function positiveAmount(text: string, field: string): Decimal {
  const amount = new Decimal(text);
  if (amount.lte(0)) throw new InvalidAmountError(`${field} must be greater than zero`);
  return amount;
}

/** `amount` in the column's canonical text (fixed scale), refusing what does not fit. */
export function fixed(quantity: Quantity, amount: Decimal): string {
  if (amount.abs().gt(quantity.max)) throw new BalanceLimitError(`The ${quantity.name} amount ${amount.toFixed()} exceeds what a balance can hold`);
  return amount.toFixed(quantity.scale);
}

/** Whether `amount` has no more digits after the point than `quantity` keeps. */
export function fitsScale(quantity: Quantity, amount: Decimal): boolean {
  return amount.decimalPlaces() <= quantity.scale;
}
