/**
 * Warden's token service: password login, access and refresh pairs with
 * rotation and reuse detection, logout through the shared revocation store,
 * client credentials, signing-key rotation, JWKS and RFC 8414 metadata.
 *
 * @since 0.3.0
 */
export * as AuthRpc from "./AuthRpc.js"
export * as LoginThrottle from "./LoginThrottle.js"
export * as Password from "./Password.js"
export * as RefreshStore from "./RefreshStore.js"
export * as TokenApi from "./TokenApi.js"
export * as TokenService from "./TokenService.js"
export * as UserStore from "./UserStore.js"
