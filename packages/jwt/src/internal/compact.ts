/**
 * The strict compact-serialisation check Warden runs before jose: three
 * non-empty base64url segments and nothing else (jose itself tolerates
 * whitespace, `=` padding and non-canonical trailing bits), then the header
 * and the claims decoded as strict JSON objects.
 */
import * as Either from "effect/Either"
import { isUtf8 } from "node:buffer"
import * as StrictJson from "./strictJson.js"

const compact = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

export interface Parts {
  readonly header: Readonly<Record<string, unknown>>
  readonly claims: Readonly<Record<string, unknown>>
  /** The text the signature signs: `header.payload`, as sent. */
  readonly signingInput: string
  readonly signature: string
}

export type Problem = { readonly reason: "malformed" | "too_large"; readonly description: string }

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

/**
 * Whether a segment of base64url characters is canonical: a length that can
 * end an encoding, and no stray bits in its last character (the bits past the
 * last whole byte are zero), so exactly one text encodes the bytes.
 */
export const isCanonical = (segment: string): boolean => {
  const rest = segment.length % 4
  if (rest === 0) return true
  if (rest === 1) return false
  const last = alphabet.indexOf(segment[segment.length - 1]!)
  return (last & (rest === 2 ? 0x0f : 0x03)) === 0
}

/** Decodes base64url with canonical trailing bits only; `undefined` if not canonical. */
export const decodeBase64Url = (segment: string): Uint8Array | undefined =>
  /^[A-Za-z0-9_-]*$/.test(segment) && isCanonical(segment) ? Buffer.from(segment, "base64url") : undefined

const object = (segment: string, what: string): Either.Either<Record<string, unknown>, string> => {
  // `split` has checked the alphabet already.
  if (!isCanonical(segment)) return Either.left(`the ${what} is not canonical base64url`)
  const bytes = Buffer.from(segment, "base64url")
  if (!isUtf8(bytes)) return Either.left(`the ${what} is not UTF-8`)
  const text = bytes.toString("utf8")
  const parsed = StrictJson.parse(text)
  if (Either.isLeft(parsed)) return Either.left(`the ${what} is not strict JSON (${parsed.left})`)
  const value = parsed.right
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return Either.left(`the ${what} is not a JSON object`)
  }
  return Either.right(value as Record<string, unknown>)
}

/**
 * Splits and decodes a compact JWS. `knownHeader`, when given, is the header
 * already decoded from this token's exact first segment (a verifier's cache
 * of headers it has seen): the segment is still checked by the compact
 * pattern, but not decoded again.
 */
export const split = (
  token: string,
  maxBytes: number,
  knownHeader?: Readonly<Record<string, unknown>>
): Either.Either<Parts, Problem> => {
  if (token.length > maxBytes) {
    return Either.left({ reason: "too_large", description: `the token is longer than ${maxBytes} bytes` })
  }
  if (!compact.test(token)) {
    return Either.left({
      reason: "malformed",
      description: "the token is not a compact JWS: three non-empty base64url segments separated by '.'"
    })
  }
  const [h, c, s] = token.split(".") as [string, string, string]
  if (!isCanonical(s)) {
    return Either.left({ reason: "malformed", description: "the signature is not canonical base64url" })
  }
  const header = knownHeader === undefined ? object(h, "header") : Either.right(knownHeader)
  if (Either.isLeft(header)) return Either.left({ reason: "malformed", description: header.left })
  const claims = object(c, "claims set")
  if (Either.isLeft(claims)) return Either.left({ reason: "malformed", description: claims.left })
  return Either.right({
    header: header.right,
    claims: claims.right,
    signingInput: token.slice(0, h.length + 1 + c.length),
    signature: s
  })
}
