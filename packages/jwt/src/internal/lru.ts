/**
 * A bounded map that forgets its least recently used entries. Recency only
 * decides what is forgotten when the map is full, so a read moves its entry
 * to the recent end only once the map is at least half full: below that, a
 * hit is one lookup.
 */
export class Lru<K, V> {
  readonly #map = new Map<K, V>()
  readonly #trackFrom: number
  constructor(readonly capacity: number) {
    this.#trackFrom = Math.floor(capacity / 2)
  }
  get size(): number {
    return this.#map.size
  }
  get(key: K): V | undefined {
    const value = this.#map.get(key)
    if (value !== undefined && this.#map.size >= this.#trackFrom) {
      this.#map.delete(key)
      this.#map.set(key, value)
    }
    return value
  }
  set(key: K, value: V): void {
    this.#map.delete(key)
    this.#map.set(key, value)
    if (this.#map.size > this.capacity) {
      const oldest = this.#map.keys().next()
      if (oldest.done !== true) this.#map.delete(oldest.value)
    }
  }
  delete(key: K): void {
    this.#map.delete(key)
  }
  deleteWhere(predicate: (value: V) => boolean): void {
    for (const [key, value] of this.#map) if (predicate(value)) this.#map.delete(key)
  }
}
