/**
 * 9. The shared stores: the added cost per call of the revocation check and
 *    of reading grants through the grants cache, on the memory layers and on
 *    Redis (a redis-server on loopback: `WARDEN_REDIS_URL`, or one started
 *    for the run), side by side in one run. Each figure is one call run as
 *    its own Effect (`Effect.runPromise`), the cost of an empty run
 *    subtracted.
 */
import {
  GrantsCache as CoreGrantsCache,
  GrantSource,
  Permission,
  Principal,
  Roles,
  RoleStore as CoreRoleStore
} from "@warden/core"
import type { Scopes } from "@warden/core"
import { RevocationStore as CoreRevocationStore } from "@warden/jwt"
import { GrantsCache, RedisClient, RevocationStore, RoleStore } from "@warden/redis"
import * as TestRedis from "@warden/testing/TestRedis"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { check, timeCases } from "./lib/harness.js"
import type { Timing } from "./lib/harness.js"

export interface StoresResults {
  readonly url: string
  readonly timings: ReadonlyArray<Timing>
}

const Perms = Permission.catalogue("orders:order:read", "orders:order:write")
const roles = Roles.define(Perms, { clerk: { allow: ["orders:order:*"] } })

export const names = {
  empty: "Effect.runPromise(Effect.void)",
  revocationMemory: "revocation check, memory",
  revocationRedis: "revocation check, Redis",
  grantsMemoryHit: "grants, memory cache hit",
  grantsRedisLocal: "grants, Redis cache hit in process",
  grantsRedisHit: "grants, Redis cache hit in Redis",
  grantsMemoryMiss: "grants after an invalidation, memory",
  grantsRedisMiss: "grants after an invalidation, Redis"
} as const

export const run = async (log: (line: string) => void, rounds = 5): Promise<StoresResults> => {
  const scope = Effect.runSync(Scope.make())
  try {
    const redis = await Effect.runPromise(Scope.extend(TestRedis.shared, scope))
    log(`   Redis at ${redis.url}`)
    const build = <A>(layer: Layer.Layer<A>) => Effect.runPromise(Scope.extend(Layer.build(layer), scope))
    const client = RedisClient.layer({ url: redis.url, keyPrefix: TestRedis.prefix() })
    const memory = await build(Layer.mergeAll(
      CoreRevocationStore.layerMemory,
      CoreRoleStore.layerMemory([{ subject: "dave", tenant: "acme", roles: ["clerk"] }]),
      CoreGrantsCache.layerMemory()
    ))
    const shared = await build(
      Layer.mergeAll(RevocationStore.layer, RoleStore.layer, GrantsCache.layer()).pipe(Layer.provide(client))
    )
    // The same, with no copy in process: every hit is a round trip.
    const sharedRemote = await build(
      Layer.mergeAll(RoleStore.layer, GrantsCache.layer({ localTtl: 0 })).pipe(Layer.provide(client))
    )
    const sourceOf = (context: Context.Context<CoreRoleStore.RoleStore | CoreGrantsCache.GrantsCache>) =>
      Effect.runPromise(Effect.provide(GrantSource.fromRoles(roles), context))
    await Effect.runPromise(
      Effect.flatMap(CoreRoleStore.RoleStore, (s) => s.assign("dave", "acme", ["clerk"])).pipe(Effect.provide(shared))
    )
    const memorySource = await sourceOf(memory)
    const redisSource = await sourceOf(shared)
    const remoteSource = await sourceOf(sharedRemote)
    const dave = Principal.make({ subject: "dave", tenant: "acme", issuer: "https://id", tokenId: "t-1", issuedAt: 1 })
    // Something is revoked in each store (an empty memory store answers without looking).
    const until = Math.floor(Date.now() / 1000) + 3_600
    const revokeOther = Effect.flatMap(
      CoreRevocationStore.RevocationStore,
      (s) => s.revoke({ issuer: "https://id", tokenId: "other" }, until)
    )
    await Effect.runPromise(Effect.provide(revokeOther, memory))
    await Effect.runPromise(Effect.provide(revokeOther, shared))
    const memoryRevocations = Context.get(memory, CoreRevocationStore.RevocationStore)
    const redisRevocations = Context.get(shared, CoreRevocationStore.RevocationStore)
    const memoryCache = Context.get(memory, CoreGrantsCache.GrantsCache)
    const redisCache = Context.get(shared, CoreGrantsCache.GrantsCache)
    const tenant = dave.tenant
    const allowed = (grants: Scopes.Grants) =>
      check(grants.permissions.check("orders:order:read")._tag === "Allowed", "the clerk reads orders")
    const grants = (source: GrantSource.GrantSource["Type"]) => () =>
      Effect.runPromise(source.grants(dave, tenant)).then(allowed)
    const afterInvalidation = (
      source: GrantSource.GrantSource["Type"],
      cache: CoreGrantsCache.GrantsCache["Type"]
    ) =>
    () =>
      Effect.runPromise(Effect.zipRight(cache.invalidate("dave", tenant), source.grants(dave, tenant))).then(allowed)
    // Warm every path once, and check each answers what it should.
    check(!(await Effect.runPromise(memoryRevocations.isRevoked(dave))), "dave's token is live (memory)")
    check(!(await Effect.runPromise(redisRevocations.isRevoked(dave))), "dave's token is live (Redis)")
    check(
      await Effect.runPromise(redisRevocations.isRevoked({ ...dave, tokenId: "other" })),
      "the other token is revoked (Redis)"
    )
    await grants(redisSource)()
    check(redisCache.getNow?.("dave", tenant) !== undefined, "the Redis cache holds a copy in process")
    const timings = await timeCases([
      { name: names.empty, fn: () => Effect.runPromise(Effect.void) },
      { name: names.revocationMemory, fn: () => Effect.runPromise(memoryRevocations.isRevoked(dave)) },
      { name: names.revocationRedis, fn: () => Effect.runPromise(redisRevocations.isRevoked(dave)) },
      { name: names.grantsMemoryHit, fn: grants(memorySource) },
      { name: names.grantsRedisLocal, fn: grants(redisSource) },
      { name: names.grantsRedisHit, fn: grants(remoteSource) },
      { name: names.grantsMemoryMiss, fn: afterInvalidation(memorySource, memoryCache) },
      { name: names.grantsRedisMiss, fn: afterInvalidation(redisSource, redisCache) }
    ], rounds)
    return { url: redis.url, timings }
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}
