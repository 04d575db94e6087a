/**
 * Fetching a JSON Web Key Set over HTTP, defensively: https only (plain http
 * only to a loopback host, and only when allowed explicitly), a timeout, a
 * body size cap, no redirects, and a Schema decode that drops private keys and
 * keys not meant for verifying signatures.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Endpoint from "@warden/core/Endpoint"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { createHash } from "node:crypto"
import * as FetchJson from "./internal/fetchJson.js"

/** Why a JWKS fetch failed. */
export type FetchFailure = FetchJson.Failure

/** A JWKS fetch that failed. The message never contains response bodies. */
export class JwksFetchError extends Data.TaggedError("JwksFetchError")<{
  readonly reason: FetchFailure
  readonly message: string
}> {}

/** A public verification key as published in a JWKS. */
export const PublicJwk = Schema.Struct({
  kty: Schema.Literal("RSA", "EC", "OKP"),
  kid: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256))),
  alg: Schema.optional(Schema.String),
  use: Schema.optional(Schema.String),
  key_ops: Schema.optional(Schema.Array(Schema.String)),
  crv: Schema.optional(Schema.String),
  n: Schema.optional(Schema.String),
  e: Schema.optional(Schema.String),
  x: Schema.optional(Schema.String),
  y: Schema.optional(Schema.String)
})

/** @since 0.1.0 */
export type PublicJwk = typeof PublicJwk.Type

const privateMembers = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] as const

/**
 * Why a key of a set was not taken (RFC 7517 §5: a key that cannot be used is
 * ignored, the rest of the set still serves). `unidentifiable`: no `kid`, and
 * no RFC 7638 thumbprint to name it by either (a required member is missing).
 */
export type Dropped = "private" | "not_for_signatures" | "unsupported" | "unidentifiable"

/** A decoded key set: the usable keys (each named by `idOf`), and how many were dropped and why. */
export interface KeySet {
  readonly keys: ReadonlyArray<PublicJwk>
  readonly dropped: ReadonlyArray<Dropped>
  /** `Cache-Control: max-age` of the response, in seconds, if any. */
  readonly maxAgeSeconds: number | undefined
}

const decodeJwk = Schema.decodeUnknownEither(PublicJwk)

/**
 * Whether an RSA public exponent makes a key at all: odd and at least 3. With e = 1 a signature is its own
 * encoded message, so anyone could sign with the key.
 */
const usableExponent = (e: string | undefined): boolean => {
  if (e === undefined || !/^[A-Za-z0-9_-]+$/.test(e)) return false
  const value = BigInt(`0x${Buffer.from(e, "base64url").toString("hex") || "0"}`)
  return value >= 3n && value % 2n === 1n
}

/** The members an RFC 7638 thumbprint covers, by key type, in lexicographic order. */
const thumbprintMembers = {
  EC: ["crv", "kty", "x", "y"],
  OKP: ["crv", "kty", "x"],
  RSA: ["e", "kty", "n"]
} as const

/**
 * What names a key in Warden: its `kid`, else `#` and its RFC 7638 SHA-256
 * thumbprint; `undefined` when it has neither (a thumbprint member is missing).
 *
 * @since 0.2.0
 * @category models
 */
export const idOf = (jwk: PublicJwk): string | undefined => {
  if (jwk.kid !== undefined) return jwk.kid
  const required: Record<string, string> = {}
  for (const member of thumbprintMembers[jwk.kty]) {
    const value = jwk[member]
    if (value === undefined || value.length === 0) return undefined
    required[member] = value
  }
  return `#${createHash("sha256").update(JSON.stringify(required)).digest("base64url")}`
}

/** Decodes a JWKS document, keeping only public keys usable to verify signatures and that can be named. */
export const decode = (document: unknown, maxAgeSeconds?: number): Either.Either<KeySet, string> => {
  if (typeof document !== "object" || document === null || !Array.isArray((document as { keys?: unknown }).keys)) {
    return Either.left("the document is not a JWK Set (no 'keys' array)")
  }
  const keys: Array<PublicJwk> = []
  const dropped: Array<Dropped> = []
  for (const candidate of (document as { keys: ReadonlyArray<unknown> }).keys) {
    if (typeof candidate !== "object" || candidate === null) {
      dropped.push("unsupported")
      continue
    }
    if (privateMembers.some((member) => member in candidate)) {
      dropped.push("private")
      continue
    }
    const jwk = decodeJwk(candidate)
    if (Either.isLeft(jwk) || (jwk.right.kty === "RSA" && !usableExponent(jwk.right.e))) {
      dropped.push("unsupported")
      continue
    }
    const { key_ops, use } = jwk.right
    if ((use !== undefined && use !== "sig") || (key_ops !== undefined && !key_ops.includes("verify"))) {
      dropped.push("not_for_signatures")
      continue
    }
    if (idOf(jwk.right) === undefined) {
      dropped.push("unidentifiable")
      continue
    }
    keys.push(jwk.right)
  }
  return Either.right({ keys, dropped, maxAgeSeconds })
}

/** Options for fetching. */
export type FetchOptions = FetchJson.Options

/** Checks a JWKS URL: https, or http to loopback when allowed. */
export const checkUrl = (url: string, allowInsecureLoopback: boolean): Either.Either<URL, JwksFetchError> =>
  Either.mapLeft(
    Endpoint.checkUrl(url, allowInsecureLoopback, "JWKS"),
    (message) => new JwksFetchError({ reason: "insecure_url", message })
  )

const maxAgeOf = (cacheControl: string | undefined): number | undefined => {
  const match = cacheControl === undefined ? null : /(?:^|,)\s*max-age=(\d{1,9})\s*(?:,|$)/i.exec(cacheControl)
  return match === null ? undefined : Number(match[1])
}

/** Fetches and decodes a JWKS. */
export const fetch = (
  url: string,
  options: FetchOptions = {}
): Effect.Effect<KeySet, JwksFetchError, HttpClient.HttpClient> =>
  Effect.flatMap(
    FetchJson.fetchJson(url, "JWKS", (reason, message) => new JwksFetchError({ reason, message }), {
      ...options,
      defaultMaxBytes: 256 * 1024,
      span: "warden.jwks.fetch"
    }),
    ({ cacheControl, json }) =>
      Either.mapLeft(
        decode(json, maxAgeOf(cacheControl)),
        (message) => new JwksFetchError({ reason: "invalid", message })
      )
  )

/** @internal */
export const _maxAgeOf = maxAgeOf
