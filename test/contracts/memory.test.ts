/** The store contracts, kept by the memory layers. */
import { describe } from "@effect/vitest"
import { ApiKey, GrantsCache, RoleStore } from "@warden/core"
import { RevocationStore } from "@warden/jwt"
import { Introspection } from "@warden/oauth"
import { LoginThrottle, RefreshStore } from "@warden/token-service"
import { allContracts } from "./stores.js"

describe("the memory stores keep the store contracts", () => {
  allContracts({
    revocations: () => RevocationStore.layerMemory,
    apiKeys: () => ApiKey.layerMemory,
    roles: () => RoleStore.layerMemory(),
    grantsCache: (options) => GrantsCache.layerMemory(options),
    introspection: () => Introspection.layerCacheMemory,
    refresh: () => RefreshStore.layerMemory,
    loginThrottle: () => LoginThrottle.layerMemory
  })
})
