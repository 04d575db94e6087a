/**
 * Failed logins on Redis, shared by every instance of the token service: a
 * guesser who spreads attempts over the instances meets one count and one
 * window. Keys: `login-failures:<SHA-256 of the username>`, a hash of the
 * count and the window's end, expiring `maxBackoffMs` after that end. A
 * failure is counted and its window set by one Lua script, so concurrent
 * failures each count.
 *
 * @since 0.3.0
 */
import * as LoginThrottle from "@warden/token-service/LoginThrottle"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createHash } from "node:crypto"
import { RedisClient } from "./RedisClient.js"

const store = "login-throttle"

/** KEYS: the record. ARGV: now, threshold, backoff, max (ms). Returns the count and the window's end. */
const record = `
local count = redis.call('HINCRBY', KEYS[1], 'count', 1)
local now = tonumber(ARGV[1])
local threshold = tonumber(ARGV[2])
local max = tonumber(ARGV[4])
local window = 0
if count >= threshold then window = math.min(max, tonumber(ARGV[3]) * 2 ^ (count - threshold)) end
local ends = now + window
redis.call('HSET', KEYS[1], 'until', string.format('%d', ends))
redis.call('PEXPIREAT', KEYS[1], ends + max)
return {count, string.format('%d', ends)}
`

/**
 * The login throttle on the shared `RedisClient`.
 *
 * @since 0.3.0
 * @category layers
 */
export const layer: Layer.Layer<LoginThrottle.LoginThrottle, never, RedisClient> = Layer.effect(
  LoginThrottle.LoginThrottle,
  Effect.map(RedisClient, (client) => {
    // The username is hashed: any bytes a client sends make one key of fixed length.
    const key = (username: string) =>
      `${client.keyPrefix}login-failures:${createHash("sha256").update(username, "utf8").digest("base64url")}`
    const unavailable = (e: { readonly message: string }) =>
      new LoginThrottle.LoginThrottleUnavailable({ message: `the login throttle: ${e.message}` })
    const decode = (count: unknown, ends: unknown) => {
      const failures = { count: Number(count), until: Number(ends) }
      return Number.isSafeInteger(failures.count) && Number.isFinite(failures.until) ?
        Effect.succeed(failures) :
        Effect.fail(unavailable({ message: "an entry is malformed" }))
    }
    return {
      failures: (username) =>
        client.run(store, (redis) => redis.hmget(key(username), "count", "until")).pipe(
          Effect.mapError(unavailable),
          Effect.flatMap(([count, ends]) =>
            count === null || ends === null ? Effect.succeed(undefined) : decode(count, ends)
          )
        ),
      recordFailure: (username, now, rule) =>
        client.run(store, (redis) =>
          redis.eval(
            record,
            1,
            key(username),
            String(now),
            String(rule.threshold),
            String(rule.backoffMs),
            String(rule.maxBackoffMs)
          )).pipe(
            Effect.mapError(unavailable),
            Effect.flatMap((answer) => {
              const [count, ends] = answer as [unknown, unknown]
              return decode(count, ends)
            })
          ),
      clear: (username) =>
        client.run(store, (redis) => redis.del(key(username))).pipe(Effect.mapError(unavailable), Effect.asVoid)
    }
  })
)
