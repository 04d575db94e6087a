/**
 * Warden's test kit: arbitraries for property-based tests (`Arbitraries`,
 * with tokens as `TokenRecipe`s and their `Mutation`s), a
 * `TestIdentityProvider` on loopback (keys, JWKS, a token endpoint), and
 * `TestRpc` to run protected RPC groups as a given principal.
 *
 * @since 0.1.0
 */
export * as Arbitraries from "./Arbitraries.js"
export * as ClaimSet from "./ClaimSet.js"
export * as Mutation from "./Mutation.js"
export * as TestIdentityProvider from "./TestIdentityProvider.js"
export * as TestNet from "./TestNet.js"
export * as TestPki from "./TestPki.js"
export * as TestRedis from "./TestRedis.js"
export * as TestRpc from "./TestRpc.js"
export * as TokenRecipe from "./TokenRecipe.js"
