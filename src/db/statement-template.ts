import { randomUUID } from 'node:crypto';
import type { Platform, RawQueryFragment } from '@mikro-orm/core';
import { LRUCache } from 'lru-cache';

/** The values a statement is built from: named lists of text values (ids, amounts), nothing else. */
export type StatementValues = Record<string, string[]>;

/** A statement rendered with stand-ins for its values: the text between them, and which value each stands for. */
interface Rendered {
  parts: string[];
  slots: Array<{ list: string; index: number }>;
}

/**
 * Statements the query builder makes, built once per *shape* of their values (how many of each)
 * and then filled in with each call's values, as the driver would have inlined them
 * (`platform.quoteValue`). Building a statement with MikroORM's query builder costs a few hundred
 * microseconds per query builder (criteria processing, aliasing, rendering); a statement run for
 * every batch of a hot path (the trade desk's locking statement: four query builders) pays that
 * again and again for the same text with other ids in it.
 *
 * `build` gets stand-ins for the values (unique strings of a random token: they occur nowhere
 * else), must use each only as a value (never in an identifier, a `like` pattern or a
 * computation: a stand-in must reach the text as a quoted literal of its own) and must build the
 * same statement for every set of values of one shape. The statement is rendered with them and
 * cut at each stand-in's literal; a call fills the cuts with the quoted real values. At most
 * `maxShapes` shapes are kept, least recently used evicted first.
 */
export class StatementTemplates {
  readonly #platform: Platform;
  readonly #token = randomUUID();
  readonly #stand = new RegExp(`'${this.#token}:(\\w+):(\\d+)'`, 'g');
  readonly #rendered: LRUCache<string, Rendered>;

  constructor(platform: Platform, maxShapes = 256) {
    this.#platform = platform;
    this.#rendered = new LRUCache({ max: maxShapes });
  }

  /**
   * The text of the statement `build` makes for `values`, built for this shape (`shape` names
   * whatever else, besides the lengths of the lists, changes the statement) at most once.
   */
  fill(shape: string, values: StatementValues, build: (standIns: StatementValues) => RawQueryFragment): string {
    const key = `${shape}|${Object.entries(values).map(([list, items]) => `${list}:${items.length}`).join(',')}`;
    let rendered = this.#rendered.get(key);
    if (!rendered) this.#rendered.set(key, (rendered = this.#render(values, build)));
    let text = rendered.parts[0];
    for (let i = 0; i < rendered.slots.length; i++) {
      const { list, index } = rendered.slots[i];
      text += this.#platform.quoteValue(values[list][index]) + rendered.parts[i + 1];
    }
    return text;
  }

  #render(values: StatementValues, build: (standIns: StatementValues) => RawQueryFragment): Rendered {
    const standIns = Object.fromEntries(Object.entries(values).map(([list, items]) => [list, items.map((_, index) => `${this.#token}:${list}:${index}`)]));
    const statement = build(standIns);
    const text = this.#platform.formatQuery(statement.sql, statement.params);
    const parts: string[] = [];
    const slots: Rendered['slots'] = [];
    let from = 0;
    for (const match of text.matchAll(this.#stand)) {
      // a quote next to it: the stand-in is glued to a longer literal ('O''<stand-in>'), not one of its own
      if (text[match.index - 1] === "'" || text[match.index + match[0].length] === "'") {
        throw new Error(`StatementTemplates: the statement uses ${match[1]}:${match[2]} inside another value: it cannot be filled in`);
      }
      parts.push(text.slice(from, match.index));
      slots.push({ list: match[1], index: Number(match[2]) });
      from = match.index + match[0].length;
    }
    parts.push(text.slice(from));
    // each stand-in must be there, and only as a literal of its own: otherwise the text would be wrong for other values
    const used = new Set(slots.map(({ list, index }) => `${list}:${index}`));
    const missing = Object.values(standIns).flat().filter(standIn => !used.has(standIn.slice(this.#token.length + 1)));
    if (missing.length > 0 || parts.some(part => part.includes(this.#token))) {
      throw new Error(`StatementTemplates: the statement uses ${missing.length > 0 ? `no ${missing[0].slice(this.#token.length + 1)}` : 'a value inside another'}: it cannot be filled in`);
    }
    return { parts, slots };
  }
}
