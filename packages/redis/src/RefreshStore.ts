/**
 * Refresh tokens and their families on Redis, shared by every instance of
 * the token service: a refresh token used on one instance is used up on
 * all, and a reuse seen by any of them revokes the family everywhere.
 *
 * Keys: `refresh:<hash>` the session a token continues (JSON), with
 * `refresh-used:<hash>` set once it is consumed; `refresh-family:<id>:end`
 * when the family ends, `…:revoked` once revoked, and `…:issued` the access
 * tokens it was given. Each expires when the family ends. Consuming is one
 * Lua script: of concurrent consumers exactly one finds the token fresh.
 *
 * @since 0.3.0
 */
import * as RefreshStore from "@warden/token-service/RefreshStore"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { RedisClient } from "./RedisClient.js"

const store = "refresh"

const Session = Schema.parseJson(Schema.Struct({
  family: Schema.String,
  subject: Schema.String,
  tenant: Schema.String,
  tenants: Schema.Array(Schema.String),
  scope: Schema.String,
  clientId: Schema.String,
  expiresAt: Schema.Number,
  audience: Schema.optionalWith(Schema.Union(Schema.String, Schema.Array(Schema.String)), { exact: true })
}))
const decode = Schema.decodeUnknownEither(Session)
const encode = Schema.encodeSync(Session)

/** KEYS: used, revoked, issued. ARGV: the family's end (epoch s). */
const consume = `
if redis.call('EXISTS', KEYS[2]) == 1 then return {'revoked'} end
if redis.call('SET', KEYS[1], '1', 'NX', 'EXAT', ARGV[1]) then return {'fresh'} end
redis.call('SET', KEYS[2], '1', 'EXAT', ARGV[1])
local issued = redis.call('LRANGE', KEYS[3], 0, -1)
table.insert(issued, 1, 'reused')
return issued
`

/** KEYS: end, revoked, issued. Revokes until the family's end (or a day, when it was never seen). */
const revokeFamily = `
local ends = redis.call('GET', KEYS[1])
if ends then redis.call('SET', KEYS[2], '1', 'EXAT', ends) else redis.call('SET', KEYS[2], '1', 'EX', 86400) end
return redis.call('LRANGE', KEYS[3], 0, -1)
`

/** KEYS: end, issued. ARGV: the entry. The list lives as long as the family. */
const record = `
local ends = redis.call('GET', KEYS[1])
if not ends then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('EXPIREAT', KEYS[2], ends)
return 1
`

const issuedOf = (entries: ReadonlyArray<string>): ReadonlyArray<RefreshStore.Issued> =>
  entries.flatMap((entry) => {
    const [tokenId, expiresAt] = entry.split(" ")
    const exp = Number(expiresAt)
    return tokenId === undefined || !Number.isFinite(exp) ? [] : [{ tokenId, expiresAt: exp }]
  })

/**
 * The refresh store on the shared `RedisClient`.
 *
 * @since 0.3.0
 * @category layers
 */
export const layer: Layer.Layer<RefreshStore.RefreshStore, never, RedisClient> = Layer.effect(
  RefreshStore.RefreshStore,
  Effect.map(RedisClient, (client) => {
    const p = client.keyPrefix
    const family = (id: string) => ({
      end: `${p}refresh-family:${id}:end`,
      revoked: `${p}refresh-family:${id}:revoked`,
      issued: `${p}refresh-family:${id}:issued`
    })
    const unavailable = (e: { readonly message: string }) =>
      new RefreshStore.RefreshStoreUnavailable({ message: `the refresh store: ${e.message}` })
    return {
      save: (hash, session) =>
        client.run(store, async (redis) => {
          const f = family(session.family)
          await redis.multi()
            .set(`${p}refresh:${hash}`, encode(session), "EXAT", session.expiresAt)
            .set(f.end, String(session.expiresAt), "EXAT", session.expiresAt, "NX")
            .exec()
        }).pipe(Effect.mapError(unavailable)),
      consume: (hash) =>
        Effect.gen(function*() {
          const json = yield* client.run(store, (redis) => redis.get(`${p}refresh:${hash}`)).pipe(
            Effect.mapError(unavailable)
          )
          if (json === null) return { _tag: "Unknown" } as const
          const session = decode(json)
          if (Either.isLeft(session)) return yield* unavailable({ message: "an entry is malformed" })
          const f = family(session.right.family)
          const answer = yield* client.run(store, (redis) =>
            redis.eval(consume, 3, `${p}refresh-used:${hash}`, f.revoked, f.issued, String(session.right.expiresAt)))
            .pipe(Effect.mapError(unavailable))
          const [tag, ...issued] = answer as Array<string>
          if (tag === "fresh") {
            return { _tag: "Fresh", session: session.right } as const
          }
          if (tag === "revoked") {
            return { _tag: "Revoked" } as const
          }
          return { _tag: "Reused", session: session.right, issued: issuedOf(issued) } as const
        }),
      recordAccess: (id, issued) =>
        client.run(store, (redis) => {
          const f = family(id)
          return redis.eval(record, 2, f.end, f.issued, `${issued.tokenId} ${issued.expiresAt}`)
        }).pipe(Effect.mapError(unavailable), Effect.asVoid),
      revokeFamily: (id) =>
        client.run(store, (redis) => {
          const f = family(id)
          return redis.eval(revokeFamily, 3, f.end, f.revoked, f.issued)
        }).pipe(Effect.mapError(unavailable), Effect.map((entries) => issuedOf(entries as Array<string>)))
    }
  })
)
