/**
 * Bounded tables of shared values. Verified tokens repeat the same few
 * scope strings, grant lists, tenants, issuers and subjects: reading them
 * once per distinct value gives every principal with the same claims the
 * same objects, so a cache of thousands of principals holds each one once,
 * and a repeated claim is not parsed or checked again.
 */

/** A table of at most `max` values by key; the oldest key is forgotten first. */
export class Table<V> {
  readonly #map = new Map<string, V>()
  constructor(readonly max: number) {}
  get(key: string): V | undefined {
    return this.#map.get(key)
  }
  /** Remembers `value` under `key` and returns it. */
  set(key: string, value: V): V {
    if (this.#map.size >= this.max) this.#map.delete(this.#map.keys().next().value!)
    this.#map.set(key, value)
    return value
  }
}

const strings = new Table<string>(8192)

/** The one copy of `value` the table holds (the first one seen), or `value` itself. */
export const string = <S extends string>(value: S): S => {
  const known = strings.get(value)
  return known === undefined ? (strings.set(value, value) as S) : (known as S)
}
