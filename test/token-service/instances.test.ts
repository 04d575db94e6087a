/**
 * Two token-service instances sharing one Redis for refresh families and
 * revocations: a refresh token used on one is used up on both, a reuse seen
 * by either revokes the family everywhere, a logout on one is final on the
 * other, and failed logins count on both.
 */
import { describe, expect, it } from "@effect/vitest"
import { RevocationStore } from "@warden/jwt"
import {
  LoginThrottle as RedisThrottle,
  RedisClient,
  RefreshStore as RedisRefresh,
  RevocationStore as RedisRevocations
} from "@warden/redis"
import { TestRedis } from "@warden/testing"
import { TokenService, UserStore } from "@warden/token-service"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { alice, cheap } from "./support.js"

const issuer = "https://id.shop.test"
const web: TokenService.Client = { clientId: "web", secret: Redacted.make("s"), grants: ["password", "refresh_token"] }

/**
 * One instance: its own Redis client and its own signing key; refresh families, revocations and failed logins
 * shared.
 */
const instance = (url: string, keyPrefix: string) =>
  Layer.build(
    TokenService.layer({
      issuer,
      audience: "https://inventory.shop.test",
      clients: [web],
      failuresBeforeBackoff: 3,
      backoff: "1 minute"
    }).pipe(
      Layer.provideMerge(Layer.mergeAll(
        UserStore.layerMemory([alice()], cheap),
        RedisRefresh.layer,
        RedisRevocations.layer,
        RedisThrottle.layer
      )),
      Layer.provide(RedisClient.layer({ url, keyPrefix }))
    )
  )

const claims = (token: string) =>
  JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")) as {
    jti: string
    sub: string
    iat: number
  }

describe("two token-service instances on one Redis", () => {
  it.scopedLive(
    "share refresh families: rotation, reuse detection and logout hold across them",
    () =>
      Effect.gen(function*() {
        const redis = yield* TestRedis.shared
        const prefix = TestRedis.prefix()
        const a = yield* instance(redis.url, prefix)
        const b = yield* instance(redis.url, prefix)
        const on = (ctx: typeof a) => Context.get(ctx, TokenService.TokenService)
        const login = (ctx: typeof a) =>
          on(ctx).token(web, { grant_type: "password", username: "alice", password: Redacted.make("wonderland 42") })
        const refresh = (ctx: typeof a, token: string) =>
          on(ctx).token(web, { grant_type: "refresh_token", refresh_token: Redacted.make(token) })
        const revoked = (token: string) => {
          const c = claims(token)
          return Context.get(a, RevocationStore.RevocationStore).isRevoked({
            issuer,
            tokenId: c.jti,
            subject: c.sub,
            issuedAt: c.iat
          })
        }

        // A login on one instance, refreshed on the other.
        const first = yield* login(a)
        const second = yield* refresh(b, first.refresh_token!)
        // Replaying the first refresh token on the first instance is reuse: the family dies on both.
        expect((yield* Effect.flip(refresh(a, first.refresh_token!))).error).toBe("invalid_grant")
        expect((yield* Effect.flip(refresh(b, second.refresh_token!))).error).toBe("invalid_grant")
        expect(yield* revoked(first.access_token)).toBe(true)
        expect(yield* revoked(second.access_token)).toBe(true)

        // Concurrent refreshes of one token, split over both instances: exactly one wins.
        const session = yield* login(b)
        const results = yield* Effect.forEach(
          Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b)),
          (ctx) => Effect.either(refresh(ctx, session.refresh_token!)),
          { concurrency: "unbounded" }
        )
        expect(results.filter((r) => r._tag === "Right")).toHaveLength(1)

        // A logout on one instance is final on the other.
        const third = yield* login(a)
        yield* on(b).revoke(web, Redacted.make(third.refresh_token!))
        expect((yield* Effect.flip(refresh(a, third.refresh_token!))).error).toBe("invalid_grant")
        expect(yield* revoked(third.access_token)).toBe(true)

        // Guesses spread over both instances meet one count: after three, both refuse even the right password.
        const guess = (ctx: typeof a, password: string) =>
          Effect.flip(
            on(ctx).token(web, { grant_type: "password", username: "alice", password: Redacted.make(password) })
          )
        expect((yield* guess(a, "one")).description).toBe("the username or password is wrong")
        expect((yield* guess(b, "two")).description).toBe("the username or password is wrong")
        expect((yield* guess(a, "three")).description).toBe("the username or password is wrong")
        expect((yield* Effect.flip(login(b))).description).toContain("too many failed logins")
        expect((yield* Effect.flip(login(a))).description).toContain("too many failed logins")
      }),
    30_000
  )
})
