/**
 * Signs access tokens and publishes their keys: the issuing half of an
 * authorization server, for tests, examples and development identity
 * services. Keys are generated in memory; `rotate` adds a new signing key and
 * keeps the previous ones published until `retire`.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as jose from "jose"

/** A signing key and its public JWK. */
export interface SigningKey {
  readonly kid: string
  readonly alg: "RS256" | "PS256" | "ES256" | "EdDSA"
  readonly privateKey: jose.CryptoKey
  readonly publicJwk: jose.JWK
}

let counter = 0

/** Generates a signing key. */
export const generateKey = (
  alg: SigningKey["alg"] = "ES256",
  kid?: string
): Effect.Effect<SigningKey> =>
  Effect.promise(async () => {
    const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true })
    const id = kid ?? `key-${Date.now().toString(36)}-${(counter++).toString(36)}`
    const publicJwk = { ...(await jose.exportJWK(publicKey)), kid: id, alg, use: "sig" }
    return { kid: id, alg, privateKey, publicJwk }
  })

/** The claims of a token to issue; `iat`, `exp` and `jti` are filled in unless given. */
export interface TokenClaims {
  readonly [claim: string]: unknown
}

/** Signs claims as a compact JWS with `typ` `at+jwt` (unless `header.typ` says otherwise). */
export const sign = (
  key: SigningKey,
  claims: TokenClaims,
  options: { readonly lifetimeSeconds?: number; readonly header?: Readonly<Record<string, unknown>> } = {}
): Effect.Effect<string> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.promise(() => {
      const iat = Math.floor(now / 1000)
      const payload = {
        iat,
        exp: iat + (options.lifetimeSeconds ?? 300),
        jti: `jti-${now.toString(36)}-${(counter++).toString(36)}`,
        ...claims
      }
      return new jose.SignJWT(payload)
        .setProtectedHeader({ typ: "at+jwt", ...options.header, alg: key.alg, kid: key.kid })
        .sign(key.privateKey)
    }))

/** A JWKS document publishing the given keys. */
export const jwks = (keys: ReadonlyArray<SigningKey>): { readonly keys: ReadonlyArray<jose.JWK> } => ({
  keys: keys.map((k) => k.publicJwk)
})
