/**
 * The strict compact-serialisation check Warden runs before jose: three
 * non-empty base64url segments and nothing else (jose itself tolerates
 * whitespace, `=` padding and non-canonical trailing bits), then the header
 * and the claims decoded as strict JSON objects.
 */
import * as Either from "effect/Either"
import * as StrictJson from "./strictJson.js"

const compact = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

export interface Parts {
  readonly header: Readonly<Record<string, unknown>>
  readonly claims: Readonly<Record<string, unknown>>
  readonly signature: string
}

export type Problem = { readonly reason: "malformed" | "too_large"; readonly description: string }

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** Decodes base64url with canonical trailing bits only; `undefined` if not canonical. */
export const decodeBase64Url = (segment: string): Uint8Array | undefined => {
  if (segment.length % 4 === 1) return undefined
  const bytes = Buffer.from(segment, "base64url")
  // Canonical: re-encoding gives back the same text (no stray trailing bits).
  return bytes.toString("base64url") === segment ? new Uint8Array(bytes) : undefined
}

const object = (segment: string, what: string): Either.Either<Record<string, unknown>, string> => {
  const bytes = decodeBase64Url(segment)
  if (bytes === undefined) return Either.left(`the ${what} is not canonical base64url`)
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    return Either.left(`the ${what} is not UTF-8`)
  }
  const parsed = StrictJson.parse(text)
  if (Either.isLeft(parsed)) return Either.left(`the ${what} is not strict JSON (${parsed.left})`)
  const value = parsed.right
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return Either.left(`the ${what} is not a JSON object`)
  }
  return Either.right(value as Record<string, unknown>)
}

export const split = (token: string, maxBytes: number): Either.Either<Parts, Problem> => {
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
  if (decodeBase64Url(s) === undefined) {
    return Either.left({ reason: "malformed", description: "the signature is not canonical base64url" })
  }
  const header = object(h, "header")
  if (Either.isLeft(header)) return Either.left({ reason: "malformed", description: header.left })
  const claims = object(c, "claims set")
  if (Either.isLeft(claims)) return Either.left({ reason: "malformed", description: claims.left })
  return Either.right({ header: header.right, claims: claims.right, signature: s })
}
