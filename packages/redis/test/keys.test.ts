/** What the Redis layers write: every key under the prefix, each living as long as it matters. */
import { describe, expect, it } from "@effect/vitest"
import { ApiKey, GrantsCache as CoreGrantsCache } from "@warden/core"
import { RoleStore as CoreRoleStore } from "@warden/core"
import { RevocationStore as CoreRevocationStore } from "@warden/jwt"
import { Introspection } from "@warden/oauth"
import { ApiKeyStore, GrantsCache, IntrospectionCache, RevocationStore, RoleStore } from "@warden/redis"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { clientLayer, raw, TestRedis } from "./support.js"

describe("keys", () => {
  it.scopedLive("carry the prefix, and expire when what they hold stops mattering", () =>
    Effect.gen(function*() {
      const server = yield* TestRedis.shared
      const prefix = TestRedis.prefix()
      const context = yield* Layer.build(
        Layer.mergeAll(
          RevocationStore.layer,
          ApiKeyStore.layer,
          RoleStore.layer,
          GrantsCache.layer({ ttl: "30 seconds" }),
          IntrospectionCache.layer
        ).pipe(Layer.provide(clientLayer(server.url, prefix)))
      )
      const redis = yield* raw(server.url)
      const now = Date.now()
      const nowSeconds = Math.floor(now / 1000)
      yield* Effect.gen(function*() {
        const revocations = yield* CoreRevocationStore.RevocationStore
        yield* revocations.revoke({ issuer: "https://a", tokenId: "t-1" }, nowSeconds + 100)
        yield* revocations.revokeSubject({ issuer: "https://a", subject: "alice" }, nowSeconds, nowSeconds + 200)
        yield* (yield* ApiKey.ApiKeyStore).save({
          id: "k-1",
          prefix: "wk",
          hash: "h",
          kind: "service",
          subject: "svc",
          tenant: "acme",
          tenants: ["acme"],
          scopes: [],
          permissions: { allow: [], deny: [] },
          notAfter: now + 300_000,
          revokedAt: null
        })
        yield* (yield* CoreRoleStore.RoleStore).assign("dave", "acme", ["clerk"])
        const cache = yield* CoreGrantsCache.GrantsCache
        const miss = yield* cache.get("dave", "acme")
        if (miss._tag === "Miss") yield* cache.set("dave", "acme", ["clerk"], miss.stamp)
        yield* cache.invalidate("erin")
        yield* (yield* Introspection.IntrospectionCache).set("hash", { active: false }, now + 10_000)
      }).pipe(Effect.provide(context))
      const keys = (yield* Effect.promise(() => redis.keys(`${prefix}*`))).sort()
      expect(keys.map((k) => k.slice(prefix.length))).toEqual([
        "apikey:k-1",
        "grants-generation:erin",
        "grants:acme:dave",
        "introspection:hash",
        "revoked:jti:9:https://at-1",
        "revoked:sub:9:https://aalice",
        "roles:acme:dave"
      ])
      const ttl = (key: string) => Effect.promise(() => redis.pttl(`${prefix}${key}`))
      const near = (ms: number, expected: number) => expect(Math.abs(ms - expected)).toBeLessThan(3_000)
      near(yield* ttl("revoked:jti:9:https://at-1"), nowSeconds * 1000 + 100_000 - now)
      near(yield* ttl("revoked:sub:9:https://aalice"), nowSeconds * 1000 + 200_000 - now)
      near(yield* ttl("apikey:k-1"), 300_000)
      near(yield* ttl("grants:acme:dave"), 30_000)
      near(yield* ttl("grants-generation:erin"), 60_000)
      near(yield* ttl("introspection:hash"), 10_000)
      // Role assignments are the record itself: they live until changed.
      expect(yield* ttl("roles:acme:dave")).toBe(-1)
      // Nothing else was written outside the prefix by these layers.
      expect(yield* Effect.promise(() => redis.get("revoked:jti:9:https://at-1"))).toBeNull()
    }))

  it.scopedLive("a malformed entry is refused as unavailable, never read as a grant", () =>
    Effect.gen(function*() {
      const server = yield* TestRedis.shared
      const prefix = TestRedis.prefix()
      const redis = yield* raw(server.url)
      yield* Effect.promise(() => redis.set(`${prefix}apikey:k-bad`, "{\"id\":\"k-bad\",\"kind\":\"root\"}"))
      yield* Effect.promise(() => redis.set(`${prefix}revoked:sub:9:https://aalice`, "soon"))
      const context = yield* Layer.build(
        Layer.mergeAll(ApiKeyStore.layer, RevocationStore.layer).pipe(Layer.provide(clientLayer(server.url, prefix)))
      )
      const apiKey = yield* Effect.flip(Effect.flatMap(ApiKey.ApiKeyStore, (s) => s.find("k-bad"))).pipe(
        Effect.provide(context)
      )
      expect(apiKey._tag).toBe("ApiKeyStoreUnavailable")
      const revoked = yield* Effect.flip(
        Effect.flatMap(CoreRevocationStore.RevocationStore, (s) =>
          s.isRevoked({ issuer: "https://a", subject: "alice", tokenId: null, issuedAt: 1 }))
      ).pipe(Effect.provide(context))
      expect(revoked._tag).toBe("RevocationUnavailable")
    }))
})
