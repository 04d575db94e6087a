/**
 * Revocations on Redis, shared by every instance: a logout on one is
 * refused by all. A token's revocation is a key per (issuer, `jti`); a
 * subject's cutoff ("every token issued at or before") a key per
 * (issuer, subject) holding the cutoff. Each key expires when the last token
 * it covers could no longer be accepted (the `until` the verifier gives), so
 * Redis holds only what still matters. One round trip per check.
 *
 * @since 0.3.0
 */
import * as RevocationStore from "@warden/jwt/RevocationStore"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { RedisClient } from "./RedisClient.js"

const store = "revocation"

/**
 * Keeps the later of two numbers at a key and the later of two expiries:
 * a second revocation never shortens or moves back the first.
 */
const keepLater = `
local current = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
local value = math.max(current, tonumber(ARGV[1]))
local ttl = redis.call('TTL', KEYS[1])
redis.call('SET', KEYS[1], string.format('%.17g', value), 'KEEPTTL')
if ttl < 0 then
  redis.call('EXPIREAT', KEYS[1], ARGV[2])
else
  redis.call('EXPIREAT', KEYS[1], ARGV[2], 'GT')
end
return 1
`

const part = (s: string): string => `${s.length}:${s}`

/**
 * The revocation store on the shared `RedisClient`.
 *
 * @since 0.3.0
 * @category layers
 */
export const layer: Layer.Layer<RevocationStore.RevocationStore, never, RedisClient> = Layer.effect(
  RevocationStore.RevocationStore,
  Effect.map(RedisClient, (client) => {
    const tokenKey = (issuer: string, tokenId: string) => `${client.keyPrefix}revoked:jti:${part(issuer)}${tokenId}`
    const subjectKey = (issuer: string, subject: string) => `${client.keyPrefix}revoked:sub:${part(issuer)}${subject}`
    const unavailable = (error: { readonly message: string }) =>
      new RevocationStore.RevocationUnavailable({ message: `the revocation store: ${error.message}` })
    const write = (key: string, value: number, until: number) =>
      client.run(store, async (redis) => {
        // Seconds, rounded up: never forgotten a moment early.
        const at = Math.ceil(until)
        if (at * 1000 <= Date.now()) return
        await redis.eval(keepLater, 1, key, String(value), String(at))
      }).pipe(Effect.mapError(unavailable))
    return {
      revoke: (token, until) => write(tokenKey(token.issuer, token.tokenId), 0, until),
      revokeSubject: (subject, before, until) => write(subjectKey(subject.issuer, subject.subject), before, until),
      isRevoked: (token) =>
        client.run(store, (redis) =>
          token.tokenId === null ?
            redis.mget(subjectKey(token.issuer, token.subject)) :
            redis.mget(subjectKey(token.issuer, token.subject), tokenKey(token.issuer, token.tokenId))).pipe(
            Effect.mapError(unavailable),
            Effect.flatMap(([cutoff, revoked]) => {
              if (revoked !== undefined && revoked !== null) return Effect.succeed(true)
              if (cutoff === undefined || cutoff === null) return Effect.succeed(false)
              const before = Number(cutoff)
              // A cutoff that is not a number was not written here: refuse rather than guess.
              return Number.isFinite(before) ?
                Effect.succeed(RevocationStore.cutOff(token, before)) :
                Effect.fail(unavailable({ message: "a subject cutoff is malformed" }))
            })
          )
    }
  })
)
