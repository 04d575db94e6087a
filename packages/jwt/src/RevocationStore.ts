/**
 * Revoked tokens, keyed by (issuer, `jti`), never by the token string: a
 * signature can be re-encoded, so the token string is not an identity, while
 * the issuer and token id are covered by the signature.
 *
 * The interface is effectful so a shared store (Redis) can implement it.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** What identifies a token for revocation. */
export interface TokenRef {
  readonly issuer: string
  readonly tokenId: string
}

/** Revocation lookups and writes. */
export class RevocationStore extends Context.Tag("@warden/jwt/RevocationStore")<RevocationStore, {
  /** Revokes a token until `expiresAt` (epoch seconds): after that it is rejected as expired anyway. */
  readonly revoke: (token: TokenRef, expiresAt: number) => Effect.Effect<void>
  readonly isRevoked: (token: TokenRef) => Effect.Effect<boolean>
}>() {}

const keyOf = (token: TokenRef): string => `${token.issuer.length}:${token.issuer}${token.tokenId}`

/**
 * An in-memory store. Entries are kept until the token's expiry and swept on
 * writes, so the store holds at most the tokens revoked and not yet expired.
 */
export const layerMemory: Layer.Layer<RevocationStore> = Layer.sync(RevocationStore, () => {
  const entries = new Map<string, number>()
  const sweep = (nowSeconds: number) => {
    for (const [key, expiresAt] of entries) if (expiresAt <= nowSeconds) entries.delete(key)
  }
  return {
    revoke: (token, expiresAt) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        sweep(now / 1000)
        entries.set(keyOf(token), expiresAt)
      }),
    isRevoked: (token) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const expiresAt = entries.get(keyOf(token))
        return expiresAt !== undefined && expiresAt > now / 1000
      })
  }
})

/** No revocation at all (every token is live until it expires). Explicit, for services that do not revoke. */
export const layerNone: Layer.Layer<RevocationStore> = Layer.succeed(RevocationStore, {
  revoke: () => Effect.void,
  isRevoked: () => Effect.succeed(false)
})
