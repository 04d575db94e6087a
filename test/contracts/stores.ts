/**
 * The contracts every store implementation keeps, run against the memory
 * layers and the Redis layers alike. Real time (Redis keeps its own clock):
 * the waits are a second or two at most.
 */
import { expect, it } from "@effect/vitest"
import { ApiKey, GrantsCache, RoleStore } from "@warden/core"
import { RevocationStore } from "@warden/jwt"
import { Introspection } from "@warden/oauth"
import { LoginThrottle, RefreshStore } from "@warden/token-service"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"

/** What a backend offers: each layer is fresh (its own keys), built per test. */
export interface Backend {
  readonly revocations: () => Layer.Layer<RevocationStore.RevocationStore>
  readonly apiKeys: () => Layer.Layer<ApiKey.ApiKeyStore>
  readonly roles: () => Layer.Layer<RoleStore.RoleStore>
  readonly grantsCache: (options: GrantsCache.Options) => Layer.Layer<GrantsCache.GrantsCache>
  readonly introspection: () => Layer.Layer<Introspection.IntrospectionCache>
  readonly refresh: () => Layer.Layer<RefreshStore.RefreshStore>
  readonly loginThrottle: () => Layer.Layer<LoginThrottle.LoginThrottle>
}

const sleep = (ms: number) => Effect.promise(() => new Promise((resolve) => setTimeout(resolve, ms)))
const nowSeconds = () => Math.floor(Date.now() / 1000)
const presented = (
  issuer: string,
  tokenId: string | null,
  subject = "u-1",
  issuedAt: number | null = 1_000
): RevocationStore.Presented => ({ issuer, tokenId, subject, issuedAt })

export const revocationContract = (backend: Backend) => {
  const run = <A, E>(self: Effect.Effect<A, E, RevocationStore.RevocationStore>) =>
    Effect.provide(self, backend.revocations())

  it.live("keys a revocation on (issuer, jti) exactly", () =>
    run(Effect.gen(function*() {
      const store = yield* RevocationStore.RevocationStore
      yield* store.revoke({ issuer: "https://a", tokenId: "t-1" }, nowSeconds() + 60)
      expect(yield* store.isRevoked(presented("https://a", "t-1"))).toBe(true)
      expect(yield* store.isRevoked(presented("https://b", "t-1"))).toBe(false)
      expect(yield* store.isRevoked(presented("https://a", "t-2"))).toBe(false)
      expect(yield* store.isRevoked(presented("https://at", "-1"))).toBe(false)
      expect(yield* store.isRevoked(presented("https://a", null))).toBe(false)
    })))

  it.live("keeps a revocation until its until, and not after; one already over is not kept", () =>
    run(Effect.gen(function*() {
      const store = yield* RevocationStore.RevocationStore
      const until = nowSeconds() + 1
      yield* store.revoke({ issuer: "https://a", tokenId: "short" }, until)
      yield* store.revoke({ issuer: "https://a", tokenId: "over" }, nowSeconds() - 5)
      expect(yield* store.isRevoked(presented("https://a", "short"))).toBe(true)
      expect(yield* store.isRevoked(presented("https://a", "over"))).toBe(false)
      yield* sleep(until * 1000 - Date.now() + 150)
      expect(yield* store.isRevoked(presented("https://a", "short"))).toBe(false)
    })))

  it.live("a second revocation never shortens the first", () =>
    run(Effect.gen(function*() {
      const store = yield* RevocationStore.RevocationStore
      const ref = { issuer: "https://a", tokenId: "twice" }
      yield* store.revoke(ref, nowSeconds() + 60)
      yield* store.revoke(ref, nowSeconds() + 1)
      yield* sleep(2_100)
      expect(yield* store.isRevoked(presented("https://a", "twice"))).toBe(true)
    })))

  it.live("a subject cutoff refuses the subject's tokens issued at or before it, and those without iat", () =>
    run(Effect.gen(function*() {
      const store = yield* RevocationStore.RevocationStore
      yield* store.revokeSubject({ issuer: "https://a", subject: "u-1" }, 1_000, nowSeconds() + 60)
      expect(yield* store.isRevoked(presented("https://a", null, "u-1", 999))).toBe(true)
      expect(yield* store.isRevoked(presented("https://a", "j", "u-1", 1_000))).toBe(true)
      expect(yield* store.isRevoked(presented("https://a", null, "u-1", 1_001))).toBe(false)
      expect(yield* store.isRevoked(presented("https://a", null, "u-1", null))).toBe(true)
      expect(yield* store.isRevoked(presented("https://a", null, "u-2", 999))).toBe(false)
      expect(yield* store.isRevoked(presented("https://b", null, "u-1", 999))).toBe(false)
      expect(yield* store.isRevoked(presented("https://au", null, "-1", 999))).toBe(false)
      // A later cutoff moves it forward; an earlier one neither moves it back nor shortens it.
      yield* store.revokeSubject({ issuer: "https://a", subject: "u-1" }, 2_000, nowSeconds() + 60)
      yield* store.revokeSubject({ issuer: "https://a", subject: "u-1" }, 500, nowSeconds() + 1)
      expect(yield* store.isRevoked(presented("https://a", null, "u-1", 1_500))).toBe(true)
      yield* sleep(2_100)
      expect(yield* store.isRevoked(presented("https://a", null, "u-1", 2_000))).toBe(true)
      expect(yield* store.isRevoked(presented("https://a", null, "u-1", 2_001))).toBe(false)
    })))
}

