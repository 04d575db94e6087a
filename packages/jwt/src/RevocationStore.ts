/**
 * Revoked tokens, keyed by (issuer, `jti`), never by the token string: a
 * signature can be re-encoded, so the token string is not an identity, while
 * the issuer and token id are covered by the signature.
 *
 * The interface is effectful so a shared store (Redis) can implement it. A
 * store keeps a revocation until the `until` it was given, the end of the
 * verifier's acceptance window (`exp` plus the clock skew): `JwtVerifier`'s
 * `revoke` computes it, so an application never passes a bare `exp`.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** What identifies a token for revocation. */
export interface TokenRef {
  readonly issuer: string
  readonly tokenId: string
}

/**
 * The store could not answer (a shared store is down or too slow). The
 * verifier turns it into an `unavailable` refusal: a token whose revocation
 * cannot be checked is not accepted.
 *
 * @since 0.2.0
 */
export class RevocationUnavailable extends Data.TaggedError("RevocationUnavailable")<{ readonly message: string }> {}

/** Revocation lookups and writes. */
export class RevocationStore extends Context.Tag("@warden/jwt/RevocationStore")<RevocationStore, {
  /**
   * Revokes a token until `until` (epoch seconds), which must be the end of the verifier's acceptance of it: its
   * `exp` plus the clock skew, as `JwtVerifier`'s `acceptedUntil` gives it. After that it is refused as expired
   * anyway; forgotten any sooner, it would be accepted again meanwhile. `JwtVerifier`'s `revoke` passes exactly
   * that: prefer it.
   */
  readonly revoke: (token: TokenRef, until: number) => Effect.Effect<void, RevocationUnavailable>
  /** Whether the token is revoked; fails with `RevocationUnavailable` when the store cannot tell. */
  readonly isRevoked: (token: TokenRef) => Effect.Effect<boolean, RevocationUnavailable>
  /**
   * Optional: `isRevoked` without running an Effect, for a store that can answer from memory; `undefined` when it
   * cannot answer so (it must ask elsewhere, or it is unavailable), and `isRevoked` must run. The verifier's fast
   * path uses it.
   *
   * @since 0.2.0
   */
  readonly isRevokedNow?: (token: TokenRef, nowMillis: number) => boolean | undefined
}>() {}

const keyOf = (token: TokenRef): string => `${token.issuer.length}:${token.issuer}${token.tokenId}`

/**
 * An in-memory store. Entries are kept until their `until` and swept on
 * writes, so the store holds at most the tokens revoked and still accepted.
 */
export const layerMemory: Layer.Layer<RevocationStore> = Layer.sync(RevocationStore, () => {
  const entries = new Map<string, number>()
  const revokedAt = (token: TokenRef, nowMillis: number) => {
    // Most of the time nothing is revoked: no key to build.
    if (entries.size === 0) return false
    const until = entries.get(keyOf(token))
    return until !== undefined && until > nowMillis / 1000
  }
  const sweep = (nowSeconds: number) => {
    for (const [key, until] of entries) if (until <= nowSeconds) entries.delete(key)
  }
  return {
    revoke: (token, until) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        sweep(now / 1000)
        entries.set(keyOf(token), Math.max(until, entries.get(keyOf(token)) ?? until))
      }),
    isRevoked: (token) => Effect.map(Clock.currentTimeMillis, (now) => revokedAt(token, now)),
    isRevokedNow: revokedAt
  }
})

/** No revocation at all (every token is live until it expires). Explicit, for services that do not revoke. */
export const layerNone: Layer.Layer<RevocationStore> = Layer.succeed(RevocationStore, {
  revoke: () => Effect.void,
  isRevoked: () => Effect.succeed(false),
  isRevokedNow: () => false
})
