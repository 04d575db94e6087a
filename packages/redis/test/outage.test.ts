/**
 * Redis goes away and comes back, for real: a redis-server of the test's
 * own is stopped and started again. Every store answers `unavailable`
 * within its timeout, protected requests are refused (never allowed, never
 * a defect, never left hanging), the metric counts it, and service resumes
 * by itself.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  ApiKey,
  AuditLog,
  Credential,
  GrantsCache as CoreGrantsCache,
  GrantSource,
  Guard,
  Permission,
  Policy,
  Principal,
  Roles,
  RoleStore as CoreRoleStore
} from "@warden/core"
import { RevocationStore as CoreRevocationStore } from "@warden/jwt"
import { Introspection } from "@warden/oauth"
import { ApiKeyStore, GrantsCache, IntrospectionCache, RedisClient, RevocationStore, RoleStore } from "@warden/redis"
import { TestIdentityProvider } from "@warden/testing"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import { clientLayer, eventually, TestRedis } from "./support.js"

const Perms = Permission.catalogue("orders:order:read")
const roles = Roles.define(Perms, { auditor: { allow: ["orders:order:read"] } })

const unavailableCount = (store: string) =>
  Metric.value(Metric.tagged(RedisClient.metrics.unavailable, "store", store)).pipe(Effect.map((s) => s.count))

/** Fails the test if `self` has not ended within five seconds: a hang is a failure, not a wait. */
const bounded = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.timeout(Effect.exit(self), "5 seconds").pipe(
    Effect.catchTag("TimeoutException", () => Effect.dieMessage("the store hung past 5 seconds"))
  )

const failedWith = (exit: Exit.Exit<unknown, { readonly _tag: string }>) =>
  Exit.isFailure(exit) && exit.cause._tag === "Fail"
    ? exit.cause.error._tag
    : Exit.isSuccess(exit)
    ? "success"
    : "defect"

describe("when Redis is down", () => {
  it.scopedLive("every store answers unavailable, protected requests are refused, and service resumes", () =>
    Effect.gen(function*() {
      const redis = yield* TestRedis.spawn
      const stores = Layer.mergeAll(
        RevocationStore.layer,
        ApiKeyStore.layer,
        RoleStore.layer,
        GrantsCache.layer({ ttl: "1 hour" }),
        IntrospectionCache.layer
      ).pipe(Layer.provide(clientLayer(redis.url, TestRedis.prefix(), "200 millis")))
      const shared = yield* Layer.build(stores)
      const revocations = Layer.succeed(
        CoreRevocationStore.RevocationStore,
        Context.get(shared, CoreRevocationStore.RevocationStore)
      )
      const built = yield* Layer.build(
        Guard.layer.pipe(
          Layer.provide(GrantSource.layerRoles(roles)),
          Layer.provide(TestIdentityProvider.layerAuthenticator({ revocations })),
          Layer.provideMerge(Layer.succeedContext(shared)),
          Layer.provideMerge(TestIdentityProvider.layer()),
          Layer.provide(AuditLog.layerMemory)
        )
      )
      const provider = yield* Effect.provide(TestIdentityProvider.TestIdentityProvider, built)
      const dave = Principal.make({ subject: "dave", tenant: "acme", issuer: provider.issuer })
      const token = yield* provider.issue(dave)
      const request = {
        credential: Either.right(Credential.bearer(token)),
        tenant: undefined,
        operation: { name: "Read", resolve: true, policy: Policy.permission(Perms, "orders:order:read") }
      } satisfies Guard.Request
      const decide = Effect.flatMap(Guard.Guard, (g) => Effect.either(g.run(request))).pipe(
        Effect.map((e) => Either.isLeft(e) ? e.left.reason : "allowed"),
        Effect.provide(built)
      )
      yield* GrantSource.assign("dave", "acme", ["auditor"]).pipe(Effect.provide(built))
      expect(yield* decide).toBe("allowed")

      const before = {
        revocation: yield* unavailableCount("revocation"),
        api_key: yield* unavailableCount("api_key"),
        role: yield* unavailableCount("role"),
        grants_cache: yield* unavailableCount("grants_cache"),
        introspection: yield* unavailableCount("introspection")
      }
      yield* redis.stop

      const refused = yield* bounded(decide)
      expect(refused).toEqual(Exit.succeed("unavailable"))
      const each = yield* Effect.all({
        revocation: bounded(
          Effect.flatMap(
            CoreRevocationStore.RevocationStore,
            (s) => s.isRevoked({ issuer: "https://id", tokenId: "t", subject: "dave", issuedAt: 1 })
          )
        ),
        api_key: bounded(Effect.flatMap(ApiKey.ApiKeyStore, (s) => s.find("k-1"))),
        role: bounded(Effect.flatMap(CoreRoleStore.RoleStore, (s) => s.rolesOf("dave", "acme"))),
        grants_cache: bounded(Effect.flatMap(CoreGrantsCache.GrantsCache, (s) => s.invalidate("dave"))),
        introspection: bounded(Effect.flatMap(Introspection.IntrospectionCache, (s) => s.get("h")))
      }).pipe(Effect.provide(built))
      expect(Object.fromEntries(Object.entries(each).map(([k, exit]) => [k, failedWith(exit)]))).toEqual({
        revocation: "RevocationUnavailable",
        api_key: "ApiKeyStoreUnavailable",
        role: "@warden/RoleStoreUnavailable",
        grants_cache: "@warden/GrantsCacheUnavailable",
        introspection: "@warden/IntrospectionCacheUnavailable"
      })
      // The error says what failed, and never where Redis is (its URL could hold a password).
      const error = each.api_key
      expect(Exit.isFailure(error) && JSON.stringify(error.cause)).not.toContain(redis.url)
      for (const [store, count] of Object.entries(before)) {
        expect(yield* unavailableCount(store), store).toBeGreaterThan(count)
      }
      yield* redis.start
      // The restarted server kept nothing (no persistence here): answers come back, the roles must be assigned again.
      expect(yield* eventually(Effect.map(decide, (r) => r !== "unavailable"), 100)).toBe(true)
      expect(yield* decide).toBe("missing_permission")
      yield* GrantSource.assign("dave", "acme", ["auditor"]).pipe(Effect.provide(built))
      expect(yield* decide).toBe("allowed")
    }))
})
