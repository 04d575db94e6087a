/**
 * The roles of a (subject, tenant) pair as last read from the role store,
 * kept for a time to live so a request does not ask the store each time,
 * and dropped at once by `invalidate` when an assignment changes. An
 * in-memory layer here (one process); `@warden/redis` shares one across
 * instances and tells every instance to drop what it holds.
 *
 * @since 0.3.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { keyOf } from "./RoleStore.js"

/**
 * The cache could not answer or write. Reading grants then refuses the
 * request (`unavailable`).
 *
 * @since 0.3.0
 * @category errors
 */
export class GrantsCacheUnavailable extends Data.TaggedError("@warden/GrantsCacheUnavailable")<{
  readonly message: string
}> {}

/**
 * A lookup's answer: the cached roles, or a miss with a stamp that `set`
 * takes back, so that roles read from the store before an `invalidate` are
 * not cached after it.
 *
 * @since 0.3.0
 * @category models
 */
export type Lookup =
  | { readonly _tag: "Hit"; readonly roles: ReadonlyArray<string> }
  | { readonly _tag: "Miss"; readonly stamp: string }

/**
 * Cached role names per (subject, tenant).
 *
 * @since 0.3.0
 * @category models
 */
export class GrantsCache extends Context.Tag("@warden/core/GrantsCache")<GrantsCache, {
  readonly get: (subject: string, tenant: string) => Effect.Effect<Lookup, GrantsCacheUnavailable>
  /** Optional: a hit without an Effect; `undefined` means "ask `get`", not "no roles". */
  readonly getNow?: (subject: string, tenant: string) => ReadonlyArray<string> | undefined
  /** Caches roles read after `get` missed with `stamp`; does nothing when the pair was invalidated since. */
  readonly set: (
    subject: string,
    tenant: string,
    roles: ReadonlyArray<string>,
    stamp: string
  ) => Effect.Effect<void, GrantsCacheUnavailable>
  /** Drops the subject's roles in `tenant`, or in every tenant when none is given. */
  readonly invalidate: (subject: string, tenant?: string) => Effect.Effect<void, GrantsCacheUnavailable>
}>() {}

/**
 * How long cached roles live and how many pairs are kept.
 *
 * @since 0.3.0
 * @category models
 */
export interface Options {
  /** Default 60 seconds: the longest a change made elsewhere, without `invalidate`, goes unseen. */
  readonly ttl?: Duration.DurationInput
  /** Default 100,000 pairs; the oldest is dropped first. */
  readonly capacity?: number
}

/**
 * A cache in this process's memory.
 *
 * @since 0.3.0
 * @category layers
 */
export const layerMemory = (options: Options = {}): Layer.Layer<GrantsCache> =>
  Layer.sync(GrantsCache, () => {
    const ttl = Duration.toMillis(options.ttl ?? "60 seconds")
    const capacity = options.capacity ?? 100_000
    const entries = new Map<string, { readonly roles: ReadonlyArray<string>; readonly until: number }>()
    // Bumped by every invalidation: a miss stamped before it cannot cache what it read.
    let generation = 0
    const getNow = (subject: string, tenant: string) => {
      const key = keyOf(subject, tenant)
      const entry = entries.get(key)
      if (entry === undefined) return undefined
      if (entry.until <= Date.now()) {
        entries.delete(key)
        return undefined
      }
      return entry.roles
    }
    return {
      getNow,
      get: (subject, tenant) =>
        Effect.sync((): Lookup => {
          const roles = getNow(subject, tenant)
          return roles === undefined ? { _tag: "Miss", stamp: String(generation) } : { _tag: "Hit", roles }
        }),
      set: (subject, tenant, roles, stamp) =>
        Effect.sync(() => {
          if (stamp !== String(generation)) return
          const key = keyOf(subject, tenant)
          entries.delete(key)
          if (entries.size >= capacity) entries.delete(entries.keys().next().value!)
          entries.set(key, { roles: [...roles], until: Date.now() + ttl })
        }),
      invalidate: (subject, tenant) =>
        Effect.sync(() => {
          generation++
          if (tenant !== undefined) {
            entries.delete(keyOf(subject, tenant))
            return
          }
          const suffix = `\n${subject}`
          for (const key of entries.keys()) if (key.endsWith(suffix)) entries.delete(key)
        })
    }
  })
