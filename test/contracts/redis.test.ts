/** The store contracts, kept by the Redis layers on a real redis-server. */
import { afterAll, beforeAll, describe } from "@effect/vitest"
import {
  ApiKeyStore,
  GrantsCache,
  IntrospectionCache,
  LoginThrottle,
  RedisClient,
  RefreshStore,
  RevocationStore,
  RoleStore
} from "@warden/redis"
import { TestRedis } from "@warden/testing"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { allContracts } from "./stores.js"

let url = ""
const scope = Effect.runSync(Scope.make())
beforeAll(async () => {
  url = (await Effect.runPromise(Scope.extend(TestRedis.shared, scope))).url
}, 30_000)
afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

/** A client of its own, with keys of its own. */
const client = () => RedisClient.layer({ url, keyPrefix: TestRedis.prefix() })

describe("the Redis stores keep the store contracts", () => {
  allContracts({
    revocations: () => RevocationStore.layer.pipe(Layer.provide(client())),
    apiKeys: () => ApiKeyStore.layer.pipe(Layer.provide(client())),
    roles: () => RoleStore.layer.pipe(Layer.provide(client())),
    grantsCache: (options) => GrantsCache.layer(options).pipe(Layer.provide(client())),
    introspection: () => IntrospectionCache.layer.pipe(Layer.provide(client())),
    refresh: () => RefreshStore.layer.pipe(Layer.provide(client())),
    loginThrottle: () => LoginThrottle.layer.pipe(Layer.provide(client()))
  })
})
