/**
 * Role assignments on Redis: a set of role names per (tenant, subject),
 * shared by every instance. Pair it with `GrantsCache.layer` from this
 * package so an assignment made on one instance is seen by all at once.
 *
 * @since 0.3.0
 */
import * as RoleStore from "@warden/core/RoleStore"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { RedisClient } from "./RedisClient.js"

const store = "role"

/**
 * The role store on the shared `RedisClient`.
 *
 * @since 0.3.0
 * @category layers
 */
export const layer: Layer.Layer<RoleStore.RoleStore, never, RedisClient> = Layer.effect(
  RoleStore.RoleStore,
  Effect.map(RedisClient, (client) => {
    // A tenant id holds no ':', so the tenant ends where the subject begins.
    const keyOf = (subject: string, tenant: string) => `${client.keyPrefix}roles:${tenant}:${subject}`
    const unavailable = (e: { readonly message: string }) =>
      new RoleStore.RoleStoreUnavailable({ message: `the role store: ${e.message}` })
    return {
      rolesOf: (subject, tenant) =>
        client.run(store, (redis) => redis.smembers(keyOf(subject, tenant))).pipe(
          Effect.map((roles) => roles.sort()),
          Effect.mapError(unavailable)
        ),
      assign: (subject, tenant, roles) =>
        client.run(store, async (redis) => {
          const multi = redis.multi().del(keyOf(subject, tenant))
          if (roles.length > 0) multi.sadd(keyOf(subject, tenant), ...roles)
          const results = await multi.exec()
          const failed = results?.find(([error]) => error !== null)
          if (results === null || failed !== undefined) throw failed?.[0] ?? new Error("the assignment was aborted")
        }).pipe(Effect.mapError(unavailable))
    }
  })
)
