/**
 * Two instances sharing one Redis, each with its own client, cache and
 * guard: what one changes, the other sees.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  AuditLog,
  Authenticator,
  Credential,
  GrantsCache as CoreGrantsCache,
  GrantSource,
  Guard,
  Permission,
  Policy,
  Principal,
  Roles
} from "@warden/core"
import { GrantsCache, RoleStore } from "@warden/redis"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { clientLayer, eventually, TestRedis } from "./support.js"

const Perms = Permission.catalogue("orders:order:read", "orders:order:refund")
const roles = Roles.define(Perms, {
  auditor: { allow: ["orders:order:read"] },
  manager: { allow: ["orders:*"] }
})
const dave = Principal.make({ subject: "dave", tenant: "acme", tenants: ["globex"], issuer: "https://id" })

const outcome = (permission: (typeof Perms.permissions)[number], tenant?: string) =>
  Effect.flatMap(Guard.Guard, (guard) =>
    Effect.either(guard.run({
      credential: Either.right(Credential.bearer("tok-dave")),
      tenant,
      operation: { name: "Op", resolve: true, policy: Policy.permission(Perms, permission) }
    }))).pipe(Effect.map((e) => Either.isLeft(e) ? e.left.reason : "allowed"))

const instance = (url: string, prefix: string) =>
  Guard.layer.pipe(
    Layer.provide(GrantSource.layerRoles(roles)),
    Layer.provideMerge(Layer.mergeAll(RoleStore.layer, GrantsCache.layer({ ttl: "1 hour" }))),
    Layer.provide(clientLayer(url, prefix)),
    Layer.provide(Authenticator.layerTest([["tok-dave", dave]])),
    Layer.provide(AuditLog.layerMemory)
  )

describe("two instances on one Redis", () => {
  it.scopedLive("a role change made on one is seen by the other at once, though its cache lives an hour", () =>
    Effect.gen(function*() {
      const server = yield* TestRedis.shared
      const prefix = TestRedis.prefix()
      const a = yield* Layer.build(instance(server.url, prefix))
      const b = yield* Layer.build(instance(server.url, prefix))
      yield* GrantSource.assign("dave", "acme", ["manager"]).pipe(Effect.provide(a))
      yield* GrantSource.assign("dave", "globex", ["auditor"]).pipe(Effect.provide(a))
      expect(yield* outcome("orders:order:refund").pipe(Effect.provide(b))).toBe("allowed")
      expect(yield* outcome("orders:order:refund", "globex").pipe(Effect.provide(b))).toBe("missing_permission")
      // b now holds dave's roles in its own memory too.
      expect(yield* outcome("orders:order:refund").pipe(Effect.provide(b))).toBe("allowed")
      yield* GrantSource.assign("dave", "acme", ["auditor"]).pipe(Effect.provide(a))
      // Redis answers b at once (the generation moved); its own copy is dropped when the message arrives.
      expect(
        yield* eventually(Effect.map(outcome("orders:order:refund").pipe(Effect.provide(b)), (r) => r !== "allowed"))
      )
        .toBe(true)
      expect(yield* outcome("orders:order:refund").pipe(Effect.provide(b))).toBe("missing_permission")
      const cacheB = yield* Effect.provide(CoreGrantsCache.GrantsCache, b)
      expect(yield* eventually(Effect.sync(() => cacheB.getNow?.("dave", "acme")?.includes("manager") !== true)))
        .toBe(true)
      expect(yield* outcome("orders:order:read", "globex").pipe(Effect.provide(b))).toBe("allowed")
    }))

  it.scopedLive("an invalidation of every tenant made on one reaches the other's copies", () =>
    Effect.gen(function*() {
      const server = yield* TestRedis.shared
      const prefix = TestRedis.prefix()
      const a = yield* Layer.build(instance(server.url, prefix))
      const b = yield* Layer.build(instance(server.url, prefix))
      const cacheA = yield* Effect.provide(CoreGrantsCache.GrantsCache, a)
      const cacheB = yield* Effect.provide(CoreGrantsCache.GrantsCache, b)
      for (const tenant of ["acme", "globex"]) {
        const miss = yield* cacheB.get("dave", tenant)
        if (miss._tag === "Miss") yield* cacheB.set("dave", tenant, ["manager"], miss.stamp)
      }
      expect(yield* eventually(Effect.sync(() => cacheB.getNow?.("dave", "globex") !== undefined))).toBe(true)
      yield* cacheA.invalidate("dave")
      expect(
        yield* eventually(Effect.sync(() =>
          cacheB.getNow?.("dave", "acme") === undefined && cacheB.getNow?.("dave", "globex") === undefined
        ))
      ).toBe(true)
      expect((yield* cacheB.get("dave", "acme"))._tag).toBe("Miss")
      expect((yield* cacheB.get("dave", "globex"))._tag).toBe("Miss")
    }))
})
