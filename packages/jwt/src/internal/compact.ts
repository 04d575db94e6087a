/**
 * The strict compact-serialisation check Warden runs before jose: three
 * non-empty base64url segments and nothing else (jose itself tolerates
 * whitespace, `=` padding and non-canonical trailing bits), then the header
 * and the claims decoded as strict JSON objects.
 */
import * as Either from "effect/Either"
import { isUtf8 } from "node:buffer"
import * as StrictJson from "./strictJson.js"

export interface Parts {
  readonly header: Readonly<Record<string, unknown>>
  readonly claims: Readonly<Record<string, unknown>>
  /** The text the signature signs: `header.payload`, as sent. */
  readonly signingInput: string
  /** The signature's bytes, decoded once. */
  readonly signatureBytes: Uint8Array
}

export type Problem = { readonly reason: "malformed" | "too_large"; readonly description: string }

/**
 * The bytes a base64url segment encodes, when the segment is the one text
 * that encodes them (`undefined` otherwise): only base64url characters, no
 * `=` padding, a length that can end an encoding and no stray bits in its
 * last character. Shown by encoding the decoded bytes again, which must give
 * the segment back, whatever the decoder did with anything else.
 */
export const decodeBase64Url = (segment: string): Buffer | undefined => {
  const bytes = Buffer.from(segment, "base64url")
  return bytes.toString("base64url") === segment ? bytes : undefined
}

const object = (segment: string, what: string): Either.Either<Record<string, unknown>, string> => {
  const bytes = decodeBase64Url(segment)
  if (bytes === undefined) return Either.left(`the ${what} is not canonical base64url`)
  if (!isUtf8(bytes)) return Either.left(`the ${what} is not UTF-8`)
  const text = bytes.toString("utf8")
  const parsed = StrictJson.parseEncoded(text, bytes)
  if (Either.isLeft(parsed)) return Either.left(`the ${what} is not strict JSON (${parsed.left})`)
  const value = parsed.right
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return Either.left(`the ${what} is not a JSON object`)
  }
  return Either.right(value as Record<string, unknown>)
}

const notCompact: Problem = {
  reason: "malformed",
  description: "the token is not a compact JWS: three non-empty base64url segments separated by '.'"
}

/**
 * Splits and decodes a compact JWS: three non-empty segments, each the
 * canonical base64url of its bytes. `knownHeader`, when given, is the header
 * already decoded and checked from this token's exact first segment (a
 * verifier's cache of the headers it has seen, keyed by the segment's text):
 * that segment is not decoded or checked again.
 */
export const split = (
  token: string,
  maxBytes: number,
  knownHeader?: Readonly<Record<string, unknown>>
): Either.Either<Parts, Problem> => {
  if (token.length > maxBytes) {
    return Either.left({ reason: "too_large", description: `the token is longer than ${maxBytes} bytes` })
  }
  const first = token.indexOf(".")
  const second = first <= 0 ? -1 : token.indexOf(".", first + 1)
  if (second <= first + 1 || second === token.length - 1 || token.indexOf(".", second + 1) !== -1) {
    return Either.left(notCompact)
  }
  const signatureBytes = decodeBase64Url(token.slice(second + 1))
  if (signatureBytes === undefined) {
    return Either.left({ reason: "malformed", description: "the signature is not canonical base64url" })
  }
  const header = knownHeader === undefined ? object(token.slice(0, first), "header") : Either.right(knownHeader)
  if (Either.isLeft(header)) return Either.left({ reason: "malformed", description: header.left })
  const claims = object(token.slice(first + 1, second), "claims set")
  if (Either.isLeft(claims)) return Either.left({ reason: "malformed", description: claims.left })
  return Either.right({
    header: header.right,
    claims: claims.right,
    signingInput: token.slice(0, second),
    signatureBytes
  })
}