const storedKey = (id: string, over: Partial<ApiKey.StoredKey> = {}): ApiKey.StoredKey => ({
  id,
  prefix: "wk_test",
  hash: "aGFzaA",
  kind: "service",
  subject: "svc-reports",
  tenant: "acme",
  tenants: ["acme", "globex"],
  scopes: ["reports.read"],
  permissions: { allow: ["reports:*"], deny: ["reports:secret:read"] },
  notAfter: null,
  revokedAt: null,
  ...over
})

export const apiKeyContract = (backend: Backend) => {
  it.live("finds what it saved, field for field; an unknown id is undefined", () =>
    Effect.gen(function*() {
      const store = yield* ApiKey.ApiKeyStore
      const key = storedKey("k-1", { notAfter: Date.now() + 60_000 })
      yield* store.save(key)
      expect(yield* store.find("k-1")).toEqual(key)
      expect(yield* store.find("k-2")).toBeUndefined()
      const revoked = { ...key, revokedAt: Date.now() + 30_000 }
      yield* store.save(revoked)
      expect(yield* store.find("k-1")).toEqual(revoked)
    }).pipe(Effect.provide(backend.apiKeys())))

  it.live("a key revoked through ApiKey.revoke is never found live again", () =>
    Effect.gen(function*() {
      const issued = yield* ApiKey.issue({
        prefix: "wk_test",
        kind: "service",
        subject: "svc-reports",
        tenant: "acme",
        scopes: ["reports.read"]
      })
      const store = yield* ApiKey.ApiKeyStore
      yield* store.save(issued.stored)
      expect((yield* store.find(issued.stored.id))?.hash).toBe(issued.stored.hash)
      yield* ApiKey.revoke(issued.stored.id)
      yield* sleep(5)
      const found = yield* store.find(issued.stored.id)
      // Revoked: either kept with its revocation or already forgotten; never live again.
      expect(found === undefined || (found.revokedAt !== null && found.revokedAt <= Date.now())).toBe(true)
    }).pipe(Effect.provide(backend.apiKeys())))
}

export const roleStoreContract = (backend: Backend) => {
  it.live("keeps roles per (subject, tenant); assigning replaces them, and none removes them", () =>
    Effect.gen(function*() {
      const store = yield* RoleStore.RoleStore
      expect(yield* store.rolesOf("dave", "acme")).toEqual([])
      yield* store.assign("dave", "acme", ["clerk", "auditor"])
      yield* store.assign("dave", "globex", ["admin"])
      expect([...(yield* store.rolesOf("dave", "acme"))].sort()).toEqual(["auditor", "clerk"])
      expect(yield* store.rolesOf("dave", "globex")).toEqual(["admin"])
      expect(yield* store.rolesOf("erin", "acme")).toEqual([])
      yield* store.assign("dave", "acme", ["auditor"])
      expect(yield* store.rolesOf("dave", "acme")).toEqual(["auditor"])
      yield* store.assign("dave", "acme", [])
      expect(yield* store.rolesOf("dave", "acme")).toEqual([])
      expect(yield* store.rolesOf("dave", "globex")).toEqual(["admin"])
    }).pipe(Effect.provide(backend.roles())))
}

