/**
 * API keys on Redis, shared by every instance: a key issued, rotated or
 * revoked on one is seen by all at once. An entry is the stored key (its
 * hash, never the key) as JSON, decoded with a schema when read, and
 * expires when the key stops being accepted (`notAfter` or `revokedAt`).
 *
 * @since 0.3.0
 */
import * as ApiKey from "@warden/core/ApiKey"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { RedisClient } from "./RedisClient.js"

const store = "api_key"

const Strings = Schema.Array(Schema.String)

const StoredKey = Schema.parseJson(Schema.Struct({
  id: Schema.String,
  prefix: Schema.String,
  hash: Schema.String,
  kind: Schema.Literal("user", "service"),
  subject: Schema.String,
  tenant: Schema.String,
  tenants: Strings,
  scopes: Strings,
  permissions: Schema.Struct({ allow: Strings, deny: Schema.Array(Schema.String) }),
  notAfter: Schema.NullOr(Schema.Number),
  revokedAt: Schema.NullOr(Schema.Number)
}))

const decode = Schema.decodeUnknownEither(StoredKey)
const encode = Schema.encodeSync(StoredKey)

/**
 * The API-key store on the shared `RedisClient`.
 *
 * @since 0.3.0
 * @category layers
 */
export const layer: Layer.Layer<ApiKey.ApiKeyStore, never, RedisClient> = Layer.effect(
  ApiKey.ApiKeyStore,
  Effect.map(RedisClient, (client) => {
    const keyOf = (id: string) => `${client.keyPrefix}apikey:${id}`
    const unavailable = (message: string) => new ApiKey.StoreUnavailable({ message: `the API-key store: ${message}` })
    return {
      find: (id) =>
        client.run(store, (redis) => redis.get(keyOf(id))).pipe(
          Effect.mapError((e) => unavailable(e.message)),
          Effect.flatMap((json) => {
            if (json === null) return Effect.succeed(undefined)
            const stored = decode(json)
            // An entry this layer did not write is refused, never read as a grant.
            return Either.isRight(stored) ?
              Effect.succeed(stored.right) :
              Effect.fail(unavailable(`the entry for '${id}' is malformed`))
          })
        ),
      save: (key) =>
        client.run(store, async (redis) => {
          const ends = [key.notAfter, key.revokedAt].filter((t): t is number => t !== null)
          const until = ends.length === 0 ? null : Math.min(...ends)
          if (until === null) await redis.set(keyOf(key.id), encode(key))
          else if (until <= Date.now()) await redis.del(keyOf(key.id))
          else await redis.set(keyOf(key.id), encode(key), "PXAT", Math.ceil(until))
        }).pipe(Effect.mapError((e) => unavailable(e.message)))
    }
  })
)
