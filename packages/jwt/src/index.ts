/**
 * Warden's JWT bearer-token verification on jose: `JwtVerifier` (the
 * production `Authenticator` for JWTs), `KeyStore` (a JWKS kept fresh by a
 * scoped fiber), `JwksSource`, `RevocationStore` and `TokenIssuer`.
 *
 * @since 0.1.0
 */
export * as Discovery from "./Discovery.js"
export * as JwksSource from "./JwksSource.js"
export * as JwtVerifier from "./JwtVerifier.js"
export * as KeyStore from "./KeyStore.js"
export * as RevocationStore from "./RevocationStore.js"
export * as TokenIssuer from "./TokenIssuer.js"
