/**
 * Warden's shared state on Redis: the same interfaces as the memory layers
 * (revocations, API keys, role assignments, the grants cache, the
 * introspection cache), shared by every instance, failing closed when Redis
 * does not answer.
 *
 * @since 0.3.0
 */
export * as ApiKeyStore from "./ApiKeyStore.js"
export * as GrantsCache from "./GrantsCache.js"
export * as IntrospectionCache from "./IntrospectionCache.js"
export * as LoginThrottle from "./LoginThrottle.js"
export * as RedisClient from "./RedisClient.js"
export * as RefreshStore from "./RefreshStore.js"
export * as RevocationStore from "./RevocationStore.js"
export * as RoleStore from "./RoleStore.js"
