/**
 * Warden talking to the authorization server: `TokenSource`s with managed
 * refresh (`ClientCredentials`, `RefreshToken`), client authentication, and
 * RFC 7662 `Introspection` for opaque tokens.
 *
 * @since 0.1.0
 */
export * as ClientAuth from "./ClientAuth.js"
export * as ClientCredentials from "./ClientCredentials.js"
export * as Introspection from "./Introspection.js"
export * as Outgoing from "./Outgoing.js"
export * as RefreshToken from "./RefreshToken.js"
export * as TokenExchange from "./TokenExchange.js"
export * as TokenSource from "./TokenSource.js"
