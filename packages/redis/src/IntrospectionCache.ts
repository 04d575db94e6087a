/**
 * Introspection answers on Redis, shared by every instance: a token is
 * introspected once between them. Keys are the SHA-256 of the token (never
 * the token); an entry expires with the answer.
 *
 * @since 0.3.0
 */
import * as Introspection from "@warden/oauth/Introspection"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { RedisClient } from "./RedisClient.js"

const store = "introspection"

const Stored = Schema.parseJson(Schema.Union(
  Schema.Struct({ active: Schema.Literal(true), claims: Schema.Record({ key: Schema.String, value: Schema.Unknown }) }),
  Schema.Struct({ active: Schema.Literal(false) })
))

const decode = Schema.decodeUnknownEither(Stored)
const encode = Schema.encodeSync(Stored)

/**
 * The shared introspection cache on the shared `RedisClient`.
 *
 * @since 0.3.0
 * @category layers
 */
export const layer: Layer.Layer<Introspection.IntrospectionCache, never, RedisClient> = Layer.effect(
  Introspection.IntrospectionCache,
  Effect.map(RedisClient, (client) => {
    const keyOf = (hash: string) => `${client.keyPrefix}introspection:${hash}`
    const unavailable = (message: string) =>
      new Introspection.IntrospectionCacheUnavailable({ message: `the introspection cache: ${message}` })
    return {
      get: (hash) =>
        client.run(store, async (redis) => {
          const [json, ttl] = await Promise.all([redis.get(keyOf(hash)), redis.pttl(keyOf(hash))])
          return { json, ttl, now: Date.now() }
        }).pipe(
          Effect.mapError((e) => unavailable(e.message)),
          Effect.flatMap(({ json, now, ttl }) => {
            if (json === null || ttl <= 0) return Effect.succeed(undefined)
            const stored = decode(json)
            return Either.isRight(stored) ?
              Effect.succeed({ stored: stored.right, until: now + ttl }) :
              Effect.fail(unavailable("an entry is malformed"))
          })
        ),
      set: (hash, stored, until) =>
        client.run(store, async (redis) => {
          // An answer without an end, or one already over, is not shared.
          if (!Number.isFinite(until) || until <= Date.now()) return
          await redis.set(keyOf(hash), encode(stored), "PXAT", Math.floor(until))
        }).pipe(Effect.mapError((e) => unavailable(e.message)))
    }
  })
)
