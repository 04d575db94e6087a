/**
 * Where the shop's services keep what they share: revocations, API keys,
 * role assignments, the grants cache, and the identity service's refresh
 * token families and failed-login counts. In memory by default (one process,
 * nothing to install); on Redis when `SHOP_REDIS_URL` is set, each service
 * instance with a connection of its own, so a revocation or a role change on
 * one instance is seen by every other.
 */
import { ApiKey, GrantsCache, RoleStore } from "@warden/core"
import { RevocationStore } from "@warden/jwt"
import * as Redis from "@warden/redis"
import { LoginThrottle, RefreshStore } from "@warden/token-service"
import * as Config from "effect/Config"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"

/** The stores one service instance uses. */
export type Stores =
  | RevocationStore.RevocationStore
  | ApiKey.ApiKeyStore
  | RoleStore.RoleStore
  | GrantsCache.GrantsCache
  | RefreshStore.RefreshStore
  | LoginThrottle.LoginThrottle

export interface State {
  readonly kind: "memory" | "redis"
  /** The stores of one more service instance, for the scope's life. */
  readonly instance: Effect.Effect<Context.Context<Stores>, never, Scope.Scope>
}

/** How long an instance trusts the roles it read: a change made elsewhere is seen sooner on Redis (invalidation). */
const grantsTtl = "30 seconds"

/** One set of stores in this process, shared by every service of the shop. */
export const memory: Effect.Effect<State, never, Scope.Scope> = Effect.map(
  Layer.build(Layer.mergeAll(
    RevocationStore.layerMemory,
    ApiKey.layerMemory,
    RoleStore.layerMemory(),
    GrantsCache.layerMemory({ ttl: grantsTtl }),
    RefreshStore.layerMemory,
    LoginThrottle.layerMemory
  )),
  (stores) => ({ kind: "memory", instance: Effect.succeed(stores) })
)

/** Stores on the Redis at `url`, under `keyPrefix`: each instance gets its own client, cache and subscription. */
export const redis = (url: string, keyPrefix = "shop:"): State => ({
  kind: "redis",
  instance: Layer.build(
    Layer.mergeAll(
      Redis.RevocationStore.layer,
      Redis.ApiKeyStore.layer,
      Redis.RoleStore.layer,
      Redis.GrantsCache.layer({ ttl: grantsTtl }),
      Redis.RefreshStore.layer,
      Redis.LoginThrottle.layer
    ).pipe(Layer.provide(Redis.RedisClient.layer({ url, keyPrefix })))
  )
})

/** Redis when `SHOP_REDIS_URL` names one (and `SHOP_REDIS_PREFIX` its key prefix, default `shop:`), else memory. */
export const fromConfig: Effect.Effect<State, never, Scope.Scope> = Effect.gen(function*() {
  const url = yield* Config.option(Config.nonEmptyString("SHOP_REDIS_URL")).pipe(Effect.orDie)
  if (Option.isNone(url)) return yield* memory
  const prefix = yield* Config.string("SHOP_REDIS_PREFIX").pipe(Config.withDefault("shop:"), Effect.orDie)
  return redis(url.value, prefix)
})