export const grantsCacheContract = (backend: Backend) => {
  const fill = (cache: GrantsCache.GrantsCache["Type"], subject: string, tenant: string, roles: Array<string>) =>
    Effect.gen(function*() {
      const miss = yield* cache.get(subject, tenant)
      expect(miss._tag).toBe("Miss")
      if (miss._tag === "Miss") yield* cache.set(subject, tenant, roles, miss.stamp)
    })

  it.live("serves what was set after a miss, per (subject, tenant)", () =>
    Effect.gen(function*() {
      const cache = yield* GrantsCache.GrantsCache
      yield* fill(cache, "dave", "acme", ["clerk"])
      expect(yield* cache.get("dave", "acme")).toEqual({ _tag: "Hit", roles: ["clerk"] })
      expect((yield* cache.get("dave", "globex"))._tag).toBe("Miss")
      expect((yield* cache.get("erin", "acme"))._tag).toBe("Miss")
      yield* fill(cache, "dave", "globex", [])
      expect(yield* cache.get("dave", "globex")).toEqual({ _tag: "Hit", roles: [] })
    }).pipe(Effect.provide(backend.grantsCache({}))))

  it.live("does not keep what was read before an invalidation", () =>
    Effect.gen(function*() {
      const cache = yield* GrantsCache.GrantsCache
      const miss = yield* cache.get("dave", "acme")
      yield* cache.invalidate("dave", "acme")
      if (miss._tag === "Miss") yield* cache.set("dave", "acme", ["admin"], miss.stamp)
      expect((yield* cache.get("dave", "acme"))._tag).toBe("Miss")
    }).pipe(Effect.provide(backend.grantsCache({}))))

  it.live("invalidating a subject drops it in every tenant, or in the one named", () =>
    Effect.gen(function*() {
      const cache = yield* GrantsCache.GrantsCache
      yield* fill(cache, "dave", "acme", ["clerk"])
      yield* fill(cache, "dave", "globex", ["admin"])
      yield* fill(cache, "erin", "acme", ["auditor"])
      yield* cache.invalidate("dave", "acme")
      expect((yield* cache.get("dave", "acme"))._tag).toBe("Miss")
      expect(yield* cache.get("erin", "acme")).toEqual({ _tag: "Hit", roles: ["auditor"] })
      yield* fill(cache, "dave", "acme", ["clerk"])
      yield* cache.invalidate("dave")
      expect((yield* cache.get("dave", "acme"))._tag).toBe("Miss")
      expect((yield* cache.get("dave", "globex"))._tag).toBe("Miss")
      expect(yield* cache.get("erin", "acme")).toEqual({ _tag: "Hit", roles: ["auditor"] })
    }).pipe(Effect.provide(backend.grantsCache({}))))

  it.live("forgets an entry after its time to live", () =>
    Effect.gen(function*() {
      const cache = yield* GrantsCache.GrantsCache
      yield* fill(cache, "dave", "acme", ["clerk"])
      expect((yield* cache.get("dave", "acme"))._tag).toBe("Hit")
      yield* sleep(400)
      expect((yield* cache.get("dave", "acme"))._tag).toBe("Miss")
    }).pipe(Effect.provide(backend.grantsCache({ ttl: "250 millis" }))))
}

export const introspectionCacheContract = (backend: Backend) => {
  it.live("keeps an answer until its end, and none already over", () =>
    Effect.gen(function*() {
      const cache = yield* Introspection.IntrospectionCache
      const claims = { sub: "alice", tid: "acme", exp: nowSeconds() + 60 }
      yield* cache.set("h-active", { active: true, claims }, Date.now() + 600)
      yield* cache.set("h-inactive", { active: false }, Date.now() + 60_000)
      yield* cache.set("h-over", { active: false }, Date.now() - 1)
      const found = yield* cache.get("h-active")
      expect(found?.stored).toEqual({ active: true, claims })
      expect(found!.until).toBeLessThanOrEqual(Date.now() + 600)
      expect((yield* cache.get("h-inactive"))?.stored).toEqual({ active: false })
      expect(yield* cache.get("h-over")).toBeUndefined()
      expect(yield* cache.get("h-unknown")).toBeUndefined()
      yield* sleep(750)
      expect(yield* cache.get("h-active")).toBeUndefined()
    }).pipe(Effect.provide(backend.introspection())))
}

