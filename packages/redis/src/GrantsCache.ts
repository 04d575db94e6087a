/**
 * The grants cache on Redis, shared by every instance, with invalidation
 * that reaches all of them.
 *
 * Roles read from the role store are kept in Redis per (tenant, subject)
 * for the TTL, tagged with the subject's generation. `invalidate` bumps the
 * generation (so every cached entry of the subject stops serving, in every
 * tenant, on every instance at once) and publishes the subject, so the
 * instances drop their in-process copies. A load that raced an invalidation
 * is not cached: `set` writes only if the generation is still the one the
 * miss saw.
 *
 * Each instance also keeps an in-process copy, which serves a request
 * without a round trip, but only while its subscription to invalidations is
 * live: while it is not (Redis down, reconnecting), every lookup goes to
 * Redis, and the copy is dropped whenever the subscription is re-established.
 *
 * @since 0.3.0
 */
import * as GrantsCache from "@warden/core/GrantsCache"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { RedisClient } from "./RedisClient.js"

const store = "grants_cache"

const Entry = Schema.parseJson(Schema.Struct({ generation: Schema.String, roles: Schema.Array(Schema.String) }))
const decode = Schema.decodeUnknownOption(Entry)
const encode = Schema.encodeSync(Entry)

/** Writes the entry only if the subject's generation is still the miss's. */
const setIfCurrent = `
local generation = redis.call('GET', KEYS[2]) or '0'
if generation ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`

/** Bumps the generation, which outlives every entry written under the one before, and publishes the subject. */
const bump = `
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
if KEYS[2] then redis.call('DEL', KEYS[2]) end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`

/**
 * How long entries live, in Redis and in each instance.
 *
 * @since 0.3.0
 * @category models
 */
export interface Options extends GrantsCache.Options {
  /** How long an instance keeps its own copy, at most the TTL. Default the TTL. */
  readonly localTtl?: Duration.DurationInput
}

/**
 * The shared grants cache on the shared `RedisClient`; its subscription to
 * invalidations lives as long as the layer.
 *
 * @since 0.3.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<GrantsCache.GrantsCache, never, RedisClient> =>
  Layer.scoped(
    GrantsCache.GrantsCache,
    Effect.gen(function*() {
      const client = yield* RedisClient
      const ttl = Math.max(1, Math.round(Duration.toMillis(options.ttl ?? "60 seconds")))
      const localTtl = Math.min(ttl, Duration.toMillis(options.localTtl ?? ttl))
      const capacity = options.capacity ?? 100_000
      const channel = `${client.keyPrefix}grants:invalidated`
      // A tenant id holds no ':', so the tenant ends where the subject begins.
      const pairKey = (subject: string, tenant: string) => `${client.keyPrefix}grants:${tenant}:${subject}`
      const generationKey = (subject: string) => `${client.keyPrefix}grants-generation:${subject}`
      const local = new Map<
        string,
        { readonly subject: string; readonly roles: ReadonlyArray<string>; readonly until: number }
      >()
      const dropSubject = (subject: string) => {
        for (const [key, entry] of local) if (entry.subject === subject) local.delete(key)
      }
      // Counts invalidations heard: an answer that crossed one is not kept in process (it may predate it).
      let heard = 0
      const subscription = yield* client.subscribe(channel, {
        onMessage: (subject) => {
          heard++
          dropSubject(subject)
        },
        onReset: () => {
          heard++
          local.clear()
        }
      })
      const unavailable = (e: { readonly message: string }) =>
        new GrantsCache.GrantsCacheUnavailable({ message: `the grants cache: ${e.message}` })
      const remember = (subject: string, tenant: string, roles: ReadonlyArray<string>) => {
        const key = pairKey(subject, tenant)
        local.delete(key)
        if (local.size >= capacity) local.delete(local.keys().next().value!)
        local.set(key, { subject, roles, until: Date.now() + localTtl })
      }
      const getNow = (subject: string, tenant: string): ReadonlyArray<string> | undefined => {
        if (local.size === 0 || !subscription.ready()) return undefined
        const key = pairKey(subject, tenant)
        const entry = local.get(key)
        if (entry === undefined) return undefined
        if (entry.until <= Date.now()) {
          local.delete(key)
          return undefined
        }
        return entry.roles
      }
      return {
        getNow,
        get: (subject, tenant) => {
          const roles = getNow(subject, tenant)
          if (roles !== undefined) return Effect.succeed({ _tag: "Hit", roles } as const)
          const before = heard
          return client.run(store, (redis) => redis.mget(pairKey(subject, tenant), generationKey(subject))).pipe(
            Effect.mapError(unavailable),
            Effect.map(([json, current]): GrantsCache.Lookup => {
              const generation = current ?? "0"
              const entry = json === null || json === undefined ? undefined : decode(json)
              if (entry !== undefined && entry._tag === "Some" && entry.value.generation === generation) {
                if (heard === before && subscription.ready()) remember(subject, tenant, entry.value.roles)
                return { _tag: "Hit", roles: entry.value.roles }
              }
              return { _tag: "Miss", stamp: `${generation}:${before}` }
            })
          )
        },
        set: (subject, tenant, roles, stamp) => {
          const [generation = "", since = ""] = stamp.split(":")
          return client.run(store, (redis) =>
            redis.eval(
              setIfCurrent,
              2,
              pairKey(subject, tenant),
              generationKey(subject),
              generation,
              encode({ generation, roles: [...roles] }),
              String(ttl)
            )).pipe(
              Effect.mapError(unavailable),
              Effect.map((written) => {
                if (written === 1 && String(heard) === since && subscription.ready()) remember(subject, tenant, roles)
              })
            )
        },
        invalidate: (subject, tenant) =>
          Effect.zipRight(
            Effect.sync(() => dropSubject(subject)),
            client.run(store, (redis) =>
              tenant === undefined ?
                redis.eval(bump, 1, generationKey(subject), String(2 * ttl), channel, subject) :
                redis.eval(
                  bump,
                  2,
                  generationKey(subject),
                  pairKey(subject, tenant),
                  String(2 * ttl),
                  channel,
                  subject
                ))
              .pipe(Effect.mapError(unavailable), Effect.asVoid)
          )
      }
    })
  )
