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
 * Besides single tokens, a store keeps cutoffs by subject: "every token of
 * this subject from this issuer issued at or before this time" (logout
 * everywhere), which also covers tokens without `jti`. A token that does not
 * say when it was issued (no `iat`) is refused while its subject has a cutoff.
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
 * A subject, for a cutoff over all of its tokens.
 *
 * @since 0.3.0
 */
export interface SubjectRef {
  readonly issuer: string
  readonly subject: string
}

/**
 * A token as the verifier presents it to the store: what identifies it, its
 * subject and when it was issued.
 *
 * @since 0.3.0
 */
export interface Presented {
  readonly issuer: string
  readonly tokenId: string | null
  readonly subject: string
  readonly issuedAt: number | null
}

/**
 * Whether a presented token falls under a subject cutoff (`before`, epoch
 * seconds): issued at or before it, or not saying when it was issued. The
 * rule every store applies.
 *
 * @since 0.3.0
 */
export const cutOff = (token: Presented, before: number): boolean => token.issuedAt === null || token.issuedAt <= before

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
  /**
   * Refuses every token of `subject` issued at or before `before` (epoch seconds), until `until`, which must be
   * the end of the acceptance of the last such token (`before` plus the longest lifetime plus the clock skew, as
   * `JwtVerifier`'s `revokeSubject` gives it). A later cutoff replaces an earlier one; an earlier never shortens it.
   *
   * @since 0.3.0
   */
  readonly revokeSubject: (
    subject: SubjectRef,
    before: number,
    until: number
  ) => Effect.Effect<void, RevocationUnavailable>
  /**
   * Whether the token is revoked, by its `jti` or by a cutoff of its subject; fails with `RevocationUnavailable`
   * when the store cannot tell.
   */
  readonly isRevoked: (token: Presented) => Effect.Effect<boolean, RevocationUnavailable>
  /**
   * Optional: `isRevoked` without running an Effect, for a store that can answer from memory; `undefined` when it
   * cannot answer so (it must ask elsewhere, or it is unavailable), and `isRevoked` must run. The verifier's fast
   * path uses it.
   *
   * @since 0.2.0
   */
  readonly isRevokedNow?: (token: Presented, nowMillis: number) => boolean | undefined
}>() {}

const keyOf = (token: TokenRef): string => `${token.issuer.length}:${token.issuer}${token.tokenId}`
const subjectKeyOf = (subject: SubjectRef): string => `${subject.issuer.length}:${subject.issuer}${subject.subject}`

/**
 * An in-memory store. Entries are kept until their `until` and swept on
 * writes, so the store holds at most the tokens revoked and still accepted.
 */
export const layerMemory: Layer.Layer<RevocationStore> = Layer.sync(RevocationStore, () => {
  const entries = new Map<string, number>()
  const cutoffs = new Map<string, { readonly before: number; readonly until: number }>()
  const revokedAt = (token: Presented, nowMillis: number) => {
    // Most of the time nothing is revoked: no key to build.
    if (entries.size === 0 && cutoffs.size === 0) return false
    const nowSeconds = nowMillis / 1000
    if (token.tokenId !== null && entries.size > 0) {
      const until = entries.get(keyOf({ issuer: token.issuer, tokenId: token.tokenId }))
      if (until !== undefined && until > nowSeconds) return true
    }
    if (cutoffs.size === 0) return false
    const cutoff = cutoffs.get(subjectKeyOf(token))
    return cutoff !== undefined && cutoff.until > nowSeconds && cutOff(token, cutoff.before)
  }
  const sweep = (nowSeconds: number) => {
    for (const [key, until] of entries) if (until <= nowSeconds) entries.delete(key)
    for (const [key, cutoff] of cutoffs) if (cutoff.until <= nowSeconds) cutoffs.delete(key)
  }
  return {
    revoke: (token, until) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        sweep(now / 1000)
        entries.set(keyOf(token), Math.max(until, entries.get(keyOf(token)) ?? until))
      }),
    revokeSubject: (subject, before, until) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        sweep(now / 1000)
        const key = subjectKeyOf(subject)
        const current = cutoffs.get(key)
        cutoffs.set(key, {
          before: Math.max(before, current?.before ?? before),
          until: Math.max(until, current?.until ?? until)
        })
      }),
    isRevoked: (token) => Effect.map(Clock.currentTimeMillis, (now) => revokedAt(token, now)),
    isRevokedNow: revokedAt
  }
})

/** No revocation at all (every token is live until it expires). Explicit, for services that do not revoke. */
export const layerNone: Layer.Layer<RevocationStore> = Layer.succeed(RevocationStore, {
  revoke: () => Effect.void,
  revokeSubject: () => Effect.void,
  isRevoked: () => Effect.succeed(false),
  isRevokedNow: () => false
})