export const refreshContract = (backend: Backend) => {
  const session = (family: string): RefreshStore.Session => ({
    family,
    subject: "u-alice",
    tenant: "acme",
    tenants: ["acme", "globex"],
    scope: "stock.read",
    clientId: "web",
    expiresAt: nowSeconds() + 3_600,
    // The login's several audiences are kept with the family; a family without one has none.
    ...(family === "f-1" ? { audience: ["https://orders.shop.test", "https://inventory.shop.test"] } : {})
  })

  it.live("a refresh token is fresh once; used again it is reuse, which revokes its family", () =>
    Effect.gen(function*() {
      const store = yield* RefreshStore.RefreshStore
      yield* store.save("h-1", session("f-1"))
      yield* store.recordAccess("f-1", { tokenId: "a-1", expiresAt: 100 })
      expect(yield* store.consume("h-1")).toEqual({ _tag: "Fresh", session: session("f-1") })
      yield* store.save("h-2", session("f-1"))
      yield* store.recordAccess("f-1", { tokenId: "a-2", expiresAt: 200 })
      const reused = yield* store.consume("h-1")
      expect(reused).toEqual({
        _tag: "Reused",
        session: session("f-1"),
        issued: [{ tokenId: "a-1", expiresAt: 100 }, { tokenId: "a-2", expiresAt: 200 }]
      })
      // The family's other refresh token is dead now; an unknown one is unknown.
      expect(yield* store.consume("h-2")).toEqual({ _tag: "Revoked" })
      expect(yield* store.consume("h-unknown")).toEqual({ _tag: "Unknown" })
    }).pipe(Effect.provide(backend.refresh())))

  it.live("of concurrent consumers of one refresh token exactly one finds it fresh", () =>
    Effect.gen(function*() {
      const store = yield* RefreshStore.RefreshStore
      yield* store.save("h-race", session("f-race"))
      const answers = yield* Effect.forEach(Array.from({ length: 16 }, () => "h-race"), store.consume, {
        concurrency: "unbounded"
      })
      expect(answers.filter((a) => a._tag === "Fresh")).toHaveLength(1)
      expect(answers.every((a) => a._tag === "Fresh" || a._tag === "Reused" || a._tag === "Revoked")).toBe(true)
    }).pipe(Effect.provide(backend.refresh())))

  it.live("revoking a family gives its access tokens and kills its refresh tokens; other families live on", () =>
    Effect.gen(function*() {
      const store = yield* RefreshStore.RefreshStore
      yield* store.save("h-a", session("f-a"))
      yield* store.save("h-b", session("f-b"))
      yield* store.recordAccess("f-a", { tokenId: "x", expiresAt: 300 })
      expect(yield* store.revokeFamily("f-a")).toEqual([{ tokenId: "x", expiresAt: 300 }])
      expect(yield* store.consume("h-a")).toEqual({ _tag: "Revoked" })
      expect((yield* store.consume("h-b"))._tag).toBe("Fresh")
      expect(yield* store.revokeFamily("f-never")).toEqual([])
    }).pipe(Effect.provide(backend.refresh())))
}

export const loginThrottleContract = (backend: Backend) => {
  const rule: LoginThrottle.Rule = { threshold: 3, backoffMs: 1_000, maxBackoffMs: 5_000 }

  it.live("counts failures: no window before the threshold, then one that doubles up to the most; a success resets", () =>
    Effect.gen(function*() {
      const throttle = yield* LoginThrottle.LoginThrottle
      const now = Date.now()
      expect(yield* throttle.failures("alice", now)).toBeUndefined()
      const windows: Array<number> = []
      for (let i = 0; i < 7; i++) windows.push((yield* throttle.recordFailure("alice", now, rule)).until - now)
      expect(windows).toEqual([0, 0, 1_000, 2_000, 4_000, 5_000, 5_000])
      expect(yield* throttle.failures("alice", now)).toEqual({ count: 7, until: now + 5_000 })
      // Usernames are kept apart, whatever their bytes.
      expect(yield* throttle.failures("alice ", now)).toBeUndefined()
      expect((yield* throttle.recordFailure("bob\u0000:*", now, rule)).count).toBe(1)
      yield* throttle.clear("alice")
      expect(yield* throttle.failures("alice", now)).toBeUndefined()
      expect((yield* throttle.recordFailure("alice", now, rule)).count).toBe(1)
    }).pipe(Effect.provide(backend.loginThrottle())))

  it.live("counts every one of concurrent failures", () =>
    Effect.gen(function*() {
      const throttle = yield* LoginThrottle.LoginThrottle
      const now = Date.now()
      yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        () => throttle.recordFailure("carol", now, rule),
        { concurrency: 20, discard: true }
      )
      expect((yield* throttle.failures("carol", now))?.count).toBe(20)
    }).pipe(Effect.provide(backend.loginThrottle())))

  it.live("forgets a record the most window after its window ended", () =>
    Effect.gen(function*() {
      const throttle = yield* LoginThrottle.LoginThrottle
      const short: LoginThrottle.Rule = { threshold: 2, backoffMs: 100, maxBackoffMs: 300 }
      yield* throttle.recordFailure("dave", Date.now(), short)
      expect((yield* throttle.failures("dave", Date.now()))?.count).toBe(1)
      yield* sleep(500)
      expect(yield* throttle.failures("dave", Date.now())).toBeUndefined()
    }).pipe(Effect.provide(backend.loginThrottle())))
}

/** Every contract, for one backend. */
export const allContracts = (backend: Backend) => {
  revocationContract(backend)
  apiKeyContract(backend)
  roleStoreContract(backend)
  grantsCacheContract(backend)
  introspectionCacheContract(backend)
  refreshContract(backend)
  loginThrottleContract(backend)
}
